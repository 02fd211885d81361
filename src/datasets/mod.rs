//! What the analysis measures and the fit and the products consume: a source's [`Spectrum`]
//! (rates per channel with their response) and [`LightCurve`] (rates per time bin), JEM-X's
//! [`JemxLightCurve`] (with its background and vignetting), and the SPI-ACS shield's
//! [`AcsLightCurve`].
//!
//! These data types sit below [`analysis`](crate::analysis), [`fit`](crate::fit) and
//! [`products`](crate::products), which all use them, so that none of the three imports another
//! to get them (the module graph has no cycle; `tests/architecture.rs` checks it). The products
//! module re-exports them with their FITS writers and tables.

mod acs;
mod jemx;
mod lightcurve;
mod spectrum;

pub use acs::AcsLightCurve;
pub use jemx::JemxLightCurve;
pub use lightcurve::{ConstantFit, LightCurve, LinearFit};
pub use spectrum::{DEFAULT_SYSTEMATIC, Spectrum};
