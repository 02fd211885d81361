//! The paper's notebooks, executed headlessly in the "Rust (oda)" kernel (installed by
//! `./setup.sh`, i.e. `kernel/install.sh`): any cell error, a missing figure bundle, or an HTML
//! export that would need the network fails the test. Cells carry the assertions on the numbers.

#[path = "support/zenodo.rs"]
mod zenodo;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The tests run one after the other: the kernel forwards a cell's stderr (how evcxr reports a
/// panic or an `Err` through `?`) on its own thread, and on a loaded machine it can arrive after
/// the cell's reply, where the runner no longer sees it; two kernels at once on 2 cores made
/// that happen.
static ONE_KERNEL_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn assert_kernel_installed() {
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
}

/// The token the notebooks' publishing cell uses against the local server.
const TOKEN: &str = "notebook-test-token";

/// All five notebooks; the Crab notebook also publishes, against the local Zenodo/InvenioRDM
/// server started here: it reserves the DOI in a cell, its later cells write DOI-carrying
/// products and figures, then the record is bundled with the executed notebook, uploaded,
/// published and given a new version, and the DOI everywhere is the one the server reserved.
#[test]
fn paper_notebooks_run_and_show_their_figures() {
    let _one = ONE_KERNEL_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    assert_kernel_installed();
    let data = tempfile::tempdir().unwrap();
    let fake = zenodo::FakeZenodo::start(&[TOKEN]);
    let publication = tempfile::tempdir().unwrap();
    let o = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/kernel/run_notebooks.py"
        ))
        // The kernel's build directory was warmed with the developer's setting: CI's
        // CARGO_INCREMENTAL=0 would make cargo rebuild oda in the kernel.
        .env_remove("CARGO_INCREMENTAL")
        .env("ODA_DATA", data.path())
        .env_remove("ODA_ARCHIVE")
        .env_remove("ODA_PUBLICATION")
        .env("ODA_PUBLISH_TARGET", fake.url())
        .env("ODA_PUBLISH_TOKEN", TOKEN)
        .env("ODA_PUBLICATION_DIR", publication.path())
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&o.stdout));
    assert!(
        o.status.success(),
        "notebooks failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    publish_the_crab_notebook(&fake, publication.path(), data.path());
}

fn oda(data: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_oda"))
        .args(["--data", data.to_str().unwrap()])
        .args(args)
        .env("ODA_PUBLISH_TOKEN", TOKEN)
        .env_remove("ODA_PUBLICATION")
        // `publish verify --notebooks` starts the kernel: keep its build setting (see above).
        .env_remove("CARGO_INCREMENTAL")
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "oda {args:?}:\n{out}\n{err}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN));
    out.into_owned()
}

fn publish_the_crab_notebook(fake: &zenodo::FakeZenodo, dir: &Path, data: &Path) {
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("publication.json")).unwrap())
            .unwrap();
    let doi = journal["doi"]
        .as_str()
        .expect("the notebook reserved a DOI")
        .to_string();
    let state = fake.state();
    assert_eq!(state["records"].as_array().unwrap().len(), 1);
    assert_eq!(
        state["records"][0]["reserved_doi"],
        doi.as_str(),
        "the DOI the server reserved"
    );
    // Products the notebook wrote carry the DOI in every HDU and in result.json.
    let products = dir.join("products");
    let mut fits = 0;
    for entry in std::fs::read_dir(&products).unwrap() {
        let pdir = entry.unwrap().path();
        let result: Value =
            serde_json::from_str(&std::fs::read_to_string(pdir.join("result.json")).unwrap())
                .unwrap();
        assert_eq!(result["doi"], doi.as_str(), "{}", pdir.display());
        for f in std::fs::read_dir(&pdir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "fits") {
                let mut file = fitsio::FitsFile::open(&f).unwrap();
                let mut i = 0;
                while let Ok(hdu) = file.hdu(i) {
                    assert_eq!(
                        hdu.read_key::<String>(&mut file, "DOI").unwrap(),
                        doi,
                        "{} HDU {i}",
                        f.display()
                    );
                    i += 1;
                }
                fits += 1;
            }
        }
    }
    assert!(
        fits >= 3,
        "the notebook wrote {fits} FITS files into the publication"
    );
    // Figures shown after the reservation carry the DOI in their footer.
    let executed = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/notebooks/crab.ipynb");
    let text = std::fs::read_to_string(&executed).unwrap();
    assert!(
        text.contains(&format!("Published as doi:{doi}")),
        "no figure footer with doi:{doi}"
    );
    // Bundle with the executed notebook, upload, publish, new version.
    let d = dir.to_str().unwrap();
    oda(
        data,
        &[
            "publish",
            "bundle",
            d,
            "--notebook",
            executed.to_str().unwrap(),
        ],
    );
    let nb: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bundle/crab.ipynb")).unwrap())
            .unwrap();
    assert_eq!(nb["metadata"]["oda"]["publication"]["doi"], doi.as_str());
    let out = oda(data, &["publish", "upload", d, "--publish"]);
    assert!(out.contains(&doi), "{out}");
    let state = fake.state();
    assert_eq!(state["records"][0]["is_published"], true);
    assert_eq!(state["records"][0]["doi"], doi.as_str());
    // Re-running the published notebook in the kernel gives the published products.
    let out = oda(data, &["publish", "verify", d, "--notebooks"]);
    assert!(
        out.contains("identical:") && out.contains("(from the notebooks)"),
        "{out}"
    );
    oda(data, &["publish", "new-version", d]);
    assert_eq!(fake.state()["records"].as_array().unwrap().len(), 2);
}

/// evcxr reports a panic or an `Err` returned through `?` as stderr text with an "ok" reply:
/// the runner must still fail, or the notebooks' assertions could never fail CI.
#[test]
fn a_failed_assertion_or_error_fails_the_run() {
    let _one = ONE_KERNEL_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    assert_kernel_installed();
    let dir = tempfile::tempdir().unwrap();
    let cells = [
        (
            "assertion",
            r#"assert!(1 + 1 == 3, "arithmetic is broken");"#,
            "arithmetic is broken",
        ),
        (
            "error",
            r#"let r: Result<f64, oda::Error> = Err(oda::Error::invalid("RA", 400, "0 to 360"));
let ra = r?;"#,
            r#"invalid parameter RA="400""#,
        ),
    ];
    for (name, source, message) in cells {
        let nb = serde_json::json!({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "oda", "display_name": "Rust (oda)", "language": "rust"}},
            "cells": [
                {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": null, "outputs": [], "source": "let before = 1;"},
                {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": null, "outputs": [], "source": source},
                {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": null, "outputs": [], "source": "let after = 2;"},
            ],
        });
        let path = dir.path().join(format!("fails_by_{name}.ipynb"));
        std::fs::write(&path, nb.to_string()).unwrap();
        let o = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/kernel/run_notebooks.py"
            ))
            .env_remove("CARGO_INCREMENTAL")
            .arg(&path)
            .env("ODA_DATA", dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: the run passed:\n{stderr}");
        assert!(
            stderr.contains("a cell failed") && stderr.contains(message),
            "{name}:\n{stderr}"
        );
    }
}
