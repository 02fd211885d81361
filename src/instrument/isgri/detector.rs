//! The ISGRI detector plane: 8 modules of 64 × 32 CdTe pixels and the dead gaps between them.
//!
//! Module layout on the 130 × 134 (DETY × DETZ) grid: DETY 0–63 and 66–129 (gap 64–65);
//! DETZ 0–31, 34–65, 68–99 and 102–133 (gaps of two pixel widths, *assumed*).
//! Which pixels are dead, and since when, is calibration (read from the archive's calibration
//! files and from each Science Window's own events), not design.

use ndarray::Array2;

use super::{N_DETY, N_DETZ, PIXEL_PITCH_MM};

pub use crate::instrument::coded_mask::DetectorMap;

/// The layout's own efficiency: 1 on every pixel, 0 in the gaps between modules.
pub fn layout_map() -> DetectorMap {
    Array2::from_shape_fn(
        (N_DETY, N_DETZ),
        |(y, z)| if is_gap(y, z) { 0.0 } else { 1.0 },
    )
}

/// Nominal dead-time correction factor, the live fraction (*cited*: dead time ~0.3).
pub const NOMINAL_DEADC: f64 = 0.70;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
