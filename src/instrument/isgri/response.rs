//! The ISGRI response: effective area (ARF), energy redistribution (RMF), gain and threshold
//! drifts, and the energy calibration each OSA version applies.
//!
//! The chain from a photon of energy E to a recorded event is
//! 1. detection with probability ε(E) ([`detection_efficiency`]: CdTe absorption, passive
//!    material, event selection) on the lit part of a pixel (the [PIF](super::pif));
//! 2. a measured energy M ~ Normal(E, σ(E)), FWHM 8 % at 60 keV scaling as √E ([`fwhm_kev`]);
//! 3. the pulse height on the nominal (launch) energy scale, M·g(t), where the gain g(t) drifts
//!    down through the mission ([`gain`]);
//! 4. the low-energy threshold, applied to the pulse height ([`threshold_efficiency`]), so that
//!    the threshold in true energy rises as the gain falls;
//! 5. the dead time, which removes a fraction 1 − DEADC of everything.
//!
//! The simulated archive stores energies on the nominal scale. Each OSA version divides by its
//! own estimate ĝ(t) of the gain ([`EnergyCalibration`]): OSA11 follows the drift, OSA10.2's
//! calibration was frozen in mid-2014 and under-corrects afterwards, so the same photons are
//! reconstructed at lower energies and a soft source's 20–100 keV rate drops (paper Fig. 6).
//!
//! Rates are **on-axis equivalent**: the count rate a source would give on axis on a perfect
//! detector behind the mask. The matching on-axis area is
//! `ARF(E) = 2621 cm² × (mean on-axis PIF ≈ 0.5) × ε(E) × rate_scale(version)`.
//! OSA11 normalises its rates differently from OSA10 (higher for the same data); its ARF is
//! scaled by the same factor so that fluxes agree.

use std::sync::OnceLock;

use super::{DETECTOR_AREA_CM2, Mask, N_PIXELS, pif};
use crate::error::{Error, Result};
use crate::osa::OsaVersion;
use crate::time::Time;

/// Detection efficiency ε(E) (energy keV, efficiency): CdTe photo-absorption in 2 mm,
/// transmission of the mask support and passive material, and rise-time event selection.
/// Interpolated linearly in log–log. *Assumed* shape, tuned so that the simulated Crab gives
/// the OSA10-era reconstructed rates of `isgri.md` (158, 56, 41, 23 cts/s in 20–40, 40–60,
/// 60–100, 100–200 keV).
const EFFICIENCY: [(f64, f64); 16] = [
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

/// FWHM at 60 keV, keV (*cited*: ~8 %).
const FWHM_60_KEV: f64 = 0.08 * 60.0;

/// Gain relative to launch (MJD, g): slow decline, faster after 2014 (*assumed* shape).
const GAIN_NODES: [(f64, f64); 5] = [
    (52_560.0, 1.000),
    (54_800.0, 0.985),
    (56_800.0, 0.962),
    (57_400.0, 0.800),
    (58_900.0, 0.780),
];

/// MJD at which OSA10.2's gain calibration stops following the drift (*cited*: mid-2014).
pub const OSA10_FREEZE_MJD: f64 = 56_800.0;

/// Low threshold on the nominal (pulse-height) scale, keV, by MJD (*assumed*, commanded settings).
const THRESHOLD_NODES: [(f64, f64); 3] = [(52_560.0, 12.8), (56_800.0, 13.3), (58_900.0, 13.8)];
/// Width (σ) of the threshold's turn-on, keV (*assumed*).
const THRESHOLD_WIDTH_KEV: f64 = 0.8;

/// OSA11's rate normalisation relative to OSA10 (*assumed*, from the 2016 Crab: OSA11 quotes
/// ~210 cts/s where OSA10 with a correct gain gives ~159).
const OSA11_RATE_SCALE: f64 = 1.32;

fn interp(nodes: &[(f64, f64)], x: f64) -> f64 {
    let (first, last) = (nodes[0], nodes[nodes.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    if x >= last.0 {
        return last.1;
    }
    let i = nodes.partition_point(|n| n.0 <= x);
    let (a, b) = (nodes[i - 1], nodes[i]);
    a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
}

fn interp_loglog(nodes: &[(f64, f64)], x: f64) -> f64 {
    let (first, last) = (nodes[0], nodes[nodes.len() - 1]);
    let x = x.clamp(first.0, last.0);
    let i = nodes
        .partition_point(|n| n.0 <= x)
        .clamp(1, nodes.len() - 1);
    let (a, b) = (nodes[i - 1], nodes[i]);
    let f = (x / a.0).ln() / (b.0 / a.0).ln();
    (a.1.ln() + f * (b.1 / a.1).ln()).exp()
}

/// Detection efficiency ε(E) of a lit pixel for a photon of `e_kev`.
pub fn detection_efficiency(e_kev: f64) -> f64 {
    interp_loglog(&EFFICIENCY, e_kev)
}

/// Energy resolution, FWHM in keV, at `e_kev` (8 % at 60 keV, ∝ √E).
pub fn fwhm_kev(e_kev: f64) -> f64 {
    FWHM_60_KEV * (e_kev.max(1.0) / 60.0).sqrt()
}

/// The detector gain at `t` relative to launch (pulse height per keV).
pub fn gain(t: Time) -> f64 {
    interp(&GAIN_NODES, t.mjd_tt())
}

/// The low threshold at `t` on the nominal (pulse-height) scale, keV.
pub fn threshold_kev(t: Time) -> f64 {
    interp(&THRESHOLD_NODES, t.mjd_tt())
}

/// Probability that an event of nominal-scale energy `pulse_kev` passes a threshold set at
/// `threshold_kev`: a smooth (error-function) turn-on of width 0.8 keV, cut hard at 3 widths below.
pub fn threshold_efficiency(pulse_kev: f64, threshold_kev: f64) -> f64 {
    let x = (pulse_kev - threshold_kev) / THRESHOLD_WIDTH_KEV;
    if x < -3.0 {
        0.0
    } else {
        0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
    }
}

/// Mean on-axis PIF over all 16 384 pixels: the open fraction seen by an on-axis source.
pub fn on_axis_open_fraction() -> f64 {
    static F: OnceLock<f64> = OnceLock::new();
    *F.get_or_init(|| pif(&Mask::isgri(), 0.0, 0.0).sum() / N_PIXELS as f64)
}

/// Factor by which `version` scales on-axis equivalent rates (and its ARF) relative to OSA10.
pub fn rate_scale(version: OsaVersion) -> f64 {
    match version {
        OsaVersion::Osa10_2 => 1.0,
        OsaVersion::Osa11_0 | OsaVersion::Osa11_2 => OSA11_RATE_SCALE,
    }
}

/// On-axis effective area at `e_kev` in cm², in the rate convention of `version`.
pub fn on_axis_area_cm2(e_kev: f64, version: OsaVersion) -> f64 {
    DETECTOR_AREA_CM2 * on_axis_open_fraction() * detection_efficiency(e_kev) * rate_scale(version)
}

/// The energy calibration an OSA version applies to nominal-scale energies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnergyCalibration {
    version: OsaVersion,
}

impl EnergyCalibration {
    /// The calibration of `version`.
    pub fn new(version: OsaVersion) -> Self {
        EnergyCalibration { version }
    }

    /// The version's estimate of the gain at `t`.
    pub fn gain_estimate(&self, t: Time) -> f64 {
        match self.version {
            OsaVersion::Osa10_2 => interp(&GAIN_NODES, t.mjd_tt().min(OSA10_FREEZE_MJD)),
            OsaVersion::Osa11_0 | OsaVersion::Osa11_2 => gain(t),
        }
    }

    /// Factor turning a nominal-scale energy recorded at `t` into this version's energy.
    pub fn correction(&self, t: Time) -> f64 {
        1.0 / self.gain_estimate(t)
    }
}

/// Checks that energy bin edges are finite, positive and increasing.
fn check_edges(name: &str, edges: &[f64]) -> Result<()> {
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
    /// The on-axis ARF of `version` on true-energy bins with `edges` (keV); the area of a bin
    /// is the mean over the bin (eight log-spaced sub-samples).
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn on_axis(edges: &[f64], version: OsaVersion) -> Result<Arf> {
        check_edges("ARF energy edges", edges)?;
        let specresp = edges
            .windows(2)
            .map(|w| {
                let n = 8;
                (0..n)
                    .map(|k| {
                        on_axis_area_cm2(
                            w[0] * (w[1] / w[0]).powf((k as f64 + 0.5) / n as f64),
                            version,
                        )
                    })
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

/// A redistribution matrix: probability that a photon detected in true-energy bin i is
/// reconstructed in channel j, including resolution, threshold and the version's gain estimate.
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
    /// The redistribution at time `t` for `version`, on true-energy bins `true_edges` and
    /// reconstructed-energy channels `channel_edges` (keV).
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn compute(
        true_edges: &[f64],
        channel_edges: &[f64],
        t: Time,
        version: OsaVersion,
    ) -> Result<Rmf> {
        check_edges("RMF true-energy edges", true_edges)?;
        check_edges("RMF channel edges", channel_edges)?;
        let g = gain(t);
        let thr = threshold_kev(t);
        // Reconstructed energy R = M·g/ĝ, so channel [a, b) in R is [a, b)·ĝ/g in measured energy M.
        let to_measured = EnergyCalibration::new(version).gain_estimate(t) / g;
        let nch = channel_edges.len() - 1;
        let mut matrix = Vec::with_capacity((true_edges.len() - 1) * nch);
        for w in true_edges.windows(2) {
            let sub = 4;
            let mut row = vec![0.0; nch];
            for k in 0..sub {
                let e = w[0] * (w[1] / w[0]).powf((k as f64 + 0.5) / sub as f64);
                let sigma = fwhm_kev(e) / (8.0f64 * 2f64.ln()).sqrt();
                // Cumulative of Normal(M; e, σ)·P_threshold(M·g) on a fine grid over ±7σ.
                let n = 280;
                let (m0, dm) = (e - 7.0 * sigma, 14.0 * sigma / n as f64);
                let dens = |m: f64| {
                    let z = (m - e) / sigma;
                    (-0.5 * z * z).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
                        * threshold_efficiency(m * g, thr)
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

/// The error function, from the Chebyshev-fitted complementary error function of
/// Numerical Recipes (`erfcc`); absolute error below 1.2e-7 everywhere.
pub(crate) fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { 1.0 - r } else { r - 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time {
        Time::from_isot(s).unwrap()
    }

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
    fn resolution_is_8_percent_at_60_kev() {
        assert!((fwhm_kev(60.0) / 60.0 - 0.08).abs() < 1e-12);
        assert!(fwhm_kev(240.0) / 240.0 < 0.05);
    }

    #[test]
    fn rmf_rows_conserve_probability_above_threshold() {
        let edges: Vec<f64> = (0..=200)
            .map(|i| 10.0 * 100f64.powf(i as f64 / 200.0))
            .collect();
        let rmf = Rmf::compute(&edges, &edges, t("2010-01-01"), OsaVersion::Osa11_2).unwrap();
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
    }

    #[test]
    fn osa10_under_corrects_after_2014_only() {
        let before = t("2012-01-01");
        let after = t("2016-01-01");
        let c10 = EnergyCalibration::new(OsaVersion::Osa10_2);
        let c11 = EnergyCalibration::new(OsaVersion::Osa11_2);
        assert!((c10.correction(before) - c11.correction(before)).abs() < 1e-12);
        // After the freeze OSA10.2 assumes a higher gain, so it reconstructs lower energies.
        assert!(c10.correction(after) < 0.95 * c11.correction(after));
        assert!(threshold_kev(after) / gain(after) > threshold_kev(before) / gain(before));
    }

    #[test]
    fn arf_scales_with_version_and_bad_edges_fail() {
        let edges = [20.0, 40.0, 60.0];
        let a10 = Arf::on_axis(&edges, OsaVersion::Osa10_2).unwrap();
        let a11 = Arf::on_axis(&edges, OsaVersion::Osa11_2).unwrap();
        assert!((a11.specresp[0] / a10.specresp[0] - OSA11_RATE_SCALE).abs() < 1e-12);
        assert!(a10.specresp.iter().all(|a| *a > 700.0 && *a < 1310.0));
        assert!(Arf::on_axis(&[20.0, 10.0], OsaVersion::Osa10_2).is_err());
        assert!(Rmf::compute(&[20.0], &edges, before_launch(), OsaVersion::Osa10_2).is_err());
    }

    fn before_launch() -> Time {
        t("2002-01-01")
    }
}
