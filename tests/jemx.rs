//! JEM-X through the public API: the instrument's design (mask, field, response) and the light
//! curve in OSA's layout, read from a real OSA file and checked independently with astropy.

#[path = "support/astropy.rs"]
mod astropy;

use std::path::Path;

use astropy::astropy_check;
use oda::instrument::jemx::{self, JemxUnit};
use oda::products::{read_jemx_lightcurve, write_jemx_lightcurve};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/jemx1_crab_lc.fits.gz")
}

/// Our file and OSA's pass the same independent check; ours reads back as written.
#[test]
fn jemx_light_curves_are_written_in_osas_layout() {
    astropy_check("jemx_lc_layout", &fixture());
    let real = read_jemx_lightcurve(&fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Crab_jemx_lc.fits");
    let mut ours = real.clone();
    ours.light_curve.source = "Crab".into();
    write_jemx_lightcurve(&path, &ours).unwrap();
    astropy_check("jemx_lc", &path);
    assert_eq!(
        read_jemx_lightcurve(&path).unwrap().light_curve.rate,
        real.light_curve.rate
    );
}

/// The published Crab rate in JEM-X1 (136 ± 1.6 cts/s in 3–35 keV after vignetting correction)
/// against a Crab spectrum folded through the design's on-axis area.
#[test]
fn the_crab_folds_to_the_measured_jemx1_rate() {
    let real = read_jemx_lightcurve(&fixture()).unwrap();
    let measured = real.light_curve.fit_constant().unwrap();
    let (lo, hi) = real.light_curve.band;
    let n = 4000;
    let folded: f64 = (0..n)
        .map(|i| {
            let e = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
            10.0 * e.powf(-2.1) * jemx::on_axis_area_cm2(JemxUnit::Jmx1, e) * (hi - lo) / n as f64
        })
        .sum();
    println!(
        "measured {:.1} ± {:.1} cts/s, folded {folded:.1}",
        measured.rate, measured.error
    );
    assert!(
        (folded / measured.rate - 1.0).abs() < 0.1,
        "{folded} vs {}",
        measured.rate
    );
    // The field: 13.2° across at zero response (cited), where the collimator closes along a
    // cell side; the mask still codes a source at 6° along either axis.
    let g = jemx::geometry(JemxUnit::Jmx1);
    let t = |deg: f64| deg.to_radians().tan();
    assert_eq!(jemx::collimator_transmission(t(6.61), 0.0), 0.0);
    assert!(jemx::collimator_transmission(t(6.0), 0.0) > 0.0);
    assert!(g.pif(t(6.0), 0.0).sum() > 0.0 && g.pif(0.0, t(6.0)).sum() > 0.0);
}

/// The simulated archive's JEM-X events: written in the ScW directory with OSA's extension and
/// column names, bit-identical when made again, as many as the sky and the instrument predict,
/// and the Crab at the cited calibration target.
#[test]
fn simulated_jemx_events_are_what_the_sky_predicts() {
    use oda::archive::{Archive, ScwSelection};
    use oda::config::Settings;
    use oda::simulate::{JEMX_BACKGROUND_RATE, Simulation};
    use oda::time::Time;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::simulated(dir.path());
    let archive = Archive::open(&settings).unwrap();
    let sel = ScwSelection::from_pairs([
        ("src_name", "Crab"),
        ("T1", "2005-01-01"),
        ("T2", "2010-01-01"),
        ("radius", "4"),
        ("max_pointings", "2"),
    ])
    .unwrap();
    let scws = archive.select(&sel).unwrap();
    let scw = &scws.scws()[0];
    let path = archive.jemx_events_path(&scw.swid, JemxUnit::Jmx1).unwrap();
    assert!(path.ends_with("jmx1_events.fits"), "{}", path.display());
    astropy_check("jemx_events", &path);
    let events = archive.jemx_events(&scw.swid, JemxUnit::Jmx1).unwrap();
    // Made again from nothing: the same bytes.
    let first = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    archive.jemx_events_path(&scw.swid, JemxUnit::Jmx1).unwrap();
    assert_eq!(first, std::fs::read(&path).unwrap());
    // JEM-X2 was off then.
    let e = archive.jemx_events(&scw.swid, JemxUnit::Jmx2).unwrap_err();
    assert!(e.to_string().contains("JEM-X2 was not operating"), "{e}");
    // As many events as the sources and the background predict (Poisson, 4σ).
    let sim = Simulation::new(settings.seed).unwrap();
    let p = sim.planned(&scw.swid).unwrap();
    let t_mid = Time::from_ijd(0.5 * (scw.tstart + scw.tstop)).unwrap();
    let level = oda::instrument::spiacs::quiet_background_rate(t_mid) / (0.5 * (1.16e5 + 9.1e4))
        * p.background_scale;
    let background = JEMX_BACKGROUND_RATE / 32.0 * 58.0 * level * events.header.ontime;
    let sources: f64 = sim
        .sky()
        .sources()
        .iter()
        .map(|s| {
            sim.expected_jemx_counts(p, JemxUnit::Jmx1, &s.name)
                .unwrap()
        })
        .sum();
    let expected = (background + sources) * events.header.deadc;
    let n = events.len() as f64;
    println!(
        "{}: {n} events, expected {expected:.0} ({sources:.0} from sources, {background:.0} background), DEADC {:.4}",
        scw.swid, events.header.deadc
    );
    assert!(
        (n - expected).abs() < 4.0 * expected.sqrt(),
        "{n} vs {expected}"
    );
    assert!(events.pi.iter().all(|p| *p > 0) && events.status.iter().all(|s| *s == 0));
    // The Crab's on-axis rate in 3–35 keV: the real JEM-X1 light curve's 136 ± 1.6 cts/s.
    let crab = sim
        .jemx_on_axis_rate(JemxUnit::Jmx1, "Crab", 3.04, 34.88, t_mid)
        .unwrap();
    println!("Crab on-axis 3.04–34.88 keV: {crab:.1} cts/s");
    assert!((crab / 136.0 - 1.0).abs() < 0.03, "{crab}");
}
