//! IBIS/ISGRI as designed: the coded mask, the CdTe detector plane, the pixel illumination and
//! the rate convention. What changes with time or must be measured — dead pixels, background
//! maps, gain, threshold, resolution, effective area — is calibration, read from the archive
//! ([`crate::instrument::calibration`]).
//!
//! All design numbers live here as named constants. Values marked *cited* come from the
//! instrument papers and the OSA IBIS user manual; *assumed* values are reasonable choices that
//! no public source pins down, kept here so they can be revised in one place.
//!
//! Geometry conventions: the detector plane is indexed by (DETY, DETZ) on a 130 × 134 grid of
//! 4.6 mm pitch that includes the dead gaps between the 8 modules; millimetre coordinates are
//! measured from the detector centre along the spacecraft Y and Z axes. The mask lies a distance
//! H above, centred on the same axis; a source at off-axis tangents (tan θy, tan θz) lights the
//! detector point d through the mask point d + H·tan θ.

mod detector;
mod mask;
mod response;

use std::sync::{Arc, OnceLock};

pub use detector::{DetectorMap, NOMINAL_DEADC, is_gap, layout_map, module_of, pixel_center_mm};
pub use response::{OSA11_RATE_SCALE, on_axis_open_fraction, rate_scale};

use super::calibration::{ImagingCalibration, LocationErrorLaw};
use super::coded_mask::{CodedMaskGeometry, DetectorGrid};

/// Energy range accepted in requests, keV (ODA's limits for ISGRI).
pub const BAND_LIMITS_KEV: (f64, f64) = (15.0, 800.0);

/// ISGRI's imaging calibration:
/// - the clean PSF of cleaned ScW images: σ = 1.03 image pixels (12′ FWHM / 4.94′ / 2.355);
/// - a point source the images were not cleaned of, in a mosaic: the decoded PSF (Gaussian fit
///   σ = 1.125 px, peak 1.075 × the rate, on average over sub-pixel positions) widened by the
///   bilinear resampling (second moment 1/6 px² per axis), measured on mosaics of the simulated
///   Crab, 8 × 4 ScWs up to 5° off axis, not cleaned: σ = 1.19 ± 0.01 px and peak 0.94 ± 0.01
///   per unit rate against the Crab's single-ScW PIF fits (1.075 × 1.125²/1.19² = 0.96 if the
///   fits were exactly flux-conserving);
/// - the noise correlation of decoded images, s² = 1.28 px²: balanced cross-correlation makes it
///   the shape of the point-spread function (σ ≈ 1.13 px before cleaning); measured on empty-sky
///   images, ρ = 0.675 for side neighbours, 0.455 for diagonal ones and 0.21 two pixels apart
///   (s² = 1.28 gives 0.677, 0.458, 0.21), the same within 0.005 from 17 to 100 keV, in
///   2006–2016, and in the fully and partially coded field;
/// - mosaics reach 15.5° beyond the farthest pointing (the partially coded field ends at 14.6°
///   along the detector's longer axis);
/// - the 90 % location error r90 = 22.1′·S^−0.95 + 0.16′ (*cited*: the IBIS point-source
///   location accuracy, Gros et al. 2003, A&A 411, L179; 2.7′ at 10σ).
pub fn imaging_calibration() -> ImagingCalibration {
    ImagingCalibration {
        band_limits_kev: BAND_LIMITS_KEV,
        psf_sigma_px: 1.03,
        mosaic_psf_sigma_px: 1.19,
        mosaic_psf_peak: 0.94,
        location_error: LocationErrorLaw {
            scale_arcmin: 22.1,
            slope: -0.95,
            floor_arcmin: 0.16,
        },
        noise_correlation_px2: 1.28,
        field_margin_deg: 15.5,
    }
}

/// The IBIS/ISGRI telescope as designed: the 130 × 134 detector grid of 4.6 mm pitch with its
/// module gaps, the 95 × 95 tiled MURA of 11.2 mm elements, 16 mm thick, 3200 mm above it.
/// Built once per process and shared.
pub fn geometry() -> Arc<CodedMaskGeometry> {
    static G: OnceLock<Arc<CodedMaskGeometry>> = OnceLock::new();
    G.get_or_init(|| {
        let built = mask::mask().and_then(|mask| {
            let detector = DetectorGrid::new(PIXEL_PITCH_MM, PIXEL_SIZE_MM, layout_map())?;
            CodedMaskGeometry::new("ISGRI", detector, mask, MASK_DISTANCE_MM, MASK_THICKNESS_MM)
        });
        match built {
            Ok(g) => Arc::new(g),
            // The inputs are this module's constants, checked by its tests.
            Err(e) => unreachable!("ISGRI's design constants: {e}"),
        }
    })
    .clone()
}

/// Order of the MURA basic pattern (*cited*).
pub const MURA_ORDER: usize = 53;
/// Mask elements per side: the basic pattern tiled cyclically (*cited*).
pub const MASK_ELEMENTS: usize = 95;
/// Side of a mask element, mm (*assumed*: 95 × 11.2 mm = 1064 mm matches the 12′ resolution).
pub const MASK_ELEMENT_MM: f64 = 11.2;
/// Tungsten mask thickness, mm (*cited*).
pub const MASK_THICKNESS_MM: f64 = 16.0;
/// Mask to detector distance, mm (*cited*), measured to the mask's mid-plane.
pub const MASK_DISTANCE_MM: f64 = 3200.0;
/// Detector grid size along DETY, gaps included (2 modules of 64 pixels and one gap of 2).
pub const N_DETY: usize = 130;
/// Detector grid size along DETZ, gaps included (4 modules of 32 pixels and three gaps of 2).
pub const N_DETZ: usize = 134;
/// Number of real CdTe pixels (128 × 128, *cited*).
pub const N_PIXELS: usize = 128 * 128;
/// Pixel pitch, mm (*cited*).
pub const PIXEL_PITCH_MM: f64 = 4.6;
/// Side of a pixel's sensitive area, mm (*cited*: 128² × 16 mm² = 2621 cm²).
pub const PIXEL_SIZE_MM: f64 = 4.0;
/// Total sensitive area, cm².
pub const DETECTOR_AREA_CM2: f64 = N_PIXELS as f64 * PIXEL_SIZE_MM * PIXEL_SIZE_MM / 100.0;
/// Lowest and highest energies ISGRI records, keV.
pub const ENERGY_RANGE_KEV: (f64, f64) = (13.0, 1000.0);
/// Event time resolution, s: 2⁻¹⁴ s ≈ 61 µs (*cited* 61 µs).
pub const TIME_RESOLUTION_S: f64 = 1.0 / 16384.0;
