//! The paper's notebooks, executed headlessly in the "Rust (oda)" kernel (installed by
//! `./setup.sh`, i.e. `kernel/install.sh`): any cell error, a missing figure bundle, or an HTML
//! export that would need the network fails the test. Cells carry the assertions on the numbers.

use std::process::Command;

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

#[test]
fn paper_notebooks_run_and_show_their_figures() {
    assert_kernel_installed();
    let data = tempfile::tempdir().unwrap();
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

/// evcxr reports a panic or an `Err` returned through `?` as stderr text with an "ok" reply:
/// the runner must still fail, or the notebooks' assertions could never fail CI.
#[test]
fn a_failed_assertion_or_error_fails_the_run() {
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
