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

/// A constant fitted to a light curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstantFit {
    /// Inverse-variance weighted mean rate, cts/s.
    pub rate: f64,
    /// Its 1σ error.
    pub error: f64,
    /// χ² of the constant.
    pub chi2: f64,
    /// Degrees of freedom (bins − 1).
    pub dof: usize,
}

/// A straight line `rate = a + b·(t − t_ref)` fitted to a light curve (t in days).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearFit {
    /// Reference time (weighted mean time), IJD.
    pub t_ref: f64,
    /// Rate at `t_ref`, cts/s.
    pub a: f64,
    /// Its 1σ error.
    pub a_err: f64,
    /// Slope, cts/s per day.
    pub b: f64,
    /// Its 1σ error.
    pub b_err: f64,
    /// χ² of the line.
    pub chi2: f64,
    /// Degrees of freedom (bins − 2).
    pub dof: usize,
}

impl LightCurve {
    /// Indices of bins with a finite rate and a positive finite error.
    fn usable(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| {
            self.rate[i].is_finite() && self.error[i] > 0.0 && self.error[i].is_finite()
        })
    }

    /// Combines every `factor` consecutive bins (inverse-variance weighted rates; widths and
    /// exposure fractions add up; times at the middle of the combined span).
    ///
    /// # Errors
    /// A factor of 0.
    pub fn rebin(&self, factor: usize) -> crate::Result<LightCurve> {
        if factor == 0 {
            return Err(crate::Error::invalid(
                "rebin factor",
                0,
                "a whole number ≥ 1",
            ));
        }
        let mut out = LightCurve {
            time: vec![],
            timedel: vec![],
            rate: vec![],
            error: vec![],
            fracexp: vec![],
            ..self.clone()
        };
        let idx: Vec<usize> = self.usable().collect();
        for chunk in idx.chunks(factor) {
            let (mut w, mut f, mut del, mut exp) = (0.0, 0.0, 0.0, 0.0);
            for &i in chunk {
                let wi = 1.0 / (self.error[i] * self.error[i]);
                w += wi;
                f += wi * self.rate[i];
                del += self.timedel[i];
                exp += self.fracexp[i] * self.timedel[i];
            }
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            let half = |i: usize| self.timedel[i] / 2.0 / crate::time::SECONDS_PER_DAY;
            let start = self.time[first] - half(first);
            let stop = self.time[last] + half(last);
            out.time.push(0.5 * (start + stop));
            out.timedel.push(del);
            out.rate.push(f / w);
            out.error.push(1.0 / w.sqrt());
            out.fracexp.push(exp / del);
        }
        Ok(out)
    }

    /// The inverse-variance weighted constant and its χ².
    ///
    /// # Errors
    /// No usable bin.
    pub fn fit_constant(&self) -> crate::Result<ConstantFit> {
        let idx: Vec<usize> = self.usable().collect();
        if idx.is_empty() {
            return Err(crate::Error::invalid(
                "light curve",
                "no usable bins",
                "at least one bin with a finite rate and error",
            ));
        }
        let w: f64 = idx.iter().map(|&i| self.error[i].powi(-2)).sum();
        let rate = idx
            .iter()
            .map(|&i| self.rate[i] * self.error[i].powi(-2))
            .sum::<f64>()
            / w;
        let chi2 = idx
            .iter()
            .map(|&i| ((self.rate[i] - rate) / self.error[i]).powi(2))
            .sum();
        Ok(ConstantFit {
            rate,
            error: 1.0 / w.sqrt(),
            chi2,
            dof: idx.len() - 1,
        })
    }

    /// The inverse-variance weighted straight line and its χ².
    ///
    /// # Errors
    /// Fewer than two usable bins at distinct times.
    pub fn fit_linear(&self) -> crate::Result<LinearFit> {
        let idx: Vec<usize> = self.usable().collect();
        let w: Vec<f64> = idx.iter().map(|&i| self.error[i].powi(-2)).collect();
        let sw: f64 = w.iter().sum();
        if idx.len() < 2 || sw <= 0.0 {
            return Err(crate::Error::invalid(
                "light curve",
                format!("{} usable bins", idx.len()),
                "at least two bins",
            ));
        }
        let t_ref = idx
            .iter()
            .zip(&w)
            .map(|(&i, wi)| wi * self.time[i])
            .sum::<f64>()
            / sw;
        let stt: f64 = idx
            .iter()
            .zip(&w)
            .map(|(&i, wi)| wi * (self.time[i] - t_ref).powi(2))
            .sum();
        if stt <= 0.0 {
            return Err(crate::Error::invalid(
                "light curve",
                "all bins at one time",
                "bins at two or more times",
            ));
        }
        let a = idx
            .iter()
            .zip(&w)
            .map(|(&i, wi)| wi * self.rate[i])
            .sum::<f64>()
            / sw;
        let b = idx
            .iter()
            .zip(&w)
            .map(|(&i, wi)| wi * (self.time[i] - t_ref) * self.rate[i])
            .sum::<f64>()
            / stt;
        let chi2 = idx
            .iter()
            .map(|&i| ((self.rate[i] - a - b * (self.time[i] - t_ref)) / self.error[i]).powi(2))
            .sum();
        Ok(LinearFit {
            t_ref,
            a,
            a_err: 1.0 / sw.sqrt(),
            b,
            b_err: 1.0 / stt.sqrt(),
            chi2,
            dof: idx.len() - 2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn synthetic(seed: u64, slope: f64) -> LightCurve {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = 200;
        let time: Vec<f64> = (0..n).map(|i| 5000.0 + i as f64 * 10.0).collect();
        let error: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 * 0.3).collect();
        let rate = time
            .iter()
            .zip(&error)
            .map(|(t, e)| {
                100.0 + slope * (t - 5995.0) + Normal::new(0.0, *e).unwrap().sample(&mut rng)
            })
            .collect();
        LightCurve {
            source: "test".into(),
            band: (20.0, 40.0),
            time,
            timedel: vec![1000.0; n],
            rate,
            error,
            fracexp: vec![0.8; n],
            osa_version: OsaVersion::Osa11_2,
        }
    }

    #[test]
    fn constant_and_linear_fits_recover_truth() {
        let (mut pulls_c, mut pulls_b) = (vec![], vec![]);
        for seed in 0..40 {
            let c = synthetic(seed, 0.0).fit_constant().unwrap();
            pulls_c.push((c.rate - 100.0) / c.error);
            assert!(c.chi2 < c.dof as f64 + 5.0 * (2.0 * c.dof as f64).sqrt());
            let l = synthetic(seed, 0.02).fit_linear().unwrap();
            pulls_b.push((l.b - 0.02) / l.b_err);
        }
        for p in [pulls_c, pulls_b] {
            let m = p.iter().sum::<f64>() / p.len() as f64;
            let sd = (p.iter().map(|x| (x - m).powi(2)).sum::<f64>() / p.len() as f64).sqrt();
            assert!(m.abs() < 0.4 && (0.7..1.3).contains(&sd), "{m} {sd}");
        }
    }

    #[test]
    fn rebinning_keeps_the_weighted_mean() {
        let lc = synthetic(3, 0.0);
        let r = lc.rebin(10).unwrap();
        assert_eq!(r.len(), 20);
        assert!((r.fit_constant().unwrap().rate - lc.fit_constant().unwrap().rate).abs() < 1e-9);
        assert!((r.timedel[0] - 10_000.0).abs() < 1e-9 && (r.fracexp[0] - 0.8).abs() < 1e-12);
        assert!((r.time[0] - (lc.time[0] + lc.time[9]) / 2.0).abs() < 1e-9);
        assert!(lc.rebin(0).is_err());
    }
}
