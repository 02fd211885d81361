//! Publishing with a DOI, end to end, against the faithful local Zenodo/InvenioRDM server
//! (`examples/zenodo_fake`) started for real: reserve → products carrying the DOI → bundle →
//! upload → publish → verify → new version; faults at every step; bad input.

#[path = "support/zenodo.rs"]
mod zenodo;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use zenodo::FakeZenodo;

const TOKEN: &str = "test-token-0123456789";

/// The small product every test publishes: a 2-pointing Crab image.
const IMAGE: &[&str] = &[
    "instrument=isgri",
    "product=isgri_image",
    "src_name=Crab",
    "T1=2003-03-15",
    "T2=2018-03-16",
    "max_pointings=2",
    "E1_keV=20",
    "E2_keV=40",
    "detection_threshold=7",
];

struct Env {
    data: tempfile::TempDir,
    config: tempfile::TempDir,
    token: Option<String>,
    seed: Option<String>,
}

impl Env {
    fn new() -> Env {
        Env {
            data: tempfile::tempdir().unwrap(),
            config: tempfile::tempdir().unwrap(),
            token: Some(TOKEN.into()),
            seed: None,
        }
    }

    fn oda(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oda"));
        c.args(["--data", self.data.path().to_str().unwrap()])
            .args(args)
            .env_remove("ODA_ARCHIVE")
            .env_remove("ODA_PUBLICATION")
            .env_remove("ODA_PUBLISH_TOKEN")
            .env("XDG_CONFIG_HOME", self.config.path());
        match &self.seed {
            Some(s) => c.env("ODA_SIM_SEED", s),
            None => c.env_remove("ODA_SIM_SEED"),
        };
        if let Some(t) = &self.token {
            c.env("ODA_PUBLISH_TOKEN", t);
        }
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.oda(args);
        assert!(
            o.status.success(),
            "oda {args:?} failed:\n{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        assert_no_token(&o);
        text(&o.stdout)
    }

    /// Makes the 2-pointing Crab image into `out` with `oda get-product`.
    fn make_image(&self, out: &Path) {
        let mut args = vec!["get-product"];
        args.extend_from_slice(IMAGE);
        args.extend(["--out", out.to_str().unwrap()]);
        self.ok(&args);
    }

    fn fails(&self, args: &[&str]) -> String {
        let o = self.oda(args);
        assert!(
            !o.status.success(),
            "oda {args:?} should fail:\n{}",
            text(&o.stdout)
        );
        assert_no_token(&o);
        text(&o.stderr)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_no_token(o: &Output) {
    for s in [text(&o.stdout), text(&o.stderr)] {
        assert!(!s.contains(TOKEN), "the token leaked into the output:\n{s}");
    }
}

fn reserve_args<'a>(dir: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "publish",
        "reserve",
        dir,
        "--target",
        url,
        "--title",
        "The Crab Nebula with INTEGRAL/ISGRI (rehearsal)",
        "--creator",
        "Doe, Jane, 0000-0002-1825-0097, Université de Genève",
        "--creator",
        "Roe, Richard",
        "--description",
        "A 2-pointing ISGRI image of the Crab, made with oda.",
        "--keyword",
        "INTEGRAL",
        "--keyword",
        "Crab",
        "--related-doi",
        "10.1051/0004-6361/202037850",
    ]
}

fn journal(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("publication.json")).unwrap()).unwrap()
}

/// An executed notebook (as nbclient saves one) in DIR/notebooks.
fn write_notebook(dir: &Path) -> PathBuf {
    let nb = json!({
        "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["crab image\n"]}],
            "source": ["let r = get_product(&request)?;"]}],
        "metadata": {"kernelspec": {"name": "oda", "display_name": "Rust (oda)", "language": "rust"}},
        "nbformat": 4, "nbformat_minor": 5,
    });
    let p = dir.join("crab.ipynb");
    std::fs::write(&p, serde_json::to_string_pretty(&nb).unwrap()).unwrap();
    p
}

/// The DOI keywords of every HDU of a FITS file.
fn fits_dois(path: &Path) -> Vec<String> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while let Ok(hdu) = f.hdu(i) {
        out.push(hdu.read_key::<String>(&mut f, "DOI").unwrap_or_default());
        i += 1;
    }
    out
}

fn records(fake: &FakeZenodo) -> Vec<Value> {
    fake.state()["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn reserve_products_bundle_upload_publish_verify_new_version() {
    let fake = FakeZenodo::start(&[TOKEN]);
    let env = Env::new();
    let pubdir = tempfile::tempdir().unwrap();
    let dir = pubdir.path().to_str().unwrap();
    let out = env.ok(&reserve_args(dir, fake.url()));
    let j = journal(pubdir.path());
    let doi = j["doi"].as_str().unwrap().to_string();
    assert!(doi.starts_with("10.5072/zenodo."), "{doi}");
    assert!(out.contains(&doi) && out.contains("DOI badge"), "{out}");
    assert_eq!(
        j["record_id"].as_str().unwrap(),
        doi.trim_start_matches("10.5072/zenodo.")
    );
    // A second reserve reuses the record.
    env.ok(&reserve_args(dir, fake.url()));
    assert_eq!(journal(pubdir.path())["doi"], doi.as_str());
    assert_eq!(records(&fake).len(), 1);

    // Products written into the publication carry the DOI.
    let products = pubdir.path().join("products/crab-image");
    env.make_image(&products);
    for f in ["isgri_image.fits", "catalog.fits"] {
        let dois = fits_dois(&products.join(f));
        assert!(
            dois.len() >= 2 && dois.iter().all(|d| d == &doi),
            "{f}: {dois:?}"
        );
    }
    // A JEM-X spectrum too: its PHA (JMX1-PHA1-SPE), RMF and ARF carry the DOI in every HDU.
    let jemx = pubdir.path().join("products/crab-jemx");
    env.ok(&[
        "get-product",
        "instrument=jemx",
        "product=jemx_spectrum",
        "src_name=Crab",
        "T1=2005-01-01",
        "T2=2012-01-01",
        "jemx_num=1",
        "max_pointings=2",
        "--out",
        jemx.to_str().unwrap(),
    ]);
    for f in ["Crab_pha.fits", "Crab_rmf.fits", "Crab_arf.fits"] {
        let dois = fits_dois(&jemx.join(f));
        assert!(
            dois.len() >= 2 && dois.iter().all(|d| d == &doi),
            "{f}: {dois:?}"
        );
    }
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(products.join("result.json")).unwrap())
            .unwrap();
    assert_eq!(result["doi"], doi.as_str());
    assert!(
        result["citation"]
            .as_str()
            .unwrap()
            .contains("Doe, J., & Roe, R."),
        "{}",
        result["citation"]
    );

    // Bundle, then upload and publish.
    std::fs::create_dir_all(pubdir.path().join("notebooks")).unwrap();
    let nb = write_notebook(&pubdir.path().join("notebooks"));
    let out = env.ok(&["publish", "bundle", dir, "--notebook", nb.to_str().unwrap()]);
    assert!(out.contains("2 product(s), 1 notebook(s)"), "{out}");
    let bundle = pubdir.path().join("bundle");
    for f in [
        "README.md",
        "CITATION.cff",
        "ro-crate-metadata.json",
        "manifest.json",
        "rerun-on-binder.zip",
        "crab.ipynb",
        "crab-image__isgri_image.fits",
        "crab-jemx__Crab_pha.fits",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing from the bundle");
    }
    let nb: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("crab.ipynb")).unwrap()).unwrap();
    assert_eq!(nb["metadata"]["oda"]["publication"]["doi"], doi.as_str());
    let out = env.ok(&["publish", "upload", dir, "--publish"]);
    assert!(
        out.contains("published") && out.contains("mybinder.org/v2/zenodo/"),
        "{out}"
    );
    let recs = records(&fake);
    assert_eq!(recs.len(), 1, "exactly one record");
    assert_eq!(recs[0]["is_published"], true);
    assert_eq!(
        recs[0]["doi"],
        doi.as_str(),
        "the DOI the products carry is the registered one"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap())
            .unwrap();
    let server_files = recs[0]["files"].as_array().unwrap();
    for f in manifest["files"].as_array().unwrap() {
        let s = server_files
            .iter()
            .find(|s| s["key"] == f["key"])
            .unwrap_or_else(|| panic!("{} not on the server", f["key"]));
        assert_eq!(s["md5"], f["md5"], "{}", f["key"]);
    }
    assert_eq!(
        server_files.len(),
        manifest["files"].as_array().unwrap().len() + 1
    );
    // Uploading again changes nothing.
    env.ok(&["publish", "upload", dir, "--publish"]);
    assert_eq!(records(&fake).len(), 1);

    // verify: identical; with another seed configured, still re-run on the recorded one.
    let out = env.ok(&["publish", "verify", dir]);
    assert!(
        out.contains("identical:")
            && out.contains("re-run identical  products/crab-image")
            && out.contains("re-run identical  products/crab-jemx"),
        "{out}"
    );
    let other_seed = Env {
        seed: Some("7".into()),
        ..Env::new()
    };
    let out = other_seed.ok(&["publish", "verify", bundle.to_str().unwrap()]);
    assert!(out.contains("re-run identical"), "{out}");

    // One byte changed in a published product: named, with its HDU.
    let damaged = bundle.join("crab-image__isgri_image.fits");
    let mut bytes = std::fs::read(&damaged).unwrap();
    let n = bytes.len();
    bytes[n - 2880 - 100] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();
    let o = env.oda(&["publish", "verify", dir, "--no-rerun"]);
    assert!(!o.status.success());
    let report = text(&o.stdout);
    assert!(
        report.contains("DIFFERENT  crab-image__isgri_image.fits") && report.contains("HDU"),
        "{report}"
    );
    // A changed byte in a non-FITS file is named too.
    let mut readme = std::fs::read(bundle.join("README.md")).unwrap();
    readme[0] ^= 0x20;
    std::fs::write(bundle.join("README.md"), readme).unwrap();
    let report = text(&env.oda(&["publish", "verify", dir, "--no-rerun"]).stdout);
    assert!(report.contains("DIFFERENT  README.md"), "{report}");

    // The next version: a new draft with a new DOI; the first stays published.
    let out = env.ok(&["publish", "new-version", dir, "--record-version", "2"]);
    let j2 = journal(pubdir.path());
    let doi2 = j2["doi"].as_str().unwrap();
    assert_ne!(doi2, doi);
    assert!(out.contains(doi2), "{out}");
    assert_eq!(j2["versions"][0]["doi"], doi.as_str());
    let recs = records(&fake);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["concept_id"], recs[1]["concept_id"]);
    // Products of the old version are refused by the new bundle until made again.
    let e = env.fails(&["publish", "bundle", dir]);
    assert!(e.contains("does not carry doi:") && e.contains(doi2), "{e}");
}

#[test]
fn faults_at_every_step_end_in_one_record_with_right_files() {
    let fake = FakeZenodo::start(&[TOKEN]);
    let env = Env::new();
    let pubdir = tempfile::tempdir().unwrap();
    let dir = pubdir.path().to_str().unwrap();
    // Creation: the connection reset while sending, then a 5xx without a body; DOI
    // reservation: 429 with Retry-After, then a spurious 403.
    fake.faults(json!([
        {"method": "POST", "path_contains": "/api/records", "kind": "reset", "times": 1},
        {"method": "POST", "path_contains": "/api/records", "kind": "500_no_body", "times": 1},
        {"method": "POST", "path_contains": "/pids/doi", "kind": "429", "retry_after": 1, "times": 1},
        {"method": "POST", "path_contains": "/pids/doi", "kind": "403", "times": 1},
    ]));
    env.ok(&reserve_args(dir, fake.url()));
    assert_eq!(
        records(&fake).len(),
        1,
        "one record despite the lost answers"
    );
    let doi = journal(pubdir.path())["doi"].as_str().unwrap().to_string();

    env.make_image(&pubdir.path().join("products/crab-image"));
    env.ok(&["publish", "bundle", dir]);

    // Uploads: resets in the middle of the content, more than the retries cover, so the first
    // run stops after some files (as if killed); the second completes and skips what is there.
    fake.faults(json!([
        {"method": "PUT", "path_contains": "/content", "kind": "reset", "skip": 3, "times": 8},
    ]));
    let e = env.fails(&["publish", "upload", dir]);
    assert!(e.contains("connection") || e.contains("broke"), "{e}");
    assert_eq!(journal(pubdir.path())["state"], "uploading");
    fake.faults(json!([
        {"method": "PUT", "path_contains": "/content", "kind": "500_no_body", "times": 1},
        {"method": "POST", "path_contains": "/commit", "kind": "403", "times": 1},
        {"method": "POST", "path_contains": "/actions/publish", "kind": "429", "retry_after": 1, "times": 1},
        {"method": "POST", "path_contains": "/actions/publish", "kind": "503_no_body", "times": 1},
    ]));
    let out = env.ok(&["publish", "upload", dir, "--publish"]);
    assert!(out.contains(&doi), "{out}");
    let j = journal(pubdir.path());
    assert_eq!(j["state"], "published");
    assert!(
        j["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("already there")),
        "{j}"
    );
    let recs = records(&fake);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["doi"], doi.as_str());
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(pubdir.path().join("bundle/manifest.json")).unwrap(),
    )
    .unwrap();
    for f in manifest["files"].as_array().unwrap() {
        let s = recs[0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == f["key"])
            .unwrap();
        assert_eq!(s["md5"], f["md5"], "{}", f["key"]);
    }
}

#[test]
fn the_legacy_deposit_api_works_too() {
    let fake = FakeZenodo::start(&[TOKEN]);
    let env = Env::new();
    let pubdir = tempfile::tempdir().unwrap();
    let dir = pubdir.path().to_str().unwrap();
    let mut args = reserve_args(dir, fake.url());
    args.extend(["--api", "legacy"]);
    env.ok(&args);
    let j = journal(pubdir.path());
    assert_eq!(j["api"], "legacy");
    let doi = j["doi"].as_str().unwrap().to_string();
    env.make_image(&pubdir.path().join("products/crab-image"));
    env.ok(&["publish", "bundle", dir]);
    fake.faults(
        json!([{"method": "PUT", "path_contains": "/api/files/", "kind": "reset", "times": 1}]),
    );
    env.ok(&["publish", "upload", dir, "--publish"]);
    let recs = records(&fake);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["doi"], doi.as_str());
    env.ok(&["publish", "new-version", dir]);
    assert_eq!(records(&fake).len(), 2);
    assert_ne!(journal(pubdir.path())["doi"], doi.as_str());
}

#[test]
fn bad_input_is_refused_clearly_and_loses_nothing() {
    let fake = FakeZenodo::start(&[TOKEN, "other-user-token"]);
    let pubdir = tempfile::tempdir().unwrap();
    let dir = pubdir.path().to_str().unwrap();

    // Missing title and creator: named before anything is sent.
    let env = Env::new();
    let e = env.fails(&["publish", "reserve", dir, "--target", fake.url()]);
    assert!(
        e.contains("title is missing") && e.contains("creator is missing"),
        "{e}"
    );
    assert_eq!(
        fake.state()["requests"].as_array().map_or(0, Vec::len),
        0,
        "nothing was sent"
    );
    let e = env.fails(&[
        "publish",
        "reserve",
        dir,
        "--target",
        fake.url(),
        "--title",
        "X",
        "--creator",
        "Doe, Jane, 0000-0002-1825-0098",
    ]);
    assert!(e.contains("check digit"), "{e}");

    // No token anywhere.
    let no_token = Env {
        token: None,
        ..Env::new()
    };
    let e = no_token.fails(&reserve_args(dir, fake.url()));
    assert!(
        e.contains("no access token") && e.contains("ODA_PUBLISH_TOKEN"),
        "{e}"
    );
    // A token file that others can read.
    let cfg = no_token.config.path().join("oda");
    std::fs::create_dir_all(&cfg).unwrap();
    let file = cfg.join("publish-tokens.toml");
    std::fs::write(&file, format!("{:?} = \"{TOKEN}\"\n", fake.url())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = no_token.fails(&reserve_args(dir, fake.url()));
    assert!(
        e.contains("can be read by others") && e.contains("chmod 600"),
        "{e}"
    );
    // ... and works once private.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    no_token.ok(&reserve_args(dir, fake.url()));
    let journal_before = std::fs::read_to_string(pubdir.path().join("publication.json")).unwrap();
    assert!(!journal_before.contains(TOKEN));

    // A wrong token: the server's 401, said as such; the journal is untouched.
    let wrong = Env {
        token: Some("not-a-valid-token".into()),
        ..Env::new()
    };
    let e = wrong.fails(&[
        "publish",
        "reserve",
        dir,
        "--title",
        "Changed title",
        "--target",
        fake.url(),
    ]);
    assert!(
        e.contains("401") && e.contains("refused the access token"),
        "{e}"
    );
    // Another user's token: 403 on their record, after the retries for spurious ones.
    let other = Env {
        token: Some("other-user-token".into()),
        ..Env::new()
    };
    let e = other.fails(&[
        "publish",
        "reserve",
        dir,
        "--title",
        "Changed title",
        "--target",
        fake.url(),
    ]);
    assert!(e.contains("403") && e.contains("permission denied"), "{e}");
    assert_eq!(
        std::fs::read_to_string(pubdir.path().join("publication.json")).unwrap(),
        journal_before
    );

    // The same directory named with another server.
    let e = env.fails(&reserve_args(dir, "https://sandbox.zenodo.org"));
    assert!(
        e.contains("holds a publication on") && e.contains(fake.url()),
        "{e}"
    );

    // More than 100 files.
    let products = pubdir.path().join("products/many");
    std::fs::create_dir_all(&products).unwrap();
    let doi = journal(pubdir.path())["doi"].as_str().unwrap().to_string();
    let citation = journal(pubdir.path())["citation"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        products.join("result.json"),
        json!({"product": "isgri_lc", "doi": doi, "citation": citation, "identity": "00", "request": {"url_query": "instrument=isgri&product_type=isgri_lc"},
               "archive": {"kind": "simulated", "seed": 1, "model_version": 1}}).to_string(),
    )
    .unwrap();
    for i in 0..100 {
        std::fs::write(products.join(format!("src{i:03}_lc.fits")), format!("{i}")).unwrap();
    }
    let e = env.fails(&["publish", "bundle", dir]);
    assert!(e.contains("files") && e.contains("100"), "{e}");
    assert_eq!(
        std::fs::read_to_string(pubdir.path().join("publication.json")).unwrap(),
        journal_before
    );
}

#[test]
fn production_needs_confirmation_before_anything_is_sent() {
    use oda::publish::*;
    let pubdir = tempfile::tempdir().unwrap();
    let mut j = Journal::new(Target::Zenodo, Api::Rdm, Metadata::default());
    j.doi = Some("10.5281/zenodo.1".into());
    j.record_id = Some("1".into());
    j.save(pubdir.path()).unwrap();
    let bundle = pubdir.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let m = Manifest {
        format: MANIFEST_FORMAT.into(),
        doi: "10.5281/zenodo.1".into(),
        citation: String::new(),
        files: vec![],
        products: vec![],
        software: SoftwareInfo {
            oda_version: "0".into(),
            rust_toolchain: "1.95.0".into(),
            kernel: "k".into(),
        },
        notebooks: vec![],
        date: "2026-11-30".into(),
        hdus: Default::default(),
    };
    std::fs::write(
        bundle.join("manifest.json"),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
    let options = PublishOptions {
        token: Some(Token::new("x").unwrap()),
        ..PublishOptions::default()
    };
    let e = upload(pubdir.path(), options, true).unwrap_err();
    assert_eq!(e.publish_kind(), Some(oda::PublishErrorKind::Confirmation));
    assert!(e.to_string().contains("--confirm-production"), "{e}");
}
