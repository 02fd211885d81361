//! Single-ScW imaging against injected truth: positions, rates, empty-sky statistics, the WCS.

use oda::analysis::image::ScwImager;
use oda::analysis::shadowgram::{EnergyBand, ShadowgramMaker};
use oda::analysis::skyfit::onaxis_rate;
use oda::archive::ScwId;
use oda::instrument::isgri::{Mask, efficiency_map, pif};
use oda::osa::OsaVersion;
use oda::simulate::{PlannedScw, Simulation, SkyModel};
use oda::sky::{Attitude, SkyCoord};
use oda::time::Time;

fn pointing(x: SkyCoord, date: &str) -> PlannedScw {
    let id: ScwId = "999900010010".parse().unwrap();
    PlannedScw::staring(
        id,
        Attitude::with_roll(x, 40.0),
        Time::from_isot(date).unwrap(),
        2000.0,
    )
}

/// True on-axis equivalent 20–40 keV rate of `name` in pointing `p` (OSA11.2), from the model.
fn true_rate(sim: &Simulation, p: &PlannedScw, name: &str, band: EnergyBand) -> f64 {
    let t = Time::from_ijd(0.5 * (p.scw.tstart + p.scw.tstop)).unwrap();
    let g = oda::instrument::isgri::gain(t);
    let counts = sim
        .expected_counts(p, band.e1 * g, band.e2 * g)
        .unwrap()
        .source(name);
    let src = sim.sky().source(name).unwrap();
    let (ty, tz) = p.scw.attitude.to_tangents(&src.position).unwrap();
    let lit = (pif(&Mask::isgri(), ty, tz) * &efficiency_map(t)).sum();
    onaxis_rate(counts / lit, p.exposure(), OsaVersion::Osa11_2)
}

#[test]
fn a_bright_source_is_found_at_its_position_with_its_rate() {
    let base = Simulation::new(5).unwrap();
    let crab = base.sky().source("Crab").unwrap().clone();
    let sim = base.with_sky(SkyModel::from_sources(vec![crab.clone()]));
    let band = EnergyBand::new(20.0, 40.0).unwrap();
    let maker = ShadowgramMaker::new(vec![band], OsaVersion::Osa11_2).unwrap();
    let imager = ScwImager::new(6.0, 10).unwrap();
    for (k, offset) in [(0, (0.0, 0.0)), (1, (3.0, -2.0)), (2, (-6.5, 4.0))] {
        let x = SkyCoord::new(83.633 + offset.0, 22.014 + offset.1).unwrap();
        let p = pointing(x, "2012-03-01");
        let ev = sim.events_for(&p);
        let sg = &maker.run(&ev)[0];
        let img = imager.run(sg).unwrap();
        assert!(!img.sources.is_empty(), "case {k}: nothing found");
        let s = &img.sources[0];
        let sep_arcmin = s.position.separation(&crab.position) * 60.0;
        assert!(
            sep_arcmin < 1.0,
            "case {k}: position off by {sep_arcmin:.2}′"
        );
        let truth = true_rate(&sim, &p, "Crab", band);
        let pull = (s.rate - truth) / s.rate_err;
        assert!(
            pull.abs() < 3.5,
            "case {k}: rate {:.2} ± {:.2} vs {truth:.2}",
            s.rate,
            s.rate_err
        );
        assert!(s.rate / s.rate_err > 30.0);
        // Only the Crab is in this sky: cleaning leaves no ghost above threshold.
        assert_eq!(img.sources.len(), 1, "case {k}: {:?}", img.sources);
        // The WCS agrees with the image's own mapping.
        let wcs = img.projection().unwrap();
        for (iy, iz) in [(180.0, 182.0), (100.5, 250.25), (300.0, 40.0)] {
            let a = img.sky(iy, iz);
            let b = wcs.pixel_to_world(iz + 1.0, iy + 1.0);
            assert!(
                a.separation(&b) * 3600.0 < 0.5,
                "WCS mismatch at ({iy}, {iz})"
            );
        }
    }
}

#[test]
fn empty_sky_significance_is_standard_normal() {
    let sim = Simulation::new(9)
        .unwrap()
        .with_sky(SkyModel::from_sources(vec![]));
    let band = EnergyBand::new(25.0, 80.0).unwrap();
    let maker = ShadowgramMaker::new(vec![band], OsaVersion::Osa11_2).unwrap();
    let imager = ScwImager::new(6.0, 10).unwrap();
    let mut all = Vec::new();
    for (i, date) in ["2006-05-01", "2014-09-01"].iter().enumerate() {
        let p = pointing(SkyCoord::new(30.0 + 40.0 * i as f64, -60.0).unwrap(), date);
        let img = imager.run(&maker.run(&sim.events_for(&p))[0]).unwrap();
        assert!(img.sources.is_empty(), "spurious sources {:?}", img.sources);
        let sig = img.significance();
        all.extend(
            sig.iter()
                .zip(img.variance.iter())
                .filter(|(_, v)| **v > 0.0)
                .map(|(s, _)| *s),
        );
    }
    let n = all.len() as f64;
    let mean = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        mean.abs() < 0.03 && (sd - 1.0).abs() < 0.04,
        "mean {mean:.3}, sd {sd:.3}"
    );
}
