//! Joint fits: one model with shared parameters fitted to several spectra at once, each spectrum
//! multiplied by its own cross-normalisation constant (XSPEC's `constant*model`, the first
//! spectrum's constant held at 1).
//!
//! Two instruments (ISGRI and JEM-X), or one instrument in two eras or two groups of Science
//! Windows, see a source through responses whose absolute calibrations differ by a few per
//! cent, and a bright source may vary between groups. Fitting the shape to all spectra while each
//! keeps its normalisation uses every spectrum's constraint on the shape without letting those
//! differences bias it — stacking the spectra instead turns them into a χ² excess.
//!
//! ```
//! use oda::fit::{ModelKind, SpectralFitter};
//! # use oda::instrument::response::{Arf, Redistribution, Rmf};
//! # use oda::osa::OsaVersion;
//! # use oda::products::Spectrum;
//! # use oda::spectrum::SpectralModel;
//! # let log_edges = |a: f64, b: f64, n: usize| -> Vec<f64> {
//! #     (0..=n).map(|i| a * (b / a).powf(i as f64 / n as f64)).collect()
//! # };
//! # let (true_edges, ch) = (log_edges(7.0, 1100.0, 300), log_edges(20.0, 500.0, 16));
//! # let fwhm = |e: f64| 4.8 * (e / 60.0).sqrt();
//! # let rmf = Rmf::from_redistribution(&true_edges, &ch, &Redistribution {
//! #     fwhm_kev: &fwhm, pulse_per_kev: 1.0, threshold_kev: 13.0, threshold_width_kev: 0.8,
//! #     measured_per_reconstructed: 1.0,
//! # })?;
//! # let arf = Arf::from_area(&true_edges, |e| {
//! #     1000.0 * (1.0 - (-(e / 18.0).powi(3)).exp()) * (-e / 250.0).exp()
//! # })?;
//! // Two noiseless spectra of the Crab (Γ = 2.09), the second seen 7 % fainter.
//! let crab = SpectralModel::power_law(1.0, 2.09).scaled_to_energy_flux(2.19e-8, 30.0, 300.0);
//! let spectrum = |scale: f64| -> oda::Result<Spectrum> {
//!     let per_bin: Vec<f64> = (0..arf.specresp.len())
//!         .map(|i| scale * arf.specresp[i] * crab.photon_flux(arf.energ_lo[i], arf.energ_hi[i]))
//!         .collect();
//!     let rate = rmf.fold(&per_bin)?;
//!     Ok(Spectrum {
//!         source: "Crab".into(),
//!         e_min: ch[..16].to_vec(),
//!         e_max: ch[1..].to_vec(),
//!         stat_err: rate.iter().map(|r| ((r + 50.0) / 2000.0).sqrt()).collect(),
//!         rate,
//!         sys_err: 0.01,
//!         exposure: 2000.0,
//!         time_range: (3652.0, 3652.1),
//!         osa_version: OsaVersion::Osa11_2,
//!         arf: Some(arf.clone()),
//!         rmf: Some(rmf.clone()),
//!         detector: Default::default(),
//!     })
//! };
//! let (a, b) = (spectrum(1.0)?, spectrum(0.93)?);
//! let fit = SpectralFitter::new(ModelKind::PowerLaw).run_joint(&[&a, &b])?;
//! assert!((fit.parameter("Gamma").unwrap().value - 2.09).abs() < 1e-5);
//! assert!((fit.parameter("C_2").unwrap().value - 0.93).abs() < 1e-5);
//! assert_eq!(fit.parameter("C_1").unwrap().value, 1.0);
//! let (flux, _) = fit.flux(30.0, 300.0);
//! assert!((flux / 2.19e-8 - 1.0).abs() < 1e-5);
//! println!("{fit}");
//! # Ok::<(), oda::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fitter::{FitData, Free, best_run, bounds_message, free_covariance, grid_starts};
use super::lm::Problem;
use super::model::ModelKind;
use super::result::{FitParameter, num, propagate, write_parameters};
use super::stats::chi2_sf;
use super::{SpectralFit, SpectralFitter};
use crate::datasets::Spectrum;
use crate::error::{Error, Result};
use crate::spectrum::SpectralModel;

/// Range of ln C for a cross-normalisation constant: C from 0.05 to 20.
const LN_C: (f64, f64) = (-3.0, 3.0);

/// What one spectrum contributes to a joint fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointPart {
    /// Source of the spectrum.
    pub source: String,
    /// The band this spectrum was fitted in, keV.
    pub energy_range: (f64, f64),
    /// Its cross-normalisation constant (1 for the first spectrum).
    pub constant: f64,
    /// Indices of the fitted channels in the spectrum.
    pub channels: Vec<usize>,
    /// Lower edges of the fitted channels, keV.
    pub e_min: Vec<f64>,
    /// Upper edges of the fitted channels, keV.
    pub e_max: Vec<f64>,
    /// Measured rates, cts/s.
    pub rate: Vec<f64>,
    /// Total errors used in χ², cts/s.
    pub error: Vec<f64>,
    /// Rates predicted by the best fit (the model times this spectrum's constant), cts/s.
    pub predicted: Vec<f64>,
    /// Normalised residuals (rate − predicted)/error.
    pub residuals: Vec<f64>,
    /// This spectrum's share of the χ².
    pub chi2: f64,
    /// The detector that recorded the spectrum.
    #[serde(default)]
    pub detector: crate::instrument::Detector,
}

/// The result of [`SpectralFitter::run_joint`].
///
/// `parameters` are the model's, in the order of [`ModelKind::parameter_names`], for the first
/// spectrum's calibration (its constant is 1); `constants` are `C_1` … `C_n`, one per spectrum,
/// `C_1` frozen at 1. The covariance is in the physical parameters, the model's first and then
/// the constants (a frozen one has zero rows and columns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointFit {
    /// The model kind fitted.
    pub kind: ModelKind,
    /// The model at the best fit (for the first spectrum).
    pub model: SpectralModel,
    /// Best-fit model parameters with their 1σ errors.
    pub parameters: Vec<FitParameter>,
    /// Cross-normalisation constants `C_1` … `C_n` with their 1σ errors.
    pub constants: Vec<FitParameter>,
    /// Covariance of the physical parameters (model parameters, then constants).
    pub covariance: Vec<Vec<f64>>,
    /// χ² at the best fit, over all spectra.
    pub chi2: f64,
    /// Degrees of freedom: fitted channels − free parameters (constants included).
    pub dof: usize,
    /// Probability of a χ² at least this large if the model is right.
    pub p_value: f64,
    /// Levenberg–Marquardt iterations of the run that gave the best fit.
    pub n_iterations: usize,
    /// Model evaluations over all starting points.
    pub n_evaluations: usize,
    /// True when the minimiser met its convergence criterion.
    pub converged: bool,
    /// How the minimisation ended, and any parameter left at the limit of its range.
    pub message: String,
    /// Each spectrum's data, prediction and χ², in the order given.
    pub parts: Vec<JointPart>,
}

impl JointFit {
    /// The model parameter or constant (`C_1` … `C_n`) called `name`.
    pub fn parameter(&self, name: &str) -> Option<&FitParameter> {
        self.parameters
            .iter()
            .chain(&self.constants)
            .find(|p| p.name == name)
    }

    /// Reduced χ², χ²/dof.
    pub fn reduced_chi2(&self) -> f64 {
        self.chi2 / self.dof as f64
    }

    /// Energy flux of the model in [`e1`, `e2`] keV for the first spectrum's calibration,
    /// erg/cm²/s, and its 1σ error (propagated from the model parameters' covariance, which is
    /// marginalised over the constants). Another spectrum's is this times its constant.
    pub fn flux(&self, e1: f64, e2: f64) -> (f64, f64) {
        propagate(self.kind, &self.model, &self.model_covariance(), |m| {
            m.energy_flux(e1, e2)
        })
    }

    /// The covariance block of the model parameters.
    fn model_covariance(&self) -> Vec<Vec<f64>> {
        let np = self.parameters.len();
        self.covariance
            .iter()
            .take(np)
            .map(|row| row.iter().take(np).copied().collect())
            .collect()
    }

    /// The fit as seen by spectrum `i` alone: its data, the model times its constant, the shared
    /// parameters' errors (K's and the covariance scaled by the constant, the constant's own
    /// error not included), its χ² with its channels as degrees of freedom less the free model
    /// parameters. `None` if there is no spectrum `i`.
    pub fn part_fit(&self, i: usize) -> Option<SpectralFit> {
        let part = self.parts.get(i)?;
        let c = part.constant;
        let mut values = ModelKind::values(&self.model);
        values[0] *= c;
        let mut covariance = self.model_covariance();
        for (a, row) in covariance.iter_mut().enumerate() {
            for (b, v) in row.iter_mut().enumerate() {
                *v *= if a == 0 { c } else { 1.0 } * if b == 0 { c } else { 1.0 };
            }
        }
        let mut parameters = self.parameters.clone();
        parameters[0].value *= c;
        parameters[0].error *= c;
        let free = parameters.iter().filter(|p| !p.frozen).count();
        let dof = part.rate.len().saturating_sub(free);
        Some(SpectralFit {
            detector: part.detector,
            source: part.source.clone(),
            kind: self.kind,
            model: self.kind.model_unchecked(&values),
            parameters,
            covariance,
            chi2: part.chi2,
            dof,
            p_value: chi2_sf(part.chi2, dof),
            n_iterations: self.n_iterations,
            n_evaluations: self.n_evaluations,
            converged: self.converged,
            message: format!("part {} of a joint fit; {}", i + 1, self.message),
            energy_range: part.energy_range,
            channels: part.channels.clone(),
            e_min: part.e_min.clone(),
            e_max: part.e_max.clone(),
            rate: part.rate.clone(),
            error: part.error.clone(),
            predicted: part.predicted.clone(),
            residuals: part.residuals.clone(),
        })
    }
}

impl fmt::Display for JointFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channels: usize = self.parts.iter().map(|p| p.rate.len()).sum();
        writeln!(
            f,
            "Joint fit of {} spectra: constant*{}, {} channels",
            self.parts.len(),
            self.kind,
            channels
        )?;
        write_parameters(f, self.parameters.iter().chain(&self.constants))?;
        for (i, p) in self.parts.iter().enumerate() {
            writeln!(
                f,
                "  spectrum {} ({}, {}–{} keV): {} channels, chi2 = {}",
                i + 1,
                if p.source.is_empty() {
                    "unnamed"
                } else {
                    &p.source
                },
                p.energy_range.0,
                p.energy_range.1,
                p.rate.len(),
                num(p.chi2)
            )?;
        }
        writeln!(
            f,
            "  chi2/dof = {}/{} = {}, p-value = {}",
            num(self.chi2),
            self.dof,
            num(self.reduced_chi2()),
            num(self.p_value)
        )?;
        let (flux, err) = self.flux(30.0, 300.0);
        writeln!(
            f,
            "  F(30–300 keV) = {flux:.4e} ± {err:.2e} erg/cm²/s (C = 1)"
        )?;
        write!(
            f,
            "  {}; {} iterations, {} evaluations",
            self.message, self.n_iterations, self.n_evaluations
        )
    }
}

/// The joint problem in the internal parameters: the model's (ln K, shape …) then
/// ln C_2 … ln C_n. Spectrum i is predicted with ln K + ln C_i, so the derivative with respect
/// to ln C_i is its ln K column.
struct JointProblem {
    parts: Vec<FitData>,
    np: usize,
}

impl Problem for JointProblem {
    fn n_data(&self) -> usize {
        self.parts.iter().map(Problem::n_data).sum()
    }

    fn eval(&self, theta: &[f64], r: &mut [f64], mut jac: Option<&mut [f64]>) -> bool {
        let (np, n) = (self.np, theta.len());
        let mut local = theta[..np].to_vec();
        let mut offset = 0;
        let mut ok = true;
        for (i, part) in self.parts.iter().enumerate() {
            local.copy_from_slice(&theta[..np]);
            if i > 0 {
                local[0] += theta[np + i - 1];
            }
            let nd = part.n_data();
            let r_part = &mut r[offset..offset + nd];
            match jac.as_deref_mut() {
                Some(j) => {
                    let mut part_jac = vec![0.0; nd * np];
                    ok &= part.eval(&local, r_part, Some(&mut part_jac));
                    for (row, src) in part_jac.chunks_exact(np).enumerate() {
                        let dst = &mut j[(offset + row) * n..(offset + row + 1) * n];
                        dst.fill(0.0);
                        dst[..np].copy_from_slice(src);
                        if i > 0 {
                            dst[np + i - 1] = src[0];
                        }
                    }
                }
                None => ok &= part.eval(&local, r_part, None),
            }
            offset += nd;
        }
        ok
    }
}

impl SpectralFitter {
    /// Fits the model jointly to `spectra`, each over the fitter's band, with a free
    /// cross-normalisation constant for every spectrum but the first (see the module
    /// documentation of [`crate::fit`]'s joint fits).
    ///
    /// # Errors
    /// As [`SpectralFitter::run_joint_in`].
    pub fn run_joint(&self, spectra: &[&Spectrum]) -> Result<JointFit> {
        let band = self.e_range();
        let with_bands: Vec<(&Spectrum, (f64, f64))> = spectra.iter().map(|s| (*s, band)).collect();
        self.run_joint_in(&with_bands)
    }

    /// As [`run_joint`](Self::run_joint), each spectrum over its own band (keV) — e.g. JEM-X
    /// from 3 to 30 keV and ISGRI from 30 to 300 keV.
    ///
    /// # Errors
    /// No spectra (parameter `spectra`); a band [`energy_range`](Self::energy_range) refuses;
    /// any error [`run`](Self::run) gives for one of the spectra (named by its position);
    /// fewer usable channels in all than free parameters + 1; a singular covariance.
    pub fn run_joint_in(&self, spectra: &[(&Spectrum, (f64, f64))]) -> Result<JointFit> {
        if spectra.is_empty() {
            return Err(Error::invalid("spectra", "none", "at least one spectrum"));
        }
        let kind = self.kind();
        let np = kind.n_parameters();
        let nc = spectra.len() - 1;
        let n = np + nc;
        let mut parts = Vec::with_capacity(spectra.len());
        for (i, (s, (lo, hi))) in spectra.iter().enumerate() {
            let fitter = self.clone().energy_range(*lo, *hi)?;
            let data = FitData::new(&fitter, s).map_err(|e| {
                Error::invalid(
                    "spectra",
                    format!("spectrum {} ({}): {e}", i + 1, s.source),
                    "spectra with responses and usable channels in their bands",
                )
            })?;
            parts.push(data);
        }
        let band = (
            parts
                .iter()
                .filter_map(|p| p.e_min.first().copied())
                .fold(f64::INFINITY, f64::min),
            parts
                .iter()
                .filter_map(|p| p.e_max.last().copied())
                .fold(0.0, f64::max),
        );
        let frozen = self.internal_frozen();
        let refs: Vec<&FitData> = parts.iter().collect();
        let mut starts: Vec<Vec<f64>> = grid_starts(kind, &refs, band, self.n_starts(), &frozen);
        if let Some(m) = self.start_model() {
            starts.push(kind.to_internal(&ModelKind::values(m)));
        }
        for s in &mut starts {
            s.resize(n, 0.0);
        }
        let joint = JointProblem { parts, np };
        let problem = Free::new(&joint, n, &frozen);
        let mut all_bounds = kind.bounds(band);
        all_bounds.resize(n, LN_C);
        let bounds: Vec<(f64, f64)> = problem.free.iter().map(|&i| all_bounds[i]).collect();
        let (best, n_evaluations) =
            best_run(&problem, &starts, &bounds, self.max_iterations_limit());
        let Some(best) = best else {
            return Err(Error::invalid(
                "spectral fit",
                format!("{kind} to {} spectra", spectra.len()),
                "a model that can be evaluated at the starting points: check rates and responses",
            ));
        };
        let theta = problem.expand(&best.theta);
        let names: Vec<String> = kind
            .parameter_names()
            .iter()
            .map(|s| (*s).to_string())
            .chain((2..=spectra.len()).map(|i| format!("C_{i}")))
            .collect();
        let Some(cov_free) = free_covariance(&problem, &best.theta) else {
            return Err(Error::invalid(
                "covariance",
                format!(
                    "singular in the joint {kind} fit of {} spectra",
                    spectra.len()
                ),
                "spectra that constrain every parameter: use a simpler model, wider bands, or \
                 freeze a parameter",
            ));
        };
        // Physical values and the derivatives of the transformation (ln C → C).
        let mut values = kind.to_physical(&theta[..np]);
        for &(i, v) in self.frozen_values() {
            values[i] = v;
        }
        let constants: Vec<f64> = theta[np..].iter().map(|t| t.exp()).collect();
        let d: Vec<f64> = kind
            .transforms()
            .iter()
            .zip(&theta)
            .map(|(t, v)| t.derivative(*v))
            .chain(constants.iter().copied())
            .collect();
        let nf = problem.free.len();
        let mut cov = vec![vec![0.0; n + 1]; n + 1];
        // Rows/columns: model parameters (np), C_1 (frozen at 1), C_2 … C_n.
        let slot = |i: usize| if i < np { i } else { i + 1 };
        for (a, &i) in problem.free.iter().enumerate() {
            for (b, &j) in problem.free.iter().enumerate() {
                cov[slot(i)][slot(j)] = cov_free[a * nf + b] * d[i] * d[j];
            }
        }
        let units = kind.parameter_units();
        let parameters: Vec<FitParameter> = (0..np)
            .map(|i| FitParameter {
                name: names[i].clone(),
                value: values[i],
                error: cov[i][i].sqrt(),
                unit: units[i].to_string(),
                frozen: !problem.free.contains(&i),
            })
            .collect();
        let mut constant_params = vec![FitParameter {
            name: "C_1".into(),
            value: 1.0,
            error: 0.0,
            unit: String::new(),
            frozen: true,
        }];
        constant_params.extend((0..nc).map(|k| FitParameter {
            name: names[np + k].clone(),
            value: constants[k],
            error: cov[np + 1 + k][np + 1 + k].sqrt(),
            unit: String::new(),
            frozen: false,
        }));
        // Each spectrum's prediction and residuals at the best fit.
        let mut out_parts = Vec::with_capacity(spectra.len());
        for (i, (data, (s, range))) in joint.parts.iter().zip(spectra).enumerate() {
            let mut local = theta[..np].to_vec();
            if i > 0 {
                local[0] += theta[np + i - 1];
            }
            let mut predicted = vec![0.0; data.n_data()];
            data.forward.predict(&local, &mut predicted, None);
            let r: Vec<f64> = data
                .rate
                .iter()
                .zip(&predicted)
                .zip(&data.error)
                .map(|((d, p), e)| (d - p) / e)
                .collect();
            out_parts.push(JointPart {
                source: s.source.clone(),
                energy_range: *range,
                constant: if i == 0 { 1.0 } else { constants[i - 1] },
                channels: data.channels.clone(),
                e_min: data.e_min.clone(),
                e_max: data.e_max.clone(),
                rate: data.rate.clone(),
                error: data.error.clone(),
                chi2: r.iter().map(|v| v * v).sum(),
                predicted,
                residuals: r,
                detector: s.detector,
            });
        }
        let dof = joint.n_data().saturating_sub(nf);
        let bound_names: Vec<&str> = names.iter().map(String::as_str).collect();
        let message = bounds_message(&best, &problem.free, &bounds, &bound_names);
        Ok(JointFit {
            kind,
            model: kind.model_unchecked(&values),
            parameters,
            constants: constant_params,
            covariance: cov,
            chi2: best.chi2,
            dof,
            p_value: chi2_sf(best.chi2, dof),
            n_iterations: best.n_iterations,
            n_evaluations,
            converged: best.converged,
            message,
            parts: out_parts,
        })
    }
}
