//! A JEM-X light curve as OSA's `JMXn-SRC.-LCR` holds it: a source's rate with the background
//! rate under it, in one unit's PI channel range, corrected for vignetting and dead time.

use serde::{Deserialize, Serialize};

use super::LightCurve;
use crate::instrument::jemx::JemxUnit;

/// A JEM-X source light curve (what `jemx_lc` returns per source).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxLightCurve {
    /// The unit that recorded it.
    pub unit: JemxUnit,
    /// Source, band, bin centres (IJD, TT), widths, rate and error (count/s, corrected for
    /// vignetting and dead time), exposed fraction.
    pub light_curve: LightCurve,
    /// Background rate under the source, count/s (BRATE).
    pub background_rate: Vec<f64>,
    /// Its error, count/s (BERROR).
    pub background_error: Vec<f64>,
    /// First and last PI channel of the band (CHANMIN, CHANMAX).
    pub channels: (u16, u16),
    /// The source's position, degrees (RA_OBJ, DEC_OBJ), when known.
    pub position: Option<(f64, f64)>,
    /// Off-axis angle of the source, degrees (OFFANGLE).
    pub off_axis_deg: f64,
    /// Vignetting the rates were divided by (VIGNET: 1 on axis).
    pub vignetting: f64,
}

impl JemxLightCurve {
    /// Number of bins.
    pub fn len(&self) -> usize {
        self.light_curve.len()
    }

    /// True when there are no bins.
    pub fn is_empty(&self) -> bool {
        self.light_curve.is_empty()
    }
}
