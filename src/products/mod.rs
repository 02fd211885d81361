//! Analysis products: spectra and light curves, and their standard (OGIP) FITS files.
//!
//! Rates are ISGRI *on-axis equivalent* count rates (cts/s) in reconstructed energy, as the
//! [response](crate::instrument::isgri) defines them; the ARF and RMF of a [`Spectrum`] turn a
//! photon spectrum into those rates.

mod lightcurve;
mod ogip;
mod spectrum;

pub use lightcurve::{ConstantFit, LightCurve, LinearFit};
pub use ogip::{
    ResponseFiles, SpectrumFiles, read_arf, read_lightcurve, read_pha, read_pha_type2, read_rmf,
    write_arf, write_lightcurve, write_pha, write_pha_type2, write_pha_type2_with_responses,
    write_pha_with_responses, write_rmf, write_spectrum_files,
};
pub use spectrum::{DEFAULT_SYSTEMATIC, Spectrum};
