//! [`SpectralFit`]: the result of a fit, with errors, band fluxes, diagnostics and a summary.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::ModelKind;
use crate::instrument::Detector;
use crate::spectrum::SpectralModel;

/// Step in the internal parameters (ln K, Γ, ln Ecut, ...) of the numerical gradients.
const GRADIENT_STEP: f64 = 1e-4;

/// One fitted parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitParameter {
    /// Name (`K`, `Gamma`, `Ecut`, `Gamma1`, `Ebreak`, `Gamma2`).
    pub name: String,
    /// Best-fit value, in physical units (K in ph/cm²/s/keV at 100 keV, energies in keV).
    pub value: f64,
    /// 1σ error (Δχ² = 1 with the other parameters free), same units as `value`.
    pub error: f64,
    /// Unit of `value` and `error` (empty for indices).
    pub unit: String,
    /// True when the parameter was held at `value` (see
    /// [`SpectralFitter::freeze`](super::SpectralFitter::freeze)); its error is then 0.
    #[serde(default)]
    pub frozen: bool,
}

/// The result of [`SpectralFitter::run`](super::SpectralFitter::run).
///
/// Parameters and the covariance are in the order of
/// [`ModelKind::parameter_names`]; the covariance is in the physical parameters (K itself,
/// not ln K), obtained from the inverse of JᵀWJ at the minimum for the internal
/// parameters (ln K, Γ, ln Ecut, ...) by the Jacobian of the transformation (exact at the
/// best fit). Per-channel vectors (`channels` … `residuals`) follow the fitted channels in
/// increasing energy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectralFit {
    /// Source of the fitted spectrum.
    pub source: String,
    /// The model kind fitted.
    pub kind: ModelKind,
    /// The model at the best fit.
    pub model: SpectralModel,
    /// Best-fit parameters with their 1σ errors.
    pub parameters: Vec<FitParameter>,
    /// Covariance matrix of the physical parameters (`covariance[i][j]`).
    pub covariance: Vec<Vec<f64>>,
    /// χ² at the best fit.
    pub chi2: f64,
    /// Degrees of freedom: fitted channels − parameters.
    pub dof: usize,
    /// Probability of a χ² at least this large if the model is right (χ² survival function).
    pub p_value: f64,
    /// Levenberg–Marquardt iterations of the run that gave the best fit.
    pub n_iterations: usize,
    /// Model evaluations over all starting points.
    pub n_evaluations: usize,
    /// True when the minimiser met its convergence criterion.
    pub converged: bool,
    /// How the minimisation ended, and any parameter left at the limit of its range.
    pub message: String,
    /// The requested fit band (e_min, e_max), keV.
    pub energy_range: (f64, f64),
    /// The detector that recorded the fitted spectrum (its energy flux is reported in
    /// [`Detector::flux_band_kev`]).
    #[serde(default)]
    pub detector: Detector,
    /// Indices of the fitted channels in the spectrum.
    pub channels: Vec<usize>,
    /// Lower edges of the fitted channels, keV.
    pub e_min: Vec<f64>,
    /// Upper edges of the fitted channels, keV.
    pub e_max: Vec<f64>,
    /// Measured rates, cts/s.
    pub rate: Vec<f64>,
    /// Total errors used in χ² (statistical and systematic), cts/s.
    pub error: Vec<f64>,
    /// Rates predicted by the best-fit model, cts/s.
    pub predicted: Vec<f64>,
    /// Normalised residuals (rate − predicted)/error.
    pub residuals: Vec<f64>,
}

impl SpectralFit {
    /// The parameter called `name`, if the model has one.
    pub fn parameter(&self, name: &str) -> Option<&FitParameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The correlation matrix of the parameters.
    pub fn correlation(&self) -> Vec<Vec<f64>> {
        let n = self.covariance.len();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        self.covariance[i][j]
                            / (self.covariance[i][i] * self.covariance[j][j]).sqrt()
                    })
                    .collect()
            })
            .collect()
    }

    /// Reduced χ², χ²/dof.
    pub fn reduced_chi2(&self) -> f64 {
        self.chi2 / self.dof as f64
    }

    /// Energy flux of the best-fit model in [`e1`, `e2`] keV, erg/cm²/s, and its 1σ error,
    /// propagated linearly from the covariance with a numerical gradient (central
    /// differences in ln K, Γ, ln Ecut, ...). A band with `e1` ≤ 0 or `e2` ≤ `e1` gives (0, 0).
    pub fn flux(&self, e1: f64, e2: f64) -> (f64, f64) {
        self.propagate(|m| m.energy_flux(e1, e2))
    }

    /// Photon flux of the best-fit model in [`e1`, `e2`] keV, ph/cm²/s, and its 1σ error
    /// (as [`flux`](Self::flux)).
    pub fn photon_flux(&self, e1: f64, e2: f64) -> (f64, f64) {
        self.propagate(|m| m.photon_flux(e1, e2))
    }

    /// Value of `f` at the best fit and its linearly propagated 1σ error.
    fn propagate(&self, f: impl Fn(&SpectralModel) -> f64) -> (f64, f64) {
        propagate(self.kind, &self.model, &self.covariance, f)
    }
}

/// Value of `f` for `model` and its 1σ error propagated linearly from `covariance` (of the
/// physical parameters of `kind`) with a numerical gradient in the internal parameters (central
/// differences in ln K, Γ, ln Ecut, ...).
pub(super) fn propagate(
    kind: ModelKind,
    model: &SpectralModel,
    covariance: &[Vec<f64>],
    f: impl Fn(&SpectralModel) -> f64,
) -> (f64, f64) {
    let value = f(model);
    let values = ModelKind::values(model);
    let theta = kind.to_internal(&values);
    let n = theta.len();
    // Covariance of the internal parameters, row-major.
    let d: Vec<f64> = kind
        .transforms()
        .iter()
        .zip(&theta)
        .map(|(t, v)| t.derivative(*v))
        .collect();
    let mut cov = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            cov[i * n + j] = covariance
                .get(i)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or(f64::NAN)
                / (d[i] * d[j]);
        }
    }
    let at = |t: &[f64]| f(&kind.model_unchecked(&kind.to_physical(t)));
    let grad: Vec<f64> = (0..n)
        .map(|k| {
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[k] += GRADIENT_STEP;
            down[k] -= GRADIENT_STEP;
            (at(&up) - at(&down)) / (2.0 * GRADIENT_STEP)
        })
        .collect();
    let mut var = 0.0;
    for i in 0..n {
        for j in 0..n {
            var += grad[i] * cov[i * n + j] * grad[j];
        }
    }
    (value, var.max(0.0).sqrt())
}

/// `v` with about four significant digits: fixed notation for moderate magnitudes,
/// scientific otherwise.
pub(super) fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-2..1e5).contains(&a) {
        let decimals = if v == 0.0 {
            0
        } else {
            (3 - a.log10().floor() as i32).max(0) as usize
        };
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// The parameter table of a fit summary: name, value, error (or "frozen") and unit.
pub(super) fn write_parameters<'a>(
    f: &mut fmt::Formatter<'_>,
    parameters: impl IntoIterator<Item = &'a FitParameter>,
) -> fmt::Result {
    writeln!(f, "  {:<8} {:>12} {:>12}  unit", "param", "value", "error")?;
    for p in parameters {
        let line = format!(
            "  {:<8} {:>12} {:>12}  {}",
            p.name,
            num(p.value),
            if p.frozen {
                "frozen".to_string()
            } else {
                num(p.error)
            },
            p.unit
        );
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}

impl fmt::Display for SpectralFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Spectral fit of {}: {} in {}–{} keV, {} channels",
            if self.source.is_empty() {
                "(unnamed)"
            } else {
                &self.source
            },
            self.kind,
            self.energy_range.0,
            self.energy_range.1,
            self.rate.len()
        )?;
        write_parameters(f, &self.parameters)?;
        writeln!(
            f,
            "  chi2/dof = {}/{} = {}, p-value = {}",
            num(self.chi2),
            self.dof,
            num(self.reduced_chi2()),
            num(self.p_value)
        )?;
        let (e1, e2) = self.detector.flux_band_kev();
        let (flux, err) = self.flux(e1, e2);
        writeln!(f, "  F({e1}–{e2} keV) = {flux:.4e} ± {err:.2e} erg/cm²/s")?;
        write!(
            f,
            "  {}; {} iterations, {} evaluations",
            self.message, self.n_iterations, self.n_evaluations
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(num(2.0912345), "2.091");
        assert_eq!(num(110.34), "110.3");
        assert_eq!(num(0.0123456), "0.01235");
        assert_eq!(num(5.898e-4), "5.898e-4");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(12345.6), "12346");
    }
}
