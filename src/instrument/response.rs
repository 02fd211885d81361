//! Instrument responses as data: the ancillary response (ARF, effective area per true-energy
//! bin) and the redistribution matrix (RMF, true energy → reconstructed-energy channel).
//!
//! These are the types spectra carry and fits fold models through. They are built from a
//! calibration (see [`crate::instrument::calibration`]): an effective-area curve, and an
//! energy resolution with a low-energy threshold. Nothing here knows which instrument, or
//! whether the curves are a calibration team's estimates or a simulator's truth.

use crate::error::{Error, Result};

/// Checks that energy bin edges are finite, positive and increasing.
pub(crate) fn check_edges(name: &str, edges: &[f64]) -> Result<()> {
    if edges.len() < 2 {
        return Err(Error::invalid(
            name,
            format!("{} edges", edges.len()),
            "at least two bin edges",
        ));
    }
    if let Some(w) = edges
        .windows(2)
        .find(|w| !(w[0].is_finite() && w[0] > 0.0 && w[1] > w[0]))
    {
        return Err(Error::invalid(
            name,
            format!("{} .. {}", w[0], w[1]),
            "finite, positive, increasing edges in keV",
        ));
    }
    Ok(())
}

/// An ancillary response: on-axis effective area per true-energy bin (OGIP `SPECRESP`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Arf {
    /// Lower bin edges, keV.
    pub energ_lo: Vec<f64>,
    /// Upper bin edges, keV.
    pub energ_hi: Vec<f64>,
    /// Effective area, cm².
    pub specresp: Vec<f64>,
}

impl Arf {
    /// The ARF on true-energy bins with `edges` (keV) of the effective-area curve `area_cm2`:
    /// the area of a bin is the mean over the bin (eight log-spaced sub-samples).
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn from_area(edges: &[f64], area_cm2: impl Fn(f64) -> f64) -> Result<Arf> {
        check_edges("ARF energy edges", edges)?;
        let specresp = edges
            .windows(2)
            .map(|w| {
                let n = 8;
                (0..n)
                    .map(|k| area_cm2(w[0] * (w[1] / w[0]).powf((k as f64 + 0.5) / n as f64)))
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        Ok(Arf {
            energ_lo: edges[..edges.len() - 1].to_vec(),
            energ_hi: edges[1..].to_vec(),
            specresp,
        })
    }
}

/// Probability that an event with pulse height `pulse_kev` (on the nominal scale) passes a
/// threshold set at `threshold_kev`: a smooth (error-function) turn-on of width `width_kev`,
/// cut hard at 3 widths below.
pub fn threshold_efficiency(pulse_kev: f64, threshold_kev: f64, width_kev: f64) -> f64 {
    let x = (pulse_kev - threshold_kev) / width_kev;
    if x < -3.0 {
        0.0
    } else {
        0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
    }
}

/// How photons of true energy E become reconstructed energies: measured M ~ Normal(E, σ(E))
/// with FWHM `fwhm_kev(E)`; kept with probability [`threshold_efficiency`] of the pulse
/// height M·`pulse_per_kev` against `threshold_kev` (width `threshold_width_kev`); and
/// reconstructed at R = M / `measured_per_reconstructed`.
///
/// A calibration team that believes its gain builds it with `pulse_per_kev` = its gain
/// estimate and `measured_per_reconstructed` = 1; a simulator that knows the true gain g and the
/// analysis's estimate ĝ uses g and ĝ/g.
#[derive(Clone, Copy)]
pub struct Redistribution<'a> {
    /// Energy resolution (FWHM, keV) at a true energy in keV.
    pub fwhm_kev: &'a dyn Fn(f64) -> f64,
    /// Pulse height per keV of measured energy (the detector gain).
    pub pulse_per_kev: f64,
    /// The low threshold on the pulse-height scale, keV.
    pub threshold_kev: f64,
    /// Width (σ) of the threshold's turn-on, keV.
    pub threshold_width_kev: f64,
    /// Measured energy per reconstructed energy (1 when the gain is known exactly).
    pub measured_per_reconstructed: f64,
}

/// A redistribution matrix: probability that a photon detected in true-energy bin i is
/// reconstructed in channel j, including resolution, threshold and gain.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rmf {
    /// Lower true-energy edges, keV.
    pub energ_lo: Vec<f64>,
    /// Upper true-energy edges, keV.
    pub energ_hi: Vec<f64>,
    /// Lower channel edges (reconstructed energy), keV.
    pub e_min: Vec<f64>,
    /// Upper channel edges, keV.
    pub e_max: Vec<f64>,
    /// Row-major matrix, `matrix[i * n_channels + j]`.
    pub matrix: Vec<f64>,
}

impl Rmf {
    /// The matrix of `r` on true-energy bins `true_edges` and reconstructed-energy channels
    /// `channel_edges` (keV): each bin is sampled at four log-spaced energies, each folded
    /// through the resolution and the threshold on a fine grid over ±7σ.
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn from_redistribution(
        true_edges: &[f64],
        channel_edges: &[f64],
        r: &Redistribution<'_>,
    ) -> Result<Rmf> {
        check_edges("RMF true-energy edges", true_edges)?;
        check_edges("RMF channel edges", channel_edges)?;
        let g = r.pulse_per_kev;
        let thr = r.threshold_kev;
        // Channel [a, b) in R is [a, b)·(M per R) in measured energy M.
        let to_measured = r.measured_per_reconstructed;
        let nch = channel_edges.len() - 1;
        let mut matrix = Vec::with_capacity((true_edges.len() - 1) * nch);
        for w in true_edges.windows(2) {
            let sub = 4;
            let mut row = vec![0.0; nch];
            for k in 0..sub {
                let e = w[0] * (w[1] / w[0]).powf((k as f64 + 0.5) / sub as f64);
                let sigma = (r.fwhm_kev)(e) / (8.0f64 * 2f64.ln()).sqrt();
                // Cumulative of Normal(M; e, σ)·P_threshold(M·g) on a fine grid over ±7σ.
                let n = 280;
                let (m0, dm) = (e - 7.0 * sigma, 14.0 * sigma / n as f64);
                let dens = |m: f64| {
                    let z = (m - e) / sigma;
                    (-0.5 * z * z).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
                        * threshold_efficiency(m * g, thr, r.threshold_width_kev)
                };
                let mut cdf = Vec::with_capacity(n + 1);
                let mut acc = 0.0;
                let mut prev = dens(m0);
                cdf.push(0.0);
                for i in 1..=n {
                    let cur = dens(m0 + i as f64 * dm);
                    acc += 0.5 * (prev + cur) * dm;
                    cdf.push(acc);
                    prev = cur;
                }
                let at = |m: f64| {
                    let x = (m - m0) / dm;
                    if x <= 0.0 {
                        0.0
                    } else if x >= n as f64 {
                        acc
                    } else {
                        let i = x.floor() as usize;
                        cdf[i] + (cdf[i + 1] - cdf[i]) * (x - i as f64)
                    }
                };
                for (j, c) in channel_edges.windows(2).enumerate() {
                    row[j] += (at(c[1] * to_measured) - at(c[0] * to_measured)) / sub as f64;
                }
            }
            matrix.extend(row);
        }
        Ok(Rmf {
            energ_lo: true_edges[..true_edges.len() - 1].to_vec(),
            energ_hi: true_edges[1..].to_vec(),
            e_min: channel_edges[..nch].to_vec(),
            e_max: channel_edges[1..].to_vec(),
            matrix,
        })
    }

    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.e_min.len()
    }

    /// Folds detected-photon rates per true-energy bin into rates per channel.
    ///
    /// # Errors
    /// A vector whose length is not the number of true-energy bins.
    pub fn fold(&self, per_bin: &[f64]) -> Result<Vec<f64>> {
        if per_bin.len() != self.energ_lo.len() {
            return Err(Error::invalid(
                "folded spectrum",
                format!("{} bins", per_bin.len()),
                format!("{} true-energy bins", self.energ_lo.len()),
            ));
        }
        let nch = self.n_channels();
        let mut out = vec![0.0; nch];
        for (i, v) in per_bin.iter().enumerate() {
            for (o, m) in out.iter_mut().zip(&self.matrix[i * nch..(i + 1) * nch]) {
                *o += v * m;
            }
        }
        Ok(out)
    }
}

/// The error function (see [`erfc`]).
pub(crate) fn erf(x: f64) -> f64 {
    let r = erfc_of_abs(x);
    if x >= 0.0 { 1.0 - r } else { r - 1.0 }
}

/// The complementary error function, the Chebyshev fit of Numerical Recipes (`erfcc`):
/// fractional error below 1.2e-7 everywhere, so Gaussian tail probabilities keep their
/// precision far out (e.g. at 5σ).
pub(crate) fn erfc(x: f64) -> f64 {
    let r = erfc_of_abs(x);
    if x >= 0.0 { r } else { 2.0 - r }
}

/// erfc(|x|).
fn erfc_of_abs(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    t * (-z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
        .exp()
}

/// Responses for the unit tests of the layers above: an ISGRI-like on-axis area (≈ 1300 cm² at
/// 30–80 keV, falling above 100 keV) and resolution (8 % FWHM at 60 keV, threshold 13 keV).
/// Test fixtures, not a calibration.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// Area, cm², at `e` keV: 1730 cm² × an efficiency curve of CdTe behind the mask support
    /// (linear in log–log between the nodes). The same nodes as the simulated instrument's
    /// efficiency (`oda::simulate::instrument`), which this layer may not import: the fit's
    /// science tests are sized for an ISGRI-like area (their error and linearity statements
    /// hold for it, not for any smooth curve).
    pub(crate) fn area_cm2(e: f64) -> f64 {
        const NODES: [(f64, f64); 16] = [
            (10.0, 0.28),
            (15.0, 0.50),
            (20.0, 0.635),
            (25.0, 0.71),
            (30.0, 0.75),
            (40.0, 0.80),
            (50.0, 0.815),
            (60.0, 0.80),
            (80.0, 0.765),
            (100.0, 0.715),
            (150.0, 0.585),
            (200.0, 0.47),
            (300.0, 0.32),
            (500.0, 0.18),
            (1000.0, 0.075),
            (2000.0, 0.03),
        ];
        let x = e.clamp(NODES[0].0, NODES[15].0);
        let i = NODES.partition_point(|n| n.0 <= x).clamp(1, 15);
        let (a, b) = (NODES[i - 1], NODES[i]);
        let f = (x / a.0).ln() / (b.0 / a.0).ln();
        1730.0 * (a.1.ln() + f * (b.1 / a.1).ln()).exp()
    }

    /// The fixture ARF on `edges`.
    pub(crate) fn arf(edges: &[f64]) -> Arf {
        Arf::from_area(edges, area_cm2).expect("fixture edges are valid")
    }

    /// The fixture RMF.
    pub(crate) fn rmf(true_edges: &[f64], channels: &[f64]) -> Rmf {
        let fwhm = |e: f64| 4.8 * (e / 60.0).sqrt();
        Rmf::from_redistribution(
            true_edges,
            channels,
            &Redistribution {
                fwhm_kev: &fwhm,
                pulse_per_kev: 1.0,
                threshold_kev: 13.0,
                threshold_width_kev: 0.8,
                measured_per_reconstructed: 1.0,
            },
        )
        .expect("fixture edges are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        for (x, v) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265_0),
            (-1.0, -0.842_700_792_9),
        ] {
            assert!((erf(x) - v).abs() < 2e-7, "{x}");
        }
    }

    #[test]
    fn rmf_rows_conserve_probability_above_threshold() {
        let edges: Vec<f64> = (0..=200)
            .map(|i| 10.0 * 100f64.powf(i as f64 / 200.0))
            .collect();
        let fwhm = |e: f64| 4.8 * (e / 60.0).sqrt();
        let r = Redistribution {
            fwhm_kev: &fwhm,
            pulse_per_kev: 1.0,
            threshold_kev: 13.0,
            threshold_width_kev: 0.8,
            measured_per_reconstructed: 1.0,
        };
        let rmf = Rmf::from_redistribution(&edges, &edges, &r).unwrap();
        let n = rmf.n_channels();
        for (i, lo) in rmf.energ_lo.iter().enumerate() {
            let row: f64 = rmf.matrix[i * n..(i + 1) * n].iter().sum();
            if (30.0..700.0).contains(lo) {
                assert!((row - 1.0).abs() < 1e-3, "{lo}: {row}");
            }
            if *lo < 10.5 {
                assert!(row < 0.05, "{lo}: {row}");
            }
        }
        // A 60 keV line lands within a few channels of 60 keV.
        let i = rmf.energ_lo.partition_point(|e| *e < 60.0) - 1;
        let row = &rmf.matrix[i * n..(i + 1) * n];
        let j = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(j, _)| j)
            .unwrap();
        assert!((rmf.e_min[j] - 60.0).abs() < 1.5);
        assert!(Rmf::from_redistribution(&[20.0], &edges, &r).is_err());
    }

    #[test]
    fn arf_averages_the_curve_and_bad_edges_fail() {
        let arf = Arf::from_area(&[20.0, 40.0, 60.0], |e| e).unwrap();
        assert!(arf.specresp[0] > 20.0 && arf.specresp[0] < 40.0);
        assert!(Arf::from_area(&[20.0, 10.0], |_| 1.0).is_err());
    }
}
