//! A source spectrum: count rates per channel with their response.

use serde::{Deserialize, Serialize};

use crate::instrument::Detector;
use crate::instrument::response::{Arf, Rmf};
use crate::osa::OsaVersion;

/// Default systematic error, as a fraction of the rate (ODA uses 1 % for ISGRI).
pub const DEFAULT_SYSTEMATIC: f64 = 0.01;

/// The spectrum of one source: on-axis equivalent count rates per reconstructed-energy channel,
/// with statistical errors, a fractional systematic error, the live exposure, and the response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// Source name.
    pub source: String,
    /// Lower channel edges, keV.
    pub e_min: Vec<f64>,
    /// Upper channel edges, keV.
    pub e_max: Vec<f64>,
    /// Count rate per channel, cts/s.
    pub rate: Vec<f64>,
    /// 1σ statistical error of the rate, cts/s.
    pub stat_err: Vec<f64>,
    /// Fractional systematic error applied to every channel.
    pub sys_err: f64,
    /// Live exposure, s.
    pub exposure: f64,
    /// First and last time covered, IJD.
    pub time_range: (f64, f64),
    /// OSA version whose calibration produced the rates.
    pub osa_version: OsaVersion,
    /// Ancillary response (on-axis effective area on the RMF's true-energy grid).
    pub arf: Option<Arf>,
    /// Redistribution matrix from true energy to the channels.
    pub rmf: Option<Rmf>,
    /// The detector that recorded it (ISGRI in results stored before JEM-X existed).
    #[serde(default)]
    pub detector: Detector,
}

impl Spectrum {
    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.rate.len()
    }

    /// Total error of channel `i`: statistical and systematic in quadrature.
    pub fn total_error(&self, i: usize) -> f64 {
        self.stat_err[i].hypot(self.sys_err * self.rate[i])
    }
}
