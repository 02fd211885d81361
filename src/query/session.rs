//! [`get_product`]: a request in, a product out, through the provenance-cached workflow.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ProductType, Request, catalog_to_oda_json};
use crate::analysis::burst::{BurstSearch, BurstSearchResult};
use crate::analysis::catalog::Catalog;
use crate::analysis::detect::SourceFinder;
use crate::analysis::extract::DEFAULT_CHANNELS;
use crate::archive::{Archive, ScwId};
use crate::config::{DataOrigin, Executor, Settings};
use crate::datasets::AcsLightCurve;
use crate::datasets::JemxLightCurve;
use crate::error::{Error, Result};
use crate::fit::{SpectralFit, SpectralFitter};
use crate::instrument::Detector;
use crate::instrument::jemx::{self, JemxUnit};
use crate::instrument::spiacs;
use crate::products::{
    Citation, Image, LightCurve, Spectrum, write_acs_lightcurve, write_catalog_for, write_image,
    write_jemx_lightcurve, write_lightcurve, write_spectrum_files,
};
use crate::sky::SkyCoord;
use crate::workflow::units::{
    CatalogUnit, DetectionUnit, Extracted, Extraction, ExtractionUnit, FitUnit, JemxExtraction,
    JemxScwEvents, MOSAIC_BATCH, MosaicUnit, ScwEvents, TARGET_MATCH_ARCMIN, streams_events,
};
use crate::workflow::{Cache, Identity, Node, ProgressFn, ProvenanceGraph, RunLog, Workflow};

/// The product of a request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Product {
    /// `isgri_image`: the mosaic and its catalog.
    Image(Box<Image>),
    /// `isgri_spectrum`: one spectrum per catalog source.
    Spectrum {
        /// The spectra, in catalog order.
        spectra: Vec<Spectrum>,
        /// The catalog they were extracted for.
        catalog: Catalog,
    },
    /// `isgri_lc`: one light curve per catalog source.
    LightCurve {
        /// The light curves, in catalog order.
        light_curves: Vec<LightCurve>,
        /// The catalog they were extracted for.
        catalog: Catalog,
    },
    /// `spectral_fit`: the fit of the target's spectrum.
    SpectralFit {
        /// The fit.
        fit: Box<SpectralFit>,
        /// The fitted spectrum.
        spectrum: Box<Spectrum>,
        /// The catalog of the extraction.
        catalog: Catalog,
    },
    /// `jemx_lc`: one JEM-X light curve per catalog source (with the background under it).
    JemxLightCurve {
        /// The light curves, in catalog order.
        light_curves: Vec<JemxLightCurve>,
        /// The catalog they were extracted for.
        catalog: Catalog,
    },
    /// `spi_acs_lc`: the SPI-ACS rate over T1–T2 and a burst search around its middle.
    AcsLightCurve {
        /// The light curve, times from the middle of T1–T2 (the search's T0).
        light_curve: AcsLightCurve,
        /// The burst search on the native 50 ms bins (none for spans under
        /// [`MIN_ACS_SEARCH_SPAN_S`]).
        burst_search: Option<Box<BurstSearchResult>>,
    },
}

/// Most SPI-ACS bins written into `result.json` (longer light curves are in their FITS file only).
pub const MAX_JSON_BINS: usize = 20_000;
/// Shortest SPI-ACS span searched for bursts, s: the background needs data on both sides.
pub const MIN_ACS_SEARCH_SPAN_S: f64 = 60.0;
/// Half-width of the burst search window around T0, at most, s.
pub const ACS_SEARCH_HALF_WIDTH_S: f64 = 30.0;
/// Background fitted over at most this many seconds on each side of T0 (a cubic follows the
/// orbit's slow drift over ±300 s, not over hours).
pub const ACS_BACKGROUND_SPAN_S: f64 = 300.0;

impl Product {
    /// The catalog behind the product (empty for SPI-ACS, which has no sources).
    pub fn catalog(&self) -> &Catalog {
        static EMPTY: OnceLock<Catalog> = OnceLock::new();
        match self {
            Product::Image(i) => &i.catalog,
            Product::Spectrum { catalog, .. }
            | Product::LightCurve { catalog, .. }
            | Product::JemxLightCurve { catalog, .. }
            | Product::SpectralFit { catalog, .. } => catalog,
            Product::AcsLightCurve { .. } => EMPTY.get_or_init(Catalog::default),
        }
    }

    /// True for products with a source catalog (every ISGRI and JEM-X product; not SPI-ACS).
    pub fn has_catalog(&self) -> bool {
        !matches!(self, Product::AcsLightCurve { .. })
    }

    /// The detector that recorded the product's data (`None` for SPI-ACS, which is no imaging
    /// detector).
    pub fn detector(&self) -> Option<Detector> {
        match self {
            Product::Image(i) => Some(i.detector),
            Product::Spectrum { spectra, .. } => {
                Some(spectra.first().map_or(Detector::Isgri, |s| s.detector))
            }
            Product::SpectralFit { spectrum, .. } => Some(spectrum.detector),
            Product::LightCurve { .. } => Some(Detector::Isgri),
            Product::JemxLightCurve { light_curves, .. } => Some(
                light_curves
                    .first()
                    .map_or(Detector::Jemx(JemxUnit::Jmx2), |l| Detector::Jemx(l.unit)),
            ),
            Product::AcsLightCurve { .. } => None,
        }
    }
}

/// A product with everything needed to trust and reproduce it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductResult {
    /// The request (it reproduces the product: see [`Request::to_url_query`],
    /// [`Request::to_rust_code`], [`Request::to_python_code`]).
    pub request: Request,
    /// The product.
    pub product: Product,
    /// The Science Windows used.
    pub scws: Vec<ScwId>,
    /// Remarks of the selection.
    pub comments: Vec<String>,
    /// The product's identity: the hash of its whole provenance.
    pub identity: Identity,
    /// Every unit behind the product.
    pub provenance: ProvenanceGraph,
    /// Units computed and reused by this request, and problems worked around.
    pub log: RunLog,
    /// Wall time of the request, s.
    pub elapsed_s: f64,
    /// The published record the product belongs to, when a publication was active (see
    /// [`Citation`]): written into its files, `result.json` and its figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation: Option<Citation>,
    /// The archive the product was made from (`None` in results stored by older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<DataOrigin>,
}

/// A file written by [`ProductResult::write`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WrittenFile {
    /// `image`, `catalog`, `spectrum`, `rmf`, `arf`, `lightcurve`, `result`.
    pub kind: String,
    /// Path relative to the output directory.
    pub path: String,
    /// The source, for per-source files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A file-name stem for a source name (`4U 1700-377` → `4U_1700-377`).
fn stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '+' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One file-name stem per source, distinct even where [`stem`] maps two names to the same text
/// (`A B` and `A_B`), or to texts that differ only in case: the later one gets a short digest of
/// its name (`A_B-3f2a9c`), so no product's files overwrite another's.
fn unique_stems<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    use sha2::{Digest, Sha256};
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let mut s = stem(name);
        if !used.insert(s.to_ascii_lowercase()) {
            let digest = Sha256::digest(name.as_bytes());
            s = format!(
                "{s}-{}",
                digest[..3]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            used.insert(s.to_ascii_lowercase());
        }
        out.push((name.to_string(), s));
    }
    out
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// A light curve in `result.json`: bins, rates and errors (non-finite values as null).
fn light_curve_json(l: &LightCurve) -> Value {
    json!({
        "source": l.source, "band_keV": [l.band.0, l.band.1],
        "time_unit": "IJD (TT), bin centre", "rate_unit": "count/s",
        "time": l.time, "timedel_s": l.timedel,
        "rate": l.rate.iter().map(|x| finite(*x)).collect::<Vec<_>>(),
        "error": l.error.iter().map(|x| finite(*x)).collect::<Vec<_>>(),
        "fracexp": l.fracexp,
    })
}

impl ProductResult {
    /// Writes the product's FITS files (and the ODA catalog JSON) into `dir`, plus
    /// `result.json` (the document of [`ProductResult::to_json`]). Every file is written
    /// atomically.
    ///
    /// When `dir` lies in a publication's directory (or a publication is active, see
    /// [`Citation::for_output`]), every file carries its DOI: the FITS files in keywords `DOI`
    /// and `REFERENC` of every HDU, `result.json` in `doi` and `citation`.
    ///
    /// # Errors
    /// I/O and FITS errors, naming the file; an unreadable publication journal.
    pub fn write(&self, dir: &Path) -> Result<Vec<WrittenFile>> {
        let citation = match Citation::for_output(dir)? {
            Some(c) => Some(c),
            None => self.citation.clone(),
        };
        self.write_cited(dir, citation.as_ref())
    }

    /// Writes as [`ProductResult::write`] does, with the given citation (or none), whatever
    /// publication `dir` lies in. `oda publish verify` uses it to re-make published files.
    ///
    /// # Errors
    /// As [`ProductResult::write`].
    pub fn write_cited(&self, dir: &Path, citation: Option<&Citation>) -> Result<Vec<WrittenFile>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        let mut add = |kind: &str, path: &Path, source: Option<&str>| {
            files.push(WrittenFile {
                kind: kind.into(),
                path: path.strip_prefix(dir).unwrap_or(path).display().to_string(),
                source: source.map(str::to_string),
            });
        };
        let stems = unique_stems(self.product.sources().into_iter());
        let stem_of = |source: &str| -> String {
            stems
                .iter()
                .find(|(n, _)| n == source)
                .map_or_else(|| stem(source), |(_, s)| s.clone())
        };
        let spectrum_files = |s: &Spectrum, add: &mut dyn FnMut(&str, &Path, Option<&str>)| {
            write_spectrum_files(dir, &stem_of(&s.source), s).map(|f| {
                add("spectrum", &f.pha, Some(&s.source));
                add("rmf", &f.rmf, Some(&s.source));
                add("arf", &f.arf, Some(&s.source));
            })
        };
        match &self.product {
            Product::Image(image) => {
                let p = dir.join(format!("{}.fits", self.product.product_type().name()));
                write_image(&p, image)?;
                add("image", &p, None);
            }
            Product::JemxLightCurve { light_curves, .. } => {
                for lc in light_curves.iter().filter(|l| !l.is_empty()) {
                    let p = dir.join(format!("{}_lc.fits", stem_of(&lc.light_curve.source)));
                    write_jemx_lightcurve(&p, lc)?;
                    add("lightcurve", &p, Some(&lc.light_curve.source));
                }
            }
            Product::Spectrum { spectra, .. } => {
                for s in spectra.iter().filter(|s| s.exposure > 0.0) {
                    spectrum_files(s, &mut add)?;
                }
            }
            Product::LightCurve { light_curves, .. } => {
                for lc in light_curves.iter().filter(|l| !l.is_empty()) {
                    let p = dir.join(format!("{}_lc.fits", stem_of(&lc.source)));
                    write_lightcurve(&p, lc)?;
                    add("lightcurve", &p, Some(&lc.source));
                }
            }
            Product::SpectralFit { spectrum, .. } => {
                spectrum_files(spectrum, &mut add)?;
            }
            Product::AcsLightCurve { light_curve, .. } => {
                let p = dir.join("spi_acs_lc.fits");
                write_acs_lightcurve(&p, light_curve)?;
                add("lightcurve", &p, None);
            }
        }
        if self.product.has_catalog() {
            let p = dir.join("catalog.fits");
            let detector = self.product.detector().unwrap_or_default();
            write_catalog_for(&p, self.product.catalog(), detector)?;
            add("catalog", &p, None);
            let p = dir.join("catalog.json");
            crate::fits::write_bytes_atomically(
                &p,
                catalog_to_oda_json(self.product.catalog())
                    .to_string()
                    .as_bytes(),
            )?;
            add("catalog_json", &p, None);
        }
        if let Some(c) = citation {
            for f in files.iter().filter(|f| f.path.ends_with(".fits")) {
                crate::fits::stamp_citation(&dir.join(&f.path), &c.doi, &c.text)?;
            }
        }
        let mut doc = self.to_json(&files);
        if let Some(c) = citation {
            doc["doi"] = json!(c.doi);
            doc["doi_url"] = json!(c.url());
            doc["citation"] = json!(c.text);
        }
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| Error::io(dir.join("result.json"), std::io::Error::other(e)))?;
        crate::fits::write_bytes_atomically(&dir.join("result.json"), text.as_bytes())?;
        Ok(files)
    }

    /// The result as one JSON document: request (with its URL, Rust and Python forms), Science
    /// Windows, catalog rows, fit parameters and fluxes, light-curve points, files, and the
    /// units computed and reused.
    pub fn to_json(&self, files: &[WrittenFile]) -> Value {
        // The rates this product measured (an extraction catalog carries none of its own):
        // null where it measured nothing; no significance for a source the user added.
        let measured = self.measured_catalog();
        let catalog: Vec<Value> = measured
            .catalog
            .entries()
            .iter()
            .map(|e| {
                let added = e.origin == crate::analysis::catalog::Origin::User
                    && e.significance == 0.0;
                json!({
                    "name": e.name, "ra": e.position.ra(), "dec": e.position.dec(),
                    "significance": if added { Value::Null } else { finite(e.significance) },
                    "flux": finite(e.rate), "flux_error": finite(e.rate_err), "flux_unit": "count/s",
                    "flux_band_keV": [measured.band.0, measured.band.1],
                    "flux_method": measured.method.describe(),
                    "error_radius_arcmin": finite(e.error_radius_arcmin), "is_new": e.is_new,
                })
            })
            .collect();
        let mut doc = json!({
            "product": self.request.product.name(),
            "request": {
                "parameters": params_json(&self.request),
                "url_query": self.request.to_url_query(),
                "rust": self.request.to_rust_code(),
                "python": self.request.to_python_code(),
                "warnings": self.request.warnings,
            },
            "scws": self.scws.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "n_scw": self.scws.len(),
            "comments": self.comments,
            "catalog": catalog,
            "files": files,
            "identity": self.identity.hex(),
            "units": {
                "computed": self.log.computed().count(),
                "reused": self.log.reused().count(),
                "computed_by_unit": self.log.computed_by_name(),
                "reused_by_unit": self.log.reused_by_name(),
                "computed_identities": self.log.computed().map(|r| r.identity.hex()).collect::<Vec<_>>(),
            },
            "warnings": self.log.warnings,
            "elapsed_s": self.elapsed_s,
            "archive": self.origin,
            "provenance": self.provenance.nodes.iter().map(|n| json!({
                "name": n.name, "version": n.version, "identity": n.identity.hex(),
            })).collect::<Vec<_>>(),
        });
        match &self.product {
            Product::SpectralFit { fit, spectrum, .. } => {
                let (e1, e2) = spectrum.detector.flux_band_kev();
                let (f, fe) = fit.flux(e1, e2);
                doc["fit"] = json!({
                    "source": fit.source,
                    "model": fit.kind.xspec_name(),
                    "energy_range_keV": [fit.energy_range.0, fit.energy_range.1],
                    "parameters": fit.parameters.iter().map(|p| json!({
                        "name": p.name, "value": finite(p.value), "error": finite(p.error), "unit": p.unit,
                    })).collect::<Vec<_>>(),
                    "chi2": finite(fit.chi2), "dof": fit.dof, "p_value": finite(fit.p_value),
                    "flux": {"band_keV": [e1, e2], "value": finite(f), "error": finite(fe), "unit": "erg/cm2/s"},
                });
            }
            Product::LightCurve { light_curves, .. } => {
                doc["light_curves"] = light_curves
                    .iter()
                    .filter(|l| !l.is_empty())
                    .map(light_curve_json)
                    .collect();
            }
            Product::JemxLightCurve { light_curves, .. } => {
                doc["light_curves"] = light_curves
                    .iter()
                    .filter(|l| !l.is_empty())
                    .map(|j| {
                        let mut v = light_curve_json(&j.light_curve);
                        let finites = |x: &[f64]| x.iter().map(|x| finite(*x)).collect::<Vec<_>>();
                        v["instrument"] = json!(j.unit.name());
                        v["pi_channels"] = json!([j.channels.0, j.channels.1]);
                        v["background_rate"] = json!(finites(&j.background_rate));
                        v["background_error"] = json!(finites(&j.background_error));
                        v["off_axis_deg"] = finite(j.off_axis_deg);
                        v["vignetting"] = finite(j.vignetting);
                        v
                    })
                    .collect();
            }
            Product::Spectrum { spectra, .. } => {
                doc["spectra"] = spectra
                    .iter()
                    .map(|s| {
                        json!({
                            "source": s.source, "exposure_s": s.exposure,
                            "n_channels": s.n_channels(),
                        })
                    })
                    .collect();
            }
            Product::AcsLightCurve {
                light_curve,
                burst_search,
            } => {
                doc["spi_acs_lc"] = json!({
                    "t0_isot": light_curve.t0.to_isot(),
                    "time_unit": "s from t0 (UTC), bin centre", "rate_unit": "count/s",
                    "timedel_s": light_curve.timedel, "n_bins": light_curve.len(),
                });
                // Long curves stay in their FITS file: the JSON document is for reading.
                if light_curve.len() <= MAX_JSON_BINS {
                    doc["spi_acs_lc"]["time"] = json!(light_curve.time);
                    doc["spi_acs_lc"]["rate"] = json!(light_curve.rate);
                    doc["spi_acs_lc"]["error"] = json!(light_curve.error);
                }
                doc["burst_search"] = match burst_search {
                    Some(b) => acs_search_json(b),
                    None => Value::Null,
                };
            }
            Product::Image(image) => {
                let m = &image.mosaic;
                doc["image"] = json!({
                    "shape": m.intensity.dim(), "pixel_deg": m.projection.pixel_scale(),
                    "center": [m.projection.center().ra(), m.projection.center().dec()],
                    "band_keV": [m.band.e1, m.band.e2], "n_scw": m.n_images,
                });
            }
        }
        doc
    }
}

impl std::fmt::Display for ProductResult {
    /// A short human summary: selection, detections or fit, cache use, time.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (
            &self.product,
            self.request.selection.t1,
            self.request.selection.t2,
        ) {
            (Product::AcsLightCurve { .. }, Some(t1), Some(t2)) => writeln!(
                f,
                "{} — {t1} to {t2}, {:.2} s",
                self.request.product.name(),
                self.elapsed_s
            )?,
            _ => writeln!(
                f,
                "{} — {} Science Window(s), {:.2} s",
                self.request.product.name(),
                self.scws.len(),
                self.elapsed_s
            )?,
        }
        for c in &self.comments {
            writeln!(f, "  # {c}")?;
        }
        match &self.product {
            Product::SpectralFit { fit, .. } => writeln!(f, "{}", fit.to_string().trim_end())?,
            Product::LightCurve { light_curves, .. } => {
                for l in light_curves.iter().filter(|l| !l.is_empty()) {
                    writeln!(f, "  light curve {}: {} bins", l.source, l.len())?;
                }
            }
            Product::JemxLightCurve { light_curves, .. } => {
                for l in light_curves.iter().filter(|l| !l.is_empty()) {
                    writeln!(
                        f,
                        "  {} light curve {}: {} bins",
                        l.unit,
                        l.light_curve.source,
                        l.len()
                    )?;
                }
            }
            Product::Spectrum { spectra, .. } => {
                for s in spectra {
                    writeln!(f, "  spectrum {}: exposure {:.0} s", s.source, s.exposure)?;
                }
            }
            Product::Image(_) => {}
            Product::AcsLightCurve {
                light_curve,
                burst_search,
            } => {
                writeln!(
                    f,
                    "  SPI-ACS light curve: {} bins of {} s from T0 = {} {:+.2} s",
                    light_curve.len(),
                    light_curve.timedel,
                    light_curve.t0,
                    light_curve.time.first().copied().unwrap_or(0.0) - light_curve.timedel / 2.0
                )?;
                if let Some(b) = burst_search {
                    let best = &b.best;
                    writeln!(
                        f,
                        "  burst search: best excess {:.2}σ at T0{:+.2} s over {} s ({:.0} counts; false-alarm probability {:.2e}){}",
                        best.significance,
                        best.start_s,
                        best.timescale_s,
                        best.counts,
                        best.false_alarm_probability,
                        match b.fluence_upper_limit_erg_cm2 {
                            Some(ul) => format!(
                                "; nothing at ≥ {}σ: 3σ upper limit {ul:.2e} erg/cm² (1 s from T0)",
                                b.threshold_sigma
                            ),
                            None => format!(
                                "; {} detection(s) at ≥ {}σ",
                                b.detections.len(),
                                b.threshold_sigma
                            ),
                        }
                    )?;
                }
            }
        }
        if self.product.has_catalog() {
            write!(f, "{}", self.measured_catalog())?;
        }
        writeln!(
            f,
            "units: {} computed, {} reused from the cache; product identity {}",
            self.log.computed().count(),
            self.log.reused().count(),
            self.identity.short()
        )?;
        if let Some(c) = &self.citation {
            writeln!(f, "published as doi:{} — cite: {}", c.doi, c.text)?;
        }
        for w in &self.log.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for w in &self.request.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// The energy range a `spectral_fit` fits, keV: 30–1000 keV for ISGRI (the fitter's default),
/// JEM-X's whole 3–35 keV.
fn fit_range_kev(detector: Detector) -> Option<(f64, f64)> {
    match detector {
        Detector::Isgri => None,
        Detector::Jemx(_) => Some(jemx::BAND_LIMITS_KEV),
    }
}

/// The request's canonical parameters as a JSON object.
fn params_json(request: &Request) -> Value {
    Value::Object(
        request
            .parameters()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// An analysis session: the settings, the archive (opened on first use) and the workflow with
/// its cache. Requests in one session run one after the other and share the open archive.
pub struct Session {
    settings: Settings,
    archive: OnceLock<Arc<Archive>>,
    workflow: Workflow,
    batch: usize,
    busy: Mutex<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with these settings (the cache is opened now, the archive at the first request).
    ///
    /// # Errors
    /// An unusable cache directory.
    pub fn new(settings: Settings) -> Result<Session> {
        let mut cache = Cache::open(settings.cache_dir(), settings.cache_limit)?;
        if let Some(lease) = settings.lock_lease {
            cache = cache.with_lock_lease(lease);
        }
        let workflow = Workflow::new(cache).with_executor(settings.executor.clone());
        Ok(Session {
            settings,
            archive: OnceLock::new(),
            workflow,
            batch: MOSAIC_BATCH,
            busy: Mutex::new(()),
        })
    }

    /// A session with the settings of the environment (`ODA_DATA`, `ODA_ARCHIVE`, …).
    ///
    /// # Errors
    /// As [`Settings::from_env`] and [`Session::new`].
    pub fn from_env() -> Result<Session> {
        Session::new(Settings::from_env()?)
    }

    /// Reports the progress of long stages to `f`.
    pub fn with_progress(mut self, f: ProgressFn) -> Session {
        self.workflow = self.workflow.with_progress(f);
        self
    }

    /// Combines images in batches of `n` Science Windows (default [`MOSAIC_BATCH`]): memory
    /// holds one batch of images at a time.
    pub fn with_mosaic_batch(mut self, n: usize) -> Session {
        self.batch = n.max(1);
        self
    }

    /// The session of an `oda worker` task: its workflow computes the units of `assigned` and
    /// ends each request there (see [`Workflow::for_worker`]).
    pub fn for_worker(mut self, assigned: std::collections::HashSet<Identity>) -> Session {
        self.workflow = self.workflow.for_worker(assigned);
        self
    }

    /// What rebuilds `request`'s analysis in an `oda worker` (see [`super::run_worker_task`]).
    fn recipe(&self, request: &Request) -> Value {
        json!({
            "settings": self.settings,
            "request": request.to_url_query(),
            "mosaic_batch": self.batch,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The workflow (its cache, its log).
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// The archive, opened on first use.
    ///
    /// # Errors
    /// As [`Archive::open`].
    pub fn archive(&self) -> Result<Arc<Archive>> {
        if let Some(a) = self.archive.get() {
            return Ok(a.clone());
        }
        let a = Arc::new(Archive::open(&self.settings)?);
        Ok(self.archive.get_or_init(|| a).clone())
    }

    /// Runs `request`: selects the Science Windows, builds the analysis graph and gets its
    /// product from the workflow (reusing every cached unit).
    ///
    /// # Errors
    /// An empty selection; analysis errors; every Science Window failing (single failures are
    /// reported in the result's log and skipped).
    pub fn get_product(&self, request: &Request) -> Result<ProductResult> {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let t0 = Instant::now();
        let wf = &self.workflow;
        wf.clear_log();
        wf.set_recipe(
            matches!(self.settings.executor, Executor::Slurm(_)).then(|| self.recipe(request)),
        );
        let archive = self.archive()?;
        if request.product == ProductType::SpiAcsLc {
            let (product, root, comments) = acs_product(&archive, request)?;
            return self.result(request, product, &root, Vec::new(), comments, t0);
        }
        let jemx_unit = request.jemx_unit();
        let selection = match jemx_unit {
            Some(unit) => archive.select_jemx(&request.selection, unit)?,
            None => archive.select(&request.selection)?,
        };
        let scws: Vec<ScwId> = selection.ids();
        if scws.is_empty() {
            return Err(Error::EmptySelection {
                reason: format!(
                    "no Science Window matches {}{}",
                    request.to_url_query(),
                    selection
                        .comments
                        .iter()
                        .map(|c| format!("; {c}"))
                        .collect::<String>()
                ),
            });
        }
        // The events of the instrument asked for: ISGRI's or one JEM-X unit's.
        let (events, jemx_events) = match jemx_unit {
            None => (
                scws.iter()
                    .map(|id| ScwEvents::new(&archive, *id))
                    .collect::<Result<Vec<_>>>()?,
                Vec::new(),
            ),
            Some(unit) => (
                Vec::new(),
                scws.iter()
                    .map(|id| JemxScwEvents::new(&archive, *id, unit))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        // Events that do not fit the cache are streamed: generated or read once, in the pass
        // that images them and counts what the spectra or light curves need.
        wf.set_streaming(!events.is_empty() && streams_events(events.len(), wf.cache().limit()));
        let detector = jemx_unit.map_or(Detector::Isgri, Detector::Jemx);
        let version = request.selection.osa_version;
        let center = match request.selection.target {
            Some(t) => t,
            None => selection.scws[0].attitude.pointing(),
        };
        let target: Option<(String, SkyCoord)> = request.selection.target.map(|t| {
            (
                request
                    .selection
                    .src_name
                    .clone()
                    .unwrap_or_else(|| "target".into()),
                t,
            )
        });
        let detection = || -> Result<DetectionUnit> {
            let finder = SourceFinder::new(request.detection_threshold)?;
            Ok(match jemx_unit {
                None => DetectionUnit::new(
                    MosaicUnit::new(&events, request.band, version, center, self.batch)?,
                    finder.with_imaging(&archive.calibration(version)?.imaging),
                ),
                Some(_) => DetectionUnit::new(
                    MosaicUnit::jemx(&jemx_events, request.band, center, self.batch)?,
                    finder.with_imaging(&jemx::imaging_calibration()),
                ),
            })
        };
        let catalog_unit = || -> Result<CatalogUnit> {
            match &request.selected_catalog {
                Some(c) => CatalogUnit::user(c.clone()),
                None => Ok(CatalogUnit::detected(detection()?, target.clone())),
            }
        };
        // Spectra (`spectrum`) or light curves of the catalog's sources.
        let extraction = |spectrum: bool| -> Result<ExtractionUnit> {
            match jemx_unit {
                None => ExtractionUnit::new(
                    &events,
                    catalog_unit()?,
                    if spectrum {
                        Extraction::Spectrum(DEFAULT_CHANNELS.to_vec())
                    } else {
                        Extraction::LightCurve(request.band, request.time_bin_s)
                    },
                    version,
                ),
                Some(unit) => ExtractionUnit::jemx(
                    &jemx_events,
                    catalog_unit()?,
                    if spectrum {
                        JemxExtraction::Spectrum
                    } else {
                        JemxExtraction::LightCurve(request.band, request.time_bin_s)
                    },
                    unit,
                ),
            }
        };
        let request_node = |inputs: Vec<Arc<Node>>| {
            Node::new(request.product.name(), "1", params_json(request), inputs)
        };
        let (product, root) = match request.product {
            ProductType::IsgriImage | ProductType::JemxImage => {
                let det = detection()?;
                let catalog = wf.get(&det)?;
                let stack = wf.get(det.mosaic())?;
                let root = request_node(vec![det.node().clone()]);
                (
                    Product::Image(Box::new(Image {
                        mosaic: stack.mosaic,
                        catalog,
                        detector,
                    })),
                    root,
                )
            }
            ProductType::IsgriSpectrum | ProductType::JemxSpectrum | ProductType::SpectralFit => {
                let unit = extraction(true)?;
                wf.count_alongside(unit.counts());
                let catalog = wf.get(unit.catalog().as_ref())?;
                if request.product != ProductType::SpectralFit {
                    let Extracted::Spectra(spectra) = wf.get(&unit)? else {
                        return Err(internal("spectra"));
                    };
                    let root = request_node(vec![unit.node().clone()]);
                    (Product::Spectrum { spectra, catalog }, root)
                } else {
                    let source = fit_source(&catalog, target.as_ref())?;
                    let mut fitter = SpectralFitter::new(request.xspec_model);
                    if let Some((e1, e2)) = fit_range_kev(detector) {
                        fitter = fitter.energy_range(e1, e2)?;
                    }
                    let fit_unit = FitUnit::with_fitter(unit.clone(), &source, fitter);
                    let fit = wf.get(&fit_unit)?;
                    let Extracted::Spectra(spectra) = wf.get(&unit)? else {
                        return Err(internal("spectra"));
                    };
                    let spectrum = spectra
                        .into_iter()
                        .find(|s| s.source == source)
                        .ok_or_else(|| internal("the fitted spectrum"))?;
                    let root = request_node(vec![fit_unit.node().clone()]);
                    (
                        Product::SpectralFit {
                            fit: Box::new(fit),
                            spectrum: Box::new(spectrum),
                            catalog,
                        },
                        root,
                    )
                }
            }
            ProductType::IsgriLc | ProductType::JemxLc => {
                let unit = extraction(false)?;
                wf.count_alongside(unit.counts());
                let catalog = wf.get(unit.catalog().as_ref())?;
                let product = match wf.get(&unit)? {
                    Extracted::LightCurves(light_curves) => Product::LightCurve {
                        light_curves,
                        catalog,
                    },
                    Extracted::JemxLightCurves(light_curves) => Product::JemxLightCurve {
                        light_curves,
                        catalog,
                    },
                    Extracted::Spectra(_) => return Err(internal("light curves")),
                };
                (product, request_node(vec![unit.node().clone()]))
            }
            // Answered above, before any Science Window is selected.
            ProductType::SpiAcsLc => return Err(internal("SPI-ACS light curve")),
        };
        self.result(
            request,
            product,
            &root,
            scws,
            selection.comments.clone(),
            t0,
        )
    }

    /// The result of `request`: its product, provenance (from `root`), Science Windows,
    /// remarks, the workflow's log, the time since `t0` and the active citation.
    ///
    /// # Errors
    /// An unreadable publication journal.
    fn result(
        &self,
        request: &Request,
        product: Product,
        root: &Arc<Node>,
        scws: Vec<ScwId>,
        comments: Vec<String>,
        t0: Instant,
    ) -> Result<ProductResult> {
        Ok(ProductResult {
            request: request.clone(),
            product,
            scws,
            comments,
            identity: root.identity,
            provenance: root.graph(),
            log: self.workflow.log(),
            elapsed_s: t0.elapsed().as_secs_f64(),
            citation: Citation::active()?,
            origin: Some(self.settings.origin()),
        })
    }
}

use crate::workflow::Unit;

/// The `spi_acs_lc` product of `request`: the rate over T1–T2 in bins of `time_bin` (whole bins
/// only: the last partial bin is left out), with times from T0, the middle of T1–T2, and the
/// burst search around T0 on the native 50 ms bins; its provenance node; remarks.
fn acs_product(archive: &Archive, request: &Request) -> Result<(Product, Arc<Node>, Vec<String>)> {
    let (Some(t1), Some(t2)) = (request.selection.t1, request.selection.t2) else {
        return Err(Error::invalid(
            "T1",
            "(missing)",
            "the start and end of the SPI-ACS light curve (T1 and T2)",
        ));
    };
    let half = t2.seconds_since(t1) / 2.0;
    let t_ref = t1.add_seconds(half);
    let raw = archive.acs_counts(t1, t2)?;
    let first_start = spiacs::bin_start(raw.first_bin).seconds_since(t_ref);
    let native: Vec<f64> = raw.counts.iter().map(|c| f64::from(*c)).collect();
    let m = ((request.time_bin_s / spiacs::BIN_S).round() as usize).max(1);
    let binned: Vec<f64> = native.chunks_exact(m).map(|c| c.iter().sum()).collect();
    let mut comments = Vec::new();
    if !native.len().is_multiple_of(m) {
        comments.push(format!(
            "the last {:.2} s before T2 do not fill a {} s bin and were left out",
            (native.len() % m) as f64 * spiacs::BIN_S,
            request.time_bin_s
        ));
    }
    if request.is_realtime() {
        comments.push(
            "data_level=realtime: the simulated archive has one SPI-ACS stream, the same as ordinary".into(),
        );
    }
    let light_curve =
        AcsLightCurve::from_counts(t_ref, first_start, m as f64 * spiacs::BIN_S, &binned)?;
    let burst_search = if 2.0 * half >= MIN_ACS_SEARCH_SPAN_S {
        let native_lc = AcsLightCurve::from_counts(t_ref, first_start, spiacs::BIN_S, &native)?;
        let w = ACS_SEARCH_HALF_WIDTH_S.min(half / 3.0);
        let search = BurstSearch::new()
            .search_window(-w, w)?
            .background_span(ACS_BACKGROUND_SPAN_S.min(half))?;
        match search.run(&native_lc) {
            Ok(r) => Some(Box::new(r)),
            Err(e) => {
                comments.push(format!("no burst search: {e}"));
                None
            }
        }
    } else {
        comments.push(format!(
            "no burst search: the span is under {MIN_ACS_SEARCH_SPAN_S} s (the background needs data on both sides of T0)"
        ));
        None
    };
    let rate = Node::new(
        "SpiAcsRate",
        ACS_RATE_UNIT_VERSION,
        json!({"source": archive.acs_provenance(), "first_bin": raw.first_bin, "n_bins": raw.counts.len()}),
        Vec::new(),
    );
    let root = Node::new(
        request.product.name(),
        "1",
        params_json(request),
        vec![rate],
    );
    Ok((
        Product::AcsLightCurve {
            light_curve,
            burst_search,
        },
        root,
        comments,
    ))
}

/// Version of the SPI-ACS rate unit (bump when the binning or the search changes).
const ACS_RATE_UNIT_VERSION: &str = "1";

/// The burst search of an `spi_acs_lc` product as JSON (without the significance of every
/// window tried).
fn acs_search_json(b: &BurstSearchResult) -> Value {
    let excess = |e: &crate::analysis::burst::Excess| {
        json!({
            "start_s": e.start_s, "timescale_s": e.timescale_s, "counts": e.counts,
            "background_counts": e.background_counts, "significance": finite(e.significance),
            "p_single": e.p_single, "false_alarm_probability": e.false_alarm_probability,
        })
    };
    json!({
        "threshold_sigma": b.threshold_sigma,
        "best": excess(&b.best),
        "detections": b.detections.iter().map(excess).collect::<Vec<_>>(),
        "noise_ratio": b.noise_ratio,
        "windows": b.windows,
        "spikes_s": b.spikes_s,
        "masked_s": b.masked_s,
        "spike_like": b.spike_like,
        "fluence_upper_limit_erg_cm2": b.fluence_upper_limit_erg_cm2,
        "fluence_band_keV": [75.0, 1000.0],
    })
}

fn internal(what: &str) -> Error {
    Error::invalid(
        "product",
        what,
        "the product the analysis unit computes (internal inconsistency: please report)",
    )
}

/// The catalog source to fit: the one at the target, else the most significant.
fn fit_source(catalog: &Catalog, target: Option<&(String, SkyCoord)>) -> Result<String> {
    if let Some((name, pos)) = target {
        if let Some(e) = catalog.get(name) {
            return Ok(e.name.clone());
        }
        if let Some(e) = catalog
            .entries()
            .iter()
            .filter(|e| e.position.separation(pos) * 60.0 < TARGET_MATCH_ARCMIN)
            .min_by(|a, b| {
                a.position
                    .separation(pos)
                    .total_cmp(&b.position.separation(pos))
            })
        {
            return Ok(e.name.clone());
        }
    }
    catalog
        .entries()
        .iter()
        .max_by(|a, b| a.significance.total_cmp(&b.significance))
        .map(|e| e.name.clone())
        .ok_or_else(|| {
            Error::invalid(
                "selected_catalog",
                "(empty)",
                "a catalog with the source to fit (give src_name or RA/DEC)",
            )
        })
}

impl ProductResult {
    /// Writes the product into the active publication (see [`Citation::active`]) as
    /// `<publication>/products/<name>/`, so that it carries the publication's DOI and is part of
    /// the record; returns the directory, or `None` (writing nothing) when no publication is
    /// active — a notebook then runs the same with and without publishing.
    ///
    /// # Errors
    /// A `name` that is not one plain directory name; as [`ProductResult::write`].
    pub fn write_to_publication(&self, name: &str) -> Result<Option<PathBuf>> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::invalid(
                "name",
                name,
                "a plain directory name for the product (e.g. crab-image)",
            ));
        }
        match crate::products::active_publication_dir() {
            Some(dir) => {
                let out = dir.join("products").join(name);
                self.write(&out)?;
                Ok(Some(out))
            }
            None => Ok(None),
        }
    }
}

/// Runs `request` in a new [`Session`] with the environment's settings.
///
/// # Errors
/// As [`Session::get_product`].
pub fn get_product(request: &Request) -> Result<ProductResult> {
    Session::from_env()?.get_product(request)
}

/// The default output directory name of a request: `<product>-<identity prefix>`.
pub fn default_out_dir(result: &ProductResult) -> PathBuf {
    PathBuf::from(format!(
        "{}-{}",
        result.request.product.name(),
        result.identity.short()
    ))
}

#[cfg(test)]
mod stem_tests {
    use super::unique_stems;

    #[test]
    fn names_that_fold_alike_get_distinct_file_stems() {
        let stems = unique_stems(["A B", "A_B", "a_b", "Crab"].into_iter());
        let s: Vec<&str> = stems.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(s[0], "A_B");
        assert!(s[1].starts_with("A_B-") && s[1].len() == 10, "{s:?}");
        assert!(s[2].starts_with("a_b-"), "{s:?}");
        assert_eq!(s[3], "Crab");
        let lower: std::collections::HashSet<String> =
            s.iter().map(|x| x.to_ascii_lowercase()).collect();
        assert_eq!(lower.len(), 4, "{s:?}");
        // The same names give the same stems (products are reproducible).
        assert_eq!(
            stems,
            unique_stems(["A B", "A_B", "a_b", "Crab"].into_iter())
        );
    }
}
