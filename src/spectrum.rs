//! Photon spectral models, shared by the simulated sky and the spectral fits.
//!
//! A [`SpectralModel`] gives the photon flux density N(E) in ph/cm²/s/keV with E in keV.
//! Normalisations are at the pivot energy [`PIVOT_KEV`] = 100 keV (as in the ISGRI literature),
//! so `K` is the flux density at 100 keV. Band fluxes are computed by adaptive Simpson
//! integration, which the tests compare with the closed forms of the power law.
//!
//! ```
//! use oda::spectrum::{SpectralModel, KEV_TO_ERG};
//! let crab = SpectralModel::power_law(5.898e-4, 2.09);
//! let f = crab.energy_flux(30.0, 300.0); // erg/cm²/s
//! assert!((f / 2.19e-8 - 1.0).abs() < 1e-3);
//! # let _ = KEV_TO_ERG;
//! ```

use serde::{Deserialize, Serialize};

/// Pivot energy of the normalisations, keV.
pub const PIVOT_KEV: f64 = 100.0;
/// One keV in erg.
pub const KEV_TO_ERG: f64 = 1.602_176_634e-9;

/// A photon spectrum N(E), ph/cm²/s/keV.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum SpectralModel {
    /// `K·(E/100)^−Γ` (XSPEC `powerlaw`, up to the pivot).
    PowerLaw {
        /// Flux density at 100 keV.
        k: f64,
        /// Photon index Γ.
        gamma: f64,
    },
    /// `K·(E/100)^−Γ·exp(−(E−100)/Ecut)`: normalised at 100 keV (XSPEC `cutoffpl` shape).
    #[serde(rename = "cutoffpl")]
    CutoffPowerLaw {
        /// Flux density at 100 keV.
        k: f64,
        /// Photon index Γ.
        gamma: f64,
        /// e-folding energy, keV.
        ecut: f64,
    },
    /// `K·(E/100)^−Γ1` below `ebreak`, continuing with index Γ2 above (XSPEC `bknpower` shape).
    #[serde(rename = "bknpower")]
    BrokenPowerLaw {
        /// Flux density at 100 keV (on the low-energy branch if `ebreak` > 100).
        k: f64,
        /// Index below the break.
        gamma1: f64,
        /// Break energy, keV.
        ebreak: f64,
        /// Index above the break.
        gamma2: f64,
    },
}

impl SpectralModel {
    /// A power law with flux density `k` at 100 keV and index `gamma`.
    pub fn power_law(k: f64, gamma: f64) -> Self {
        SpectralModel::PowerLaw { k, gamma }
    }

    /// A cut-off power law with flux density `k` at 100 keV.
    pub fn cutoff_power_law(k: f64, gamma: f64, ecut: f64) -> Self {
        SpectralModel::CutoffPowerLaw { k, gamma, ecut }
    }

    /// A broken power law with flux density `k` at 100 keV.
    pub fn broken_power_law(k: f64, gamma1: f64, ebreak: f64, gamma2: f64) -> Self {
        SpectralModel::BrokenPowerLaw {
            k,
            gamma1,
            ebreak,
            gamma2,
        }
    }

    /// The normalisation (flux density at 100 keV on the defining branch).
    pub fn norm(&self) -> f64 {
        match *self {
            SpectralModel::PowerLaw { k, .. }
            | SpectralModel::CutoffPowerLaw { k, .. }
            | SpectralModel::BrokenPowerLaw { k, .. } => k,
        }
    }

    /// The same shape with normalisation `k`.
    pub fn with_norm(mut self, new_k: f64) -> Self {
        match &mut self {
            SpectralModel::PowerLaw { k, .. }
            | SpectralModel::CutoffPowerLaw { k, .. }
            | SpectralModel::BrokenPowerLaw { k, .. } => *k = new_k,
        }
        self
    }

    /// Photon flux density at `e` keV, ph/cm²/s/keV.
    pub fn density(&self, e: f64) -> f64 {
        let x = e / PIVOT_KEV;
        match *self {
            SpectralModel::PowerLaw { k, gamma } => k * x.powf(-gamma),
            SpectralModel::CutoffPowerLaw { k, gamma, ecut } => {
                k * x.powf(-gamma) * (-(e - PIVOT_KEV) / ecut).exp()
            }
            SpectralModel::BrokenPowerLaw {
                k,
                gamma1,
                ebreak,
                gamma2,
            } => {
                if e <= ebreak {
                    k * x.powf(-gamma1)
                } else {
                    k * (ebreak / PIVOT_KEV).powf(-gamma1) * (e / ebreak).powf(-gamma2)
                }
            }
        }
    }

    /// Photon flux in [e1, e2] keV, ph/cm²/s.
    pub fn photon_flux(&self, e1: f64, e2: f64) -> f64 {
        integrate_log(|e| self.density(e), e1, e2)
    }

    /// Energy flux in [e1, e2] keV, erg/cm²/s.
    pub fn energy_flux(&self, e1: f64, e2: f64) -> f64 {
        integrate_log(|e| e * self.density(e), e1, e2) * KEV_TO_ERG
    }

    /// This shape scaled so that its photon flux in [e1, e2] keV is `flux` ph/cm²/s.
    pub fn scaled_to_photon_flux(&self, flux: f64, e1: f64, e2: f64) -> Self {
        let now = self.photon_flux(e1, e2);
        self.with_norm(self.norm() * flux / now)
    }

    /// This shape scaled so that its energy flux in [e1, e2] keV is `flux` erg/cm²/s.
    pub fn scaled_to_energy_flux(&self, flux: f64, e1: f64, e2: f64) -> Self {
        let now = self.energy_flux(e1, e2);
        self.with_norm(self.norm() * flux / now)
    }
}

/// ∫ f(E) dE over [a, b] by composite Simpson's rule in ln E (smooth for power-law-like f).
pub(crate) fn integrate_log(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    if !(a > 0.0 && b > a) {
        return 0.0;
    }
    let n = 512;
    let (la, lb) = (a.ln(), b.ln());
    let h = (lb - la) / n as f64;
    let g = |i: usize| {
        let e = (la + i as f64 * h).exp();
        f(e) * e
    };
    let mut s = g(0) + g(n);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * g(i);
    }
    s * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_law_band_fluxes_match_closed_forms() {
        let m = SpectralModel::power_law(1e-3, 2.09);
        let closed =
            |e1: f64, e2: f64, p: f64| 1e-3 * PIVOT_KEV.powf(2.09) * (e2.powf(p) - e1.powf(p)) / p;
        assert!((m.photon_flux(20.0, 40.0) / closed(20.0, 40.0, -1.09) - 1.0).abs() < 1e-9);
        assert!(
            (m.energy_flux(30.0, 300.0) / (closed(30.0, 300.0, -0.09) * KEV_TO_ERG) - 1.0).abs()
                < 1e-9
        );
    }

    #[test]
    fn broken_power_law_is_continuous_and_scales() {
        let m = SpectralModel::broken_power_law(1e-3, 2.0, 500.0, 2.4);
        assert!((m.density(500.0 - 1e-9) / m.density(500.0 + 1e-9) - 1.0).abs() < 1e-6);
        let s = m.scaled_to_photon_flux(0.17, 20.0, 40.0);
        assert!((s.photon_flux(20.0, 40.0) - 0.17).abs() < 1e-12);
        let c = SpectralModel::cutoff_power_law(1e-3, 1.0, 110.0);
        assert!((c.density(100.0) - 1e-3).abs() < 1e-15);
        assert!(c.density(300.0) < SpectralModel::power_law(1e-3, 1.0).density(300.0));
    }
}
