//! Mosaics: variance-weighted combinations of many ScW images on one TAN grid.
//!
//! Each output pixel takes, from every ScW image that covers it, the bilinearly interpolated
//! intensity F_i and variance V_i and combines them as `F = V·Σ F_i/V_i`, `V = 1/Σ 1/V_i`;
//! the significance is F/√V and the exposure the sum of the live exposures.

use ndarray::Array2;
use rayon::prelude::*;

use super::image::ScwImage;
use super::shadowgram::EnergyBand;
use crate::error::{Error, Result};
use crate::sky::{SkyCoord, TanProjection};

use super::decode::tangent_step_deg;

/// Largest mosaic side, pixels (≈ 80°).
const MAX_SIDE: usize = 1000;
/// Margin around the pointings, degrees: the partially coded field reaches ~15° off axis.
const FIELD_MARGIN_DEG: f64 = 15.5;

/// A mosaic image.
#[derive(Clone, Debug)]
pub struct Mosaic {
    /// The grid.
    pub projection: TanProjection,
    /// Energy band.
    pub band: EnergyBand,
    /// Intensity, cts/s, `[row (y), column (x)]`; 0 where uncovered.
    pub intensity: Array2<f64>,
    /// Variance, (cts/s)²; 0 where uncovered.
    pub variance: Array2<f64>,
    /// Live exposure, s.
    pub exposure: Array2<f64>,
    /// Number of ScW images combined.
    pub n_images: usize,
}

impl Mosaic {
    /// Significance map (0 where uncovered).
    pub fn significance(&self) -> Array2<f64> {
        super::image::significance_map(&self.intensity, &self.variance)
    }

    /// Sky position of array position (row, column), fractional.
    pub fn sky(&self, row: f64, col: f64) -> SkyCoord {
        self.projection.pixel_to_world(col + 1.0, row + 1.0)
    }

    /// Array position (row, column) of a sky position.
    pub fn pixel(&self, s: &SkyCoord) -> Option<(f64, f64)> {
        self.projection
            .world_to_pixel(s)
            .map(|(x, y)| (y - 1.0, x - 1.0))
    }
}

/// Builds mosaics centred on a target.
#[derive(Clone, Debug)]
pub struct MosaicMaker {
    center: SkyCoord,
    side_deg: Option<f64>,
}

impl MosaicMaker {
    /// A mosaic centred on `center`, large enough for all images (or `side_deg` wide if set).
    pub fn new(center: SkyCoord, side_deg: Option<f64>) -> MosaicMaker {
        MosaicMaker { center, side_deg }
    }

    /// Combines `images` (all in the same band).
    ///
    /// # Errors
    /// No images, or images of different bands.
    pub fn run(&self, images: &[ScwImage]) -> Result<Mosaic> {
        let Some(first) = images.first() else {
            return Err(Error::EmptySelection {
                reason: "no ScW images to combine into a mosaic".into(),
            });
        };
        if let Some(other) = images.iter().find(|i| i.band != first.band) {
            return Err(Error::invalid(
                "mosaic band",
                other.band,
                format!("the same band as the first image ({})", first.band),
            ));
        }
        let step = tangent_step_deg();
        let side = match self.side_deg {
            Some(s) => s,
            None => {
                let far = images
                    .iter()
                    .map(|i| i.attitude.pointing().separation(&self.center))
                    .fold(0.0, f64::max);
                2.0 * (far + FIELD_MARGIN_DEG)
            }
        };
        let n = ((side / step).ceil() as usize).clamp(16, MAX_SIDE);
        let projection = TanProjection::new(self.center, step, n, n)?;
        // Unit vectors of every output pixel, computed once.
        let dirs: Vec<SkyCoord> = (0..n * n)
            .into_par_iter()
            .map(|k| projection.pixel_to_world((k % n) as f64 + 1.0, (k / n) as f64 + 1.0))
            .collect();
        let rows: Vec<Vec<(f64, f64, f64)>> = (0..n)
            .into_par_iter()
            .map(|r| {
                (0..n)
                    .map(|c| {
                        let s = &dirs[r * n + c];
                        let (mut wsum, mut fsum, mut exp) = (0.0, 0.0, 0.0);
                        for img in images {
                            if img.attitude.off_axis_angle(s) > 20.0 {
                                continue;
                            }
                            let Some((iy, iz)) = img.pixel(s) else {
                                continue;
                            };
                            if let Some((f, v)) = bilinear(img, iy, iz) {
                                wsum += 1.0 / v;
                                fsum += f / v;
                                exp += img.exposure;
                            }
                        }
                        if wsum > 0.0 {
                            (fsum / wsum, 1.0 / wsum, exp)
                        } else {
                            (0.0, 0.0, 0.0)
                        }
                    })
                    .collect()
            })
            .collect();
        let mut intensity = Array2::zeros((n, n));
        let mut variance = Array2::zeros((n, n));
        let mut exposure = Array2::zeros((n, n));
        for (r, row) in rows.into_iter().enumerate() {
            for (c, (f, v, e)) in row.into_iter().enumerate() {
                intensity[[r, c]] = f;
                variance[[r, c]] = v;
                exposure[[r, c]] = e;
            }
        }
        Ok(Mosaic {
            projection,
            band: first.band,
            intensity,
            variance,
            exposure,
            n_images: images.len(),
        })
    }
}

/// Bilinear interpolation of intensity and variance; `None` unless all four neighbours are imaged.
fn bilinear(img: &ScwImage, iy: f64, iz: f64) -> Option<(f64, f64)> {
    let (ny, nz) = img.intensity.dim();
    if iy < 0.0 || iz < 0.0 {
        return None;
    }
    let (y0, z0) = (iy.floor() as usize, iz.floor() as usize);
    if y0 + 1 >= ny || z0 + 1 >= nz {
        return None;
    }
    let (fy, fz) = (iy - y0 as f64, iz - z0 as f64);
    let mut f = 0.0;
    let mut v = 0.0;
    for (dy, wy) in [(0, 1.0 - fy), (1, fy)] {
        for (dz, wz) in [(0, 1.0 - fz), (1, fz)] {
            let var = img.variance[[y0 + dy, z0 + dz]];
            if var <= 0.0 {
                return None;
            }
            f += wy * wz * img.intensity[[y0 + dy, z0 + dz]];
            v += wy * wz * var;
        }
    }
    Some((f, v))
}
