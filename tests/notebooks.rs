//! The paper's notebooks, executed headlessly in the "Rust (oda)" kernel (installed by
//! `./setup.sh`, i.e. `kernel/install.sh`): any cell error, a missing figure bundle, or an HTML
//! export that would need the network fails the test. Cells carry the assertions on the numbers.

use std::process::Command;

#[test]
fn paper_notebooks_run_and_show_their_figures() {
    let data = tempfile::tempdir().unwrap();
    let kernel = Command::new("jupyter")
        .args(["kernelspec", "list"])
        .output();
    let installed = kernel
        .as_ref()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with("oda "))
        })
        .unwrap_or(false);
    assert!(
        installed,
        "the \"Rust (oda)\" kernel is not installed: run ./setup.sh (or kernel/install.sh) first"
    );
    let o = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/kernel/run_notebooks.py"
        ))
        .env("ODA_DATA", data.path())
        .env_remove("ODA_ARCHIVE")
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&o.stdout));
    assert!(
        o.status.success(),
        "notebooks failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
