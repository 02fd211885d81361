//! Sky images of single Science Windows, cleaned of the coding noise and ghosts of bright sources.
//!
//! [`ScwImager::run`] decodes a shadowgram (after subtracting the background template, the
//! flat-fielding), then iterates: find the most significant peak, refine its position by fitting
//! its PIF to the shadowgram, fit all found sources and the background together, subtract them
//! from the shadowgram and decode the residual. The cleaned image is the residual plus each
//! source as a clean point-spread function (a Gaussian of the calibration's width; 12′ FWHM for
//! ISGRI). Intensities are on-axis
//! equivalent count rates (cts/s), corrected for the off-axis response.

use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::decode::{CodedMaskDecoder, ImageGrid};
use super::shadowgram::{EnergyBand, Shadowgram};
use super::skyfit::{fit_shadowgram, onaxis_rate};
use crate::archive::ScwId;
use crate::error::{Error, Result};
use crate::instrument::calibration::{Calibration, ImagingCalibration};
use crate::instrument::coded_mask::{CodedMaskGeometry, DetectorMap};
use crate::instrument::isgri;
use crate::osa::OsaVersion;
use crate::sky::{Attitude, SkyCoord, TanProjection};
use crate::time::Time;

/// A source found and fitted while cleaning a ScW image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwSource {
    /// Fitted position.
    pub position: SkyCoord,
    /// On-axis equivalent count rate, cts/s.
    pub rate: f64,
    /// Its 1σ error.
    pub rate_err: f64,
    /// Detection significance in the image where it was found.
    pub significance: f64,
}

/// The sky image of one Science Window in one band.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScwImage {
    /// The Science Window.
    pub swid: ScwId,
    /// Spacecraft attitude (defines the image axes).
    pub attitude: Attitude,
    /// Energy band.
    pub band: EnergyBand,
    /// Live exposure, s.
    pub exposure: f64,
    /// Time interval, IJD.
    pub time_range: (f64, f64),
    /// Middle of the ScW.
    pub t_mid: Time,
    /// OSA version.
    pub osa_version: OsaVersion,
    /// Cleaned intensity, cts/s (on-axis equivalent); 0 where not imaged.
    pub intensity: Array2<f64>,
    /// Variance of the intensity, (cts/s)²; 0 where not imaged.
    pub variance: Array2<f64>,
    /// Sources found and removed while cleaning, brightest first.
    pub sources: Vec<ScwSource>,
    /// The image's sky grid (its telescope's decoding grid).
    pub grid: ImageGrid,
    /// Noise correlation between pixels Δ apart, ρ(Δ) = exp(−|Δ|²/2s²): s², pixels² (the
    /// calibration's).
    pub noise_correlation_px2: f64,
}

impl ScwImage {
    /// Significance map: intensity / √variance (0 where not imaged).
    pub fn significance(&self) -> Array2<f64> {
        significance_map(&self.intensity, &self.variance)
    }

    /// Sky position of fractional image position (iy, iz).
    pub fn sky(&self, iy: f64, iz: f64) -> SkyCoord {
        let (ty, tz) = self.grid.pixel_to_tangents(iy, iz);
        self.attitude.from_tangents(ty, tz)
    }

    /// Fractional image position of a sky position, if it is in front of the telescope.
    pub fn pixel(&self, s: &SkyCoord) -> Option<(f64, f64)> {
        let (ty, tz) = self.attitude.to_tangents(s)?;
        Some(self.grid.tangents_to_pixel(ty, tz))
    }

    /// The image's WCS: a TAN projection centred on the pointing; FITS axis 1 runs along the
    /// spacecraft Z axis (image columns), axis 2 along Y (rows).
    ///
    /// # Errors
    /// Never for a valid attitude (the CD matrix is a scaled rotation).
    pub fn projection(&self) -> Result<TanProjection> {
        let s = self.grid.tangent_step_deg();
        // On the sky, Z points at position angle `roll` and Y at `roll + 90°` (east for roll 0).
        let (sr, cr) = self.attitude.roll().to_radians().sin_cos();
        let (oy, oz) = self.grid.on_axis();
        TanProjection::from_cd(
            self.attitude.pointing(),
            [oz as f64 + 1.0, oy as f64 + 1.0],
            [[s * sr, s * cr], [s * cr, -s * sr]],
        )
    }
}

/// Intensity / √variance, 0 where the variance is not positive (pixels not imaged).
pub fn significance_map(intensity: &Array2<f64>, variance: &Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn(intensity.dim(), |ij| {
        let v = variance[ij];
        if v > 0.0 {
            intensity[ij] / v.sqrt()
        } else {
            0.0
        }
    })
}

/// Settings of single-ScW imaging.
#[derive(Clone, Debug)]
pub struct ScwImager {
    geometry: Arc<CodedMaskGeometry>,
    decoder: Arc<CodedMaskDecoder>,
    psf_sigma_px: f64,
    noise_correlation_px2: f64,
    clean_threshold: f64,
    max_sources: usize,
    known: Vec<SkyCoord>,
    /// The telescope's rate convention per OSA version (ISGRI's OSA11 normalisation; 1 for
    /// JEM-X).
    rate_scale: fn(OsaVersion) -> f64,
}

/// The settings that make an imager's output: thresholds, and the known sources by count and
/// digest of their positions (hundreds of them: a digest keeps provenance records small).
impl serde::Serialize for ScwImager {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for p in &self.known {
            h.update(p.ra().to_le_bytes());
            h.update(p.dec().to_le_bytes());
        }
        let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let mut st = s.serialize_struct("ScwImager", 8)?;
        st.serialize_field("telescope", self.geometry.name())?;
        st.serialize_field("geometry_sha256", self.geometry.digest())?;
        st.serialize_field("psf_sigma_px", &self.psf_sigma_px)?;
        st.serialize_field("noise_correlation_px2", &self.noise_correlation_px2)?;
        st.serialize_field("clean_threshold", &self.clean_threshold)?;
        st.serialize_field("max_cleaned", &self.max_sources)?;
        st.serialize_field("known_sources", &self.known.len())?;
        st.serialize_field("known_positions_sha256", &digest)?;
        st.end()
    }
}

impl ScwImager {
    /// An ISGRI imager that cleans sources above `clean_threshold` σ (at most `max_sources`
    /// per ScW); [`ScwImager::with_calibration`] images with another telescope.
    ///
    /// # Errors
    /// A threshold that is not positive and finite.
    pub fn new(clean_threshold: f64, max_sources: usize) -> Result<ScwImager> {
        if !(clean_threshold.is_finite() && clean_threshold > 0.0) {
            return Err(Error::invalid(
                "clean threshold",
                clean_threshold,
                "a positive significance",
            ));
        }
        let geometry = isgri::geometry();
        let imaging = isgri::imaging_calibration();
        Ok(ScwImager {
            decoder: CodedMaskDecoder::for_geometry(&geometry),
            geometry,
            psf_sigma_px: imaging.psf_sigma_px,
            noise_correlation_px2: imaging.noise_correlation_px2,
            clean_threshold,
            max_sources,
            known: Vec::new(),
            rate_scale: isgri::rate_scale,
        })
    }

    /// The same imager fitting and removing these known sources (e.g. the reference catalog)
    /// in every ScW where they are in the field, whatever their significance there — as OSA
    /// does with its reference catalog, so that the ghosts of sources too faint to be found in
    /// one ScW do not add up in a mosaic.
    pub fn with_known_sources(mut self, positions: Vec<SkyCoord>) -> ScwImager {
        self.known = positions;
        self
    }

    /// The same imager for the telescope of `calibration`: its geometry (the decoder is built
    /// once per process and shared), its clean point-spread function and its images' noise
    /// correlation.
    pub fn with_calibration(self, calibration: &Calibration) -> ScwImager {
        self.with_telescope(
            calibration.geometry.clone(),
            &calibration.imaging,
            isgri::rate_scale,
        )
    }

    /// The same imager for `geometry` with its `imaging` calibration and its rate convention
    /// per OSA version (`rate_scale`; JEM-X's is 1 for every version).
    pub fn with_telescope(
        mut self,
        geometry: Arc<CodedMaskGeometry>,
        imaging: &ImagingCalibration,
        rate_scale: fn(OsaVersion) -> f64,
    ) -> ScwImager {
        self.decoder = CodedMaskDecoder::for_geometry(&geometry);
        self.geometry = geometry;
        self.psf_sigma_px = imaging.psf_sigma_px;
        self.noise_correlation_px2 = imaging.noise_correlation_px2;
        self.rate_scale = rate_scale;
        self
    }

    /// The telescope this imager decodes.
    pub fn geometry(&self) -> &Arc<CodedMaskGeometry> {
        &self.geometry
    }

    /// The same imager cleaning at most `n` sources per ScW (0: no cleaning).
    pub fn with_max_sources(mut self, n: usize) -> ScwImager {
        self.max_sources = n;
        self
    }

    /// Decodes and cleans one shadowgram.
    ///
    /// # Errors
    /// A shadowgram without exposure or live pixels.
    pub fn run(&self, sg: &Shadowgram) -> Result<ScwImage> {
        if sg.exposure <= 0.0 || sg.efficiency.sum() <= 0.0 {
            return Err(Error::ScienceWindow {
                swid: sg.swid.to_string(),
                reason: "no exposure or no live pixels to image".into(),
            });
        }
        let d = &self.decoder;
        let w = &sg.efficiency;
        let template = &sg.background;
        let bal = d.balance(w);
        let (_, variance) = d.decode(&bal, w, &sg.counts);
        let wt = w * template;
        let beta0 = sg.counts.sum() / wt.sum().max(1e-9);
        let mut residual_counts = &sg.counts - &(&wt * beta0);
        let mut residual = d.decode_intensity(&bal, w, &residual_counts);
        let geometry = &*self.geometry;
        let grid = d.grid();
        let mut positions: Vec<(f64, f64)> = Vec::new(); // image pixels of sources
        let mut pifs: Vec<DetectorMap> = Vec::new();
        let mut found_sig: Vec<f64> = Vec::new();
        let mut fit = None;
        if self.max_sources > 0 {
            for s in &self.known {
                let Some((ty, tz)) = sg.attitude.to_tangents(s) else {
                    continue;
                };
                let p = geometry.pif(ty, tz);
                if (&p * w).sum() > 1.0 {
                    positions.push(grid.tangents_to_pixel(ty, tz));
                    pifs.push(p);
                    found_sig.push(0.0);
                }
            }
            if !pifs.is_empty() {
                match fit_shadowgram(&sg.counts, w, template, &pifs) {
                    Ok(f) => {
                        residual_counts = subtract_model(&sg.counts, &wt, w, &f, &pifs);
                        residual = d.decode_intensity(&bal, w, &residual_counts);
                        for (sig, (r, e)) in found_sig.iter_mut().zip(f.rates.iter().zip(&f.errors))
                        {
                            *sig = if *e > 0.0 { r / e } else { 0.0 };
                        }
                        fit = Some(f);
                    }
                    Err(_) => {
                        positions.clear();
                        pifs.clear();
                        found_sig.clear();
                    }
                }
            }
        }
        for _ in 0..self.max_sources {
            let Some((peak, sig)) = best_peak(&residual, &variance, &positions) else {
                break;
            };
            if sig < self.clean_threshold {
                break;
            }
            let guess = subpixel(&residual, peak);
            let pos = refine_position(&sg.counts, w, template, &pifs, geometry, &grid, guess);
            let (ty, tz) = grid.pixel_to_tangents(pos.0, pos.1);
            let p = geometry.pif(ty, tz);
            if p.sum() <= 0.0 {
                break;
            }
            positions.push(pos);
            pifs.push(p);
            found_sig.push(sig);
            let f = match fit_shadowgram(&sg.counts, w, template, &pifs) {
                Ok(f) => f,
                Err(_) => {
                    // A degenerate addition (e.g. a ghost on top of its source): drop it and stop.
                    positions.pop();
                    pifs.pop();
                    found_sig.pop();
                    break;
                }
            };
            residual_counts = subtract_model(&sg.counts, &wt, w, &f, &pifs);
            residual = d.decode_intensity(&bal, w, &residual_counts);
            fit = Some(f);
        }
        // Cleaned image: residual plus clean PSFs, then on-axis equivalent rates.
        let mut clean = residual;
        if let Some(f) = &fit {
            for ((iy, iz), r) in positions.iter().zip(&f.rates) {
                let amplitude = r * d.off_axis_response(*iy, *iz);
                add_psf(&mut clean, *iy, *iz, amplitude, self.psf_sigma_px);
            }
        }
        let k = onaxis_rate(geometry, 1.0, sg.exposure, OsaVersion::Osa10_2)
            * (self.rate_scale)(sg.osa_version);
        let mut intensity = Array2::zeros(grid.dim());
        let mut var = Array2::zeros(grid.dim());
        for ((iy, iz), v) in variance.indexed_iter() {
            if *v > 0.0 {
                let resp = d.off_axis_response(iy as f64, iz as f64);
                if resp > 0.05 {
                    intensity[[iy, iz]] = clean[[iy, iz]] / resp * k;
                    var[[iy, iz]] = v / (resp * resp) * k * k;
                }
            }
        }
        let attitude = sg.attitude;
        let sources = match &fit {
            Some(f) => {
                let mut s: Vec<ScwSource> = positions
                    .iter()
                    .zip(f.rates.iter().zip(&f.errors))
                    .zip(&found_sig)
                    .map(|(((iy, iz), (r, e)), sig)| {
                        let (ty, tz) = grid.pixel_to_tangents(*iy, *iz);
                        ScwSource {
                            position: attitude.from_tangents(ty, tz),
                            rate: r * k,
                            rate_err: e * k,
                            significance: if *e > 0.0 { r / e } else { *sig },
                        }
                    })
                    .collect();
                s.sort_by(|a, b| b.rate.total_cmp(&a.rate));
                s
            }
            None => Vec::new(),
        };
        Ok(ScwImage {
            swid: sg.swid,
            attitude,
            band: sg.band,
            exposure: sg.exposure,
            time_range: sg.time_range,
            t_mid: sg.t_mid,
            osa_version: sg.osa_version,
            intensity,
            variance: var,
            sources,
            grid,
            noise_correlation_px2: self.noise_correlation_px2,
        })
    }
}

/// Counts minus the fitted background and sources.
fn subtract_model(
    counts: &DetectorMap,
    wt: &DetectorMap,
    w: &DetectorMap,
    f: &super::skyfit::ShadowgramFit,
    pifs: &[DetectorMap],
) -> DetectorMap {
    let mut model = wt * f.background;
    for (r, p) in f.rates.iter().zip(pifs) {
        model = model + &(w * p) * *r;
    }
    counts - &model
}

/// The most significant image pixel away from known sources: ((iy, iz), significance).
fn best_peak(
    s: &Array2<f64>,
    v: &Array2<f64>,
    known: &[(f64, f64)],
) -> Option<((usize, usize), f64)> {
    let mut best: Option<((usize, usize), f64)> = None;
    for ((iy, iz), val) in s.indexed_iter() {
        let var = v[[iy, iz]];
        if var <= 0.0 {
            continue;
        }
        let sig = val / var.sqrt();
        if best.is_some_and(|b| sig <= b.1) {
            continue;
        }
        if known
            .iter()
            .any(|(y, z)| (y - iy as f64).powi(2) + (z - iz as f64).powi(2) < 9.0)
        {
            continue;
        }
        best = Some(((iy, iz), sig));
    }
    best
}

/// Sub-pixel peak by a parabola through the logarithms of the 3 × 3 neighbourhood (exact for a
/// Gaussian peak); falls back to the pixel centre.
pub(crate) fn subpixel(s: &Array2<f64>, (iy, iz): (usize, usize)) -> (f64, f64) {
    let (ny, nz) = s.dim();
    let axis = |a: f64, b: f64, c: f64| {
        if a > 0.0 && b > 0.0 && c > 0.0 {
            let (la, lb, lc) = (a.ln(), b.ln(), c.ln());
            let den = la - 2.0 * lb + lc;
            if den < 0.0 {
                (0.5 * (la - lc) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        } else {
            0.0
        }
    };
    let dy = if iy > 0 && iy + 1 < ny {
        axis(s[[iy - 1, iz]], s[[iy, iz]], s[[iy + 1, iz]])
    } else {
        0.0
    };
    let dz = if iz > 0 && iz + 1 < nz {
        axis(s[[iy, iz - 1]], s[[iy, iz]], s[[iy, iz + 1]])
    } else {
        0.0
    };
    (iy as f64 + dy, iz as f64 + dz)
}

/// Refines a source position by minimising the χ² of the shadowgram fit over a 3 × 3 grid of
/// trial positions (±0.35 pixel) and a quadratic surface through them.
fn refine_position(
    counts: &DetectorMap,
    w: &DetectorMap,
    template: &DetectorMap,
    others: &[DetectorMap],
    geometry: &CodedMaskGeometry,
    grid: &ImageGrid,
    guess: (f64, f64),
) -> (f64, f64) {
    let h = 0.35;
    let mut chi = [[0.0f64; 3]; 3];
    let mut pifs: Vec<DetectorMap> = others.to_vec();
    pifs.push(Array2::zeros(w.dim()));
    let last = pifs.len() - 1;
    for (a, row) in chi.iter_mut().enumerate() {
        for (b, c) in row.iter_mut().enumerate() {
            let (iy, iz) = (
                guess.0 + (a as f64 - 1.0) * h,
                guess.1 + (b as f64 - 1.0) * h,
            );
            let (ty, tz) = grid.pixel_to_tangents(iy, iz);
            pifs[last] = geometry.pif(ty, tz);
            *c = fit_shadowgram(counts, w, template, &pifs).map_or(f64::INFINITY, |f| f.chi2);
        }
    }
    if chi.iter().flatten().any(|c| !c.is_finite()) {
        return guess;
    }
    // Quadratic surface c(x, y) = a + bx + cy + dx² + ey² + fxy on the 3 × 3 grid (x, y ∈ {−1, 0, 1}).
    let g = |i: usize, j: usize| chi[i][j];
    let bx = (g(2, 0) + g(2, 1) + g(2, 2) - g(0, 0) - g(0, 1) - g(0, 2)) / 6.0;
    let by = (g(0, 2) + g(1, 2) + g(2, 2) - g(0, 0) - g(1, 0) - g(2, 0)) / 6.0;
    let dxx = (g(0, 0) + g(0, 1) + g(0, 2) + g(2, 0) + g(2, 1) + g(2, 2)) / 6.0
        - (g(1, 0) + g(1, 1) + g(1, 2)) / 3.0;
    let dyy = (g(0, 0) + g(1, 0) + g(2, 0) + g(0, 2) + g(1, 2) + g(2, 2)) / 6.0
        - (g(0, 1) + g(1, 1) + g(2, 1)) / 3.0;
    let fxy = (g(2, 2) - g(2, 0) - g(0, 2) + g(0, 0)) / 4.0;
    // Minimum of the quadratic: solve [2d f; f 2e]·[x; y] = −[b; c].
    let det = 4.0 * dxx * dyy - fxy * fxy;
    if dxx <= 0.0 || dyy <= 0.0 || det <= 0.0 {
        return guess;
    }
    let x = (-2.0 * dyy * bx + fxy * by) / det;
    let y = (-2.0 * dxx * by + fxy * bx) / det;
    (
        guess.0 + x.clamp(-1.5, 1.5) * h,
        guess.1 + y.clamp(-1.5, 1.5) * h,
    )
}

/// Adds a Gaussian PSF of peak `amplitude` and width `sigma` (pixels) at (iy, iz).
fn add_psf(img: &mut Array2<f64>, iy: f64, iz: f64, amplitude: f64, sigma: f64) {
    let (ny, nz) = img.dim();
    let r = (4.0 * sigma).ceil() as i64;
    let (cy, cz) = (iy.round() as i64, iz.round() as i64);
    for y in (cy - r).max(0)..=(cy + r).min(ny as i64 - 1) {
        for z in (cz - r).max(0)..=(cz + r).min(nz as i64 - 1) {
            let d2 = (y as f64 - iy).powi(2) + (z as f64 - iz).powi(2);
            img[[y as usize, z as usize]] += amplitude * (-0.5 * d2 / (sigma * sigma)).exp();
        }
    }
}
