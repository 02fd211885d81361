//! The independent astropy checker of the FITS files this crate writes (tests/python/check_fits.py).

use std::path::Path;
use std::process::Command;

/// Runs the independent astropy checker on a file.
pub fn astropy_check(kind: &str, path: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_fits.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(path)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "astropy check of {} failed (install the test tools with `python3 -m pip install -r requirements.txt`):\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
