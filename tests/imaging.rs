//! Single-ScW imaging and mosaics against injected truth: positions, rates, empty-sky
//! statistics, the WCS.

#[path = "support/truth.rs"]
mod truth;

use oda::analysis::catalog::Origin;
use oda::analysis::detect::SourceFinder;
use oda::analysis::image::{ScwImage, ScwImager};
use oda::analysis::mosaic::MosaicMaker;
use oda::analysis::shadowgram::{EnergyBand, ShadowgramMaker};
use oda::archive::ScwId;
use oda::osa::OsaVersion;
use oda::simulate::calibration::simulated_calibration;
use oda::simulate::{LightCurveModel, PlannedScw, Simulation, SkyModel};
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

/// True on-axis equivalent rate of `name` in pointing `p` (OSA11.2), from the model.
fn true_rate(sim: &Simulation, p: &PlannedScw, name: &str, band: EnergyBand) -> f64 {
    truth::onaxis_truth(sim, p, name, (band.e1, band.e2), OsaVersion::Osa11_2)
}

#[test]
fn a_bright_source_is_found_at_its_position_with_its_rate() {
    let base = Simulation::new(5).unwrap();
    let crab = base.sky().source("Crab").unwrap().clone();
    let sim = base.with_sky(SkyModel::from_sources(vec![crab.clone()]));
    let band = EnergyBand::new(20.0, 40.0).unwrap();
    let maker = ShadowgramMaker::new(
        vec![band],
        simulated_calibration(OsaVersion::Osa11_2).unwrap(),
    )
    .unwrap();
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
    let maker = ShadowgramMaker::new(
        vec![band],
        simulated_calibration(OsaVersion::Osa11_2).unwrap(),
    )
    .unwrap();
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

/// Pointing `k` of a made-up survey around `center`: offsets within ±`r`° (golden-ratio
/// sequences, so that images fall on the mosaic grid at every sub-pixel phase), rolls 137.5°
/// apart, dates 97 days apart, and each ScW its own id, hence its own photon stream.
fn survey_pointing(center: SkyCoord, k: usize, r: f64) -> PlannedScw {
    let spread = |g: f64| ((0.5 + k as f64 * g).fract() - 0.5) * 2.0 * r;
    let x = SkyCoord::new(
        center.ra() + spread(0.618_034) / center.dec().to_radians().cos(),
        center.dec() + spread(0.754_878),
    )
    .unwrap();
    let id: ScwId = format!("9999{:04}0010", k + 1).parse().unwrap();
    let start = Time::from_isot("2004-03-01")
        .unwrap()
        .add_seconds(86_400.0 * 97.0 * k as f64);
    PlannedScw::staring(
        id,
        Attitude::with_roll(x, (137.5 * k as f64) % 360.0),
        start,
        2000.0,
    )
}

/// The images of survey pointings `0..n` (computed in parallel, returned in order).
fn survey_images(
    sim: &Simulation,
    center: SkyCoord,
    n: usize,
    band: EnergyBand,
    imager: &ScwImager,
) -> Vec<ScwImage> {
    use rayon::prelude::*;
    let maker = ShadowgramMaker::new(
        vec![band],
        simulated_calibration(OsaVersion::Osa11_2).unwrap(),
    )
    .unwrap();
    (0..n)
        .into_par_iter()
        .map(|k| {
            let ev = sim.events_for(&survey_pointing(center, k, 4.0));
            imager.run(&maker.run(&ev)[0]).unwrap()
        })
        .collect()
}

/// Significances of the covered pixels (positive variance).
fn covered(sig: &ndarray::Array2<f64>, variance: &ndarray::Array2<f64>) -> Vec<f64> {
    sig.iter()
        .zip(variance)
        .filter(|(_, v)| **v > 0.0)
        .map(|(s, _)| *s)
        .collect()
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (
        mean,
        (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

#[test]
fn mosaic_significance_is_standard_normal_on_empty_sky() {
    // 16 empty-sky ScWs within ±4° of one point: the resampling onto the mosaic grid must
    // propagate the variance with the decoded images' neighbour-pixel noise correlation
    // (linear interpolation of the variance gave σ ≈ 0.89, independent pixels σ ≈ 1.42).
    let sim = Simulation::new(9)
        .unwrap()
        .with_sky(SkyModel::from_sources(vec![]));
    let band = EnergyBand::new(20.0, 40.0).unwrap();
    let center = SkyCoord::new(150.0, -40.0).unwrap();
    let images = survey_images(&sim, center, 16, band, &ScwImager::new(6.0, 10).unwrap());
    // The mosaic's inputs are standard normal themselves.
    let mut single = Vec::new();
    for img in &images {
        assert!(img.sources.is_empty(), "spurious sources {:?}", img.sources);
        single.extend(covered(&img.significance(), &img.variance));
    }
    let (mean, sd) = mean_sd(&single);
    assert!(
        mean.abs() < 0.01 && (sd - 1.0).abs() < 0.01,
        "single ScWs: mean {mean:.4}, sd {sd:.4} over {} pixels",
        single.len()
    );
    let mosaic = MosaicMaker::new(center, None).run(&images).unwrap();
    let again = MosaicMaker::new(center, None).run(&images).unwrap();
    assert!(
        mosaic.intensity == again.intensity && mosaic.variance == again.variance,
        "the parallel mosaic is deterministic"
    );
    // All covered pixels, the edges of the field included: the statistics do not depend on
    // how many images cover a pixel (24 such ScWs: sd 1.000 over all covered pixels, 0.995 over
    // those covered by ≥ 12 images), so no border needs excluding.
    let sig = covered(&mosaic.significance(), &mosaic.variance);
    let (mean, sd) = mean_sd(&sig);
    assert!(
        sig.len() >= 100_000 && mean.abs() < 0.02 && (sd - 1.0).abs() < 0.02,
        "mosaic: mean {mean:.4}, sd {sd:.4} over {} pixels",
        sig.len()
    );
}

#[test]
fn a_faint_source_keeps_its_rate_and_position_in_the_mosaic() {
    // A constant 50 mCrab source (~8σ per ScW) in 12 ScWs not cleaned of it: no single-ScW
    // fit exists, so its catalog rate is the PSF photometry of the mosaic, which must give back
    // the injected rate (flux-conserving resampling, the mosaic PSF's width and peak) and its
    // position (no shift from the resampling).
    let base = Simulation::new(11).unwrap();
    let mut src = base.sky().source("Crab").unwrap().clone();
    src.name = "FAINT".into();
    src.position = SkyCoord::new(150.37, -40.21).unwrap();
    src.components.truncate(1);
    src.components[0].light_curve = LightCurveModel::Episodes {
        base: 0.05,
        episodes: vec![],
    };
    let sim = base.with_sky(SkyModel::from_sources(vec![src.clone()]));
    let band = EnergyBand::new(20.0, 40.0).unwrap();
    let center = SkyCoord::new(150.0, -40.0).unwrap();
    let imager = ScwImager::new(6.0, 10).unwrap().with_max_sources(0);
    let images = survey_images(&sim, center, 12, band, &imager);
    let mosaic = MosaicMaker::new(center, None).run(&images).unwrap();
    let catalog = SourceFinder::new(7.0)
        .unwrap()
        .run(&mosaic, &images)
        .unwrap();
    let e = catalog
        .entries()
        .iter()
        .min_by(|a, b| {
            a.position
                .separation(&src.position)
                .total_cmp(&b.position.separation(&src.position))
        })
        .expect("the source is detected");
    assert_eq!(e.origin, Origin::Mosaic);
    let sep_arcmin = e.position.separation(&src.position) * 60.0;
    assert!(
        sep_arcmin < 2.0 * e.error_radius_arcmin.max(1.0),
        "position off by {sep_arcmin:.2}′ (r₉₀ {:.2}′)",
        e.error_radius_arcmin
    );
    let truth = (0..images.len())
        .map(|k| true_rate(&sim, &survey_pointing(center, k, 4.0), "FAINT", band))
        .sum::<f64>()
        / images.len() as f64;
    let pull = (e.rate - truth) / e.rate_err;
    assert!(
        pull.abs() < 3.0 && e.significance > 15.0,
        "rate {:.3} ± {:.3} ({:.1}σ) vs injected {truth:.3}",
        e.rate,
        e.rate_err,
        e.significance
    );
}
