//! Source detection in mosaics and ScW images, and naming against the reference catalog.
//!
//! Peaks are local maxima of the mosaic significance above the threshold, refined to sub-pixel
//! precision. A source's rate, error and reported significance then come from the
//! inverse-variance mean of its fits in the single-ScW shadowgrams when it was fitted there
//! (free of the mosaic's resampling, which makes mosaic significances conservative: σ ≈ 0.89 on
//! empty sky), and from PSF photometry in the mosaic otherwise. The 90 % position error follows the ISGRI point-source location accuracy
//! (Gros et al. 2003): r₉₀ = 22.1′ × S^−0.95 + 0.16′ for significance S. A peak is named after
//! the nearest reference-catalog source within max(4′, 2 r₉₀); otherwise it is `NEW_n`.
//! [`SourceFinder::run`] combines mosaic and single-ScW detections as ODA does: a source seen only
//! while flaring in one ScW is listed too.

use ndarray::Array2;

use super::catalog::{Catalog, CatalogEntry, Origin};
use super::image::{ScwImage, ScwSource, subpixel};
use super::mosaic::Mosaic;
use crate::archive::ScwId;
use crate::error::{Error, Result};
use crate::sky::{ReferenceCatalog, SkyCoord};

/// Smallest naming radius, arcmin.
const MIN_MATCH_ARCMIN: f64 = 4.0;
/// A source seen only in single ScW images must reach at least this significance there:
/// 50 ScW images hold ~10⁷ pixels, so 6σ keeps false detections well below one.
const SCW_ONLY_MIN_SIGMA: f64 = 6.0;
/// Two peaks closer than this (pixels) are one source.
const MERGE_PX: f64 = 3.0;

/// ISGRI 90 % point-source location error, arcmin, at significance `s`.
pub fn error_radius_arcmin(s: f64) -> f64 {
    22.1 * s.max(1.0).powf(-0.95) + 0.16
}

/// Finds sources above a significance threshold.
#[derive(Clone, Debug)]
pub struct SourceFinder {
    threshold: f64,
}

/// A peak in an image: position, significance, rate and error.
struct Peak {
    position: SkyCoord,
    significance: f64,
    rate: f64,
    rate_err: f64,
}

impl SourceFinder {
    /// A finder for peaks above `detection_threshold` σ.
    ///
    /// # Errors
    /// A threshold that is not positive and finite.
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
        })
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
        let reference = ReferenceCatalog::bundled()?;
        let sig = mosaic.significance();
        let mut peaks: Vec<(Peak, Origin)> = local_maxima(&sig, self.threshold)
            .into_iter()
            .map(|(r, c)| {
                let (fr, fc) = subpixel(&sig, (r, c));
                let (rate, rate_err) = psf_photometry(mosaic, fr, fc);
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
        // rate: it comes from the shadowgrams, free of the mosaic's resampling.
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
            let err = error_radius_arcmin(p.significance);
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

/// σ of a point source in a mosaic, pixels: the ScW PSF widened by bilinear resampling.
const MOSAIC_PSF_SIGMA_PX: f64 = 1.11;

/// Rate of a point source at fractional mosaic position (r, c): the inverse-variance weighted
/// least-squares amplitude of the PSF over the 5 × 5 pixels around it. Its error is the
/// noise of one pixel at the peak: neighbouring mosaic pixels are strongly correlated (the PSF
/// spans them), so they add little independent information.
fn psf_photometry(m: &Mosaic, r: f64, c: f64) -> (f64, f64) {
    let (nr, nc) = m.intensity.dim();
    let (r0, c0) = (r.round() as i64, c.round() as i64);
    let (mut num, mut den) = (0.0, 0.0);
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
            let g = (-0.5 * d2 / (MOSAIC_PSF_SIGMA_PX * MOSAIC_PSF_SIGMA_PX)).exp();
            num += m.intensity[[a as usize, b as usize]] * g / v;
            den += g * g / v;
        }
    }
    let peak_var = m.variance[[
        (r0.max(0) as usize).min(nr - 1),
        (c0.max(0) as usize).min(nc - 1),
    ]];
    if den > 0.0 {
        (num / den, peak_var.max(0.0).sqrt())
    } else {
        (0.0, 0.0)
    }
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
    fn error_radius_follows_the_isgri_law() {
        assert!((error_radius_arcmin(10.0) - 2.67).abs() < 0.05);
        assert!(error_radius_arcmin(100.0) < 0.5);
        assert!(
            SourceFinder::new(0.0)
                .unwrap_err()
                .to_string()
                .contains("detection_threshold")
        );
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
