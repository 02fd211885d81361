//! The SPI-ACS light curve: the whole shield's count rate in bins of a multiple of 50 ms.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::Time;

/// The SPI-ACS count rate around a reference time (ODA's `spi_acs_lc`).
///
/// Times are seconds from `t0` (TT), one per bin; ODA's own files stamp bins irregularly (steps
/// of 0.1 and 0.125 s in a 0.1 s light curve), so the stamps are kept as given rather than
/// assumed to lie on a grid. Errors are Poisson (√counts / width): the shield's real noise is
/// larger (see [`crate::instrument::spiacs`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcsLightCurve {
    /// Reference time (TIMEZERO).
    pub t0: Time,
    /// Bin width, s.
    pub timedel: f64,
    /// Bin times, s from `t0`.
    pub time: Vec<f64>,
    /// Count rate, cts/s.
    pub rate: Vec<f64>,
    /// Its 1σ Poisson error, cts/s.
    pub error: Vec<f64>,
}

impl AcsLightCurve {
    /// The light curve of `counts` in consecutive bins of `timedel` s, the first starting
    /// `first_start_s` seconds after `t0`; bin times are the bin centres.
    ///
    /// # Errors
    /// No counts, or a width that is not positive and finite (`time_bin`).
    pub fn from_counts(
        t0: Time,
        first_start_s: f64,
        timedel: f64,
        counts: &[f64],
    ) -> Result<AcsLightCurve> {
        if !(timedel.is_finite() && timedel > 0.0) {
            return Err(Error::invalid("time_bin", timedel, "a positive width in s"));
        }
        if counts.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no SPI-ACS bins in the requested interval".into(),
            });
        }
        Ok(AcsLightCurve {
            t0,
            timedel,
            time: (0..counts.len())
                .map(|i| first_start_s + (i as f64 + 0.5) * timedel)
                .collect(),
            rate: counts.iter().map(|c| c / timedel).collect(),
            error: counts.iter().map(|c| c.max(0.0).sqrt() / timedel).collect(),
        })
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no bins.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// The same light curve with its times counted from `t0` instead (to search it around
    /// another time).
    ///
    /// ```
    /// use oda::datasets::AcsLightCurve;
    /// use oda::time::Time;
    /// let t0 = Time::from_isot("2017-08-17T12:41:06.47")?;
    /// let lc = AcsLightCurve::from_counts(t0, -1.0, 0.5, &[1.0e4, 1.1e4, 0.9e4, 1.0e4])?;
    /// let later = lc.recentred(t0.add_seconds(0.5));
    /// // Times are kept as days (IJD): shifts are exact to a microsecond.
    /// for (t, expected) in later.time.iter().zip([-1.25, -0.75, -0.25, 0.25]) {
    ///     assert!((t - expected).abs() < 1e-6);
    /// }
    /// assert_eq!(later.rate, lc.rate);
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn recentred(&self, t0: Time) -> AcsLightCurve {
        let shift = t0.seconds_since(self.t0);
        AcsLightCurve {
            t0,
            time: self.time.iter().map(|t| t - shift).collect(),
            ..self.clone()
        }
    }

    /// The bins within ±`half_width_s` of `t0`, with times counted from `t0`: the stretch a
    /// burst search around `t0` needs from a longer light curve.
    ///
    /// ```
    /// use oda::datasets::AcsLightCurve;
    /// use oda::time::Time;
    /// let t0 = Time::from_isot("2017-08-18T03:00:00")?;
    /// let lc = AcsLightCurve::from_counts(t0, 0.0, 1.0, &[9.0e4; 100])?;
    /// let stretch = lc.around(t0.add_seconds(50.0), 10.0);
    /// assert_eq!(stretch.len(), 20);
    /// assert!((stretch.time[0] + 9.5).abs() < 1e-6);
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn around(&self, t0: Time, half_width_s: f64) -> AcsLightCurve {
        let shift = t0.seconds_since(self.t0);
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| (self.time[i] - shift).abs() <= half_width_s)
            .collect();
        AcsLightCurve {
            t0,
            timedel: self.timedel,
            time: keep.iter().map(|&i| self.time[i] - shift).collect(),
            rate: keep.iter().map(|&i| self.rate[i]).collect(),
            error: keep.iter().map(|&i| self.error[i]).collect(),
        }
    }

    /// Total time covered by the bins, s.
    pub fn ontime(&self) -> f64 {
        self.len() as f64 * self.timedel
    }
}
