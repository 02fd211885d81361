//! The Science Window index, `idx/scw/GNRL-SCWG-GRP-IDX.fits`.

use serde::{Deserialize, Serialize};

use super::ScwId;
use crate::sky::Attitude;

/// One row of the ScW index: a pointing with its attitude and time span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScienceWindow {
    /// The identifier.
    pub swid: ScwId,
    /// Spacecraft attitude during the pointing.
    pub attitude: Attitude,
    /// Start, IJD (TT).
    pub tstart: f64,
    /// Stop, IJD (TT).
    pub tstop: f64,
    /// Elapsed time, seconds.
    pub telapse: f64,
}

/// The index of all Science Windows of an archive, sorted by identifier.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScwIndex {
    /// The rows.
    pub scws: Vec<ScienceWindow>,
}

/// Writes (placeholder).
pub fn write_index(_path: &std::path::Path, _index: &ScwIndex) -> crate::Result<()> {
    Ok(())
}
/// Reads (placeholder).
pub fn read_index(path: &std::path::Path) -> crate::Result<ScwIndex> {
    Err(crate::Error::fits(path, "not yet"))
}
