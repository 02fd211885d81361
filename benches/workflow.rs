//! Cold, warm and near-repeat requests through the provenance-cached workflow.
//!
//! `cargo bench --bench workflow` (add `-- --keep` to keep the data directory). The requests are
//! the paper's Crab image (50 random ScWs 2003-03-15 … 2018-03-16, 20–40 keV, 7.5σ) and light
//! curve; each starts from an empty cache in a fresh data directory under `target/`, so the cold
//! numbers include generating and caching the events (~3.3 GB). Whole requests take seconds to a
//! minute, so each is timed a few times with `Instant` rather than with criterion.

use std::path::PathBuf;
use std::time::Instant;

use oda::config::Settings;
use oda::query::{ProductResult, Request, Session};

fn crab(product: &str, extra: &[(&str, &str)]) -> Request {
    let mut pairs = vec![
        ("instrument", "isgri"),
        ("product", product),
        ("src_name", "Crab"),
        ("T1", "2003-03-15"),
        ("T2", "2018-03-16"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("max_pointings", "50"),
    ];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    Request::from_pairs(pairs).expect("valid request")
}

fn timed(session: &Session, request: &Request) -> (f64, ProductResult) {
    let t0 = Instant::now();
    let r = session.get_product(request).expect("request runs");
    (t0.elapsed().as_secs_f64(), r)
}

/// Median of `n` runs, s.
fn median(session: &Session, request: &Request, n: usize) -> f64 {
    let mut t: Vec<f64> = (0..n).map(|_| timed(session, request).0).collect();
    t.sort_by(f64::total_cmp);
    t[n / 2]
}

fn row(what: &str, seconds: f64, r: &ProductResult) {
    println!(
        "| {what} | {} | {} computed, {} reused |",
        if seconds < 1.0 {
            format!("{:.1} ms", seconds * 1e3)
        } else {
            format!("{seconds:.2} s")
        },
        r.log.computed().count(),
        r.log.reused().count()
    );
}

fn main() {
    let keep = std::env::args().any(|a| a == "--keep");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-workflow");
    let _ = std::fs::remove_dir_all(&dir);
    // The simulated index and plan are written once, outside the timings.
    let settings = Settings::simulated(&dir);
    let session = Session::new(settings.clone()).expect("session");
    session.archive().expect("archive");

    println!("| request | time | units |");
    println!("|---|---|---|");
    let image = crab("isgri_image", &[("detection_threshold", "7.5")]);
    let (cold, r) = timed(&session, &image);
    row("Crab image, cold (empty cache, events generated)", cold, &r);
    let warm = median(&session, &image, 5);
    row(
        "same request again, same session (warm)",
        warm,
        &session.get_product(&image).expect("warm"),
    );
    let fresh = Session::new(settings.clone()).expect("session");
    let (t, r) = timed(&fresh, &image);
    row("same request, new session (opens the archive)", t, &r);
    let (t, r) = timed(
        &session,
        &crab("isgri_image", &[("detection_threshold", "6")]),
    );
    row("new detection threshold (6σ)", t, &r);
    let (t, r) = timed(
        &session,
        &crab("isgri_image", &[("E1_keV", "40"), ("E2_keV", "80")]),
    );
    row("new energy band (40–80 keV), events cached", t, &r);

    // Light curves: the cold request images (for the catalog) and fits every ScW.
    let lc_dir = dir.join("lc");
    let lc_session = Session::new(Settings::simulated(&lc_dir)).expect("session");
    lc_session.archive().expect("archive");
    let (lc_cold, r) = timed(&lc_session, &crab("isgri_lc", &[("time_bin", "1000")]));
    row("Crab light curve, 1000 s bins, cold", lc_cold, &r);
    let (lc_bin, r) = timed(&lc_session, &crab("isgri_lc", &[("time_bin", "300")]));
    row("new time bin (300 s)", lc_bin, &r);
    let (t, r) = timed(&lc_session, &crab("spectral_fit", &[]));
    row(
        "spectral fit after the light curve (events, catalog cached)",
        t,
        &r,
    );
    println!();
    println!(
        "warm/cold = {:.4}; cold/new-time-bin = {:.1}×",
        warm / cold,
        lc_cold / lc_bin
    );
    let stats = session.workflow().cache().stats();
    println!(
        "image cache: {} entries, {:.2} GB",
        stats.total.entries,
        stats.total.bytes as f64 / 1e9
    );
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
