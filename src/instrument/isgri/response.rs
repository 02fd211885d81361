//! The ISGRI rate convention: on-axis equivalent count rates and the OSA versions' scales.
//!
//! Rates are **on-axis equivalent**: the count rate a source would give on axis on a perfect
//! detector behind the mask, i.e. counts per fully lit pixel × 16 384 pixels × the mean on-axis
//! open fraction (≈ 0.5) per live second. The matching on-axis area is
//! `ARF(E) = 2621 cm² × (mean on-axis PIF) × ε(E) × rate_scale(version)`, with the detection
//! efficiency ε(E) a calibration quantity (see [`crate::instrument::calibration`]).
//! OSA11 normalises its rates differently from OSA10 (higher for the same data); its ARF is
//! scaled by the same factor so that fluxes agree.

use crate::osa::OsaVersion;

/// OSA11's rate normalisation relative to OSA10 (*assumed*, from the 2016 Crab: OSA11 quotes
/// ~210 cts/s where OSA10 with a correct gain gives ~159).
pub const OSA11_RATE_SCALE: f64 = 1.32;

/// Mean on-axis PIF over all 16 384 pixels: the open fraction seen by an on-axis source.
pub fn on_axis_open_fraction() -> f64 {
    super::geometry().on_axis_open_fraction()
}

/// Factor by which `version` scales on-axis equivalent rates (and its ARF) relative to OSA10.
pub fn rate_scale(version: OsaVersion) -> f64 {
    match version {
        OsaVersion::Osa10_2 => 1.0,
        OsaVersion::Osa11_0 | OsaVersion::Osa11_2 => OSA11_RATE_SCALE,
    }
}
