//! Science tests of the fit on synthetic spectra with known truth: a 300-bin 7–1100 keV
//! true-energy grid, the ISGRI RMF (Gaussian smearing, 8 % FWHM at 60 keV ∝ √E) on 16
//! channels from 20 to 500 keV, the on-axis OSA11.2 ARF, Poisson errors for a given exposure
//! with 50 cts/s of background per channel, and seeded Gaussian noise.

use std::sync::OnceLock;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::lm::cholesky;
use super::{ModelKind, SpectralFit, SpectralFitter, chi2_sf};
use crate::datasets::Spectrum;
use crate::instrument::response::{Arf, Rmf};
use crate::osa::OsaVersion;
use crate::spectrum::SpectralModel;

/// Background rate per channel, cts/s.
const BKG_RATE: f64 = 50.0;
/// Exposure of the noisy spectra, s (about one Science Window).
const EXPOSURE: f64 = 2000.0;
/// Seeds of the pull studies.
const N_SEEDS: u64 = 200;

fn log_edges(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n)
        .map(|i| a * (b / a).powf(i as f64 / n as f64))
        .collect()
}

/// The response shared by all synthetic spectra (computed once).
fn response() -> &'static (Arf, Rmf) {
    static R: OnceLock<(Arf, Rmf)> = OnceLock::new();
    R.get_or_init(|| {
        let true_edges = log_edges(7.0, 1100.0, 300);
        let channels = log_edges(20.0, 500.0, 16);
        (
            crate::instrument::response::fixtures::arf(&true_edges),
            crate::instrument::response::fixtures::rmf(&true_edges, &channels),
        )
    })
}

/// The Crab as ISGRI measures it: Γ = 2.09, F(30–300 keV) = 2.19e-8 erg/cm²/s.
pub(crate) fn crab() -> SpectralModel {
    SpectralModel::power_law(1.0, 2.09).scaled_to_energy_flux(2.19e-8, 30.0, 300.0)
}

/// A hard-state black-hole binary: Γ = 1.0, Ecut = 110 keV, F(30–300 keV) = 1e-8.
fn hard_state() -> SpectralModel {
    SpectralModel::cutoff_power_law(1.0, 1.0, 110.0).scaled_to_energy_flux(1e-8, 30.0, 300.0)
}

/// Channel rates of `model` by the slow oracle: 512-point Simpson per bin and `Rmf::fold`.
fn true_rates(model: &SpectralModel) -> Vec<f64> {
    let (arf, rmf) = response();
    let per_bin: Vec<f64> = (0..arf.specresp.len())
        .map(|i| arf.specresp[i] * model.photon_flux(arf.energ_lo[i], arf.energ_hi[i]))
        .collect();
    rmf.fold(&per_bin).unwrap()
}

/// A spectrum of `model` with Poisson errors for `exposure`, noiseless if `seed` is None.
pub(crate) fn synthetic(
    model: &SpectralModel,
    exposure: f64,
    sys_err: f64,
    seed: Option<u64>,
) -> Spectrum {
    let (arf, rmf) = response();
    let truth = true_rates(model);
    let stat_err: Vec<f64> = truth
        .iter()
        .map(|r| ((r + BKG_RATE) / exposure).sqrt())
        .collect();
    let rate = match seed {
        None => truth,
        Some(seed) => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            truth
                .iter()
                .zip(&stat_err)
                .map(|(r, e)| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    r + e * z
                })
                .collect()
        }
    };
    Spectrum {
        source: "synthetic".into(),
        e_min: rmf.e_min.clone(),
        e_max: rmf.e_max.clone(),
        rate,
        stat_err,
        sys_err,
        exposure,
        time_range: (3652.0, 3652.03),
        osa_version: OsaVersion::Osa11_2,
        arf: Some(arf.clone()),
        rmf: Some(rmf.clone()),
        detector: Default::default(),
    }
}

fn value(fit: &SpectralFit, name: &str) -> (f64, f64) {
    let p = fit.parameter(name).unwrap();
    (p.value, p.error)
}

fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

#[test]
fn noiseless_power_law_is_recovered_exactly() {
    let s = synthetic(&crab(), EXPOSURE, 0.01, None);
    let fit = SpectralFitter::new(ModelKind::PowerLaw).run(&s).unwrap();
    assert!(fit.converged, "{}", fit.message);
    assert!(fit.chi2 < 1e-8, "{}", fit.chi2);
    let (gamma, gamma_err) = value(&fit, "Gamma");
    assert!((gamma - 2.09).abs() < 1e-6, "{gamma}");
    assert!(gamma_err > 0.0 && gamma_err < 0.02, "{gamma_err}");
    let (k, _) = value(&fit, "K");
    assert!((k / crab().norm() - 1.0).abs() < 1e-6);
    let (f, fe) = fit.flux(30.0, 300.0);
    assert!((f / 2.19e-8 - 1.0).abs() < 1e-6, "{f}");
    assert!(fe > 0.0 && fe / f < 0.01);
    // The fit uses the 13 channels inside 30–1000 keV (the 29.9–36.6 keV one starts below 30).
    assert_eq!(fit.channels, (3..16).collect::<Vec<_>>());
    assert_eq!(fit.dof, 11);
    assert!(fit.p_value > 0.999_999);
    assert!(fit.residuals.iter().all(|r| r.abs() < 1e-4));
}

#[test]
fn noiseless_cutoff_and_broken_power_laws_are_recovered() {
    let truth = hard_state();
    let s = synthetic(&truth, EXPOSURE, 0.01, None);
    let fit = SpectralFitter::new("cutoffpl".parse().unwrap())
        .run(&s)
        .unwrap();
    assert!(fit.converged && fit.chi2 < 1e-8, "{fit}");
    let want = ModelKind::values(&truth);
    for (p, w) in fit.parameters.iter().zip(&want) {
        assert!(
            (p.value / w - 1.0).abs() < 1e-5,
            "{}: {} vs {w}",
            p.name,
            p.value
        );
    }

    let truth = SpectralModel::broken_power_law(1.0, 1.6, 80.0, 2.6)
        .scaled_to_energy_flux(1.5e-8, 30.0, 300.0);
    let s = synthetic(&truth, EXPOSURE, 0.01, None);
    let fit = SpectralFitter::new(ModelKind::BrokenPowerLaw)
        .run(&s)
        .unwrap();
    assert!(fit.converged && fit.chi2 < 1e-6, "{fit}");
    let want = ModelKind::values(&truth);
    for (p, w) in fit.parameters.iter().zip(&want) {
        assert!(
            (p.value / w - 1.0).abs() < 1e-3,
            "{}: {} vs {w}",
            p.name,
            p.value
        );
    }
    assert_eq!(fit.covariance.len(), 4);
    let corr = fit.correlation();
    for (i, row) in corr.iter().enumerate() {
        assert!((row[i] - 1.0).abs() < 1e-12);
        assert!(row.iter().all(|c| c.abs() <= 1.0 + 1e-12));
    }
}

/// Pulls of Γ and of F(30–300 keV) over many noise realisations, and the χ² distribution.
fn pull_study(truth: SpectralModel) {
    let kind = ModelKind::of(&truth);
    let fitter = SpectralFitter::new(kind);
    let (gamma_true, flux_true) = (ModelKind::values(&truth)[1], truth.energy_flux(30.0, 300.0));
    let noiseless = true_rates(&truth);
    let (mut pg, mut pf, mut chi2_fit, mut chi2_true, mut pv) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut dof = 0;
    for seed in 0..N_SEEDS {
        let s = synthetic(&truth, EXPOSURE, 0.0, Some(seed));
        let fit = fitter.run(&s).unwrap();
        assert!(fit.converged, "seed {seed}: {}", fit.message);
        let (g, ge) = value(&fit, "Gamma");
        let (f, fe) = fit.flux(30.0, 300.0);
        pg.push((g - gamma_true) / ge);
        pf.push((f - flux_true) / fe);
        chi2_fit.push(fit.chi2);
        pv.push(fit.p_value);
        dof = fit.dof;
        chi2_true.push(
            fit.channels
                .iter()
                .map(|&j| ((s.rate[j] - noiseless[j]) / s.stat_err[j]).powi(2))
                .sum(),
        );
    }
    let n = N_SEEDS as f64;
    let (mg, sg) = mean_std(&pg);
    let (mf, sf) = mean_std(&pf);
    let (mc, _) = mean_std(&chi2_fit);
    let (mt, _) = mean_std(&chi2_true);
    let (mp, _) = mean_std(&pv);
    let n_ch = (dof + kind.n_parameters()) as f64;
    println!(
        "{kind}: Γ pull {mg:+.3} ± {sg:.3}, flux pull {mf:+.3} ± {sf:.3}, \
         <χ²_fit> = {mc:.2} (dof {dof}), <χ²_true> = {mt:.2} ({n_ch} channels), <p> = {mp:.3}"
    );
    for (what, m, s) in [("Gamma", mg, sg), ("flux", mf, sf)] {
        assert!(m.abs() < 0.3, "{kind} {what} pull mean {m}");
        assert!((0.8..1.25).contains(&s), "{kind} {what} pull std {s}");
    }
    // χ² of the truth follows χ²(n_channels), of the fit χ²(dof): means within 3σ.
    assert!((mt - n_ch).abs() < 3.0 * (2.0 * n_ch / n).sqrt(), "{mt}");
    assert!(
        (mc - dof as f64).abs() < 3.0 * (2.0 * dof as f64 / n).sqrt(),
        "{mc}"
    );
    assert!(pv.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!((mp - 0.5).abs() < 3.0 * (1.0 / 12.0 / n).sqrt(), "{mp}");
}

#[test]
fn power_law_pulls_are_standard_normal() {
    pull_study(crab());
}

#[test]
fn cutoff_power_law_pulls_are_standard_normal() {
    pull_study(hard_state());
}

/// Draws of the model from a Gaussian over the covariance, in the physical parameters
/// (K, Γ, Ecut) or in the fit's internal ones (ln K, Γ, ln Ecut).
fn monte_carlo_models(fit: &SpectralFit, internal: bool, n_draws: usize) -> Vec<SpectralModel> {
    let n = fit.covariance.len();
    let physical = ModelKind::values(&fit.model);
    let (center, scale) = if internal {
        (fit.kind.to_internal(&physical), physical.clone())
    } else {
        (physical.clone(), vec![1.0; n])
    };
    // d(internal)/d(physical) is 1/value for the log parameters (K, Ecut) and 1 for Γ.
    let d: Vec<f64> = (0..n)
        .map(|i| {
            if internal && i != 1 {
                1.0 / scale[i]
            } else {
                1.0
            }
        })
        .collect();
    let flat: Vec<f64> = (0..n * n)
        .map(|ij| fit.covariance[ij / n][ij % n] * d[ij / n] * d[ij % n])
        .collect();
    let l = cholesky(&flat, n, 1e-14).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    (0..n_draws)
        .filter_map(|_| {
            let z: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            let v: Vec<f64> = (0..n)
                .map(|i| center[i] + (0..=i).map(|k| l[i * n + k] * z[k]).sum::<f64>())
                .collect();
            let v = if internal {
                fit.kind.to_physical(&v)
            } else {
                v
            };
            fit.kind.model(&v).ok()
        })
        .collect()
}

/// Linear flux-error propagation against a brute-force Monte Carlo over the covariance.
/// At one ScW of a 1e-8 erg/cm²/s cut-off power law the flux is linear enough in K, Γ and
/// Ecut for both to agree; at a quarter of that exposure the errors of Ecut (~16 %) make the
/// flux visibly non-linear in Ecut (the Monte Carlo over K, Γ, Ecut gives a ~30 % wider
/// spread) but it stays linear in ln Ecut, the fit's own parametrisation.
#[test]
fn flux_error_matches_monte_carlo() {
    let all: &[(f64, f64)] = &[(30.0, 300.0), (20.0, 40.0), (100.0, 500.0)];
    // At low S/N the extrapolation below the 30 keV fit band is itself non-linear.
    let fitted: &[(f64, f64)] = &[(30.0, 300.0), (100.0, 500.0)];
    for (exposure, internal, bands) in [
        (EXPOSURE, false, all),
        (EXPOSURE, true, all),
        (EXPOSURE / 4.0, true, fitted),
    ] {
        let s = synthetic(&hard_state(), exposure, 0.0, Some(7));
        let fit = SpectralFitter::new(ModelKind::CutoffPowerLaw)
            .run(&s)
            .unwrap();
        let draws = monte_carlo_models(&fit, internal, 4000);
        assert!(draws.len() > 3990);
        for &(e1, e2) in bands {
            let (f, fe) = fit.flux(e1, e2);
            let (pf, pfe) = fit.photon_flux(e1, e2);
            let energy: Vec<f64> = draws.iter().map(|m| m.energy_flux(e1, e2)).collect();
            let photon: Vec<f64> = draws.iter().map(|m| m.photon_flux(e1, e2)).collect();
            let (mm, ms) = mean_std(&energy);
            let (pm, ps) = mean_std(&photon);
            println!(
                "{exposure} s, internal {internal}: F({e1}–{e2}) = {f:.4e} ± {fe:.3e}, \
                 Monte Carlo {mm:.4e} ± {ms:.3e}"
            );
            assert!((ms / fe - 1.0).abs() < 0.05, "{e1}–{e2}: {ms} vs {fe}");
            // The means differ at second order (≲ 0.2σ when sampling Ecut linearly).
            assert!((mm - f).abs() < 0.25 * fe, "{mm} vs {f} ± {fe}");
            assert!((ps / pfe - 1.0).abs() < 0.05, "{e1}–{e2}: {ps} vs {pfe}");
            assert!((pm - pf).abs() < 0.25 * pfe, "{pm} vs {pf} ± {pfe}");
        }
    }
}

#[test]
fn summary_table_is_readable() {
    let s = synthetic(&crab(), EXPOSURE, 0.01, Some(1));
    let fit = SpectralFitter::new(ModelKind::PowerLaw)
        .energy_range(30.0, 300.0)
        .unwrap()
        .run(&s)
        .unwrap();
    let text = fit.to_string();
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Spectral fit of synthetic: powerlaw in 30–300 keV, "));
    assert!(lines[2].trim_start().starts_with("K ") && lines[2].contains("ph/cm²/s/keV"));
    assert!(lines[3].trim_start().starts_with("Gamma "));
    assert!(lines[4].contains("chi2/dof") && lines[4].contains("p-value"));
    assert!(lines[5].contains("F(30–300 keV) = 2.1"));
    assert!(lines[6].contains("converged"));
    // All fitted channels lie inside 30–300 keV.
    assert!(fit.e_min[0] >= 30.0 && *fit.e_max.last().unwrap() <= 300.0);
    assert_eq!(fit.predicted.len(), fit.channels.len());
    // The result serialises for notebooks.
    let json = serde_json::to_string(&fit).unwrap();
    let back: SpectralFit = serde_json::from_str(&json).unwrap();
    assert_eq!(back.parameters, fit.parameters);
}

#[test]
fn systematics_and_band_choice_enter_chi2() {
    let truth = crab();
    let s0 = synthetic(&truth, EXPOSURE, 0.0, Some(11));
    let mut s1 = s0.clone();
    s1.sys_err = 0.05;
    let fitter = SpectralFitter::new(ModelKind::PowerLaw);
    let (f0, f1) = (fitter.run(&s0).unwrap(), fitter.run(&s1).unwrap());
    assert!(f1.chi2 < f0.chi2);
    assert!(value(&f1, "Gamma").1 > value(&f0, "Gamma").1);
    // A NaN rate and a zero-error channel are skipped.
    let mut s2 = s0.clone();
    s2.rate[5] = f64::NAN;
    s2.stat_err[6] = 0.0;
    let f2 = fitter.run(&s2).unwrap();
    assert!(!f2.channels.contains(&5) && !f2.channels.contains(&6));
    assert_eq!(f2.dof, f0.dof - 2);
    assert_eq!(f2.p_value, chi2_sf(f2.chi2, f2.dof));
}

#[test]
fn error_paths_name_the_problem() {
    let s = synthetic(&crab(), EXPOSURE, 0.01, None);
    let fitter = SpectralFitter::new(ModelKind::PowerLaw);

    let mut no_rmf = s.clone();
    no_rmf.rmf = None;
    let err = fitter.run(&no_rmf).unwrap_err();
    assert_eq!(err.parameter(), Some("rmf"), "{err}");
    let mut no_arf = s.clone();
    no_arf.arf = None;
    assert_eq!(fitter.run(&no_arf).unwrap_err().parameter(), Some("arf"));

    let mut wrong_arf = s.clone();
    if let Some(a) = wrong_arf.arf.as_mut() {
        a.specresp.pop();
    }
    assert_eq!(fitter.run(&wrong_arf).unwrap_err().parameter(), Some("arf"));

    // 100–150 keV holds two whole channels: too few for a power law (needs 3).
    let narrow = SpectralFitter::new(ModelKind::PowerLaw)
        .energy_range(100.0, 150.0)
        .unwrap();
    let err = narrow.run(&s).unwrap_err();
    assert_eq!(err.parameter(), Some("energy_range"));
    assert!(err.to_string().contains("2 usable channels"), "{err}");

    for (lo, hi, name) in [
        (300.0, 30.0, "e_max"),
        (30.0, 30.0, "e_max"),
        (0.0, 30.0, "e_min"),
        (f64::NAN, 30.0, "e_min"),
        (30.0, f64::INFINITY, "e_max"),
    ] {
        let err = SpectralFitter::new(ModelKind::PowerLaw)
            .energy_range(lo, hi)
            .unwrap_err();
        assert_eq!(err.parameter(), Some(name), "{lo} {hi}");
    }
    let err = "bknpow".parse::<ModelKind>().unwrap_err();
    assert_eq!(err.parameter(), Some("xspec_model"));
    assert!(err.to_string().contains("powerlaw"));
    assert_eq!(
        SpectralFitter::new(ModelKind::PowerLaw)
            .max_iterations(0)
            .unwrap_err()
            .parameter(),
        Some("max_iterations")
    );
    assert_eq!(
        SpectralFitter::new(ModelKind::PowerLaw)
            .start(hard_state())
            .unwrap_err()
            .parameter(),
        Some("start")
    );
}

/// All channels see the same single true-energy bin: the index is not constrained.
#[test]
fn singular_covariance_is_an_error() {
    let ch = [30.0, 40.0, 50.0, 60.0, 70.0, 80.0];
    let rmf = Rmf {
        energ_lo: vec![90.0, 100.0],
        energ_hi: vec![100.0, 110.0],
        e_min: ch[..5].to_vec(),
        e_max: ch[1..].to_vec(),
        matrix: vec![0.2, 0.2, 0.2, 0.2, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
    };
    let arf = Arf {
        energ_lo: rmf.energ_lo.clone(),
        energ_hi: rmf.energ_hi.clone(),
        specresp: vec![1000.0, 1000.0],
    };
    let s = Spectrum {
        source: "flat".into(),
        e_min: rmf.e_min.clone(),
        e_max: rmf.e_max.clone(),
        rate: vec![1.0, 1.1, 0.9, 1.05, 0.95],
        stat_err: vec![0.1; 5],
        sys_err: 0.0,
        exposure: 1000.0,
        time_range: (0.0, 1.0),
        osa_version: OsaVersion::Osa11_2,
        arf: Some(arf),
        rmf: Some(rmf),
        detector: Default::default(),
    };
    let err = SpectralFitter::new(ModelKind::PowerLaw)
        .run(&s)
        .unwrap_err();
    assert_eq!(err.parameter(), Some("covariance"), "{err}");
    assert!(err.to_string().contains("singular"));
}

/// A user-supplied start far from the truth still ends at the global minimum.
#[test]
fn explicit_start_and_noisy_broken_power_law() {
    let truth = SpectralModel::broken_power_law(1.0, 1.5, 100.0, 2.8)
        .scaled_to_energy_flux(2e-8, 30.0, 300.0);
    let s = synthetic(&truth, EXPOSURE, 0.0, Some(5));
    let fitter = SpectralFitter::new(ModelKind::BrokenPowerLaw)
        .start(SpectralModel::broken_power_law(1e-2, 3.0, 400.0, 1.0))
        .unwrap();
    let fit = fitter.run(&s).unwrap();
    assert!(fit.converged, "{fit}");
    for (p, w) in fit.parameters.iter().zip(ModelKind::values(&truth)) {
        assert!(
            (p.value - w).abs() < 5.0 * p.error,
            "{}: {} ± {} vs {w}",
            p.name,
            p.value,
            p.error
        );
    }
    assert!(fit.p_value > 1e-3);
}

#[test]
fn frozen_parameter_is_held_and_the_rest_recovered() {
    // A GX 17+2-like soft spectrum (Γ = 3.3, Ecut = 10 keV, cut-off below the band): with
    // Ecut frozen at its true value, Γ's pulls over 100 seeds are standard normal, Ecut
    // stays exactly 10 keV with error 0 and the degrees of freedom count one parameter less.
    let truth =
        SpectralModel::cutoff_power_law(1.0, 3.3, 10.0).scaled_to_energy_flux(2e-9, 20.0, 60.0);
    let fitter = SpectralFitter::new(ModelKind::CutoffPowerLaw)
        .energy_range(20.0, 100.0)
        .unwrap()
        .freeze("Ecut", 10.0)
        .unwrap();
    let free = SpectralFitter::new(ModelKind::CutoffPowerLaw)
        .energy_range(20.0, 100.0)
        .unwrap();
    let mut pulls = Vec::new();
    for seed in 0..100 {
        let s = synthetic(&truth, EXPOSURE, 0.0, Some(seed));
        let fit = fitter.run(&s).unwrap();
        let ecut = fit.parameter("Ecut").unwrap();
        assert!(
            ecut.frozen && ecut.value == 10.0 && ecut.error == 0.0,
            "{fit}"
        );
        assert!(!fit.parameter("Gamma").unwrap().frozen);
        assert_eq!(fit.dof, fit.channels.len() - 2);
        assert_eq!(fit.covariance[2], vec![0.0; 3]);
        let (g, ge) = value(&fit, "Gamma");
        pulls.push((g - 3.3) / ge);
        // Freezing can only raise the minimum χ².
        let best = free.run(&s).unwrap();
        assert!(
            best.chi2 <= fit.chi2 + 1e-6,
            "seed {seed}: {} > {}",
            best.chi2,
            fit.chi2
        );
        if seed == 0 {
            assert!(fit.to_string().contains("frozen"), "{fit}");
        }
    }
    let (m, sd) = mean_std(&pulls);
    assert!(
        m.abs() < 0.35 && (0.75..1.3).contains(&sd),
        "Γ pulls {m} ± {sd}"
    );
}

#[test]
fn freeze_errors_name_the_parameter() {
    let e = SpectralFitter::new(ModelKind::CutoffPowerLaw)
        .freeze("K", 1.0)
        .unwrap_err();
    assert_eq!(e.parameter(), Some("freeze"));
    assert!(e.to_string().contains("Gamma, Ecut"), "{e}");
    let e = SpectralFitter::new(ModelKind::CutoffPowerLaw)
        .freeze("Ecut", -3.0)
        .unwrap_err();
    assert_eq!(e.parameter(), Some("Ecut"));
    let e = SpectralFitter::new(ModelKind::PowerLaw)
        .freeze("Gamma", f64::NAN)
        .unwrap_err();
    assert_eq!(e.parameter(), Some("Gamma"));
    // Freezing again replaces the value.
    let f = SpectralFitter::new(ModelKind::BrokenPowerLaw)
        .freeze("Gamma2", 2.5)
        .unwrap()
        .freeze("Gamma2", 2.7)
        .unwrap();
    assert_eq!(f.frozen(), vec![("Gamma2", 2.7)]);
}

/// `model` times `c`: what an instrument whose calibration reads `c` times higher sees.
fn scaled(model: &SpectralModel, c: f64) -> SpectralModel {
    let kind = ModelKind::of(model);
    let mut v = ModelKind::values(model);
    v[0] *= c;
    kind.model(&v).unwrap()
}

#[test]
fn a_joint_fit_of_one_spectrum_is_the_single_fit() {
    for truth in [crab(), hard_state()] {
        let kind = ModelKind::of(&truth);
        let s = synthetic(&truth, EXPOSURE, 0.01, Some(7));
        let fitter = SpectralFitter::new(kind);
        let single = fitter.run(&s).unwrap();
        let joint = fitter.run_joint(&[&s]).unwrap();
        assert_eq!((joint.chi2, joint.dof), (single.chi2, single.dof), "{kind}");
        assert_eq!(joint.parameters, single.parameters, "{kind}");
        assert_eq!(joint.parts[0].residuals, single.residuals, "{kind}");
        assert_eq!(joint.flux(30.0, 300.0), single.flux(30.0, 300.0), "{kind}");
        assert_eq!(joint.constants.len(), 1);
        let part = joint.part_fit(0).unwrap();
        assert_eq!(
            (part.parameters, part.chi2),
            (single.parameters, single.chi2)
        );
        assert!(joint.part_fit(1).is_none());
    }
}

#[test]
fn cross_normalisations_and_the_shared_shape_have_standard_normal_pulls() {
    // Three spectra of the Crab over different bands, as three instruments would see it: the
    // first over 20–100 keV, the second 8 % low over 40–500 keV, the third 5 % high over
    // 30–300 keV.
    let truth = crab();
    let (c2, c3) = (0.92, 1.05);
    let fitter = SpectralFitter::new(ModelKind::PowerLaw);
    let mut pulls: [Vec<f64>; 4] = Default::default();
    let flux_true = truth.energy_flux(30.0, 300.0);
    for seed in 0..N_SEEDS {
        let a = synthetic(&truth, EXPOSURE, 0.0, Some(seed));
        let b = synthetic(&scaled(&truth, c2), EXPOSURE, 0.0, Some(seed + 1000));
        let c = synthetic(&scaled(&truth, c3), EXPOSURE, 0.0, Some(seed + 2000));
        let fit = fitter
            .run_joint_in(&[
                (&a, (20.0, 100.0)),
                (&b, (40.0, 500.0)),
                (&c, (30.0, 300.0)),
            ])
            .unwrap();
        assert!(fit.converged, "seed {seed}: {}", fit.message);
        let channels: usize = fit.parts.iter().map(|p| p.rate.len()).sum();
        assert_eq!((channels, fit.dof), (8 + 12 + 10, 8 + 12 + 10 - 4));
        let chi2: f64 = fit.parts.iter().map(|p| p.chi2).sum();
        assert!((chi2 - fit.chi2).abs() < 1e-9 * fit.chi2.max(1.0));
        for (k, (name, v)) in [("Gamma", 2.09), ("C_2", c2), ("C_3", c3)]
            .iter()
            .enumerate()
        {
            let p = fit.parameter(name).unwrap();
            pulls[k].push((p.value - v) / p.error);
        }
        let (f, fe) = fit.flux(30.0, 300.0);
        pulls[3].push((f - flux_true) / fe);
    }
    for (name, p) in ["Gamma", "C_2", "C_3", "flux"].iter().zip(&pulls) {
        let (m, s) = mean_std(p);
        println!("joint fit: {name} pull {m:+.3} ± {s:.3}");
        assert!(m.abs() < 0.25, "{name} pull mean {m}");
        assert!((0.8..1.25).contains(&s), "{name} pull std {s}");
    }
}

#[test]
fn a_frozen_shape_parameter_is_shared_by_the_joint_fit() {
    let truth = hard_state();
    let (a, b) = (
        synthetic(&truth, EXPOSURE, 0.0, None),
        synthetic(&scaled(&truth, 1.1), EXPOSURE, 0.0, None),
    );
    let fit = SpectralFitter::new(ModelKind::CutoffPowerLaw)
        .freeze("Ecut", 110.0)
        .unwrap()
        .run_joint(&[&a, &b])
        .unwrap();
    let (g, c) = (
        fit.parameter("Gamma").unwrap(),
        fit.parameter("C_2").unwrap(),
    );
    assert!((g.value - 1.0).abs() < 1e-4, "{}", g.value);
    assert!((c.value - 1.1).abs() < 1e-5, "{}", c.value);
    let ecut = fit.parameter("Ecut").unwrap();
    assert!(ecut.frozen && ecut.value == 110.0 && ecut.error == 0.0);
    let channels: usize = fit.parts.iter().map(|p| p.rate.len()).sum();
    assert_eq!(fit.dof, channels - 3);
    // Seen by the second spectrum: the model 10 % brighter.
    let part = fit.part_fit(1).unwrap();
    let ratio = part.flux(30.0, 300.0).0 / fit.flux(30.0, 300.0).0;
    assert!((ratio - 1.1).abs() < 1e-5, "{ratio}");
    let text = fit.to_string();
    for s in [
        "Joint fit of 2 spectra",
        "C_2",
        "C_1",
        "frozen",
        "spectrum 2",
    ] {
        assert!(text.contains(s), "{s} missing from\n{text}");
    }
}

#[test]
fn joint_fit_errors_name_the_problem() {
    let fitter = SpectralFitter::new(ModelKind::PowerLaw);
    assert_eq!(
        fitter.run_joint(&[]).unwrap_err().parameter(),
        Some("spectra")
    );
    let s = synthetic(&crab(), EXPOSURE, 0.0, None);
    let mut bare = s.clone();
    bare.arf = None;
    let e = fitter.run_joint(&[&s, &bare]).unwrap_err();
    assert_eq!(e.parameter(), Some("spectra"));
    assert!(
        e.to_string().contains("spectrum 2") && e.to_string().contains("arf"),
        "{e}"
    );
    let e = fitter.run_joint_in(&[(&s, (300.0, 30.0))]).unwrap_err();
    assert_eq!(e.parameter(), Some("e_max"));
}
