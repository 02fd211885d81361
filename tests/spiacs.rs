//! SPI-ACS through the public API: the shield's simulated rate around a burst, written in the
//! layout ODA serves and checked independently with astropy (as the served GRB 230307A file).

#[path = "support/astropy.rs"]
mod astropy;

use std::path::Path;

use astropy::astropy_check;

use oda::products::{AcsLightCurve, read_acs_lightcurve, write_acs_lightcurve};
use oda::simulate::spiacs::AcsSimulation;

#[test]
fn a_simulated_light_curve_around_gw170817_is_written_as_oda_serves_it() {
    let sim = AcsSimulation::new(oda::simulate::DEFAULT_SEED);
    let burst = sim
        .bursts()
        .iter()
        .find(|b| b.name == "GRB 170817A")
        .expect("the simulated sky has GRB 170817A")
        .clone();
    // ±100 s around T0 in 0.1 s bins (two 50 ms bins each).
    let first = AcsSimulation::bin_index(burst.t0.add_seconds(-100.0));
    let counts = sim.counts(first, 4000).unwrap();
    let binned: Vec<f64> = counts
        .chunks_exact(2)
        .map(|c| f64::from(c[0]) + f64::from(c[1]))
        .collect();
    let start = AcsSimulation::bin_start(first).seconds_since(burst.t0);
    let lc = AcsLightCurve::from_counts(burst.t0, start, 0.1, &binned).unwrap();
    assert_eq!(lc.len(), 2000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spi_acs_lc.fits");
    write_acs_lightcurve(&path, &lc).unwrap();
    astropy_check("acs_lc", &path);
    astropy_check(
        "acs_lc_layout",
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fixtures/spiacs_grb230307a_lc.fits"),
    );
    let back = read_acs_lightcurve(&path).unwrap();
    assert_eq!(back.rate, lc.rate);
    // Near 1e5 cts/s in 2017, and the burst's counts are there in the second after T0.
    let mean = lc.rate.iter().sum::<f64>() / lc.len() as f64;
    assert!((0.9e5..1.15e5).contains(&mean), "{mean}");
    let expected = burst.expected_counts_between(0.0, 1.0);
    assert!(expected > 1000.0, "{expected}");
}

use oda::analysis::burst::{BurstSearch, normal_sf};
use oda::time::Time;

/// The shield's light curve in native 50 ms bins from `before` s before `t0` to `after` s after.
fn native(sim: &AcsSimulation, t0: Time, before: f64, after: f64) -> AcsLightCurve {
    let first = AcsSimulation::bin_index(t0.add_seconds(-before));
    let n = ((before + after) / 0.05).round() as usize;
    let counts: Vec<f64> = sim
        .counts(first, n)
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    let start = AcsSimulation::bin_start(first).seconds_since(t0);
    AcsLightCurve::from_counts(t0, start, 0.05, &counts).unwrap()
}

fn burst(sim: &AcsSimulation, name: &str) -> oda::simulate::spiacs::AcsBurst {
    sim.bursts()
        .iter()
        .find(|b| b.name == name)
        .unwrap()
        .clone()
}

#[test]
fn the_gw170817_burst_is_found_at_its_time() {
    let mut sig = Vec::new();
    for seed in 1..=6 {
        let sim = AcsSimulation::new(seed);
        let b = burst(&sim, "GRB 170817A");
        let lc = native(&sim, b.t0, 300.0, 300.0);
        let r = BurstSearch::new().run(&lc).unwrap();
        println!(
            "seed {seed}: best {:.2}σ at {:+.2} s on {} s, FAP {:.1e}; noise ratios {:?}; {} spikes",
            r.best.significance,
            r.best.start_s,
            r.best.timescale_s,
            r.best.false_alarm_probability,
            r.noise_ratio,
            r.spikes_s.len()
        );
        assert!(
            (-0.5..1.0).contains(&r.best.start_s),
            "seed {seed}: best excess at {} s",
            r.best.start_s
        );
        sig.push(r.best.significance);
    }
    let mean = sig.iter().sum::<f64>() / sig.len() as f64;
    assert!(
        (4.0..5.5).contains(&mean),
        "mean significance {mean}: {sig:?}"
    );
}

#[test]
fn the_bright_burst_is_detected_and_its_counts_recovered() {
    let sim = AcsSimulation::new(7);
    let b = burst(&sim, "GRB 230307A");
    let lc = native(&sim, b.t0, 300.0, 400.0);
    let r = BurstSearch::new()
        .search_window(-5.0, 100.0)
        .unwrap()
        .run(&lc)
        .unwrap();
    assert!(r.best.significance > 100.0, "{:?}", r.best);
    assert!(r.fluence_upper_limit_erg_cm2.is_none());
    let ten_s = r
        .detections
        .iter()
        .find(|d| d.timescale_s == 10.0)
        .expect("a 10 s detection");
    let expected = b.expected_counts_between(ten_s.start_s, ten_s.start_s + 10.0);
    assert!(
        (ten_s.counts / expected - 1.0).abs() < 0.02,
        "{} vs {expected}",
        ten_s.counts
    );
}

#[test]
fn the_false_alarm_rate_on_burst_free_data_is_the_stated_one() {
    // 50 stretches of ±300 s at random times without bursts, 200 s searched in each: 10 000 s.
    let sim = AcsSimulation::new(11).with_bursts(Vec::new());
    let search = BurstSearch::new().search_window(-100.0, 100.0).unwrap();
    let (z, mut observed, mut expected, mut limits) = (3.0, 0usize, 0.0, Vec::new());
    let mut spikes = 0;
    let mut per = [(0.0, 0usize, 0.0); 8];
    for k in 0..50 {
        let t0 = Time::from_isot("2005-01-01")
            .unwrap()
            .add_seconds(k as f64 * 86_400.0 * 31.7 + 3.0e4);
        let lc = native(&sim, t0, 300.0, 300.0);
        let r = search.run(&lc).unwrap();
        let n: usize = r.windows.iter().map(|w| w.1).sum();
        expected += n as f64 * normal_sf(z);
        // Every window above z (detections keep one per overlap; count them all here).
        observed += r.windows_above(z);
        let mut offset = 0;
        for (i, (tau, n)) in r.windows.iter().enumerate() {
            let above = r.significances[offset..offset + n]
                .iter()
                .filter(|s| **s >= z)
                .count();
            per[i].0 = *tau;
            per[i].1 += above;
            per[i].2 += *n as f64 * normal_sf(z);
            offset += n;
        }
        spikes += r.spikes_s.len();
        if r.detections.is_empty() {
            limits.push(r.fluence_upper_limit_erg_cm2.unwrap());
        } else {
            println!("stretch {k}: {:?}", r.detections);
        }
    }
    println!(
        "windows ≥ {z}σ: {observed} observed, {expected:.1} expected; {spikes} spikes masked; upper limits {:.2e}–{:.2e}",
        limits.iter().copied().fold(f64::MAX, f64::min),
        limits.iter().copied().fold(0.0, f64::max)
    );
    println!("per timescale (s, observed, expected): {per:?}");
    assert!(spikes > 100, "{spikes}");
    // Overlapping windows make the count vary more than Poisson: allow 4σ of twice the variance.
    let tolerance = 4.0 * (2.0 * expected).sqrt();
    assert!(
        (observed as f64 - expected).abs() < tolerance,
        "{observed} vs {expected:.1}"
    );
    assert!(limits.len() >= 45);
    assert!(
        limits.iter().all(|l| (1.0e-7..3.0e-7).contains(l)),
        "{limits:?}"
    );
}

/// `spi_acs_lc` as users ask for it: T1/T2 and a bin, the rest refused or ignored by name.
#[test]
fn spi_acs_requests_are_validated_by_name() {
    use oda::query::{Instrument, ProductType, Request};
    let ok = Request::from_pairs([
        ("instrument", "spi_acs"),
        ("product_type", "spi_acs_lc"),
        ("T1", "2017-08-17T12:36:06.47"),
        ("T2", "2017-08-17T12:46:06.47"),
        ("time_bin", "0.15"),
        ("src_name", "GRB 170817A"),
    ])
    .unwrap();
    assert_eq!(ok.instrument, Instrument::SpiAcs);
    assert!((ok.time_bin_s - 0.15).abs() < 1e-12);
    // A name the reference catalog does not know is no error: SPI-ACS has no position.
    assert!(
        ok.warnings.iter().any(|w| w.contains("src_name")),
        "{:?}",
        ok.warnings
    );
    assert!(!ok.parameters().iter().any(|(k, _)| k == "src_name"));
    // The instrument follows from the product.
    let p = Request::from_pairs([
        ("product", "spi_acs_lc"),
        ("T1", "2017-08-17T12:36:06"),
        ("T2", "2017-08-17T12:46:06"),
    ])
    .unwrap();
    assert_eq!(p.instrument, Instrument::SpiAcs);
    assert_eq!(p.time_bin_s, 0.1);
    assert!(
        p.parameters()
            .contains(&("instrument".into(), "spi_acs".into()))
    );
    let refused = |pairs: &[(&str, &str)], parameter: &str, says: &str| {
        let e = Request::from_pairs(pairs.iter().copied()).unwrap_err();
        assert_eq!(e.parameter(), Some(parameter), "{e}");
        assert!(e.to_string().contains(says), "{e}");
    };
    let span = [("T1", "2017-08-17T12:36:06"), ("T2", "2017-08-17T12:46:06")];
    let with = |more: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut v = vec![("product", "spi_acs_lc")];
        v.extend(span);
        v.extend(more);
        v
    };
    refused(
        &with(&[("time_bin", "0.07")]),
        "time_bin",
        "multiple of the shield's 0.05 s",
    );
    refused(&with(&[("time_bin", "0")]), "time_bin", "at least 0.05 s");
    refused(&with(&[("data_level", "fast")]), "data_level", "ordinary");
    refused(
        &with(&[("instrument", "isgri")]),
        "product",
        "a product of instrument=isgri",
    );
    refused(
        &[("product", "spi_acs_lc"), ("T1", "2017-08-17")],
        "T2",
        "spi_acs_lc needs T1 and T2",
    );
    refused(
        &[
            ("product", "spi_acs_lc"),
            ("T1", "2017-08-01"),
            ("T2", "2017-08-20"),
        ],
        "T2",
        "10 days",
    );
    refused(
        &[
            ("product", "spi_acs_lc"),
            ("T1", "2017-08-01"),
            ("T2", "2017-08-04"),
        ],
        "time_bin",
        "at most 1728000 bins",
    );
    refused(
        &[
            ("product", "spi_acs_lc"),
            ("T1", "2001-01-01"),
            ("T2", "2001-01-02"),
        ],
        "T1",
        "within the mission",
    );
    refused(
        &[("instrument", "jemx2"), ("product", "spi_acs_lc")],
        "instrument",
        "isgri, jemx, spi_acs",
    );
    assert_eq!(ProductType::SpiAcsLc.instrument(), Instrument::SpiAcs);
}

/// The product through a session: the simulated archive's rate, binned, searched, written in
/// ODA's layout (astropy reads it, our reader reads it back), bit-identical when asked again.
#[test]
fn spi_acs_lc_finds_the_gw170817_burst_and_is_reproducible() {
    use oda::config::Settings;
    use oda::query::{Request, Session};
    let dir = tempfile::tempdir().unwrap();
    let request = Request::from_pairs([
        ("instrument", "spi_acs"),
        ("product", "spi_acs_lc"),
        ("T1", "2017-08-17T12:36:06.47"),
        ("T2", "2017-08-17T12:46:06.47"),
        ("time_bin", "0.1"),
    ])
    .unwrap();
    let session = Session::new(Settings::simulated(dir.path().join("data"))).unwrap();
    let result = session.get_product(&request).unwrap();
    let lc = result.product.acs_light_curve().unwrap();
    assert_eq!(lc.len(), 6000);
    assert_eq!(lc.timedel, 0.1);
    // The grid is the mission's: the first bin starts within 50 ms before T1.
    let first_start = lc.time[0] - 0.05;
    assert!((-300.05..=-300.0).contains(&first_start), "{first_start}");
    let search = result.product.burst_search().unwrap();
    let best = &search.best;
    assert!(
        best.significance > 4.0 && (-0.5..1.0).contains(&best.start_s),
        "{best:?}"
    );
    assert!(result.product.image().is_err());
    let text = result.to_string();
    assert!(text.contains("burst search: best excess"), "{text}");
    let a = dir.path().join("a");
    let files = result.write(&a).unwrap();
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["spi_acs_lc.fits"]
    );
    let path = a.join("spi_acs_lc.fits");
    astropy_check("acs_lc", &path);
    let back = read_acs_lightcurve(&path).unwrap();
    assert_eq!(back.rate, lc.rate);
    assert_eq!(back.time.len(), lc.time.len());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("result.json")).unwrap()).unwrap();
    assert_eq!(doc["product"], "spi_acs_lc");
    assert_eq!(
        doc["burst_search"]["best"]["significance"].as_f64(),
        Some(best.significance)
    );
    // Again, in a fresh session and data directory: the same bytes.
    let again = Session::new(Settings::simulated(dir.path().join("data2")))
        .unwrap()
        .get_product(&request)
        .unwrap();
    assert_eq!(again.identity, result.identity);
    let b = dir.path().join("b");
    again.write(&b).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(b.join("spi_acs_lc.fits")).unwrap()
    );
    // The figure marks the burst.
    let chart = result.chart().unwrap();
    assert!(
        chart.panels[0].series.iter().any(|s| matches!(s,
            oda::display::Series::Points { name, .. } if name.starts_with("burst:"))),
        "{:?}",
        chart.notes
    );
}
