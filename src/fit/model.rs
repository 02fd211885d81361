//! The fittable model kinds, their parameters and the internal parametrisation of the fit.
//!
//! Adding a model: add the variant to [`SpectralModel`](crate::spectrum::SpectralModel), a
//! variant here, and one arm in each `match` of this file (names, units, starting values,
//! transforms, the log-density and its derivatives, the starting grid). Nothing else in the
//! fit module knows about individual models.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spectrum::{PIVOT_KEV, SpectralModel};

/// The kinds of spectral model the fitter knows, by their XSPEC names.
///
/// ```
/// use oda::fit::ModelKind;
/// let kind: ModelKind = "cutoffpl".parse()?;
/// assert_eq!(kind, ModelKind::CutoffPowerLaw);
/// assert_eq!(kind.parameter_names(), &["K", "Gamma", "Ecut"]);
/// assert_eq!("po".parse::<ModelKind>()?.to_string(), "powerlaw");
/// let err = "bbody".parse::<ModelKind>().unwrap_err();
/// assert_eq!(err.parameter(), Some("xspec_model"));
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelKind {
    /// `K·(E/100)^−Γ` (XSPEC `powerlaw`, alias `po`).
    #[serde(rename = "powerlaw")]
    PowerLaw,
    /// `K·(E/100)^−Γ·exp(−(E−100)/Ecut)` (XSPEC `cutoffpl`).
    #[serde(rename = "cutoffpl")]
    CutoffPowerLaw,
    /// Power law of index Γ1 below `Ebreak` and Γ2 above (XSPEC `bknpower`).
    #[serde(rename = "bknpower")]
    BrokenPowerLaw,
}

/// How a parameter is represented inside the minimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    /// The parameter itself.
    Linear,
    /// Its natural logarithm (keeps the parameter positive).
    Log,
}

impl Transform {
    /// Internal value of the physical value `v`.
    pub(crate) fn to_internal(self, v: f64) -> f64 {
        match self {
            Transform::Linear => v,
            Transform::Log => v.ln(),
        }
    }

    /// Physical value of the internal value `t`.
    pub(crate) fn to_physical(self, t: f64) -> f64 {
        match self {
            Transform::Linear => t,
            Transform::Log => t.exp(),
        }
    }

    /// d(physical)/d(internal) at internal value `t`.
    pub(crate) fn derivative(self, t: f64) -> f64 {
        match self {
            Transform::Linear => 1.0,
            Transform::Log => t.exp(),
        }
    }
}

/// Accepted spellings, for error messages.
const ALLOWED: &str = "one of powerlaw (or po), cutoffpl, bknpower";

impl ModelKind {
    /// All kinds.
    pub const ALL: [ModelKind; 3] = [
        ModelKind::PowerLaw,
        ModelKind::CutoffPowerLaw,
        ModelKind::BrokenPowerLaw,
    ];

    /// The XSPEC name (`powerlaw`, `cutoffpl`, `bknpower`).
    pub fn xspec_name(self) -> &'static str {
        match self {
            ModelKind::PowerLaw => "powerlaw",
            ModelKind::CutoffPowerLaw => "cutoffpl",
            ModelKind::BrokenPowerLaw => "bknpower",
        }
    }

    /// The kind of an existing model.
    pub fn of(model: &SpectralModel) -> ModelKind {
        match model {
            SpectralModel::PowerLaw { .. } => ModelKind::PowerLaw,
            SpectralModel::CutoffPowerLaw { .. } => ModelKind::CutoffPowerLaw,
            SpectralModel::BrokenPowerLaw { .. } => ModelKind::BrokenPowerLaw,
        }
    }

    /// Parameter names, in the order used by [`values`](Self::values), [`model`](Self::model)
    /// and the fit results; `K` is always first.
    pub fn parameter_names(self) -> &'static [&'static str] {
        match self {
            ModelKind::PowerLaw => &["K", "Gamma"],
            ModelKind::CutoffPowerLaw => &["K", "Gamma", "Ecut"],
            ModelKind::BrokenPowerLaw => &["K", "Gamma1", "Ebreak", "Gamma2"],
        }
    }

    /// Parameter units, in the order of [`parameter_names`](Self::parameter_names).
    pub fn parameter_units(self) -> &'static [&'static str] {
        const K: &str = "ph/cm²/s/keV";
        match self {
            ModelKind::PowerLaw => &[K, ""],
            ModelKind::CutoffPowerLaw => &[K, "", "keV"],
            ModelKind::BrokenPowerLaw => &[K, "", "keV", ""],
        }
    }

    /// Number of free parameters.
    pub fn n_parameters(self) -> usize {
        self.parameter_names().len()
    }

    /// A generic starting model: a Crab-like index, a 100 keV cut-off or break, K = 10⁻³.
    pub fn default_start(self) -> SpectralModel {
        match self {
            ModelKind::PowerLaw => SpectralModel::power_law(1e-3, 2.0),
            ModelKind::CutoffPowerLaw => SpectralModel::cutoff_power_law(1e-3, 1.5, 100.0),
            ModelKind::BrokenPowerLaw => SpectralModel::broken_power_law(1e-3, 2.0, 100.0, 2.5),
        }
    }

    /// The parameter values of `model`, in the order of
    /// [`parameter_names`](Self::parameter_names).
    pub fn values(model: &SpectralModel) -> Vec<f64> {
        match *model {
            SpectralModel::PowerLaw { k, gamma } => vec![k, gamma],
            SpectralModel::CutoffPowerLaw { k, gamma, ecut } => vec![k, gamma, ecut],
            SpectralModel::BrokenPowerLaw {
                k,
                gamma1,
                ebreak,
                gamma2,
            } => vec![k, gamma1, ebreak, gamma2],
        }
    }

    /// The model of this kind with parameter `values` (order of
    /// [`parameter_names`](Self::parameter_names)).
    ///
    /// # Errors
    /// A wrong number of values, or values that are not finite or, for `K`, `Ecut` and
    /// `Ebreak`, not positive.
    pub fn model(self, values: &[f64]) -> Result<SpectralModel> {
        let names = self.parameter_names();
        if values.len() != names.len() {
            return Err(Error::invalid(
                format!("{} parameters", self.xspec_name()),
                format!("{values:?}"),
                format!("{} values: {}", names.len(), names.join(", ")),
            ));
        }
        for ((name, v), t) in names.iter().zip(values).zip(self.transforms()) {
            if !v.is_finite() || (*t == Transform::Log && *v <= 0.0) {
                let allowed = if *t == Transform::Log {
                    "a finite positive number"
                } else {
                    "a finite number"
                };
                return Err(Error::invalid(*name, v, allowed));
            }
        }
        Ok(self.model_unchecked(values))
    }

    /// The model with `values`, assumed to have the right length.
    pub(crate) fn model_unchecked(self, v: &[f64]) -> SpectralModel {
        match self {
            ModelKind::PowerLaw => SpectralModel::power_law(v[0], v[1]),
            ModelKind::CutoffPowerLaw => SpectralModel::cutoff_power_law(v[0], v[1], v[2]),
            ModelKind::BrokenPowerLaw => SpectralModel::broken_power_law(v[0], v[1], v[2], v[3]),
        }
    }

    /// Internal representation of each parameter: log K, and log of the energies.
    pub(crate) fn transforms(self) -> &'static [Transform] {
        use Transform::{Linear, Log};
        match self {
            ModelKind::PowerLaw => &[Log, Linear],
            ModelKind::CutoffPowerLaw => &[Log, Linear, Log],
            ModelKind::BrokenPowerLaw => &[Log, Linear, Log, Linear],
        }
    }

    /// Internal parameters of physical `values`.
    pub(crate) fn to_internal(self, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .zip(self.transforms())
            .map(|(v, t)| t.to_internal(*v))
            .collect()
    }

    /// Physical parameters of internal `theta`.
    pub(crate) fn to_physical(self, theta: &[f64]) -> Vec<f64> {
        theta
            .iter()
            .zip(self.transforms())
            .map(|(v, t)| t.to_physical(*v))
            .collect()
    }

    /// Box bounds on the internal parameters, given the energy band of the data (keV).
    /// The break of `bknpower` is kept inside the band, where the data can constrain it.
    pub(crate) fn bounds(self, band: (f64, f64)) -> Vec<(f64, f64)> {
        const LN_K: (f64, f64) = (-60.0, 30.0);
        const INDEX: (f64, f64) = (-6.0, 12.0);
        match self {
            ModelKind::PowerLaw => vec![LN_K, INDEX],
            ModelKind::CutoffPowerLaw => vec![LN_K, INDEX, (0.0, 1e6f64.ln())],
            ModelKind::BrokenPowerLaw => {
                vec![LN_K, INDEX, (band.0.ln(), band.1.ln()), INDEX]
            }
        }
    }

    /// Shapes (internal parameters with log K = 0) from which the coarse starting grid is
    /// built; the normalisation of each is then solved linearly.
    pub(crate) fn start_grid(self, band: (f64, f64)) -> Vec<Vec<f64>> {
        let steps = |a: f64, b: f64, n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
                .collect()
        };
        let mut grid = Vec::new();
        match self {
            ModelKind::PowerLaw => {
                for g in steps(-1.0, 5.0, 13) {
                    grid.push(vec![0.0, g]);
                }
            }
            ModelKind::CutoffPowerLaw => {
                for g in steps(-1.0, 3.5, 10) {
                    for le in steps(10f64.ln(), 1000f64.ln(), 9) {
                        grid.push(vec![0.0, g, le]);
                    }
                }
            }
            ModelKind::BrokenPowerLaw => {
                let (lo, hi) = (band.0.ln(), band.1.ln());
                let breaks: Vec<f64> = (1..=5).map(|i| lo + (hi - lo) * i as f64 / 6.0).collect();
                for g1 in steps(-0.5, 4.0, 7) {
                    for lb in &breaks {
                        for g2 in steps(0.5, 5.0, 7) {
                            grid.push(vec![0.0, g1, *lb, g2]);
                        }
                    }
                }
            }
        }
        grid
    }

    /// Energy (keV) at which the model's slope jumps, if it has one inside the integration.
    pub(crate) fn kink(self, theta: &[f64]) -> Option<f64> {
        match self {
            ModelKind::PowerLaw | ModelKind::CutoffPowerLaw => None,
            ModelKind::BrokenPowerLaw => Some(theta[2].exp()),
        }
    }

    /// Log photon density ln N(E) at internal parameters `theta`, with `lx = ln(E/100)` and
    /// `e` = E in keV, and its derivatives with respect to `theta` written to `dlog`.
    #[inline]
    pub(crate) fn log_density(self, theta: &[f64], e: f64, lx: f64, dlog: &mut [f64]) -> f64 {
        match self {
            ModelKind::PowerLaw => {
                dlog[0] = 1.0;
                dlog[1] = -lx;
                theta[0] - theta[1] * lx
            }
            ModelKind::CutoffPowerLaw => {
                let ecut = theta[2].exp();
                let x = (e - PIVOT_KEV) / ecut;
                dlog[0] = 1.0;
                dlog[1] = -lx;
                dlog[2] = x;
                theta[0] - theta[1] * lx - x
            }
            ModelKind::BrokenPowerLaw => {
                let lb = theta[2] - PIVOT_KEV.ln();
                dlog[0] = 1.0;
                // `<=` as in `SpectralModel::density`: the break itself is on the low branch.
                if lx <= lb {
                    dlog[1] = -lx;
                    dlog[2] = 0.0;
                    dlog[3] = 0.0;
                    theta[0] - theta[1] * lx
                } else {
                    dlog[1] = -lb;
                    dlog[2] = theta[3] - theta[1];
                    dlog[3] = -(lx - lb);
                    theta[0] - theta[1] * lb - theta[3] * (lx - lb)
                }
            }
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.xspec_name())
    }
}

impl FromStr for ModelKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<ModelKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "powerlaw" | "po" => Ok(ModelKind::PowerLaw),
            "cutoffpl" => Ok(ModelKind::CutoffPowerLaw),
            "bknpower" => Ok(ModelKind::BrokenPowerLaw),
            _ => Err(Error::invalid("xspec_model", s, ALLOWED)),
        }
    }
}

impl From<&SpectralModel> for ModelKind {
    fn from(model: &SpectralModel) -> ModelKind {
        ModelKind::of(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_display() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.to_string().parse::<ModelKind>().unwrap(), kind);
            assert_eq!(kind.parameter_names().len(), kind.parameter_units().len());
            assert_eq!(kind.transforms().len(), kind.n_parameters());
            assert_eq!(ModelKind::of(&kind.default_start()), kind);
        }
        assert_eq!("PO".parse::<ModelKind>().unwrap(), ModelKind::PowerLaw);
        assert_eq!(
            " bknpower ".parse::<ModelKind>().unwrap(),
            ModelKind::BrokenPowerLaw
        );
        let err = "cutoff".parse::<ModelKind>().unwrap_err();
        assert_eq!(err.parameter(), Some("xspec_model"));
        let text = err.to_string();
        assert!(text.contains("cutoff") && text.contains("cutoffpl") && text.contains("bknpower"));
    }

    #[test]
    fn values_round_trip_and_validation() {
        let m = SpectralModel::broken_power_law(7.4e-4, 1.98, 500.0, 2.33);
        let kind = ModelKind::of(&m);
        let v = ModelKind::values(&m);
        assert_eq!(kind.model(&v).unwrap(), m);
        let back = kind.to_physical(&kind.to_internal(&v));
        for (a, b) in v.iter().zip(&back) {
            assert!((a / b - 1.0).abs() < 1e-14);
        }
        assert!(kind.model(&[1.0, 2.0]).is_err());
        let err = ModelKind::CutoffPowerLaw
            .model(&[1e-3, 1.0, -5.0])
            .unwrap_err();
        assert_eq!(err.parameter(), Some("Ecut"));
        let err = ModelKind::PowerLaw.model(&[0.0, 2.0]).unwrap_err();
        assert_eq!(err.parameter(), Some("K"));
    }

    #[test]
    fn log_density_matches_the_model_and_its_derivatives() {
        let models = [
            SpectralModel::power_law(2e-3, 2.09),
            SpectralModel::cutoff_power_law(1e-3, 1.2, 110.0),
            SpectralModel::broken_power_law(7.4e-4, 1.98, 150.0, 2.6),
        ];
        for m in models {
            let kind = ModelKind::of(&m);
            let theta = kind.to_internal(&ModelKind::values(&m));
            let n = theta.len();
            for e in [20.0, 60.0, 100.0, 149.0, 151.0, 400.0] {
                let lx = (e / PIVOT_KEV).ln();
                let mut d = vec![0.0; n];
                let ln = kind.log_density(&theta, e, lx, &mut d);
                assert!((ln.exp() / m.density(e) - 1.0).abs() < 1e-12, "{kind} {e}");
                for k in 0..n {
                    let h = 1e-6;
                    let mut tp = theta.clone();
                    tp[k] += h;
                    let mut tm = theta.clone();
                    tm[k] -= h;
                    let mut dd = vec![0.0; n];
                    let num = (kind.log_density(&tp, e, lx, &mut dd)
                        - kind.log_density(&tm, e, lx, &mut dd))
                        / (2.0 * h);
                    assert!(
                        (num - d[k]).abs() < 1e-6,
                        "{kind} {e} {k}: {num} vs {}",
                        d[k]
                    );
                }
            }
        }
    }
}
