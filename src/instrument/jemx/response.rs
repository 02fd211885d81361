//! JEM-X's energy scale, resolution and effective area (see the module documentation of
//! [`super`] for sources).

use super::JemxUnit;

/// The PI scale's anchors: (PI channel edge, keV). *Cited*: PI 46 starts at 3.04 keV, 59 at
/// 4.12 keV, the xenon line 29.6 keV falls on PI 209, PI 223 ends at 34.88 keV. Between them the
/// scale is taken as piecewise linear (*assumed*); below PI 46 it is extended to 0 keV at PI 0
/// and above 224 with the last slope.
const PI_ANCHORS: [(f64, f64); 6] = [
    (0.0, 0.0),
    (46.0, 3.04),
    (59.0, 4.12),
    (209.5, 29.6),
    (224.0, 34.88),
    (256.0, 34.88 + 32.0 * (34.88 - 29.6) / 14.5),
];

/// Number of PI channels.
pub const N_PI: usize = 256;

/// First and last PI channels of the analysis band 3.04–34.88 keV (*cited*).
pub const PI_RANGE: (u16, u16) = (46, 223);

/// The 16 standard spectral channels' edges, keV (*cited*: OSA's JEM-X spectra).
pub const STANDARD_CHANNEL_EDGES_KEV: [f64; 17] = [
    3.04, 3.52, 4.08, 4.80, 5.52, 6.48, 7.52, 8.82, 10.24, 12.00, 13.92, 16.34, 18.94, 22.06,
    25.88, 30.20, 34.88,
];

/// Energy (keV) at PI position `pi` (a channel's lower edge for integer `pi`).
///
/// ```
/// use oda::instrument::jemx::{pi_energy_kev, pi_of_energy};
/// assert!((pi_energy_kev(46.0) - 3.04).abs() < 1e-12);
/// assert!((pi_energy_kev(224.0) - 34.88).abs() < 1e-12);
/// assert_eq!(pi_of_energy(29.6), 209);
/// ```
pub fn pi_energy_kev(pi: f64) -> f64 {
    let k = PI_ANCHORS
        .windows(2)
        .position(|w| pi < w[1].0)
        .unwrap_or(PI_ANCHORS.len() - 2);
    let ((p0, e0), (p1, e1)) = (PI_ANCHORS[k], PI_ANCHORS[k + 1]);
    e0 + (pi - p0) * (e1 - e0) / (p1 - p0)
}

/// The PI channel holding energy `e_kev` (clamped to 0–255).
pub fn pi_of_energy(e_kev: f64) -> u16 {
    let k = PI_ANCHORS
        .windows(2)
        .position(|w| e_kev < w[1].1)
        .unwrap_or(PI_ANCHORS.len() - 2);
    let ((p0, e0), (p1, e1)) = (PI_ANCHORS[k], PI_ANCHORS[k + 1]);
    let pi = p0 + (e_kev - e0) * (p1 - p0) / (e1 - e0);
    pi.floor().clamp(0.0, (N_PI - 1) as f64) as u16
}

/// Energy resolution, FWHM in keV: ΔE/E = 0.40·√(1/E + 1/60) (*cited* as 16 % at 7 keV and
/// 10 % at 20 keV; the formula itself is unconfirmed and gives 16.2 % and 10.3 %).
pub fn resolution_fwhm_kev(e_kev: f64) -> f64 {
    let e = e_kev.max(0.1);
    0.40 * (1.0 / e + 1.0 / 60.0).sqrt() * e
}

/// On-axis effective area, cm², of `unit` at `e_kev`: the mask's open fraction, the window, the
/// gas and the collimator's straight-through transmission included (*cited*: the real
/// responses' values at 3, 5, 10, 15, 20 and 30 keV for JEM-X1 and 3, 5, 10, 20, 30 keV for
/// JEM-X2), interpolated linearly in log E and extended with the last segment's slope to 35 keV
/// (*assumed*), never below 0.
///
/// ```
/// use oda::instrument::jemx::{JemxUnit, on_axis_area_cm2};
/// assert_eq!(on_axis_area_cm2(JemxUnit::Jmx1, 10.0), 64.0);
/// assert_eq!(on_axis_area_cm2(JemxUnit::Jmx2, 20.0), 53.0);
/// assert!(on_axis_area_cm2(JemxUnit::Jmx1, 34.0) < 24.0);
/// ```
pub fn on_axis_area_cm2(unit: JemxUnit, e_kev: f64) -> f64 {
    const JMX1: [(f64, f64); 6] = [
        (3.0, 29.0),
        (5.0, 54.0),
        (10.0, 64.0),
        (15.0, 62.0),
        (20.0, 49.0),
        (30.0, 24.0),
    ];
    const JMX2: [(f64, f64); 5] = [
        (3.0, 27.0),
        (5.0, 54.0),
        (10.0, 69.0),
        (20.0, 53.0),
        (30.0, 27.0),
    ];
    let points: &[(f64, f64)] = match unit {
        JemxUnit::Jmx1 => &JMX1,
        JemxUnit::Jmx2 => &JMX2,
    };
    let x = e_kev.max(1e-3).ln();
    let k = points
        .windows(2)
        .position(|w| e_kev < w[1].0)
        .unwrap_or(points.len() - 2);
    let ((e0, a0), (e1, a1)) = (points[k], points[k + 1]);
    let a = a0 + (x - e0.ln()) * (a1 - a0) / (e1.ln() - e0.ln());
    a.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pi_scale_is_monotonic_and_inverts() {
        let mut last = -1.0;
        for pi in 0..N_PI {
            let e = pi_energy_kev(pi as f64);
            assert!(e > last, "PI {pi}");
            last = e;
            // The middle of a channel maps back to it.
            let mid = pi_energy_kev(pi as f64 + 0.5);
            assert_eq!(pi_of_energy(mid), pi as u16);
        }
        assert_eq!(pi_of_energy(4.12), 59);
        // The standard channels' edges fall on PI edges within the scale's rounding.
        for e in STANDARD_CHANNEL_EDGES_KEV {
            let pi = pi_of_energy(e + 1e-9);
            assert!((pi_energy_kev(pi as f64) - e).abs() < 0.4, "{e}");
        }
    }

    #[test]
    fn resolution_matches_the_cited_points() {
        assert!((resolution_fwhm_kev(7.0) / 7.0 - 0.16).abs() < 0.005);
        assert!((resolution_fwhm_kev(20.0) / 20.0 - 0.10).abs() < 0.005);
    }

    #[test]
    fn a_crab_spectrum_folds_to_the_cited_rates() {
        // 10 E^-2.1 ph/cm²/s/keV through JEM-X1's on-axis area: ≈ 99 (3–10 keV), ≈ 25 (10–20),
        // ≈ 5–6 (20–35) cts/s (*derived* in the reference notes).
        let rate = |lo: f64, hi: f64| {
            let n = 2000;
            (0..n)
                .map(|i| {
                    let e = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
                    10.0 * e.powf(-2.1) * on_axis_area_cm2(JemxUnit::Jmx1, e) * (hi - lo) / n as f64
                })
                .sum::<f64>()
        };
        let (a, b, c) = (rate(3.0, 10.0), rate(10.0, 20.0), rate(20.0, 35.0));
        assert!((a / 99.0 - 1.0).abs() < 0.1, "{a}");
        assert!((b / 25.0 - 1.0).abs() < 0.1, "{b}");
        assert!((4.5..6.5).contains(&c), "{c}");
    }
}

/// JEM-X's response as an archive's calibration file holds it (`ic/jmxN/rsp/jmxN_rsp_mod.fits`):
/// the on-axis effective area and the energy resolution of one unit, tabulated against energy
/// and interpolated linearly between the rows; with the checksums of the files it was read
/// from, which enter the identity of every spectrum made with it.
///
/// ```
/// use oda::instrument::jemx::{JemxCalibration, JemxUnit, on_axis_area_cm2};
/// let design = JemxCalibration::design(JemxUnit::Jmx1);
/// let a = design.area_cm2(10.0);
/// assert!((a / on_axis_area_cm2(JemxUnit::Jmx1, 10.0) - 1.0).abs() < 1e-3);
/// assert_eq!(design.area_cm2(100.0), 0.0); // outside the table: no area
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct JemxCalibration {
    /// The unit.
    pub unit: JemxUnit,
    /// (energy keV, on-axis effective area cm²), energies increasing.
    pub area: Vec<(f64, f64)>,
    /// (energy keV, FWHM keV), energies increasing.
    pub resolution: Vec<(f64, f64)>,
    /// The files it was read from (none for the design's).
    pub files: Vec<crate::instrument::calibration::CalibrationFile>,
}

/// Rows of the design's tables: log-spaced from 1.5 to 60 keV, the response's true-energy range.
const DESIGN_ROWS: usize = 400;

impl JemxCalibration {
    /// The design's response of `unit` (the cited areas and resolution), tabulated: what the
    /// simulated archive writes.
    pub fn design(unit: JemxUnit) -> JemxCalibration {
        let energies: Vec<f64> = (0..=DESIGN_ROWS)
            .map(|i| 1.5 * (60.0f64 / 1.5).powf(i as f64 / DESIGN_ROWS as f64))
            .collect();
        JemxCalibration {
            unit,
            area: energies
                .iter()
                .map(|e| (*e, on_axis_area_cm2(unit, *e)))
                .collect(),
            resolution: energies
                .iter()
                .map(|e| (*e, resolution_fwhm_kev(*e)))
                .collect(),
            files: Vec::new(),
        }
    }

    /// The on-axis effective area at `e_kev`, cm² (0 outside the table).
    pub fn area_cm2(&self, e_kev: f64) -> f64 {
        interpolate(&self.area, e_kev).unwrap_or(0.0)
    }

    /// The energy resolution (FWHM) at `e_kev`, keV (the nearest row's outside the table).
    pub fn fwhm_kev(&self, e_kev: f64) -> f64 {
        interpolate(&self.resolution, e_kev)
            .or_else(|| {
                let first = self.resolution.first()?;
                let last = self.resolution.last()?;
                Some(if e_kev < first.0 { first.1 } else { last.1 })
            })
            .unwrap_or(0.0)
    }

    /// Checks the tables: at least two rows each, finite, energies increasing, areas ≥ 0,
    /// resolutions > 0. The message names the first problem.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, rows, positive) in [
            ("AREA", &self.area, false),
            ("FWHM", &self.resolution, true),
        ] {
            if rows.len() < 2 {
                return Err(format!("{name}: {} row(s), at least 2 needed", rows.len()));
            }
            for (k, (e, v)) in rows.iter().enumerate() {
                if !(e.is_finite() && *e > 0.0 && v.is_finite() && *v >= 0.0)
                    || (positive && *v <= 0.0)
                {
                    return Err(format!("{name}: row {} ({e} keV, {v}) is not valid", k + 1));
                }
                if k > 0 && *e <= rows[k - 1].0 {
                    return Err(format!("{name}: energies do not increase at row {}", k + 1));
                }
            }
        }
        Ok(())
    }
}

/// Linear interpolation in `rows` (energies increasing); `None` outside them.
fn interpolate(rows: &[(f64, f64)], e: f64) -> Option<f64> {
    let k = rows.partition_point(|r| r.0 <= e);
    if k == 0 || k == rows.len() && rows.last()?.0 < e {
        return None;
    }
    if k == rows.len() {
        return Some(rows[k - 1].1);
    }
    let (a, b) = (rows[k - 1], rows[k]);
    Some(a.1 + (b.1 - a.1) * (e - a.0) / (b.0 - a.0))
}
