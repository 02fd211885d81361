//! JEM-X, the Joint European X-ray Monitor: two identical coded-mask telescopes (JEM-X1 and
//! JEM-X2) seeing 3–35 keV beside ISGRI, each a microstrip xenon gas chamber under a hexagonal
//! mask 3.4 m above it (Lund et al. 2003, A&A 411, L231; the OSA JEM-X manuals).
//!
//! What differs from ISGRI, and how it enters the common code:
//! - **the mask** is a hexagonal uniformly redundant array (HURA) of 22 501 elements of
//!   3.3 mm, 25 % open ([`Hura`]); the coded-mask seam takes masks of square elements, so the
//!   pattern is rasterised on square cells of a third of an element (1.1 mm, [`RASTER_MM`]): a
//!   cell is open when its centre lies in an open hexagon;
//! - **the detector** records continuous positions (DETX/DETY, mm from the centre), binned for
//!   imaging on the same 1.1 mm grid over the sensitive disc ([`DETECTOR_RADIUS_MM`]);
//! - **a collimator** of square molybdenum cells (7.06 mm pitch) in front of the detector
//!   attenuates off-axis sources ([`collimator_transmission`]) on top of the mask's partial
//!   coding: the seam's [`Collimator`], part of the geometry, so the pixel illumination, the
//!   fits and the decoded images include it;
//! - **energies** are a gas detector's: 256 PI channels ([`pi_energy_kev`]), a resolution of
//!   16 % at 7 keV ([`resolution_fwhm_kev`]), spectra in 16 standard channels
//!   ([`STANDARD_CHANNEL_EDGES_KEV`]);
//! - **the two units** were not always both on ([`units_on`]).
//!
//! Values marked *cited* come from those papers, the OSA manuals and real product files
//! (`../shared/reference/instruments.md` in the project's notes); *assumed* and *derived* ones are
//! this project's, named as such and kept in this module.
//!
//! ```
//! use oda::instrument::jemx::{self, JemxUnit};
//! let g = jemx::geometry(JemxUnit::Jmx1);
//! assert!((jemx::hura().open_fraction() - 0.25).abs() < 0.001);
//! // The raster keeps the open area: 5625 hexagons of (√3/2)·3.3² mm².
//! let (n, _) = g.mask().elements();
//! let open_mm2 = g.mask().open_fraction() * (n * n) as f64 * jemx::RASTER_MM.powi(2);
//! assert!((open_mm2 / (5625.0 * 0.75f64.sqrt() * 3.3 * 3.3) - 1.0).abs() < 0.01);
//! // The field: fully coded within ~2.4°; the collimator closes at 6.6° (13.2° across, cited).
//! assert!((g.fully_coded_half_angle() - 2.4).abs() < 0.4);
//! assert_eq!(jemx::collimator_transmission(6.61f64.to_radians().tan(), 0.0), 0.0);
//! # Ok::<(), oda::Error>(())
//! ```

mod mask;
mod response;

use std::sync::{Arc, OnceLock};

use ndarray::Array2;

pub use mask::{HURA_ORDER, Hura, nearest_cell};
pub use response::{
    JemxCalibration, N_PI, PI_RANGE, STANDARD_CHANNEL_EDGES_KEV, on_axis_area_cm2, pi_energy_kev,
    pi_of_energy, resolution_fwhm_kev,
};

use super::calibration::{ImagingCalibration, LocationErrorLaw};
use super::coded_mask::{CodedMaskGeometry, Collimator, DetectorGrid, Mask};
use crate::error::{Error, Result};
use crate::time::{Time, revolution_start};

/// Energy range accepted in requests, keV (ODA's limits for JEM-X, *cited*).
pub const BAND_LIMITS_KEV: (f64, f64) = (3.0, 35.0);
/// Default request band, keV (ODA's, *cited*).
pub const DEFAULT_BAND_KEV: (f64, f64) = (3.0, 20.0);
/// Mask element: the distance between neighbouring hexagons' centres, mm (*cited*: 3.3 mm).
pub const MASK_ELEMENT_MM: f64 = 3.3;
/// Mask thickness (tungsten), mm (*cited*).
pub const MASK_THICKNESS_MM: f64 = 0.5;
/// Mask to detector distance, mm (*cited*: 3401 mm).
pub const MASK_DISTANCE_MM: f64 = 3401.0;
/// Square cells the mask and the detector are sampled on, mm: a third of an element
/// (*assumed*: fine enough that the hexagons' edges blur the 3.3′ response by < 0.4′).
pub const RASTER_MM: f64 = MASK_ELEMENT_MM / 3.0;
/// Radius of the detector's sensitive disc, mm (*derived*: 500 cm² per unit, cited).
pub const DETECTOR_RADIUS_MM: f64 = 126.0;
/// Radius OSA uses for detector spectra, mm (*cited*).
pub const SPECTRUM_RADIUS_MM: f64 = 105.0;
/// Pitch of the collimator's square cells, mm (*cited*).
pub const COLLIMATOR_PITCH_MM: f64 = 7.06;
/// Height of the collimator, mm (*derived*: its response reaches zero at 6.6° from the axis
/// along a cell side, the cited zero-response field of 13.2° across, and with the mask's coded
/// fraction it leaves 0.30 of the on-axis response at 3.74°, the VIGNET of the real Crab light
/// curve `jemx1_crab_lc.fits.gz`; see the tests).
pub const COLLIMATOR_HEIGHT_MM: f64 = 61.0;
/// Time resolution of the events, s (*cited*: 1/8192 s).
pub const TIME_RESOLUTION_S: f64 = 1.0 / 8192.0;
/// Dead time after each event, s (*cited*: ≥ 180 µs).
pub const DEAD_TIME_S: f64 = 180e-6;
/// Revolution from which JEM-X1 was the unit in use (*cited*: "about revolution 170").
pub const JMX1_PRIME_FROM_REVOLUTION: u32 = 170;
/// Start of routine operation of both units (*assumed*: the reference says both were on in 2018
/// and later; the start date is unconfirmed).
pub const DUAL_OPERATION_FROM: &str = "2018-01-01";

/// One of the two JEM-X units.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum JemxUnit {
    /// JEM-X1.
    Jmx1,
    /// JEM-X2.
    Jmx2,
}

impl JemxUnit {
    /// The unit of ODA's `jemx_num` (1 or 2).
    ///
    /// # Errors
    /// Any other number, named as `jemx_num`.
    pub fn from_number(n: u8) -> Result<JemxUnit> {
        match n {
            1 => Ok(JemxUnit::Jmx1),
            2 => Ok(JemxUnit::Jmx2),
            _ => Err(Error::invalid("jemx_num", n, "1 or 2 (JEM-X1 or JEM-X2)")),
        }
    }

    /// 1 or 2.
    pub fn number(&self) -> u8 {
        match self {
            JemxUnit::Jmx1 => 1,
            JemxUnit::Jmx2 => 2,
        }
    }

    /// The unit's name in file and extension names: `JMX1`, `JMX2`.
    pub fn name(&self) -> &'static str {
        match self {
            JemxUnit::Jmx1 => "JMX1",
            JemxUnit::Jmx2 => "JMX2",
        }
    }

    /// The events file in a ScW directory: `jmx1_events.fits`, `jmx2_events.fits`.
    pub fn events_file(&self) -> &'static str {
        match self {
            JemxUnit::Jmx1 => "jmx1_events.fits",
            JemxUnit::Jmx2 => "jmx2_events.fits",
        }
    }
}

impl std::fmt::Display for JemxUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JEM-X{}", self.number())
    }
}

/// The units recording data at `t`: JEM-X2 until revolution 170, JEM-X1 from then, both from
/// 2018 (see [`JMX1_PRIME_FROM_REVOLUTION`], [`DUAL_OPERATION_FROM`]).
///
/// ```
/// use oda::instrument::jemx::{JemxUnit, units_on};
/// use oda::time::Time;
/// assert_eq!(units_on(Time::from_isot("2003-06-01")?), vec![JemxUnit::Jmx2]);
/// assert_eq!(units_on(Time::from_isot("2010-06-01")?), vec![JemxUnit::Jmx1]);
/// assert_eq!(units_on(Time::from_isot("2019-06-01")?), vec![JemxUnit::Jmx1, JemxUnit::Jmx2]);
/// # Ok::<(), oda::Error>(())
/// ```
pub fn units_on(t: Time) -> Vec<JemxUnit> {
    let dual = Time::from_isot(DUAL_OPERATION_FROM).is_ok_and(|d| t >= d);
    if dual {
        vec![JemxUnit::Jmx1, JemxUnit::Jmx2]
    } else if t >= revolution_start(JMX1_PRIME_FROM_REVOLUTION) {
        vec![JemxUnit::Jmx1]
    } else {
        vec![JemxUnit::Jmx2]
    }
}

/// JEM-X's collimator: square cells of [`COLLIMATOR_PITCH_MM`] and [`COLLIMATOR_HEIGHT_MM`]
/// (thin walls, *assumed*). Part of the unit's [`geometry`]: its pixel illumination includes it.
pub const COLLIMATOR: Collimator = Collimator {
    pitch_mm: COLLIMATOR_PITCH_MM,
    height_mm: COLLIMATOR_HEIGHT_MM,
};

/// JEM-X's imaging calibration, on the 1.1 mm (1.11′) image pixels:
/// - the clean PSF: σ = 1.1 px (the decoded point source's FWHM of 2.6 px, measured in the
///   decoder's tests, over 2.355);
/// - in mosaics of uncleaned sources: σ = 1.25 px and peak 0.85 per unit rate (*assumed* by
///   ISGRI's widening through the bilinear resampling; to be measured on JEM-X mosaics);
/// - the noise correlation of decoded images, s² = 0.97 px² (*measured* on a simulated empty
///   field: ρ = 0.60 between side neighbours in the fully coded field, tests/jemx.rs);
/// - the 90 % location error r90 = 3.3′·S^−0.95 + 0.02′ (*measured*: single-ScW images of
///   point sources of 0.8–20 % of the Crab within 2° of the axis, 6–160σ, tests/jemx_location.rs;
///   ISGRI's law's slope);
/// - mosaics reach 7° beyond the farthest pointing (the collimator closes at 6.6°).
pub fn imaging_calibration() -> ImagingCalibration {
    ImagingCalibration {
        band_limits_kev: BAND_LIMITS_KEV,
        psf_sigma_px: 1.1,
        mosaic_psf_sigma_px: 1.25,
        mosaic_psf_peak: 0.85,
        location_error: LocationErrorLaw {
            scale_arcmin: 3.3,
            slope: -0.95,
            floor_arcmin: 0.02,
        },
        noise_correlation_px2: 0.97,
        field_margin_deg: 7.0,
    }
}

/// Transmission of the collimator for a source at off-axis tangents (tan θy, tan θz): square
/// cells of pitch p and height h pass (1 − h·|tan θy|/p)·(1 − h·|tan θz|/p) of the flux, zero
/// beyond tan θ = p/h.
pub fn collimator_transmission(tan_y: f64, tan_z: f64) -> f64 {
    COLLIMATOR.transmission(tan_y, tan_z)
}

/// The HURA of JEM-X's mask, built once.
pub fn hura() -> &'static Hura {
    static H: OnceLock<Hura> = OnceLock::new();
    H.get_or_init(|| match Hura::new(HURA_ORDER) {
        Some(h) => h,
        // The order is this module's constant, checked by its tests.
        None => unreachable!("{HURA_ORDER} is the order of a biquadratic-residue HURA"),
    })
}

/// The detector's sensitive disc on the 1.1 mm imaging grid: 1 where a cell's centre lies
/// within [`DETECTOR_RADIUS_MM`].
pub fn detector_layout() -> Array2<f64> {
    let n = (2.0 * DETECTOR_RADIUS_MM / RASTER_MM).ceil() as usize;
    let c = (n as f64 - 1.0) / 2.0;
    Array2::from_shape_fn((n, n), |(y, z)| {
        let (dy, dz) = ((y as f64 - c) * RASTER_MM, (z as f64 - c) * RASTER_MM);
        if dy.hypot(dz) <= DETECTOR_RADIUS_MM {
            1.0
        } else {
            0.0
        }
    })
}

/// The mask rasterised on square cells of [`RASTER_MM`]: a cell is open when its centre lies
/// in an open hexagon.
///
/// # Errors
/// None for JEM-X's constants (the seam's checks on the sizes).
pub fn raster_mask() -> Result<Mask> {
    let h = hura();
    let reach = (h.radius_cells() + 1.0) * MASK_ELEMENT_MM;
    let n = (2.0 * reach / RASTER_MM).ceil() as usize;
    let half = n as f64 * RASTER_MM / 2.0;
    Mask::from_fn(n, n, RASTER_MM, |i, j| {
        let y = -half + (i as f64 + 0.5) * RASTER_MM;
        let z = -half + (j as f64 + 0.5) * RASTER_MM;
        h.is_open_at(y / MASK_ELEMENT_MM, z / MASK_ELEMENT_MM)
    })
}

/// A JEM-X unit's telescope as the coded-mask seam describes it (both units share the design;
/// they differ in name, hence in digest). Built once per unit and shared.
pub fn geometry(unit: JemxUnit) -> Arc<CodedMaskGeometry> {
    static G: OnceLock<[Arc<CodedMaskGeometry>; 2]> = OnceLock::new();
    let both = G.get_or_init(|| {
        let build = |unit: JemxUnit| -> Result<CodedMaskGeometry> {
            let detector = DetectorGrid::new(RASTER_MM, RASTER_MM, detector_layout())?;
            CodedMaskGeometry::new(
                &unit.to_string(),
                detector,
                raster_mask()?,
                MASK_DISTANCE_MM,
                MASK_THICKNESS_MM,
            )?
            .with_collimator(COLLIMATOR)
        };
        match (build(JemxUnit::Jmx1), build(JemxUnit::Jmx2)) {
            (Ok(a), Ok(b)) => [Arc::new(a), Arc::new(b)],
            // The inputs are this module's constants, checked by its tests.
            (Err(e), _) | (_, Err(e)) => unreachable!("JEM-X's design constants: {e}"),
        }
    });
    match unit {
        JemxUnit::Jmx1 => both[0].clone(),
        JemxUnit::Jmx2 => both[1].clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raster_keeps_the_hura() {
        let g = geometry(JemxUnit::Jmx1);
        let m = g.mask();
        // Most cells' centres fall in the hexagon of their own raster cell's centre.
        let h = hura();
        let (ny, _) = m.elements();
        let half = ny as f64 * RASTER_MM / 2.0;
        let mut agree = 0;
        for i in (0..ny).step_by(7) {
            for j in (0..ny).step_by(7) {
                let (y, z) = (
                    -half + (i as f64 + 0.5) * RASTER_MM,
                    -half + (j as f64 + 0.5) * RASTER_MM,
                );
                agree += usize::from(m.is_open_at_mm(y, z) == h.is_open_at(y / 3.3, z / 3.3));
            }
        }
        let total = ny.div_ceil(7).pow(2);
        assert_eq!(agree, total);
        // The sensitive disc: 500 cm² within 1 %.
        let area = g.detector().n_pixels() as f64 * RASTER_MM * RASTER_MM / 100.0;
        assert!((area / 500.0 - 1.0).abs() < 0.01, "{area}");
        assert!(g.fully_coded_half_angle() > 2.0 && g.fully_coded_half_angle() < 2.8);
    }

    #[test]
    fn collimator_and_coding_leave_the_cited_vignetting_at_3_74_degrees() {
        // The real JEM-X1 Crab light curve: VIGNET = 0.304 at 3.739° off axis (azimuth unknown).
        let g = geometry(JemxUnit::Jmx1);
        let on_axis = g.pif(0.0, 0.0).sum();
        let t = 3.739f64.to_radians().tan();
        for azimuth in [0.0f64, 30.0, 45.0] {
            let (ty, tz) = (
                t * azimuth.to_radians().cos(),
                t * azimuth.to_radians().sin(),
            );
            // The illumination includes the collimator.
            let v = g.pif(ty, tz).sum() / on_axis;
            let coded = v / collimator_transmission(ty, tz);
            assert!(
                (0.2..0.42).contains(&v),
                "azimuth {azimuth}: coded {coded}, vignetting {v}"
            );
        }
        assert_eq!(collimator_transmission(0.0, 0.0), 1.0);
        assert_eq!(collimator_transmission(6.7f64.to_radians().tan(), 0.0), 0.0);
    }

    #[test]
    fn units_and_their_numbers() {
        assert_eq!(JemxUnit::from_number(2).unwrap(), JemxUnit::Jmx2);
        let e = JemxUnit::from_number(3).unwrap_err();
        assert_eq!(e.parameter(), Some("jemx_num"));
        assert_eq!(JemxUnit::Jmx1.events_file(), "jmx1_events.fits");
        assert_eq!(JemxUnit::Jmx2.to_string(), "JEM-X2");
        assert_ne!(
            geometry(JemxUnit::Jmx1).digest(),
            geometry(JemxUnit::Jmx2).digest()
        );
    }
}
