//! The simulated ISGRI as it really is: the truth behind the simulated archive, which the
//! analysis never sees. It knows the detection efficiency, the energy resolution, the gain and
//! threshold drifts, and which pixels die when; the analysis knows only what the calibration
//! files in the archive say (written by [`super::calibration`], the simulation's calibration
//! team, which measures them from simulated data or sets them with realistic errors).
//!
//! The chain from a photon of energy E to a recorded event is
//! 1. detection with probability ε(E) ([`detection_efficiency`]: CdTe absorption, passive
//!    material, event selection) on the lit part of a live pixel (the PIF);
//! 2. a measured energy M ~ Normal(E, σ(E)), FWHM 8 % at 60 keV scaling as √E ([`fwhm_kev`]);
//! 3. the pulse height on the nominal (launch) energy scale, M·g(t), where the gain g(t) drifts
//!    down through the mission ([`gain`]);
//! 4. the low-energy threshold, applied to the pulse height ([`threshold_efficiency`]), so that
//!    the threshold in true energy rises as the gain falls;
//! 5. the dead time, which removes a fraction 1 − DEADC of everything.
//!
//! The simulated archive stores pulse heights on the nominal scale, as the real archive stores
//! uncorrected energies; each OSA version's calibration divides by its own gain estimate.

use std::sync::OnceLock;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::instrument::calibration::{interp, interp_loglog};
use crate::instrument::isgri::{
    DETECTOR_AREA_CM2, DetectorMap, N_DETY, N_DETZ, is_gap, on_axis_open_fraction, rate_scale,
};
use crate::instrument::response::{Arf, Redistribution, Rmf};
use crate::osa::OsaVersion;
use crate::time::{Time, revolution_start};

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

/// Low threshold on the nominal (pulse-height) scale, keV, by MJD (*assumed*, commanded settings).
const THRESHOLD_NODES: [(f64, f64); 3] = [(52_560.0, 12.8), (56_800.0, 13.3), (58_900.0, 13.8)];
/// Width (σ) of the threshold's turn-on, keV (*assumed*).
pub const THRESHOLD_WIDTH_KEV: f64 = 0.8;

/// Fraction of pixels dead at launch (*assumed*).
const DEAD_AT_LAUNCH: f64 = 0.012;
/// Fraction of the remaining pixels dying per year (*assumed*).
const DEATH_RATE_PER_YEAR: f64 = 0.0015;
/// Seed of the instrument's own (fixed) randomness: which pixels die and when.
const INSTRUMENT_SEED: u64 = 0x1576_1D0E_DE7E_C702;

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

/// Probability that an event of nominal-scale energy `pulse_kev` passes the threshold set at
/// `threshold_kev` (the instrument's turn-on width).
pub fn threshold_efficiency(pulse_kev: f64, threshold_kev: f64) -> f64 {
    crate::instrument::response::threshold_efficiency(pulse_kev, threshold_kev, THRESHOLD_WIDTH_KEV)
}

/// True on-axis effective area at `e_kev` in cm², in the rate convention of `version`.
pub fn on_axis_area_cm2(e_kev: f64, version: OsaVersion) -> f64 {
    DETECTOR_AREA_CM2 * on_axis_open_fraction() * detection_efficiency(e_kev) * rate_scale(version)
}

/// The true on-axis ARF of `version` on true-energy bins with `edges` (keV).
///
/// # Errors
/// Edges that are not finite, positive and increasing.
pub fn true_arf(edges: &[f64], version: OsaVersion) -> Result<Arf> {
    Arf::from_area(edges, |e| on_axis_area_cm2(e, version))
}

/// The true redistribution at `t` into the channels `channel_edges` (keV) of an analysis that
/// reconstructs energies with the gain estimate `gain_estimate` (pass [`gain`]`(t)` for
/// channels of measured energy), on true-energy bins `true_edges`.
///
/// # Errors
/// Edges that are not finite, positive and increasing.
pub fn true_rmf(
    true_edges: &[f64],
    channel_edges: &[f64],
    t: Time,
    gain_estimate: f64,
) -> Result<Rmf> {
    true_rmf_with_gain(true_edges, channel_edges, t, gain(t), gain_estimate)
}

/// [`true_rmf`] of an instrument whose gain at `t` is `gain` (a perturbed one).
pub(crate) fn true_rmf_with_gain(
    true_edges: &[f64],
    channel_edges: &[f64],
    t: Time,
    gain: f64,
    gain_estimate: f64,
) -> Result<Rmf> {
    Rmf::from_redistribution(
        true_edges,
        channel_edges,
        &Redistribution {
            fwhm_kev: &fwhm_kev,
            pulse_per_kev: gain,
            threshold_kev: threshold_kev(t),
            threshold_width_kev: THRESHOLD_WIDTH_KEV,
            // R = M·g/ĝ: channel [a, b) in R is [a, b)·ĝ/g in measured energy M.
            measured_per_reconstructed: gain_estimate / gain,
        },
    )
}

/// IJD at which each pixel dies (∞ for pixels that survive the mission), fixed for the instrument.
fn death_times() -> &'static Vec<f64> {
    static DEATHS: OnceLock<Vec<f64>> = OnceLock::new();
    DEATHS.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(INSTRUMENT_SEED);
        let launch = revolution_start(1).ijd();
        (0..N_DETY * N_DETZ)
            .map(|_| {
                let u: f64 = rng.random();
                if u < DEAD_AT_LAUNCH {
                    f64::NEG_INFINITY
                } else {
                    // Exponential waiting time with the yearly death rate.
                    let v: f64 = rng.random();
                    launch - (1.0 - v).ln() / DEATH_RATE_PER_YEAR * 365.25
                }
            })
            .collect()
    })
}

/// Dead pixels at time `t`: 1 where dead, 0 elsewhere (gaps are not pixels and read 0).
pub fn dead_pixel_map(t: Time) -> DetectorMap {
    let deaths = death_times();
    Array2::from_shape_fn((N_DETY, N_DETZ), |(y, z)| {
        if !is_gap(y, z) && deaths[y * N_DETZ + z] <= t.ijd() {
            1.0
        } else {
            0.0
        }
    })
}

/// Efficiency of each position at time `t`: 1 for a live pixel, 0 in gaps and on dead pixels.
pub fn efficiency_map(t: Time) -> DetectorMap {
    let deaths = death_times();
    Array2::from_shape_fn((N_DETY, N_DETZ), |(y, z)| {
        if !is_gap(y, z) && deaths[y * N_DETZ + z] > t.ijd() {
            1.0
        } else {
            0.0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri::N_PIXELS;

    #[test]
    fn resolution_is_8_percent_at_60_kev() {
        assert!((fwhm_kev(60.0) / 60.0 - 0.08).abs() < 1e-12);
        assert!(fwhm_kev(240.0) / 240.0 < 0.05);
    }

    #[test]
    fn the_threshold_rises_in_true_energy_as_the_gain_falls() {
        let before = Time::from_isot("2012-01-01").unwrap();
        let after = Time::from_isot("2016-01-01").unwrap();
        assert!(threshold_kev(after) / gain(after) > threshold_kev(before) / gain(before));
        assert!(gain(after) < 0.85);
    }

    #[test]
    fn arf_scales_with_version() {
        let edges = [20.0, 40.0, 60.0];
        let a10 = true_arf(&edges, OsaVersion::Osa10_2).unwrap();
        let a11 = true_arf(&edges, OsaVersion::Osa11_2).unwrap();
        assert!(
            (a11.specresp[0] / a10.specresp[0] - rate_scale(OsaVersion::Osa11_2)).abs() < 1e-12
        );
        assert!(a10.specresp.iter().all(|a| *a > 700.0 && *a < 1310.0));
    }

    #[test]
    fn pixels_die_slowly() {
        let t2003 = Time::from_isot("2003-01-01").unwrap();
        let t2019 = Time::from_isot("2019-06-01").unwrap();
        let alive = |t| efficiency_map(t).sum() / N_PIXELS as f64;
        let (a, b) = (alive(t2003), alive(t2019));
        assert!((0.975..0.995).contains(&a), "{a}");
        assert!(b < a && (0.95..0.98).contains(&b), "{b}");
        // A dead pixel stays dead.
        let (d1, d2) = (dead_pixel_map(t2003), dead_pixel_map(t2019));
        assert!(d1.iter().zip(d2.iter()).all(|(x, y)| *x <= *y));
    }
}
