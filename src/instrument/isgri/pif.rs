//! The pixel illumination fraction (PIF): how much of each pixel a source lights through the mask.
//!
//! For a source at off-axis tangents t = (tan θy, tan θz), the detector point d receives light if
//! the mask is open both at its top surface, d + (H + w/2)·t, and at its bottom surface,
//! d + (H − w/2)·t, where w is the mask thickness: the element walls vignette oblique rays,
//! which is the off-axis attenuation by the mask. Within one 4 mm pixel each surface has at most
//! one element edge per axis (elements are 11.2 mm), so the lit area is exact from at most 3 × 3
//! rectangles. The PIF is that lit fraction times cos θ, the foreshortening of the pixel area.
//! Outside the mask (and in the detector gaps) the PIF is 0.

use ndarray::Array2;

use super::{
    DetectorMap, MASK_DISTANCE_MM, MASK_ELEMENT_MM, MASK_THICKNESS_MM, Mask, N_DETY, N_DETZ,
    PIXEL_PITCH_MM, PIXEL_SIZE_MM, is_gap, pixel_center_mm,
};

/// Element edges of one mask surface falling strictly inside (a, b), shifted by `shift` mm.
fn edges_within(a: f64, b: f64, shift: f64, out: &mut Vec<f64>) {
    let h = Mask::half_size_mm();
    // Mask edges at −h + k·e project to detector coordinate −h + k·e − shift.
    let k0 = ((a + shift + h) / MASK_ELEMENT_MM).floor() as i64 + 1;
    let mut k = k0.max(0);
    loop {
        let x = -h + k as f64 * MASK_ELEMENT_MM - shift;
        if x >= b || k > super::MASK_ELEMENTS as i64 {
            break;
        }
        if x > a {
            out.push(x);
        }
        k += 1;
    }
}

/// Cuts [a, b] at the edges of both mask surfaces; returns the sorted breakpoints.
fn breakpoints(a: f64, b: f64, shift_top: f64, shift_bottom: f64) -> Vec<f64> {
    let mut v = vec![a, b];
    edges_within(a, b, shift_top, &mut v);
    edges_within(a, b, shift_bottom, &mut v);
    v.sort_by(f64::total_cmp);
    v
}

/// The PIF of a source at off-axis tangents (`tan_y`, `tan_z`), on the 130 × 134 grid.
///
/// Values lie in [0, cos θ]; on axis the mean over the detector is the mask's open fraction.
pub fn pif(mask: &Mask, tan_y: f64, tan_z: f64) -> DetectorMap {
    let top = MASK_DISTANCE_MM + MASK_THICKNESS_MM / 2.0;
    let bottom = MASK_DISTANCE_MM - MASK_THICKNESS_MM / 2.0;
    let (ty_top, tz_top) = (top * tan_y, top * tan_z);
    let (ty_bot, tz_bot) = (bottom * tan_y, bottom * tan_z);
    let cos_theta = 1.0 / (1.0 + tan_y * tan_y + tan_z * tan_z).sqrt();
    let half = PIXEL_SIZE_MM / 2.0;
    let area = PIXEL_SIZE_MM * PIXEL_SIZE_MM;
    // Early exit: no part of the detector can see the mask.
    let reach = Mask::half_size_mm() + (N_DETY.max(N_DETZ) as f64) * PIXEL_PITCH_MM / 2.0;
    if ty_bot.abs().min(ty_top.abs()) > reach || tz_bot.abs().min(tz_top.abs()) > reach {
        return Array2::zeros((N_DETY, N_DETZ));
    }
    let ycuts: Vec<Vec<f64>> = (0..N_DETY)
        .map(|y| {
            let (c, _) = pixel_center_mm(y, 0);
            breakpoints(c - half, c + half, ty_top, ty_bot)
        })
        .collect();
    let zcuts: Vec<Vec<f64>> = (0..N_DETZ)
        .map(|z| {
            let (_, c) = pixel_center_mm(0, z);
            breakpoints(c - half, c + half, tz_top, tz_bot)
        })
        .collect();
    Array2::from_shape_fn((N_DETY, N_DETZ), |(y, z)| {
        if is_gap(y, z) {
            return 0.0;
        }
        let mut lit = 0.0;
        for yw in ycuts[y].windows(2) {
            let ym = 0.5 * (yw[0] + yw[1]);
            for zw in zcuts[z].windows(2) {
                let zm = 0.5 * (zw[0] + zw[1]);
                if mask.is_open_at_mm(ym + ty_top, zm + tz_top)
                    && mask.is_open_at_mm(ym + ty_bot, zm + tz_bot)
                {
                    lit += (yw[1] - yw[0]) * (zw[1] - zw[0]);
                }
            }
        }
        (lit / area).min(1.0) * cos_theta
    })
}

/// Half-angle (degrees, along a detector axis) within which a source is fully coded:
/// the whole detector sees the mask.
pub fn fully_coded_half_angle() -> f64 {
    let det_half = N_DETZ as f64 * PIXEL_PITCH_MM / 2.0;
    ((Mask::half_size_mm() - det_half) / MASK_DISTANCE_MM)
        .atan()
        .to_degrees()
}

/// Half-angle (degrees, along a detector axis) beyond which no pixel sees the mask.
pub fn zero_response_half_angle() -> f64 {
    let det_half = N_DETZ as f64 * PIXEL_PITCH_MM / 2.0;
    ((Mask::half_size_mm() + det_half) / MASK_DISTANCE_MM)
        .atan()
        .to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri::N_PIXELS;

    fn mean_over_pixels(m: &DetectorMap) -> f64 {
        m.sum() / N_PIXELS as f64
    }

    /// Slow oracle: the lit fraction by brute-force sampling of each pixel on a fine grid.
    fn pif_sampled(mask: &Mask, ty: f64, tz: f64, y: usize, z: usize, n: usize) -> f64 {
        let (cy, cz) = pixel_center_mm(y, z);
        let top = MASK_DISTANCE_MM + MASK_THICKNESS_MM / 2.0;
        let bottom = MASK_DISTANCE_MM - MASK_THICKNESS_MM / 2.0;
        let mut lit = 0;
        for i in 0..n {
            for j in 0..n {
                let py = cy - 2.0 + 4.0 * (i as f64 + 0.5) / n as f64;
                let pz = cz - 2.0 + 4.0 * (j as f64 + 0.5) / n as f64;
                if mask.is_open_at_mm(py + top * ty, pz + top * tz)
                    && mask.is_open_at_mm(py + bottom * ty, pz + bottom * tz)
                {
                    lit += 1;
                }
            }
        }
        lit as f64 / (n * n) as f64 / (1.0 + ty * ty + tz * tz).sqrt()
    }

    #[test]
    fn on_axis_mean_is_the_open_fraction() {
        let mask = Mask::isgri();
        let p = pif(&mask, 0.0, 0.0);
        assert!((mean_over_pixels(&p) - mask.open_fraction()).abs() < 0.01);
        assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Fully coded off axis: still close to the open fraction, reduced by walls and cos θ.
        let t = 3.0f64.to_radians().tan();
        let q = mean_over_pixels(&pif(&mask, t, 0.0));
        assert!(q < mean_over_pixels(&p) && q > 0.45, "{q}");
    }

    #[test]
    fn outside_the_field_of_view_is_zero() {
        let mask = Mask::isgri();
        for deg in [15.0f64, 20.0, 45.0] {
            let t = deg.to_radians().tan();
            assert_eq!(pif(&mask, t, 0.0).sum(), 0.0, "{deg}");
            assert_eq!(pif(&mask, 0.0, -t).sum(), 0.0, "{deg}");
        }
        assert!((fully_coded_half_angle() - 4.1).abs() < 0.2);
        assert!((zero_response_half_angle() - 14.6).abs() < 0.2);
        // Partially coded: half way out the response is roughly half.
        let t = (fully_coded_half_angle() + zero_response_half_angle()) / 2.0;
        let f = mean_over_pixels(&pif(&mask, t.to_radians().tan(), 0.0)) / mask.open_fraction();
        assert!((0.35..0.55).contains(&f), "{f}");
    }

    #[test]
    fn exact_overlap_matches_brute_force() {
        let mask = Mask::isgri();
        for (ty, tz) in [(0.0, 0.0), (0.0123, -0.0456), (-0.1, 0.07), (0.2, 0.15)] {
            let p = pif(&mask, ty, tz);
            for (y, z) in [(3, 5), (40, 99), (77, 17), (129, 133), (66, 68), (100, 35)] {
                let oracle = pif_sampled(&mask, ty, tz, y, z, 200);
                assert!(
                    (p[[y, z]] - oracle).abs() < 0.011,
                    "{ty} {tz} {y} {z}: {} vs {oracle}",
                    p[[y, z]]
                );
            }
        }
    }

    #[test]
    fn mirrored_directions_give_mirrored_shadows() {
        // The detector grid (and its gaps) is symmetric under y → 129 − y, z → 133 − z. With a
        // mask symmetric about its centre, a source at −t must cast the mirror image of the
        // shadow of a source at +t.
        let checker = Mask::from_fn(|i, j| (i / 3 + j / 2) % 2 == 0 && i != 40);
        let mirrored = Mask::from_fn(|i, j| {
            let (i, j) = (
                super::super::MASK_ELEMENTS - 1 - i,
                super::super::MASK_ELEMENTS - 1 - j,
            );
            (i / 3 + j / 2) % 2 == 0 && i != 40
        });
        for (ty, tz) in [(0.0, 0.0), (0.031, -0.012), (0.15, 0.09)] {
            let a = pif(&checker, ty, tz);
            let b = pif(&mirrored, -ty, -tz);
            for y in 0..N_DETY {
                for z in 0..N_DETZ {
                    assert!((a[[y, z]] - b[[N_DETY - 1 - y, N_DETZ - 1 - z]]).abs() < 1e-9);
                }
            }
        }
        // On the real mask the totals for ±t agree closely (the MURA is nearly centro-symmetric).
        let mask = Mask::isgri();
        let t = 0.03;
        let (a, c) = (pif(&mask, t, 0.0).sum(), pif(&mask, -t, 0.0).sum());
        assert!((a - c).abs() / a < 0.02, "{a} {c}");
    }
}
