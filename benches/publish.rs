//! Bundling and uploading the Crab notebook's record against the local Zenodo/InvenioRDM
//! server (`examples/zenodo_fake`, started here on 127.0.0.1).
//!
//! `cargo bench --bench publish`. The record holds the Crab notebook's products — the 50-ScW
//! 20–40 keV image with its catalog, the spectral fit (PHA, RMF, ARF) and the 30–100 keV light
//! curves — computed once into a data directory under `target/` (kept between runs), a copy of
//! `notebooks/crab.ipynb` marked as executed, and the runnable zip. Each step is timed a few
//! times with `Instant` (whole steps take seconds).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use oda::config::Settings;
use oda::publish::{BundleOptions, Creator, Metadata, PublishOptions, Target, Token};
use oda::query::{Request, Session};

const TOKEN: &str = "bench-token";

struct Fake(Child, String);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_fake() -> Fake {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--example", "zenodo_fake"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building examples/zenodo_fake");
    let exe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/zenodo_fake");
    let mut child = Command::new(exe)
        .args(["--port", "0", "--token", TOKEN, "--rate-limit", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the fake server starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the fake server says where it listens");
    let url = line.trim().trim_start_matches("listening on ").to_string();
    Fake(child, url)
}

fn crab(product: &str, extra: &[(&str, &str)]) -> Request {
    let mut pairs = vec![
        ("instrument", "isgri"),
        ("product", product),
        ("src_name", "Crab"),
        ("T1", "2003-03-15"),
        ("T2", "2018-03-16"),
        ("max_pointings", "50"),
    ];
    pairs.extend_from_slice(extra);
    Request::from_pairs(pairs).expect("valid request")
}

fn options(url: &str) -> PublishOptions {
    let mut metadata = Metadata {
        title: "The Crab with INTEGRAL/ISGRI (benchmark)".into(),
        ..Metadata::default()
    };
    metadata
        .creators
        .push(Creator::parse("Doe, Jane").expect("creator"));
    PublishOptions {
        target: Some(Target::parse(url).expect("url")),
        metadata,
        token: Some(Token::new(TOKEN).expect("token")),
        log: Some(Box::new(|_| {})),
        ..PublishOptions::default()
    }
}

fn executed_notebook(dir: &Path) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/notebooks/crab.ipynb"))
            .expect("the Crab notebook");
    let mut nb: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut n = 0;
    for c in nb["cells"].as_array_mut().expect("cells") {
        if c["cell_type"] == "code" {
            n += 1;
            c["execution_count"] = n.into();
        }
    }
    std::fs::create_dir_all(dir.join("notebooks")).expect("mkdir");
    std::fs::write(dir.join("notebooks/crab.ipynb"), nb.to_string()).expect("write");
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-publish");
    let settings = Settings::simulated(root.join("data"));
    let session = Session::new(settings).expect("session");
    let fake = start_fake();
    let dir = root.join(format!("publication-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let p = oda::publish::reserve(&dir, options(&fake.1)).expect("reserve");
    println!(
        "reserve: {:.0} ms ({})",
        t.elapsed().as_secs_f64() * 1e3,
        p.doi()
    );
    let t = Instant::now();
    for (name, request) in [
        (
            "crab-image",
            crab(
                "isgri_image",
                &[
                    ("E1_keV", "20"),
                    ("E2_keV", "40"),
                    ("detection_threshold", "7.5"),
                ],
            ),
        ),
        ("crab-fit", crab("spectral_fit", &[])),
        (
            "crab-lc",
            crab(
                "isgri_lc",
                &[("E1_keV", "30"), ("E2_keV", "100"), ("time_bin", "100000")],
            ),
        ),
    ] {
        let r = session.get_product(&request).expect("product");
        r.write(&dir.join("products").join(name)).expect("write");
    }
    println!(
        "products (from the cache after the first run): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    executed_notebook(&dir);
    let mut bundle_times = Vec::new();
    let mut report = None;
    for _ in 0..3 {
        let t = Instant::now();
        report = Some(oda::publish::bundle(&dir, &BundleOptions::default()).expect("bundle"));
        bundle_times.push(t.elapsed().as_secs_f64());
    }
    let report = report.expect("bundled");
    print!("{report}");
    let t = Instant::now();
    oda::publish::upload(&dir, options(&fake.1), false).expect("upload");
    let upload = t.elapsed().as_secs_f64();
    let t = Instant::now();
    oda::publish::upload(&dir, options(&fake.1), true).expect("publish");
    let republish = t.elapsed().as_secs_f64();
    bundle_times.sort_by(f64::total_cmp);
    println!("| step | time |\n|---|---|");
    println!(
        "| bundle ({} files, {:.1} MB) | {:.2} s (median of 3) |",
        report.manifest.files.len() + 1,
        report.bytes as f64 / 1e6,
        bundle_times[1]
    );
    println!("| upload to the local server (all files) | {upload:.2} s |");
    println!("| upload again (nothing to send) + publish | {republish:.2} s |");
    let _ = std::fs::remove_dir_all(&dir);
}
