//! Analysis products: spectra and light curves, and their standard (OGIP) FITS files.
//!
//! Rates are ISGRI *on-axis equivalent* count rates (cts/s) in reconstructed energy, as the
//! [response](crate::instrument::isgri) defines them; the ARF and RMF of a [`Spectrum`] turn a
//! photon spectrum into those rates.

mod lightcurve;
mod spectrum;

pub use lightcurve::LightCurve;
pub use spectrum::{DEFAULT_SYSTEMATIC, Spectrum};
