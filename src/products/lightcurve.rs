//! A source light curve: count rate per time bin.

use serde::{Deserialize, Serialize};

use crate::osa::OsaVersion;

/// The light curve of one source in one energy band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LightCurve {
    /// Source name.
    pub source: String,
    /// Energy band, keV (reconstructed).
    pub band: (f64, f64),
    /// Bin centres, IJD (TT).
    pub time: Vec<f64>,
    /// Bin widths, s.
    pub timedel: Vec<f64>,
    /// Count rate, cts/s (on-axis equivalent).
    pub rate: Vec<f64>,
    /// 1σ error of the rate, cts/s.
    pub error: Vec<f64>,
    /// Fraction of each bin covered by good, live-corrected exposure.
    pub fracexp: Vec<f64>,
    /// OSA version whose calibration produced the rates.
    pub osa_version: OsaVersion,
}

impl LightCurve {
    /// Number of bins.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no bins.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}
