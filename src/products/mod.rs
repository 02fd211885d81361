//! Analysis products: sky images with catalogs, spectra, light curves and their standard
//! (OGIP) FITS files, and their tables as polars DataFrames.
//!
//! Rates are ISGRI *on-axis equivalent* count rates (cts/s) in reconstructed energy, as the
//! [response](crate::instrument::isgri) defines them; the ARF and RMF of a [`Spectrum`] turn a
//! photon spectrum into those rates.

mod acs;
mod citation;
mod image;
mod jemx;
mod ogip;
mod table;

pub use crate::datasets::{
    AcsLightCurve, ConstantFit, DEFAULT_SYSTEMATIC, JemxLightCurve, LightCurve, LinearFit, Spectrum,
};
pub use acs::{read_acs_lightcurve, write_acs_lightcurve};
pub use citation::{Citation, PUBLICATION_FILE, activate_publication, active_publication_dir};
pub use image::{Image, write_catalog, write_catalog_for, write_image};
pub use jemx::{jemx_lightcurve_extname, read_jemx_lightcurve, write_jemx_lightcurve};
pub use ogip::{
    ResponseFiles, SpectrumFiles, read_arf, read_lightcurve, read_pha, read_pha_type2, read_rmf,
    write_arf, write_arf_for, write_lightcurve, write_pha, write_pha_type2,
    write_pha_type2_with_responses, write_pha_with_responses, write_rmf, write_rmf_for,
    write_spectrum_files,
};
/// The polars DataFrame type the products convert to.
pub use polars::prelude::DataFrame;
pub use table::ToDataFrame;
