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
mod pif;
mod response;

pub use detector::{DetectorMap, NOMINAL_DEADC, is_gap, layout_map, module_of, pixel_center_mm};
pub use mask::{Mask, Mura};
pub use pif::{fully_coded_half_angle, pif, zero_response_half_angle};
pub use response::{OSA11_RATE_SCALE, on_axis_open_fraction, rate_scale};

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
