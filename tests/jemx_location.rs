//! JEM-X's 90 % location error: faint to bright point sources imaged in single Science Windows
//! over many seeds, their offsets against the imaging calibration's law, and the position pulls
//! that law implies.

use oda::analysis::jemx::{jemx_band, jemx_imager, jemx_imaging_shadowgram};
use oda::instrument::jemx::{self, JemxUnit};
use oda::simulate::{PlannedScw, Simulation, SkyModel};
use oda::sky::{Attitude, SkyCoord};

#[test]
fn jemx_positions_fall_within_the_stated_90_percent_radius() {
    let imaging = jemx::imaging_calibration();
    let imager = jemx_imager(JemxUnit::Jmx1, 5.0, 3).unwrap();
    let band = jemx_band(3.04, 34.88).unwrap();
    let base = Simulation::new(1).unwrap();
    let crab = base.sky().source("Crab").unwrap().clone();
    let (mut inside, mut total) = (0usize, 0usize);
    let mut pulls: Vec<f64> = Vec::new();
    let mut rows = Vec::new();
    for (k, fraction) in [0.004, 0.008, 0.02, 0.05, 0.2].iter().enumerate() {
        for seed in 0..20u64 {
            let mut source = crab.clone();
            for c in &mut source.components {
                c.spectrum = c.spectrum.scaled_to_photon_flux(
                    fraction * c.spectrum.photon_flux(3.0, 35.0),
                    3.0,
                    35.0,
                );
            }
            let sim = Simulation::new(100 + seed)
                .unwrap()
                .with_sky(SkyModel::from_sources(vec![source.clone()]));
            // Pointings within 2° of the source, at seed-dependent offsets.
            let a = seed as f64 * 2.4;
            let r = 2.0 * ((seed % 4) as f64 + 0.5) / 4.0;
            let x = SkyCoord::new(
                source.position.ra() + r * a.cos() / source.position.dec().to_radians().cos(),
                source.position.dec() + r * a.sin(),
            )
            .unwrap();
            let id: oda::archive::ScwId = format!("{:04}{:04}0010", 950 + k, seed + 1)
                .parse()
                .unwrap();
            let p = PlannedScw::staring(
                id,
                Attitude::with_roll(x, 30.0),
                oda::time::Time::from_isot("2010-09-01").unwrap(),
                2000.0,
            );
            let events = sim.jemx_events_for(&p, JemxUnit::Jmx1);
            let image = imager
                .run(&jemx_imaging_shadowgram(&events, band).unwrap())
                .unwrap();
            let Some(found) = image.sources.iter().min_by(|a, b| {
                a.position
                    .separation(&source.position)
                    .total_cmp(&b.position.separation(&source.position))
            }) else {
                continue;
            };
            let offset = found.position.separation(&source.position) * 60.0;
            if offset > 10.0 {
                continue;
            }
            let r90 = imaging.location_error.radius_arcmin(found.significance);
            total += 1;
            inside += usize::from(offset <= r90);
            rows.push((found.significance, offset, r90));
            // Per axis: the 90 % radius of a circular Gaussian is √(2 ln 10) σ = 2.146 σ.
            let sigma = r90 / (2.0 * 10f64.ln()).sqrt();
            let dec0 = source.position.dec().to_radians().cos();
            let d_ra = (found.position.ra() - source.position.ra()) * dec0 * 60.0;
            let d_dec = (found.position.dec() - source.position.dec()) * 60.0;
            pulls.extend([d_ra / sigma, d_dec / sigma]);
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (s, o, r) in &rows {
        println!("S {s:6.1}: offset {o:5.2}′, r90 {r:5.2}′");
    }
    let mut ratios: Vec<f64> = rows.iter().map(|(_, o, r)| o / r).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "offset / r90: median {:.2}, 90th percentile {:.2}",
        ratios[ratios.len() / 2],
        ratios[ratios.len() * 9 / 10]
    );
    let f = inside as f64 / total as f64;
    println!("{inside}/{total} within r90 ({:.0} %)", 100.0 * f);
    let n = pulls.len() as f64;
    let mean = pulls.iter().sum::<f64>() / n;
    let sd = (pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    println!("position pulls (RA, Dec) over {total} detections: mean {mean:+.2}, sd {sd:.2}");
    assert!(total >= 70, "{total}");
    assert!((0.8..0.98).contains(&f), "{f}");
    assert!(
        mean.abs() < 0.3 && (0.8..1.25).contains(&sd),
        "mean {mean}, sd {sd}"
    );
}
