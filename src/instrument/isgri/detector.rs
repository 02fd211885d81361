//! The ISGRI detector plane: 8 modules of 64 × 32 CdTe pixels, dead gaps, dead pixels.
//!
//! Module layout on the 130 × 134 (DETY × DETZ) grid: DETY 0–63 and 66–129 (gap 64–65);
//! DETZ 0–31, 34–65, 68–99 and 102–133 (gaps of two pixel widths, *assumed*).
//! Pixels die slowly during the mission; which ones, and when, is fixed for the instrument
//! (not drawn per simulation seed), as it is for the real detector.

use std::sync::OnceLock;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{N_DETY, N_DETZ, PIXEL_PITCH_MM};
use crate::time::{Time, revolution_start};

/// A value per detector position on the 130 × 134 grid, indexed `[dety, detz]`.
pub type DetectorMap = Array2<f64>;

/// Nominal dead-time correction factor, the live fraction (*cited*: dead time ~0.3).
pub const NOMINAL_DEADC: f64 = 0.70;

/// Fraction of pixels dead at launch (*assumed*).
const DEAD_AT_LAUNCH: f64 = 0.012;
/// Fraction of the remaining pixels dying per year (*assumed*).
const DEATH_RATE_PER_YEAR: f64 = 0.0015;
/// Seed of the instrument's own (fixed) randomness: which pixels die and when.
const INSTRUMENT_SEED: u64 = 0x1576_1D0E_DE7E_C702;

/// First index of each module along DETY and DETZ.
const MODULE_Y: [usize; 2] = [0, 66];
const MODULE_Z: [usize; 4] = [0, 34, 68, 102];
const MODULE_WIDTH_Y: usize = 64;
const MODULE_WIDTH_Z: usize = 32;

fn module_axis(v: usize, starts: &[usize], width: usize) -> Option<usize> {
    starts.iter().position(|&s| v >= s && v < s + width)
}

/// The module (0–7) holding position (dety, detz), or `None` in a gap or off the grid.
pub fn module_of(dety: usize, detz: usize) -> Option<usize> {
    let y = module_axis(dety, &MODULE_Y, MODULE_WIDTH_Y)?;
    let z = module_axis(detz, &MODULE_Z, MODULE_WIDTH_Z)?;
    Some(y * MODULE_Z.len() + z)
}

/// True when (dety, detz) is in a gap between modules (or off the grid).
pub fn is_gap(dety: usize, detz: usize) -> bool {
    module_of(dety, detz).is_none()
}

/// Centre of position (dety, detz) in mm from the detector centre, along (Y, Z).
pub fn pixel_center_mm(dety: usize, detz: usize) -> (f64, f64) {
    (
        (dety as f64 - (N_DETY as f64 - 1.0) / 2.0) * PIXEL_PITCH_MM,
        (detz as f64 - (N_DETZ as f64 - 1.0) / 2.0) * PIXEL_PITCH_MM,
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
    fn layout_has_8_modules_of_2048_pixels() {
        let mut counts = [0usize; 8];
        for y in 0..N_DETY {
            for z in 0..N_DETZ {
                if let Some(m) = module_of(y, z) {
                    counts[m] += 1;
                }
            }
        }
        assert_eq!(counts, [2048; 8]);
        assert!(is_gap(64, 10) && is_gap(10, 33) && is_gap(10, 100) && !is_gap(129, 133));
        let (y, z) = pixel_center_mm(0, 0);
        assert!((y + 64.5 * 4.6).abs() < 1e-9 && (z + 66.5 * 4.6).abs() < 1e-9);
    }

    #[test]
    fn pixels_die_slowly() {
        let t2003 = crate::time::Time::from_isot("2003-01-01").unwrap();
        let t2019 = crate::time::Time::from_isot("2019-06-01").unwrap();
        let alive = |t| efficiency_map(t).sum() / N_PIXELS as f64;
        let (a, b) = (alive(t2003), alive(t2019));
        assert!((0.975..0.995).contains(&a), "{a}");
        assert!(b < a && (0.95..0.98).contains(&b), "{b}");
        // A dead pixel stays dead.
        let (d1, d2) = (dead_pixel_map(t2003), dead_pixel_map(t2019));
        assert!(d1.iter().zip(d2.iter()).all(|(x, y)| *x <= *y));
    }
}
