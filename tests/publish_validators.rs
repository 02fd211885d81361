//! The describing files of a record (`ro-crate-metadata.json`, `CITATION.cff`) checked by the
//! validators the community uses, offline: `rocrate-validator` (PyPI roc-validator 0.13.0) at
//! the "recommended" level of RO-Crate 1.1, and `cffconvert --validate` (PyPI cffconvert
//! 2.0.0). They live in their own venv (`ODA_TOOLS_VENV`, default
//! `~/.local/share/oda/tools-venv`), made by `./setup.sh` from
//! `tests/python/requirements-validators.txt`. Broken files must fail them too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use oda::publish::{
    Api, ArchiveRecord, BundleFile, Creator, FileKind, Journal, MANIFEST_FORMAT, Manifest,
    Metadata, ProductRecord, ProvenanceUnit, SoftwareInfo, Target, describing_files,
};
use serde_json::Value;
use sha2::Digest as _;

/// The one check of the recommended level the records cannot meet: an affiliation's
/// `Organization` SHOULD have a `url`, and a record's metadata (like Zenodo's) names
/// affiliations without one.
const SKIPPED_CHECK: &str = "ro-crate-1.1_31.2";

/// The validators' venv; a missing venv fails the test (it is not skipped).
fn venv() -> PathBuf {
    let dir = std::env::var_os("ODA_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".local/share/oda/tools-venv")
        });
    for tool in ["python", "rocrate-validator", "cffconvert"] {
        assert!(
            dir.join("bin").join(tool).is_file(),
            "{} is missing: the validators of the describing files are not installed; run ./setup.sh \
             (it makes the venv {} from tests/python/requirements-validators.txt; set ODA_TOOLS_VENV \
             to use another)",
            dir.join("bin").join(tool).display(),
            dir.display()
        );
    }
    dir
}

fn tool(name: &str) -> Command {
    Command::new(venv().join("bin").join(name))
}

fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// rocrate-validator's HTTP cache, seeded (once per test run) with the RO-Crate JSON-LD
/// context, so that it validates without the network.
fn http_cache() -> &'static Path {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = tool("python");
            cmd.arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/seed_rocrate_cache.py"
            ))
            .arg(dir.path().join("http_cache"));
            let o = run(cmd);
            assert!(
                o.status.success(),
                "seeding the validator's cache failed: {}",
                text(&o)
            );
            dir
        })
        .path()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bundle_file(key: &str, kind: FileKind, bytes: &[u8], format: &str) -> BundleFile {
    BundleFile {
        key: key.into(),
        path: key.into(),
        kind,
        size: bytes.len() as u64,
        sha256: hex(&sha2::Sha256::digest(bytes)),
        md5: hex(&md5::Md5::digest(bytes)),
        encoding_format: format.into(),
    }
}

/// A record as `oda publish bundle` makes it: its files (bytes) and the journal and manifest
/// that describe them.
struct Record {
    journal: Journal,
    manifest: Manifest,
    bytes: BTreeMap<String, Vec<u8>>,
}

impl Record {
    fn new(
        journal: Journal,
        files: &[(&str, FileKind, &str)],
        products: Vec<ProductRecord>,
    ) -> Record {
        let mut bytes = BTreeMap::new();
        let mut manifest_files = Vec::new();
        for (i, (key, kind, format)) in files.iter().enumerate() {
            let content = format!("{key}: file {i} of the record\n")
                .repeat(i + 1)
                .into_bytes();
            manifest_files.push(bundle_file(key, *kind, &content, format));
            bytes.insert(key.to_string(), content);
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            doi: journal.doi.clone().unwrap_or_default(),
            citation: journal.citation.clone(),
            files: manifest_files,
            notebooks: files
                .iter()
                .filter(|f| f.1 == FileKind::Notebook)
                .map(|f| f.0.to_string())
                .collect(),
            products,
            software: SoftwareInfo {
                oda_version: "0.1.0".into(),
                rust_toolchain: "1.95.0".into(),
                kernel: "Rust (oda): evcxr_jupyter 0.22.0".into(),
            },
            date: journal.publication_date.clone(),
            hdus: BTreeMap::new(),
        };
        Record {
            journal,
            manifest,
            bytes,
        }
    }

    /// Writes the record as the bundle does: README and CITATION.cff, then the crate (which
    /// lists them), then the manifest. Returns the crate.
    fn write(&self, dir: &Path) -> Value {
        let mut manifest = self.manifest.clone();
        let first = describing_files(&self.journal, &manifest);
        for (key, kind, content, format) in [
            (
                "README.md",
                FileKind::Readme,
                &first.readme,
                "text/markdown",
            ),
            (
                "CITATION.cff",
                FileKind::Citation,
                &first.citation_cff,
                "application/x-yaml",
            ),
        ] {
            std::fs::write(dir.join(key), content).unwrap();
            manifest
                .files
                .push(bundle_file(key, kind, content.as_bytes(), format));
        }
        let crate_ = describing_files(&self.journal, &manifest).ro_crate;
        write_crate(dir, &crate_);
        for (key, content) in &self.bytes {
            std::fs::write(dir.join(key), content).unwrap();
        }
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
        crate_
    }
}

fn write_crate(dir: &Path, crate_: &Value) {
    std::fs::write(
        dir.join("ro-crate-metadata.json"),
        serde_json::to_string_pretty(crate_).unwrap(),
    )
    .unwrap();
}

fn product(
    dir: &str,
    product: &str,
    params: &[(&str, &str)],
    files: &[&str],
    archive: ArchiveRecord,
) -> ProductRecord {
    ProductRecord {
        dir: dir.into(),
        product: product.into(),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        identity: hex(&sha2::Sha256::digest(dir.as_bytes())),
        provenance: ["ScwImage", "Mosaic"]
            .iter()
            .enumerate()
            .map(|(i, name)| ProvenanceUnit {
                name: name.to_string(),
                version: (i + 2).to_string(),
                identity: hex(&sha2::Sha256::digest(format!("{dir}/{name}").as_bytes())),
            })
            .collect(),
        scws: vec![
            "004400730010".into(),
            "004400740010".into(),
            "004400750010".into(),
        ],
        archive,
        files: files.iter().map(|f| f.to_string()).collect(),
    }
}

/// A published record on zenodo.org: three creators, a paper it supplements, two products from
/// the simulated archive and one from a real archive, a title with `: "` and non-ASCII.
fn full_record() -> Record {
    let mut metadata = Metadata::from_toml(
        r#"
        title = "The Crab Nebula: \"a standard candle\" seen by INTEGRAL/ISGRI — Genève, 2003–2018"
        description = "Images, spectra and light curves of the Crab Nebula made with oda.\n\nEvery product can be made again from its request: see README.md."
        keywords = ["INTEGRAL", "ISGRI", "Crab Nebula", "hard X-rays"]
        license = "cc-by-4.0"
        version = "1.0"
        related_dois = ["10.1051/0004-6361/202037850"]
        related = [{identifier = "arXiv:2002.12895", relation = "cites"}]
        communities = ["integral"]
        "#,
    )
    .unwrap();
    metadata.creators = vec![
        Creator::parse(
            "Doe, Jane, 0000-0002-1825-0097, Université de Genève, Département d'astronomie",
        )
        .unwrap(),
        Creator::parse(
            "Roe, Richard Paul, 0000-0001-5109-3700, ISDC: \"Data Centre\" for Astrophysics",
        )
        .unwrap(),
        Creator::parse("Ó Carragáin, Eoghan, , Université de Genève, Département d'astronomie")
            .unwrap(),
    ];
    metadata.check().unwrap();
    let mut journal = Journal::new(Target::Zenodo, Api::Rdm, metadata);
    journal.doi = Some("10.5281/zenodo.1234567".into());
    journal.record_id = Some("1234567".into());
    journal.concept_doi = Some("10.5281/zenodo.1234566".into());
    journal.record_url = Some("https://zenodo.org/records/1234567".into());
    journal.publication_date = "2026-11-30".into();
    journal.citation = journal
        .metadata
        .citation_text("2026", "Zenodo", "10.5281/zenodo.1234567");
    let files = [
        ("crab.ipynb", FileKind::Notebook, "application/x-ipynb+json"),
        (
            "crab_spectrum.ipynb",
            FileKind::Notebook,
            "application/x-ipynb+json",
        ),
        (
            "crab-image__isgri_image.fits",
            FileKind::Product,
            "application/fits",
        ),
        (
            "crab-image__catalog.json",
            FileKind::Product,
            "application/json",
        ),
        (
            "crab-image__result.json",
            FileKind::Product,
            "application/json",
        ),
        (
            "crab-lc__isgri_lc.fits",
            FileKind::Product,
            "application/fits",
        ),
        (
            "crab-lc__result.json",
            FileKind::Product,
            "application/json",
        ),
        (
            "crab-spectrum__isgri_spectrum.fits",
            FileKind::Product,
            "application/fits",
        ),
        (
            "crab-spectrum__result.json",
            FileKind::Product,
            "application/json",
        ),
        ("crab-image.svg", FileKind::Figure, "image/svg+xml"),
        ("crab-spectrum.png", FileKind::Figure, "image/png"),
        (
            "rerun-on-binder.zip",
            FileKind::RunnableZip,
            "application/zip",
        ),
    ];
    let simulated = ArchiveRecord::Simulated {
        seed: 7,
        model_version: 1,
        extra_sky_sha256: None,
        perturbation: None,
    };
    let products = vec![
        product(
            "products/crab-image",
            "isgri_image",
            &[
                ("src_name", "Crab"),
                ("T1", "2003-03-15"),
                ("T2", "2018-03-16"),
                ("E1_keV", "20"),
                ("E2_keV", "40"),
                ("detection_threshold", "7.5"),
            ],
            &[
                "crab-image__isgri_image.fits",
                "crab-image__catalog.json",
                "crab-image__result.json",
            ],
            simulated.clone(),
        ),
        product(
            "products/crab-lc",
            "isgri_lc",
            &[
                ("src_name", "Crab"),
                ("T1", "2003-03-15"),
                ("T2", "2018-03-16"),
                ("time_bin", "1000 s"),
            ],
            &["crab-lc__isgri_lc.fits", "crab-lc__result.json"],
            simulated,
        ),
        product(
            "products/crab-spectrum",
            "isgri_spectrum",
            &[
                ("src_name", "Crab"),
                ("T1", "2003-03-15"),
                ("T2", "2003-04-15"),
            ],
            &[
                "crab-spectrum__isgri_spectrum.fits",
                "crab-spectrum__result.json",
            ],
            ArchiveRecord::Real {
                root: "/data/integral/archive".into(),
            },
        ),
    ];
    Record::new(journal, &files, products)
}

/// A small record on another InvenioRDM server: one creator, one product, one notebook, a
/// licence by its SPDX id, no version, no related works (every list a single value).
fn small_record() -> Record {
    let metadata = Metadata {
        title: "3C 279 flare".into(),
        creators: vec![Creator::parse("Doe, Jane, , University of Geneva").unwrap()],
        license: "MIT".into(),
        keywords: vec!["blazar".into()],
        ..Metadata::default()
    };
    let mut journal = Journal::new(
        Target::parse("https://rdm.example.org").unwrap(),
        Api::Rdm,
        metadata,
    );
    journal.doi = Some("10.1234/rdm.abcd-1234".into());
    journal.record_id = Some("abcd-1234".into());
    journal.publication_date = "2026-12-01".into();
    let files = [
        (
            "3c_279.ipynb",
            FileKind::Notebook,
            "application/x-ipynb+json",
        ),
        ("3c279__result.json", FileKind::Product, "application/json"),
        (
            "rerun-on-binder.zip",
            FileKind::RunnableZip,
            "application/zip",
        ),
    ];
    let products = vec![product(
        "products/3c279",
        "isgri_lc",
        &[("src_name", "3C 279")],
        &["3c279__result.json"],
        ArchiveRecord::Simulated {
            seed: 1,
            model_version: 1,
            extra_sky_sha256: None,
            perturbation: None,
        },
    )];
    Record::new(journal, &files, products)
}

/// Runs rocrate-validator (RO-Crate 1.1, recommended level, offline) on `dir`: its exit code
/// and JSON report.
fn validate_crate(dir: &Path) -> (Output, Value) {
    let report = dir.with_extension("report.json");
    let mut cmd = tool("rocrate-validator");
    cmd.args([
        "--no-interactive",
        "--disable-color",
        "validate",
        "--offline",
        "--cache-path",
    ])
    .arg(http_cache().join("http_cache"))
    .args([
        "-p",
        "ro-crate-1.1",
        "--skip-availability-check",
        "-l",
        "recommended",
        "--skip-checks",
        SKIPPED_CHECK,
        "-f",
        "json",
        "-o",
    ])
    .arg(&report)
    .arg(dir);
    let o = run(cmd);
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("rocrate-validator wrote no JSON report: {}", text(&o)));
    (o, json)
}

fn issues(report: &Value) -> String {
    report["issues"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    format!(
                        "{} {} {} ({} {})",
                        i["severity"].as_str().unwrap_or_default(),
                        i["check"]["identifier"].as_str().unwrap_or_default(),
                        i["message"].as_str().unwrap_or_default(),
                        i["violatingEntity"].as_str().unwrap_or_default(),
                        i["violatingProperty"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn assert_valid_crate(dir: &Path) {
    let (o, report) = validate_crate(dir);
    assert_eq!(
        report["passed"],
        true,
        "rocrate-validator found:\n{}\n{}",
        issues(&report),
        text(&o)
    );
    assert_eq!(
        report["issues"],
        serde_json::json!([]),
        "{}",
        issues(&report)
    );
    assert_eq!(
        report["validation_settings"]["requirement_severity"],
        "RECOMMENDED"
    );
    assert_eq!(report["validation_settings"]["offline"], true);
    assert!(o.status.success(), "{}", text(&o));
}

fn cffconvert(args: &[&str], file: &Path) -> Output {
    let mut cmd = tool("cffconvert");
    cmd.args(args).arg("-i").arg(file);
    run(cmd)
}

#[test]
fn the_describing_files_of_a_full_record_pass_the_validators() {
    let record = full_record();
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("record");
    std::fs::create_dir(&crate_dir).unwrap();
    let crate_ = record.write(&crate_dir);
    // One CreateAction per product, as the validator saw them.
    let actions = crate_["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["@type"] == "CreateAction")
        .count();
    assert_eq!(actions, 3);
    assert_valid_crate(&crate_dir);

    let cff = crate_dir.join("CITATION.cff");
    let o = cffconvert(&["--validate"], &cff);
    assert!(o.status.success(), "cffconvert --validate: {}", text(&o));
    // What a YAML reader makes of the file is what the metadata says, quotes, colons and all.
    let o = cffconvert(&["-f", "zenodo"], &cff);
    assert!(o.status.success(), "{}", text(&o));
    let zenodo: Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &record.journal.metadata;
    assert_eq!(zenodo["title"], m.title.as_str());
    assert_eq!(zenodo["description"], m.description.as_str());
    assert_eq!(zenodo["license"]["id"], "CC-BY-4.0");
    assert_eq!(zenodo["publication_date"], "2026-11-30");
    assert_eq!(zenodo["version"], "1.0");
    assert_eq!(zenodo["keywords"], serde_json::json!(m.keywords));
    assert_eq!(
        zenodo["creators"][1]["affiliation"],
        "ISDC: \"Data Centre\" for Astrophysics"
    );
    assert_eq!(zenodo["creators"][1]["orcid"], "0000-0001-5109-3700");
    assert_eq!(zenodo["creators"][2]["name"], "Ó Carragáin, Eoghan");
}

#[test]
fn the_describing_files_of_a_small_record_pass_the_validators() {
    let record = small_record();
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("record");
    std::fs::create_dir(&crate_dir).unwrap();
    record.write(&crate_dir);
    assert_valid_crate(&crate_dir);
    let o = cffconvert(&["--validate"], &crate_dir.join("CITATION.cff"));
    assert!(o.status.success(), "cffconvert --validate: {}", text(&o));
}

#[test]
fn a_crate_without_licence_or_publication_date_fails() {
    let record = full_record();
    let dir = tempfile::tempdir().unwrap();
    for field in ["license", "datePublished"] {
        let crate_dir = dir.path().join(field);
        std::fs::create_dir(&crate_dir).unwrap();
        let mut crate_ = record.write(&crate_dir);
        let root = crate_["@graph"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["@id"] == "./")
            .unwrap();
        assert!(root.as_object_mut().unwrap().remove(field).is_some());
        write_crate(&crate_dir, &crate_);
        let (o, report) = validate_crate(&crate_dir);
        assert!(!o.status.success(), "without {field}: {}", text(&o));
        assert_eq!(report["passed"], false, "without {field}");
        let found = issues(&report);
        assert!(
            found.contains(&format!("schema.org/{field}")) || found.contains(field),
            "without {field}, the issues do not name it:\n{found}"
        );
    }
}

#[test]
fn a_citation_file_without_title_fails() {
    let record = full_record();
    let dir = tempfile::tempdir().unwrap();
    let cff = describing_files(&record.journal, &record.manifest).citation_cff;
    assert!(cff.lines().any(|l| l.starts_with("title: ")));
    let broken: String = cff
        .lines()
        .filter(|l| !l.starts_with("title: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.path().join("CITATION.cff");
    std::fs::write(&path, broken).unwrap();
    let o = cffconvert(&["--validate"], &path);
    assert!(
        !o.status.success(),
        "cffconvert accepted a CITATION.cff without title: {}",
        text(&o)
    );
    assert!(text(&o).contains("title"), "{}", text(&o));
}

/// What `oda publish bundle` itself writes (not only the describing functions) passes both
/// validators: a bundle of an executed notebook and a product directory, made by the library.
#[test]
fn a_bundle_made_by_oda_passes_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    let mut metadata = Metadata {
        title: "The Crab with INTEGRAL/ISGRI: a bundle check".into(),
        description: "Made by oda publish bundle in a test.".into(),
        keywords: vec!["INTEGRAL".into()],
        ..Metadata::default()
    };
    metadata
        .creators
        .push(Creator::parse("Doe, Jane, 0000-0002-1825-0097, University of Geneva").unwrap());
    metadata
        .creators
        .push(Creator::parse("Roe, Richard, , ISDC, Versoix").unwrap());
    metadata
        .add_related_doi("10.1051/0004-6361/202037850")
        .unwrap();
    let mut journal = Journal::new(Target::ZenodoSandbox, Api::Rdm, metadata);
    journal.doi = Some("10.5072/zenodo.4242".into());
    journal.record_id = Some("4242".into());
    journal.publication_date = "2026-11-30".into();
    journal.citation = journal
        .metadata
        .citation_text("2026", "Zenodo", "10.5072/zenodo.4242");
    journal.save(dir.path()).unwrap();
    let nb_dir = dir.path().join("notebooks");
    std::fs::create_dir_all(&nb_dir).unwrap();
    std::fs::write(
        nb_dir.join("crab.ipynb"),
        serde_json::json!({"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {},
            "outputs": [], "source": "let x = 1;"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        .to_string(),
    )
    .unwrap();
    let products = dir.path().join("products/crab-lc");
    std::fs::create_dir_all(&products).unwrap();
    std::fs::write(
        products.join("result.json"),
        serde_json::json!({"product": "isgri_lc", "doi": "10.5072/zenodo.4242", "identity": "ab",
            "citation": journal.citation,
            "request": {"url_query": "instrument=isgri&product_type=isgri_lc&src_name=Crab"},
            "archive": {"kind": "simulated", "seed": 20021017, "model_version": 1},
            "provenance": [{"name": "LightCurve", "version": "1", "identity": "ab"}]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        products.join("Crab_lc.fits"),
        b"SIMPLE  =                    T",
    )
    .unwrap();
    let report = oda::publish::bundle(dir.path(), &oda::publish::BundleOptions::default()).unwrap();
    assert_eq!(report.manifest.products.len(), 1);
    assert_valid_crate(&report.dir);
    let o = cffconvert(&["--validate"], &report.dir.join("CITATION.cff"));
    assert!(o.status.success(), "{}", text(&o));
}
