//! Burst search in an SPI-ACS light curve: excesses over a polynomial background on timescales
//! from 0.05 to 10 s, with their significance, false-alarm probability, and a fluence upper limit
//! when nothing is found.
//!
//! [`BurstSearch::run`] works on a light curve of counts in regular bins around a reference time
//! T0:
//! 1. **Cosmic-ray spikes** are found and masked: a heavy nucleus deposits its counts within
//!    ~10 ms, possibly straddling two bins, so a spike is a pair of bins more than 4σ above the
//!    background whose previous bin holds less than a quarter of the pair's excess and whose
//!    next bin less than 15 % of it; a burst's pulses decay over ≥ 0.1 s and fail the second
//!    test. The spike's bins are replaced by the background together with the next 2 s, where
//!    the template's slow tail lies. Masked time is reported.
//! 2. **Background**: a polynomial (cubic by default) in time fitted by least squares to the
//!    counts outside the search window, within the background span around T0.
//! 3. **Noise**: the shield's noise is super-Poissonian and its excess depends on the
//!    timescale, so it is measured rather than assumed: the autocovariance γ(l) of the residuals
//!    (counts − background) of single bins over the background region, for lags up to 2 s
//!    (beyond which it is taken as 0), gives the variance of a sum of m bins,
//!    m·γ(0) + 2·Σ (m − l)·γ(l), and its ratio to the Poisson background for every timescale.
//!    All background bins serve every timescale, so the long timescales' noise is as well
//!    measured as the short ones'.
//! 4. **Excesses**: windows of each timescale, stepped by half a timescale, over the search
//!    window; significance z = (counts − background) / (ratio · √background). A single-bin
//!    excess above the threshold whose neighbours hold less than half of it is counted as
//!    spike-like (a faint spike below the masking threshold) and not reported as a detection.
//! 5. **False alarms**: a window's one-sided Gaussian tail probability p(z); the expected number
//!    of windows above z in the search is the number of windows tried times p(z) (this holds
//!    whatever the overlap of the windows), and the false-alarm probability of the best excess is
//!    1 − (1 − p)^N over the N windows tried. On burst-free data the rate of windows above a
//!    threshold is what [`BurstSearchResult::false_alarm_rate`] states.
//! 6. **Upper limit** (when the best excess is below the detection threshold): the fluence of
//!    a burst that would give max(excess, 0) + 3σ counts in the 1 s window starting at T0, for a burst
//!    perpendicular to the pointing axis (the shield's most sensitive direction; other
//!    directions give larger limits, see [`spiacs::counts_per_fluence`]).

use serde::{Deserialize, Serialize};

use super::skyfit::invert;
use crate::datasets::AcsLightCurve;
use crate::error::{Error, Result};
use crate::instrument::response::erfc;
use crate::instrument::spiacs;

/// Default timescales, s.
pub const DEFAULT_TIMESCALES: [f64; 8] = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];
/// A pair of bins this many σ above the background, rising and falling as a spike does, is a
/// cosmic-ray spike.
const SPIKE_SIGMA: f64 = 4.0;
/// The shield's noise over Poisson in single bins, taken a little high so that noise alone
/// never passes for a spike (measured: 1.16–1.17 at 0.1 s).
const BIN_NOISE_RATIO: f64 = 1.3;
/// Time masked after a spike's bin, s (the template's slow tail).
const SPIKE_MASK_S: f64 = 2.0;
/// Longest lag of the residuals' autocovariance, s.
const MAX_LAG_S: f64 = 2.0;
/// Probability that a standard normal variable exceeds `z`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Settings of a burst search (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BurstSearch {
    search: (f64, f64),
    background_span_s: f64,
    degree: usize,
    timescales: Vec<f64>,
    threshold_sigma: f64,
}

/// One excess: a window of the search and its significance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Excess {
    /// Start of the window, s from T0.
    pub start_s: f64,
    /// Its length (the timescale), s.
    pub timescale_s: f64,
    /// Counts above the background.
    pub counts: f64,
    /// Background counts in the window.
    pub background_counts: f64,
    /// Significance, σ (with the measured noise ratio).
    pub significance: f64,
    /// Probability that noise gives at least this significance in one window.
    pub p_single: f64,
    /// Probability that noise gives at least this significance in any window of the search.
    pub false_alarm_probability: f64,
}

/// The outcome of [`BurstSearch::run`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurstSearchResult {
    /// Background polynomial coefficients, counts per bin, in powers of (t / span) (t in s from
    /// T0); [`BurstSearchResult::background_rate`] evaluates it.
    pub background: Vec<f64>,
    /// The span of the background fit, s (the polynomial's unit of time).
    #[serde(default)]
    pub background_span_s: f64,
    /// The width of the bins searched, s.
    #[serde(default)]
    pub bin_s: f64,
    /// The search window, s from T0.
    #[serde(default)]
    pub search_window_s: (f64, f64),
    /// Measured noise over the Poisson expectation, per timescale: (timescale s, ratio).
    pub noise_ratio: Vec<(f64, f64)>,
    /// Windows tried, per timescale: (timescale s, number).
    pub windows: Vec<(f64, usize)>,
    /// Cosmic-ray spikes found and masked: their times, s from T0.
    pub spikes_s: Vec<f64>,
    /// Time masked because of spikes, s.
    pub masked_s: f64,
    /// Single-bin excesses above the threshold left out of the detections for their spike's
    /// shape (faint spikes below the masking threshold).
    pub spike_like: usize,
    /// The most significant excess.
    pub best: Excess,
    /// Every excess at or above the detection threshold, by decreasing significance (windows
    /// overlapping a more significant one are left out).
    pub detections: Vec<Excess>,
    /// The detection threshold, σ.
    pub threshold_sigma: f64,
    /// Significance of every window tried, σ.
    pub significances: Vec<f64>,
    /// When nothing is detected: the 3σ fluence upper limit in the 1 s from T0, erg/cm²
    /// (75 keV–1 MeV, a burst perpendicular to the pointing axis).
    pub fluence_upper_limit_erg_cm2: Option<f64>,
}

impl BurstSearchResult {
    /// The fitted background at `t` s from T0, cts/s.
    pub fn background_rate(&self, t: f64) -> f64 {
        if self.background_span_s > 0.0 && self.bin_s > 0.0 {
            poly(&self.background, t / self.background_span_s) / self.bin_s
        } else {
            f64::NAN
        }
    }

    /// Number of windows tried at or above `z` σ.
    pub fn windows_above(&self, z: f64) -> usize {
        self.significances.iter().filter(|s| **s >= z).count()
    }

    /// Expected number of windows per second of searched time at or above `z` σ from noise
    /// alone, over all timescales.
    pub fn false_alarm_rate(&self, z: f64, searched_s: f64) -> f64 {
        let n: usize = self.windows.iter().map(|w| w.1).sum();
        n as f64 * normal_sf(z) / searched_s
    }
}

impl Default for BurstSearch {
    fn default() -> Self {
        BurstSearch::new()
    }
}

impl BurstSearch {
    /// The default search: window −5 s to +20 s around T0, background over ±300 s, a cubic,
    /// timescales 0.05–10 s, detection at 5σ.
    pub fn new() -> BurstSearch {
        BurstSearch {
            search: (-5.0, 20.0),
            background_span_s: 300.0,
            degree: 3,
            timescales: DEFAULT_TIMESCALES.to_vec(),
            threshold_sigma: 5.0,
        }
    }

    /// Searches from `start` to `stop` s around T0.
    ///
    /// # Errors
    /// A window that is not finite and increasing (`search_window`).
    pub fn search_window(mut self, start: f64, stop: f64) -> Result<BurstSearch> {
        if !(start.is_finite() && stop.is_finite() && stop > start) {
            return Err(Error::invalid(
                "search_window",
                format!("{start}..{stop} s"),
                "a finite window with start < stop, s from T0",
            ));
        }
        self.search = (start, stop);
        Ok(self)
    }

    /// Fits the background over ±`span` s around T0 (outside the search window).
    ///
    /// # Errors
    /// A span that is not positive and finite (`background_span`).
    pub fn background_span(mut self, span: f64) -> Result<BurstSearch> {
        if !(span.is_finite() && span > 0.0) {
            return Err(Error::invalid(
                "background_span",
                span,
                "a positive span in s",
            ));
        }
        self.background_span_s = span;
        Ok(self)
    }

    /// Detects excesses at or above `sigma`.
    ///
    /// # Errors
    /// A threshold that is not positive and finite (`threshold`).
    pub fn threshold(mut self, sigma: f64) -> Result<BurstSearch> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::invalid(
                "threshold",
                sigma,
                "a positive significance in σ",
            ));
        }
        self.threshold_sigma = sigma;
        Ok(self)
    }

    /// Searches `lc` (see the module documentation).
    ///
    /// # Errors
    /// Fewer background bins than twice the polynomial's coefficients, a search window with no
    /// bin, or a light curve whose bins are not regular.
    pub fn run(&self, lc: &AcsLightCurve) -> Result<BurstSearchResult> {
        let dt = lc.timedel;
        let n = lc.len();
        if n < 2
            || lc
                .time
                .windows(2)
                .any(|w| ((w[1] - w[0]) / dt - 1.0).abs() > 1e-3)
        {
            return Err(Error::invalid(
                "light curve",
                format!("{n} bins"),
                "regular bins of TIMEDEL (the burst search sums whole bins)",
            ));
        }
        let counts: Vec<f64> = lc.rate.iter().map(|r| r * dt).collect();
        let span = self.background_span_s;
        let in_search = |t: f64| t >= self.search.0 && t < self.search.1;
        let in_background = |t: f64| t.abs() <= span && !in_search(t);
        // 1. A first background, then spikes, then the background again without them.
        let mut masked = vec![false; n];
        let mut coefficients = self.fit_background(lc, &counts, &masked, &in_background)?;
        let background =
            |c: &[f64]| -> Vec<f64> { lc.time.iter().map(|t| poly(c, t / span)).collect() };
        let mut bkg = background(&coefficients);
        let mut spikes_s = Vec::new();
        let mask_bins = (SPIKE_MASK_S / dt).ceil() as usize;
        let excess = |k: usize| counts[k] - bkg[k];
        let mut i = 1;
        while i + 2 < n {
            let pair = excess(i) + excess(i + 1);
            let sigma = BIN_NOISE_RATIO * (bkg[i] + bkg[i + 1]).max(1.0).sqrt();
            if pair > SPIKE_SIGMA * sigma
                && excess(i - 1) < 0.25 * pair
                && excess(i + 2) < 0.15 * pair
            {
                spikes_s.push(lc.time[i]);
                for m in masked.iter_mut().skip(i - 1).take(mask_bins + 2) {
                    *m = true;
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        if !spikes_s.is_empty() {
            coefficients = self.fit_background(lc, &counts, &masked, &in_background)?;
            bkg = background(&coefficients);
        }
        // Masked bins count as background.
        let clean: Vec<f64> = (0..n)
            .map(|i| if masked[i] { bkg[i] } else { counts[i] })
            .collect();
        let masked_s = masked.iter().filter(|m| **m).count() as f64 * dt;
        // Prefix sums for window sums.
        let prefix = |v: &[f64]| -> Vec<f64> {
            let mut p = Vec::with_capacity(v.len() + 1);
            p.push(0.0);
            let mut acc = 0.0;
            for x in v {
                acc += x;
                p.push(acc);
            }
            p
        };
        let (pc, pb) = (prefix(&clean), prefix(&bkg));
        // 3. The residuals' autocovariance over the background region.
        let valid: Vec<bool> = (0..n)
            .map(|i| !masked[i] && in_background(lc.time[i]))
            .collect();
        let residual: Vec<f64> = (0..n).map(|i| counts[i] - bkg[i]).collect();
        let max_lag = ((MAX_LAG_S / dt).round() as usize).min(n - 1);
        let gamma: Vec<f64> = (0..=max_lag)
            .map(|l| {
                let (mut sum, mut pairs) = (0.0, 0usize);
                for i in 0..n - l {
                    if valid[i] && valid[i + l] {
                        sum += residual[i] * residual[i + l];
                        pairs += 1;
                    }
                }
                if pairs > 0 { sum / pairs as f64 } else { 0.0 }
            })
            .collect();
        let n_valid = valid.iter().filter(|v| **v).count();
        let mean_bkg =
            (0..n).filter(|&i| valid[i]).map(|i| bkg[i]).sum::<f64>() / n_valid.max(1) as f64;
        let mut noise_ratio = Vec::new();
        let mut windows = Vec::new();
        let mut all: Vec<Excess> = Vec::new();
        for &tau in &self.timescales {
            let m = (tau / dt).round() as usize;
            if m == 0 || ((m as f64) * dt / tau - 1.0).abs() > 1e-6 || m > n {
                continue;
            }
            let var: f64 = m as f64 * gamma[0]
                + 2.0
                    * (1..m.min(max_lag + 1))
                        .map(|l| (m - l) as f64 * gamma[l])
                        .sum::<f64>();
            if !(var > 0.0 && mean_bkg > 0.0) || n_valid < 4 * max_lag {
                continue;
            }
            let ratio = (var / (m as f64 * mean_bkg)).sqrt();
            noise_ratio.push((tau, ratio));
            // 4. Windows over the search, stepped by half a timescale.
            let step = (m / 2).max(1);
            let mut tried = 0;
            let mut i = 0;
            while i + m <= n {
                if in_search(lc.time[i]) && in_search(lc.time[i + m - 1]) {
                    let (c, b) = (pc[i + m] - pc[i], pb[i + m] - pb[i]);
                    if b > 0.0 {
                        tried += 1;
                        let zv = (c - b) / (ratio * b.sqrt());
                        all.push(Excess {
                            start_s: lc.time[i] - dt / 2.0,
                            timescale_s: tau,
                            counts: c - b,
                            background_counts: b,
                            significance: zv,
                            p_single: normal_sf(zv),
                            false_alarm_probability: 0.0,
                        });
                    }
                }
                i += step;
            }
            windows.push((tau, tried));
        }
        let n_windows: usize = windows.iter().map(|w| w.1).sum();
        if n_windows == 0 {
            return Err(Error::invalid(
                "search_window",
                format!("{}..{} s", self.search.0, self.search.1),
                "a window inside the light curve, with background on both sides",
            ));
        }
        for e in &mut all {
            // 1 − (1 − p)^N without cancellation for small p.
            e.false_alarm_probability = -(n_windows as f64 * (-e.p_single).ln_1p()).exp_m1();
        }
        let significances: Vec<f64> = all.iter().map(|e| e.significance).collect();
        all.sort_by(|a, b| b.significance.total_cmp(&a.significance));
        let best = all[0].clone();
        // A single-bin excess whose neighbours hold less than half of it has a spike's shape: a
        // faint spike below the masking threshold, not a burst (whose pulses last ≥ 0.1 s).
        let isolated_bin = |e: &Excess| {
            if (e.timescale_s - dt).abs() > 1e-9 {
                return false;
            }
            let j = ((e.start_s - (lc.time[0] - dt / 2.0)) / dt).round() as usize;
            let ex = |k: usize| clean[k] - bkg[k];
            j > 0 && j + 1 < n && ex(j - 1) < 0.5 * ex(j) && ex(j + 1) < 0.5 * ex(j)
        };
        let mut spike_like = 0;
        let mut detections: Vec<Excess> = Vec::new();
        for e in all
            .iter()
            .filter(|e| e.significance >= self.threshold_sigma)
        {
            if isolated_bin(e) {
                spike_like += 1;
                continue;
            }
            let overlaps = detections.iter().any(|d| {
                e.start_s < d.start_s + d.timescale_s && d.start_s < e.start_s + e.timescale_s
            });
            if !overlaps {
                detections.push(e.clone());
            }
        }
        let fluence_upper_limit_erg_cm2 = if detections.is_empty() {
            // The 1 s window starting nearest T0, the time asked about.
            let one_s = all
                .iter()
                .filter(|e| (e.timescale_s - 1.0).abs() < 1e-9)
                .min_by(|a, b| a.start_s.abs().total_cmp(&b.start_s.abs()));
            let ratio = noise_ratio
                .iter()
                .find(|(t, _)| (*t - 1.0).abs() < 1e-9)
                .map(|r| r.1);
            match (one_s, ratio) {
                (Some(e), Some(r)) => Some(
                    (e.counts.max(0.0) + 3.0 * r * e.background_counts.sqrt())
                        / spiacs::counts_per_fluence(90.0),
                ),
                _ => None,
            }
        } else {
            None
        };
        Ok(BurstSearchResult {
            background: coefficients,
            background_span_s: span,
            bin_s: dt,
            search_window_s: self.search,
            noise_ratio,
            windows,
            spikes_s,
            masked_s,
            spike_like,
            best,
            detections,
            threshold_sigma: self.threshold_sigma,
            significances,
            fluence_upper_limit_erg_cm2,
        })
    }

    /// Least-squares polynomial in t/span through the unmasked background bins.
    fn fit_background(
        &self,
        lc: &AcsLightCurve,
        counts: &[f64],
        masked: &[bool],
        in_background: &dyn Fn(f64) -> bool,
    ) -> Result<Vec<f64>> {
        let k = self.degree + 1;
        let mut a = vec![0.0; k * k];
        let mut b = vec![0.0; k];
        let mut used = 0;
        for (i, &t) in lc.time.iter().enumerate() {
            if masked[i] || !in_background(t) {
                continue;
            }
            used += 1;
            let x = t / self.background_span_s;
            let powers: Vec<f64> = (0..k).map(|p| x.powi(p as i32)).collect();
            for r in 0..k {
                b[r] += powers[r] * counts[i];
                for c in 0..k {
                    a[r * k + c] += powers[r] * powers[c];
                }
            }
        }
        if used < 2 * k {
            return Err(Error::invalid(
                "background_span",
                format!("{used} background bins"),
                format!(
                    "at least {} bins outside the search window: a light curve reaching further \
                     from T0",
                    2 * k
                ),
            ));
        }
        let inv = invert(&a, k).ok_or_else(|| {
            Error::invalid(
                "background",
                "a singular fit",
                "background bins spread in time",
            )
        })?;
        Ok((0..k)
            .map(|r| (0..k).map(|c| inv[r * k + c] * b[c]).sum())
            .collect())
    }
}

/// The polynomial with coefficients `c` at `x`.
fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, v| acc * x + v)
}
