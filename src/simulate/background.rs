//! The ISGRI instrumental background: its spectrum, its spatial structure and its slow drifts.
//!
//! Most ISGRI counts are background: cosmic-ray induced continuum plus fluorescence lines of
//! the tungsten mask and the lead shield, and the 511 keV annihilation line. The spectrum is
//! defined in measured energy (before the threshold), for the whole 16 384-pixel detector per
//! live second. Its normalisation reproduces the noise of a real Science Window: σ ≈ 1.02 cts/s
//! on axis in 25–80 keV for 1215 s, i.e. ≈ 1.26 × 10³ cts/s in that band (*cited*, derived).
//! The spatial map (module to module differences, brighter module edges, a gentle gradient)
//! is what the analysis removes by background flat-fielding.

use std::sync::OnceLock;

use ndarray::Array2;

use crate::instrument::isgri::{DetectorMap, N_DETY, N_DETZ, N_PIXELS, is_gap, module_of};
use crate::time::Time;

/// Background rate in 25–80 keV over the whole detector, cts/s per live second (*derived*).
pub const RATE_25_80_KEV: f64 = 1.26e3;

/// Emission lines: (energy keV, rate cts/s at reference level) (*assumed* strengths).
const LINES: [(f64, f64); 6] = [
    (57.98, 30.0), // W Kα2
    (59.32, 52.0), // W Kα1
    (67.2, 22.0),  // W Kβ
    (74.97, 14.0), // Pb Kα1
    (84.9, 6.0),   // Pb Kβ
    (511.0, 10.0), // annihilation
];
/// Continuum shape: rate density ∝ (E/50)^−SLOPE · exp(−E/FOLD).
const CONTINUUM_SLOPE: f64 = 1.2;
const CONTINUUM_FOLD_KEV: f64 = 200.0;
/// Relative amplitude of the solar-cycle modulation (background is highest at solar minimum).
const SOLAR_CYCLE_AMPLITUDE: f64 = 0.10;
/// A solar minimum (fractional year) and the cycle length, years.
const SOLAR_MINIMUM_YEAR: f64 = 2008.9;
const SOLAR_CYCLE_YEARS: f64 = 11.0;
/// Relative background level of each of the 8 modules (*assumed*).
const MODULE_LEVEL: [f64; 8] = [1.03, 0.97, 1.01, 0.99, 1.05, 0.96, 1.00, 0.99];
/// Extra background of pixels on a module edge (*assumed*).
const EDGE_EXCESS: f64 = 0.12;
/// Linear gradient across DETY, relative, end to end (*assumed*).
const GRADIENT: f64 = 0.06;

/// The ISGRI background model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Background;

fn continuum_shape(e: f64) -> f64 {
    (e / 50.0).powf(-CONTINUUM_SLOPE) * (-e / CONTINUUM_FOLD_KEV).exp()
}

/// ∫ continuum_shape over [a, b] (Simpson's rule on a log grid).
fn continuum_integral(a: f64, b: f64) -> f64 {
    let n = 400;
    let (la, lb) = (a.ln(), b.ln());
    let h = (lb - la) / n as f64;
    let f = |i: usize| {
        let e = (la + i as f64 * h).exp();
        continuum_shape(e) * e
    };
    let mut s = f(0) + f(n);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i);
    }
    s * h / 3.0
}

impl Background {
    /// Continuum normalisation such that continuum + lines give [`RATE_25_80_KEV`] in 25–80 keV.
    fn continuum_norm() -> f64 {
        static K: OnceLock<f64> = OnceLock::new();
        *K.get_or_init(|| {
            let lines: f64 = LINES
                .iter()
                .filter(|(e, _)| (25.0..80.0).contains(e))
                .map(|(_, r)| r)
                .sum();
            (RATE_25_80_KEV - lines) / continuum_integral(25.0, 80.0)
        })
    }

    /// The continuum rate density at measured energy `e_kev`, cts/s/keV (reference level).
    pub fn continuum(e_kev: f64) -> f64 {
        Background::continuum_norm() * continuum_shape(e_kev)
    }

    /// The emission lines: (energy keV, rate cts/s at reference level).
    pub fn lines() -> &'static [(f64, f64)] {
        &LINES
    }

    /// Total rate (continuum and lines) with measured energy in [e1, e2), reference level,
    /// before the threshold.
    pub fn rate(e1: f64, e2: f64) -> f64 {
        let lines: f64 = LINES
            .iter()
            .filter(|(e, _)| (e1..e2).contains(e))
            .map(|(_, r)| r)
            .sum();
        Background::continuum_norm() * continuum_integral(e1, e2) + lines
    }

    /// The background level at `t` relative to the reference (solar-cycle modulation).
    pub fn level(t: Time) -> f64 {
        let phase = (t.year() - SOLAR_MINIMUM_YEAR) / SOLAR_CYCLE_YEARS * std::f64::consts::TAU;
        1.0 + SOLAR_CYCLE_AMPLITUDE * phase.cos()
    }

    /// Relative background per detector position: mean 1 over the 16 384 pixels, 0 in gaps.
    pub fn spatial_map() -> &'static DetectorMap {
        static MAP: OnceLock<DetectorMap> = OnceLock::new();
        MAP.get_or_init(|| {
            let raw = Array2::from_shape_fn((N_DETY, N_DETZ), |(y, z)| {
                let Some(m) = module_of(y, z) else { return 0.0 };
                let edge = [
                    (y.wrapping_sub(1), z),
                    (y + 1, z),
                    (y, z.wrapping_sub(1)),
                    (y, z + 1),
                ]
                .iter()
                .any(|&(a, b)| a >= N_DETY || b >= N_DETZ || is_gap(a, b));
                let gradient = 1.0 + GRADIENT * (y as f64 / (N_DETY - 1) as f64 - 0.5);
                MODULE_LEVEL[m] * gradient * if edge { 1.0 + EDGE_EXCESS } else { 1.0 }
            });
            let mean = raw.sum() / N_PIXELS as f64;
            raw / mean
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_rate_matches_the_noise_target() {
        assert!((Background::rate(25.0, 80.0) / RATE_25_80_KEV - 1.0).abs() < 1e-9);
        // σ² = R/T on axis: a 1215 s live exposure gives σ ≈ 1.02 cts/s.
        let sigma = (RATE_25_80_KEV / 1215.0).sqrt();
        assert!((sigma - 1.02).abs() < 0.01, "{sigma}");
        // The spectrum falls with energy and the lines stand out.
        assert!(Background::continuum(30.0) > Background::continuum(100.0));
        assert!(Background::rate(58.0, 60.0) > 1.5 * Background::rate(40.0, 42.0));
    }

    #[test]
    fn spatial_map_has_unit_mean_and_structure() {
        let m = Background::spatial_map();
        assert!((m.sum() / N_PIXELS as f64 - 1.0).abs() < 1e-12);
        assert_eq!(m[[64, 10]], 0.0);
        assert!(m[[63, 10]] > m[[60, 10]]); // module edge
        let (lo, hi) = m
            .iter()
            .filter(|v| **v > 0.0)
            .fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
        assert!(lo > 0.85 && hi < 1.3, "{lo} {hi}");
    }

    #[test]
    fn solar_cycle_modulation() {
        let min = Background::level(Time::from_isot("2008-12-01").unwrap());
        let max = Background::level(Time::from_isot("2014-06-01").unwrap());
        assert!(min > 1.09 && max < 0.91);
    }
}
