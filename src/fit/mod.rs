//! Spectral fitting: χ² fits of photon models to ISGRI count spectra, with parameter errors,
//! band fluxes and goodness of fit.
//!
//! Settings go to a [`SpectralFitter`] (model kind, energy band), data to its
//! [`run`](SpectralFitter::run), which returns a [`SpectralFit`]; several spectra fitted together
//! with shared parameters and cross-normalisation constants go to
//! [`run_joint`](SpectralFitter::run_joint), which returns a [`JointFit`].
//!
//! ```
//! use oda::fit::{ModelKind, SpectralFitter};
//! use oda::instrument::response::{Arf, Redistribution, Rmf};
//! use oda::osa::OsaVersion;
//! use oda::products::Spectrum;
//! use oda::spectrum::SpectralModel;
//!
//! // A noiseless Crab on 300 true-energy bins and 16 channels from 20 to 500 keV, through an
//! // ISGRI-like response: ~900 cm² at 30–60 keV, 8 % FWHM at 60 keV, threshold at 13 keV.
//! let log_edges = |a: f64, b: f64, n: usize| -> Vec<f64> {
//!     (0..=n).map(|i| a * (b / a).powf(i as f64 / n as f64)).collect()
//! };
//! let (true_edges, ch) = (log_edges(7.0, 1100.0, 300), log_edges(20.0, 500.0, 16));
//! let version = OsaVersion::Osa11_2;
//! let fwhm = |e: f64| 4.8 * (e / 60.0).sqrt();
//! let rmf = Rmf::from_redistribution(&true_edges, &ch, &Redistribution {
//!     fwhm_kev: &fwhm, pulse_per_kev: 1.0, threshold_kev: 13.0, threshold_width_kev: 0.8,
//!     measured_per_reconstructed: 1.0,
//! })?;
//! let arf = Arf::from_area(&true_edges, |e| {
//!     1000.0 * (1.0 - (-(e / 18.0).powi(3)).exp()) * (-e / 250.0).exp()
//! })?;
//! let crab = SpectralModel::power_law(1.0, 2.09).scaled_to_energy_flux(2.19e-8, 30.0, 300.0);
//! let per_bin: Vec<f64> = (0..arf.specresp.len())
//!     .map(|i| arf.specresp[i] * crab.photon_flux(arf.energ_lo[i], arf.energ_hi[i]))
//!     .collect();
//! let rate = rmf.fold(&per_bin)?;
//! let spectrum = Spectrum {
//!     source: "Crab".into(),
//!     e_min: ch[..16].to_vec(),
//!     e_max: ch[1..].to_vec(),
//!     stat_err: rate.iter().map(|r| ((r + 50.0) / 2000.0).sqrt()).collect(),
//!     rate,
//!     sys_err: 0.01,
//!     exposure: 2000.0,
//!     time_range: (3652.0, 3652.1),
//!     osa_version: version,
//!     arf: Some(arf),
//!     rmf: Some(rmf),
//!     detector: Default::default(),
//! };
//!
//! let fit = SpectralFitter::new(ModelKind::PowerLaw).run(&spectrum)?;
//! let gamma = fit.parameter("Gamma").unwrap();
//! assert!((gamma.value - 2.09).abs() < 1e-5 && gamma.error < 0.02);
//! let (flux, err) = fit.flux(30.0, 300.0);
//! assert!((flux / 2.19e-8 - 1.0).abs() < 1e-5 && err / flux < 0.01);
//! assert!(fit.chi2 < 1e-6 && fit.converged);
//! println!("{fit}");
//! # Ok::<(), oda::Error>(())
//! ```
//!
//! # Conventions
//! - χ² = Σ (rate − pred)² / (stat_err² + (sys_err·rate)²) over the channels lying entirely
//!   inside the fit band (default 30–1000 keV, as ODA's web fit) with a finite rate and a
//!   positive total error.
//! - The prediction in channel j is `Σ_i RMF[i][j] · ARF[i] · ∫ N(E) dE` over true-energy
//!   bin i, in cts/s, the rate convention of [`Spectrum`](crate::datasets::Spectrum).
//! - Models are those of [`SpectralModel`](crate::spectrum::SpectralModel), normalised at
//!   100 keV; parameters are named as in [`ModelKind::parameter_names`].
//! - Errors are 1σ for one parameter (Δχ² = 1), from the inverse of JᵀWJ at the minimum;
//!   [`SpectralFit::covariance`] is in the physical parameters (K, not ln K).
//! - Fluxes are in erg/cm²/s (energy) or ph/cm²/s (photon).
//!
//! # Method
//! Levenberg–Marquardt on (ln K, Γ, ln Ecut) or (ln K, Γ1, ln Ebreak, Γ2) with analytic
//! derivatives, started from the best points of a coarse grid of shapes (K solved linearly
//! for each); the best of these runs is kept. A 16-channel spectrum with a 300-bin response
//! fits in well under a millisecond (power law) to a few milliseconds (broken power law).

mod fitter;
mod forward;
mod joint;
mod lm;
mod model;
mod result;
mod stats;
#[cfg(test)]
mod tests;

pub use fitter::{DEFAULT_E_MAX, DEFAULT_E_MIN, DEFAULT_MAX_ITERATIONS, SpectralFitter};
pub use joint::{JointFit, JointPart};
pub use model::ModelKind;
pub use result::{FitParameter, SpectralFit};
pub use stats::chi2_sf;
