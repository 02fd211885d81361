//! Source detection in mosaics and ScW images, and naming against the reference catalog.
//!
//! Peaks are local maxima of the mosaic significance above the threshold (the mosaic
//! significance is standard normal on empty sky: see [`super::mosaic`]), refined to sub-pixel
//! precision. A source's rate, error and reported significance then come from the
//! inverse-variance mean of its fits in the single-ScW shadowgrams when it was fitted there
//! (PIF fits of the counts, the best estimate), and from PSF photometry in the mosaic otherwise:
//! a least-squares fit of the mosaic PSF of a source the images were not cleaned of, with the
//! error propagated through the mosaic's measured noise correlation. The 90 % position error
//! follows the ISGRI point-source location accuracy (Gros et al. 2003):
//! r₉₀ = 22.1′ × S^−0.95 + 0.16′ for significance S. A peak is named after the nearest
//! reference-catalog source within max(4′, 2 r₉₀); otherwise it is `NEW_n`.
//! [`SourceFinder::run`] combines mosaic and single-ScW detections as ODA does: a source seen only
//! while flaring in one ScW is listed too.

use ndarray::Array2;

use super::catalog::{Catalog, CatalogEntry, Origin};
use super::image::{ScwImage, ScwSource, subpixel};
use super::mosaic::{Mosaic, mosaic_noise_correlation_px2};
use crate::archive::ScwId;
use crate::error::{Error, Result};
use crate::instrument::calibration::ImagingCalibration;
use crate::instrument::isgri;
use crate::sky::{ReferenceCatalog, SkyCoord};

/// Smallest naming radius, arcmin.
const MIN_MATCH_ARCMIN: f64 = 4.0;
/// A source seen only in single ScW images must reach at least this significance there:
/// 50 ScW images hold ~10⁷ pixels, so 6σ keeps false detections well below one.
const SCW_ONLY_MIN_SIGMA: f64 = 6.0;
/// Two peaks closer than this (pixels) are one source.
const MERGE_PX: f64 = 3.0;

/// Finds sources above a significance threshold.
#[derive(Clone, Debug)]
pub struct SourceFinder {
    threshold: f64,
    reference: &'static ReferenceCatalog,
    imaging: ImagingCalibration,
}

/// The settings that make a finder's output: the threshold and the reference catalog that
/// names the sources (by digest).
impl serde::Serialize for SourceFinder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SourceFinder", 3)?;
        st.serialize_field("detection_threshold", &self.threshold)?;
        st.serialize_field("imaging", &self.imaging)?;
        st.serialize_field("reference_catalog_sha256", self.reference.digest())?;
        st.end()
    }
}

/// A peak in an image: position, significance, rate and error.
struct Peak {
    position: SkyCoord,
    significance: f64,
    rate: f64,
    rate_err: f64,
}

impl SourceFinder {
    /// A finder for peaks above `detection_threshold` σ in ISGRI mosaics, naming them after the
    /// bundled reference catalog.
    ///
    /// # Errors
    /// A threshold that is not positive and finite; a bundled catalog that does not parse.
    pub fn new(detection_threshold: f64) -> Result<SourceFinder> {
        if !(detection_threshold.is_finite() && detection_threshold > 0.0) {
            return Err(Error::invalid(
                "detection_threshold",
                detection_threshold,
                "a positive significance in σ, e.g. 7",
            ));
        }
        Ok(SourceFinder {
            threshold: detection_threshold,
            reference: ReferenceCatalog::bundled()?,
            imaging: isgri::imaging_calibration(),
        })
    }

    /// The same finder for mosaics of a telescope with the imaging calibration `imaging`
    /// (its mosaic point-spread function and location error law).
    pub fn with_imaging(mut self, imaging: &ImagingCalibration) -> SourceFinder {
        self.imaging = imaging.clone();
        self
    }

    /// The same finder naming sources after `reference` instead of the bundled catalog.
    pub fn with_reference(mut self, reference: &'static ReferenceCatalog) -> SourceFinder {
        self.reference = reference;
        self
    }

    /// The catalog of the mosaic, completed with sources seen only in single ScW images.
    ///
    /// # Errors
    /// Only if the bundled reference catalog cannot be read.
    pub fn run(&self, mosaic: &Mosaic, scw_images: &[ScwImage]) -> Result<Catalog> {
        let sources: Vec<(ScwId, Vec<ScwSource>)> = scw_images
            .iter()
            .map(|i| (i.swid, i.sources.clone()))
            .collect();
        self.run_with_sources(mosaic, &sources)
    }

    /// As [`SourceFinder::run`], given only the sources fitted in each ScW image (all that the
    /// finder uses of them), so that a long request need not keep its images in memory.
    ///
    /// # Errors
    /// Only if the bundled reference catalog cannot be read.
    pub fn run_with_sources(
        &self,
        mosaic: &Mosaic,
        scw_sources: &[(ScwId, Vec<ScwSource>)],
    ) -> Result<Catalog> {
        let reference = self.reference;
        let sig = mosaic.significance();
        let mut peaks: Vec<(Peak, Origin)> = local_maxima(&sig, self.threshold)
            .into_iter()
            .map(|(r, c)| {
                let (fr, fc) = subpixel(&sig, (r, c));
                let (rate, rate_err) = psf_photometry(&self.imaging, mosaic, fr, fc);
                (
                    Peak {
                        position: mosaic.sky(fr, fc),
                        significance: if rate_err > 0.0 {
                            rate / rate_err
                        } else {
                            sig[[r, c]]
                        },
                        rate,
                        rate_err,
                    },
                    Origin::Mosaic,
                )
            })
            .collect();
        let merge_deg = MERGE_PX * mosaic.projection.pixel_scale();
        // Where single-ScW fits of the source exist, their inverse-variance mean is the better
        // rate: PIF fits of the shadowgrams, whatever the source's PSF in the images (cleaned
        // sources appear as clean Gaussians, see `psf_photometry`).
        for (p, _) in peaks.iter_mut() {
            let (mut w, mut f) = (0.0, 0.0);
            for s in scw_sources.iter().flat_map(|(_, sources)| sources) {
                if s.position.separation(&p.position) < merge_deg && s.rate_err > 0.0 {
                    w += 1.0 / (s.rate_err * s.rate_err);
                    f += s.rate / (s.rate_err * s.rate_err);
                }
            }
            if w > 0.0 {
                p.rate = f / w;
                p.rate_err = 1.0 / w.sqrt();
                p.significance = p.rate / p.rate_err;
            }
        }
        for (swid, sources) in scw_sources {
            for s in sources
                .iter()
                .filter(|s| s.significance >= self.threshold.max(SCW_ONLY_MIN_SIGMA))
            {
                if peaks
                    .iter()
                    .any(|(p, _)| p.position.separation(&s.position) < merge_deg)
                {
                    continue;
                }
                peaks.push((
                    Peak {
                        position: s.position,
                        significance: s.significance,
                        rate: s.rate,
                        rate_err: s.rate_err,
                    },
                    Origin::ScienceWindow(*swid),
                ));
            }
        }
        peaks.sort_by(|a, b| b.0.significance.total_cmp(&a.0.significance));
        let mut entries: Vec<CatalogEntry> = Vec::new();
        let mut n_new = 0;
        for (p, origin) in peaks {
            let err = self.imaging.location_error.radius_arcmin(p.significance);
            let radius = (2.0 * err).max(MIN_MATCH_ARCMIN) / 60.0;
            let name = reference
                .nearest(&p.position, radius)
                .map(|(src, _)| src.name.clone())
                .filter(|n| !entries.iter().any(|e| &e.name == n));
            let is_new = name.is_none();
            let name = name.unwrap_or_else(|| {
                n_new += 1;
                format!("NEW_{n_new}")
            });
            entries.push(CatalogEntry {
                name,
                position: p.position,
                error_radius_arcmin: err,
                significance: p.significance,
                rate: p.rate,
                rate_err: p.rate_err,
                is_new,
                origin,
            });
        }
        Ok(Catalog::from_entries(entries))
    }
}

/// Rate of a point source at fractional mosaic position (r, c): the inverse-variance weighted
/// least-squares amplitude of the mosaic PSF over the 5 × 5 pixels around it, and its error.
///
/// Only sources without single-ScW fits are measured here, i.e. sources the images were not
/// cleaned of, so the PSF is the decoded one (the calibration's mosaic PSF); for ISGRI a cleaned
/// source is a narrower clean Gaussian (σ = 1.03 px in the ScW images, 1.11 px and peak 0.85 ×
/// its rate in the mosaic) and would come out 15 % low here (the 50-ScW Crab: 176.3 against
/// 207.9 cts/s).
/// Neighbouring mosaic pixels share most of their noise (the PSF spans them), so the error
/// propagates the mosaic's noise correlation: on empty-sky mosaics the rate / error of this fit
/// has standard deviation 0.99 (the error of the peak pixel alone would give 1.24).
fn psf_photometry(imaging: &ImagingCalibration, m: &Mosaic, r: f64, c: f64) -> (f64, f64) {
    let (peak, sigma) = (imaging.mosaic_psf_peak, imaging.mosaic_psf_sigma_px);
    let correlation_px2 = mosaic_noise_correlation_px2(imaging.noise_correlation_px2);
    let (nr, nc) = m.intensity.dim();
    let (r0, c0) = (r.round() as i64, c.round() as i64);
    let (mut num, mut den) = (0.0, 0.0);
    // (row, column, PSF / variance, σ) of the pixels used.
    let mut used: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(25);
    for a in r0 - 2..=r0 + 2 {
        for b in c0 - 2..=c0 + 2 {
            if a < 0 || b < 0 || a >= nr as i64 || b >= nc as i64 {
                continue;
            }
            let v = m.variance[[a as usize, b as usize]];
            if v <= 0.0 {
                continue;
            }
            let d2 = (a as f64 - r).powi(2) + (b as f64 - c).powi(2);
            let g = peak * (-0.5 * d2 / (sigma * sigma)).exp();
            num += m.intensity[[a as usize, b as usize]] * g / v;
            den += g * g / v;
            used.push((a as f64, b as f64, g / v, v.sqrt()));
        }
    }
    if den <= 0.0 {
        return (0.0, 0.0);
    }
    // Var(Σ u F / den) = Σ_jk u_j u_k ρ_jk σ_j σ_k / den², u = PSF / variance.
    let mut var = 0.0;
    for p in &used {
        for q in &used {
            let d2 = (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2);
            var += p.2 * q.2 * p.3 * q.3 * (-0.5 * d2 / correlation_px2).exp();
        }
    }
    (num / den, var.sqrt() / den)
}

/// Local maxima (8-neighbour) of `sig` above `threshold`, merged within MERGE_PX.
fn local_maxima(sig: &Array2<f64>, threshold: f64) -> Vec<(usize, usize)> {
    let (nr, nc) = sig.dim();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for r in 1..nr.saturating_sub(1) {
        for c in 1..nc.saturating_sub(1) {
            let v = sig[[r, c]];
            if v < threshold {
                continue;
            }
            let is_max = (r - 1..=r + 1)
                .all(|a| (c - 1..=c + 1).all(|b| (a, b) == (r, c) || sig[[a, b]] <= v));
            if is_max {
                out.push((r, c));
            }
        }
    }
    out.sort_by(|a, b| sig[[b.0, b.1]].total_cmp(&sig[[a.0, a.1]]));
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for p in out {
        let close = kept.iter().any(|k| {
            ((k.0 as f64 - p.0 as f64).powi(2) + (k.1 as f64 - p.1 as f64).powi(2)).sqrt()
                < MERGE_PX
        });
        if !close {
            kept.push(p);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_radius_follows_the_calibration_law() {
        let finder = SourceFinder::new(7.0).unwrap();
        let law = finder.imaging.location_error;
        assert!((law.radius_arcmin(10.0) - 2.67).abs() < 0.05);
        assert!(law.radius_arcmin(100.0) < 0.5);
        assert_eq!(law.radius_arcmin(0.3), law.radius_arcmin(1.0));
        assert!(
            SourceFinder::new(0.0)
                .unwrap_err()
                .to_string()
                .contains("detection_threshold")
        );
    }

    #[test]
    fn psf_photometry_returns_the_rate_of_the_mosaic_psf() {
        let (r, c, rate) = (10.3, 11.6, 7.0);
        let imaging = isgri::imaging_calibration();
        let (psf_peak, sigma) = (imaging.mosaic_psf_peak, imaging.mosaic_psf_sigma_px);
        let intensity = Array2::from_shape_fn((24, 24), |(a, b)| {
            let d2 = (a as f64 - r).powi(2) + (b as f64 - c).powi(2);
            rate * psf_peak * (-0.5 * d2 / (sigma * sigma)).exp()
        });
        let m = Mosaic {
            projection: crate::sky::TanProjection::new(
                SkyCoord::new(0.0, 0.0).unwrap(),
                0.08,
                24,
                24,
            )
            .unwrap(),
            band: crate::analysis::shadowgram::EnergyBand::new(20.0, 40.0).unwrap(),
            intensity,
            variance: Array2::from_elem((24, 24), 0.25),
            exposure: Array2::from_elem((24, 24), 1.0),
            n_images: 1,
        };
        let (f, e) = psf_photometry(&imaging, &m, r, c);
        assert!((f - rate).abs() < 1e-9, "{f}");
        // Correlated pixels: more than the peak pixel's error divided by the PSF peak,
        // less than if the 5 × 5 pixels were one.
        let peak = 0.5 / psf_peak;
        assert!(e > peak && e < 2.0 * peak, "{e} vs {peak}");
        // Nothing covered: no rate.
        let mut empty = m.clone();
        empty.variance.fill(0.0);
        assert_eq!(psf_photometry(&imaging, &empty, r, c), (0.0, 0.0));
    }

    #[test]
    fn local_maxima_are_found_and_merged() {
        let mut s = Array2::zeros((20, 20));
        s[[5, 5]] = 10.0;
        s[[5, 6]] = 9.0;
        s[[6, 7]] = 9.5; // within 3 px of the first: merged
        s[[15, 15]] = 8.0;
        s[[10, 2]] = 3.0; // below threshold
        assert_eq!(local_maxima(&s, 5.0), vec![(5, 5), (15, 15)]);
    }
}
