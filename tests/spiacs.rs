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
