//! JEM-X source extraction: the rates of known sources in one unit's Science Window, fitted to
//! the detector image (the shadowgram) with each source's illumination pattern, and their
//! spectra in the 16 standard channels with ARF and RMF.
//!
//! For a source at off-axis tangents t the expected counts in detector cell d are
//! R·T·L·PIF_t(d) / ΣPIF₀, with R its on-axis equivalent rate (counts/s, what OSA's
//! vignetting-corrected light curves and spectra give), T·L the live exposure and PIF the
//! illumination through the mask and the collimator (on axis, ΣPIF₀ over the detector
//! normalises it), plus a flat background b per cell. The rates of every catalog source within
//! the collimator's field and b are fitted together by weighted least squares with Poisson
//! weights from the model itself (iterated: Pearson χ², which has the Poisson likelihood's
//! maximum to first order), so sources sharing the field do not bias each other.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::catalog::Catalog;
use super::extract::{Acc, check_catalog, no_source_in_field, push_bin};
use super::skyfit::invert;
use crate::archive::JemxEvents;
use crate::datasets::{JemxLightCurve, LightCurve, Spectrum};
use crate::error::{Error, Result};
use crate::instrument::Detector;
use crate::instrument::jemx::{
    self, JemxCalibration, JemxUnit, STANDARD_CHANNEL_EDGES_KEV, pi_energy_kev, pi_of_energy,
};
use crate::instrument::response::{Arf, Redistribution, Rmf};
use crate::osa::OsaVersion;
use crate::sky::SkyCoord;
use crate::time::{SECONDS_PER_DAY, Time};

use super::image::ScwImager;
use super::shadowgram::{EnergyBand, Shadowgram};

/// Sources further off axis than this are not fitted (the collimator is closed at 6.6°).
const MAX_OFF_AXIS_DEG: f64 = 6.7;
/// Reweighting iterations of the fit.
const ITERATIONS: usize = 4;

/// The rate of one source in one Science Window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxRate {
    /// Source name.
    pub source: String,
    /// On-axis equivalent rate (vignetting- and dead-time-corrected), counts/s.
    pub rate: f64,
    /// Its 1σ error, counts/s.
    pub error: f64,
    /// Off-axis angle, degrees.
    pub off_axis_deg: f64,
    /// The vignetting the rate was corrected for: coded fraction × collimator transmission.
    pub vignetting: f64,
    /// The background under the source on the rate's scale, counts/s: the fitted background
    /// counts in the detector area an on-axis source lights (its open-mask fraction), per second
    /// of live time (OSA's BRATE).
    pub background_rate: f64,
    /// Its 1σ error, counts/s.
    pub background_error: f64,
}

/// The fitted rates of the sources in a unit's Science Window, in one PI range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxScwFit {
    /// The unit.
    pub unit: JemxUnit,
    /// PI channels used (inclusive).
    pub pi_range: (u16, u16),
    /// Live exposure, s.
    pub exposure: f64,
    /// One rate per source asked for (in the field or not: those outside have no row).
    pub rates: Vec<JemxRate>,
    /// Background counts per 1.1 mm detector cell.
    pub background_per_cell: f64,
    /// χ² of the fit and its degrees of freedom.
    pub chi2: (f64, usize),
}

impl JemxScwFit {
    /// The rate of `source`, if it was in the field.
    pub fn rate(&self, source: &str) -> Option<&JemxRate> {
        self.rates.iter().find(|r| r.source == source)
    }
}

/// The detector image of `events` in PI channels `pi_range` (inclusive): good events (STATUS 0)
/// counted on the 1.1 mm imaging grid.
pub fn jemx_shadowgram(events: &JemxEvents, pi_range: (u16, u16)) -> Array2<f64> {
    jemx_shadowgram_between(events, pi_range, 0..events.len())
}

/// The detector image of the events `range` (indices into the time-sorted `events`).
fn jemx_shadowgram_between(
    events: &JemxEvents,
    pi_range: (u16, u16),
    range: std::ops::Range<usize>,
) -> Array2<f64> {
    let g = jemx::geometry(events.unit);
    let (ny, nz) = g.detector().dim();
    let (cy, cz) = (ny as f64 / 2.0, nz as f64 / 2.0);
    let mut counts = Array2::zeros((ny, nz));
    for i in range {
        let pi = u16::from(events.pi[i]);
        if events.status[i] != 0 || pi < pi_range.0 || pi > pi_range.1 {
            continue;
        }
        let y = (f64::from(events.detx[i]) / jemx::RASTER_MM + cy).floor();
        let z = (f64::from(events.dety[i]) / jemx::RASTER_MM + cz).floor();
        if y >= 0.0 && z >= 0.0 && (y as usize) < ny && (z as usize) < nz {
            counts[[y as usize, z as usize]] += 1.0;
        }
    }
    counts
}

/// The shadowgram of `events` in `band` for the coded-mask imaging chain
/// ([`super::image::ScwImager::with_telescope`]): good counts on the 1.1 mm grid in the band's
/// PI channels, the sensitive disc as efficiency, a flat background template (*assumed*: the
/// gas detector's background is taken as uniform over the disc), the live exposure.
///
/// # Errors
/// A band outside JEM-X's 3–35 keV.
pub fn jemx_imaging_shadowgram(events: &JemxEvents, band: EnergyBand) -> Result<Shadowgram> {
    let pi_range = pi_range_of_band(band.e1, band.e2)?;
    let g = jemx::geometry(events.unit);
    let layout = g.detector().layout().clone();
    let h = &events.header;
    Ok(Shadowgram {
        swid: h.swid,
        attitude: h.attitude,
        band,
        time_range: (h.tstart, h.tstop),
        counts: jemx_shadowgram(events, pi_range),
        efficiency: layout.clone(),
        background: layout,
        exposure: h.exposure(),
        osa_version: OsaVersion::default(),
        t_mid: Time::from_ijd_unchecked(0.5 * (h.tstart + h.tstop)),
    })
}

/// An imager of `unit`'s Science Windows: the shared coded-mask imager on JEM-X's geometry,
/// with its imaging calibration and rate convention, cleaning sources above `clean_threshold` σ
/// (at most `max_sources`).
///
/// # Errors
/// A threshold that is not positive and finite.
pub fn jemx_imager(unit: JemxUnit, clean_threshold: f64, max_sources: usize) -> Result<ScwImager> {
    Ok(
        ScwImager::new(clean_threshold, max_sources)?.with_telescope(
            jemx::geometry(unit),
            &jemx::imaging_calibration(),
            jemx_rate_scale,
        ),
    )
}

/// A JEM-X energy band, keV (3–35 keV allowed).
///
/// # Errors
/// A band outside 3–35 keV or empty.
pub fn jemx_band(e1: f64, e2: f64) -> Result<EnergyBand> {
    EnergyBand::within(e1, e2, "JEM-X", jemx::BAND_LIMITS_KEV)
}

/// JEM-X's rate convention: on-axis equivalent counts/s whatever the OSA version.
pub fn jemx_rate_scale(_version: OsaVersion) -> f64 {
    1.0
}

/// The PI channels of an energy band (keV): from the channel holding `e1` to the one below `e2`.
///
/// # Errors
/// A band outside 3–35 keV or empty (named `E1_keV`, `E2_keV`).
pub fn pi_range_of_band(e1: f64, e2: f64) -> Result<(u16, u16)> {
    let (lo, hi) = jemx::BAND_LIMITS_KEV;
    if !(e1.is_finite() && e2.is_finite() && lo <= e1 && e1 < e2 && e2 <= hi) {
        return Err(Error::invalid(
            "E1_keV",
            format!("{e1}–{e2} keV"),
            format!("a band within JEM-X's {lo} - {hi} keV with E1_keV < E2_keV"),
        ));
    }
    let first = pi_of_energy(e1 + 1e-9);
    let last = pi_of_energy(e2 - 1e-9);
    Ok((first, last.max(first)))
}

/// Fits the rates of `sources` (name, position) in `events`, PI channels `pi_range`: the
/// [`JemxSourceModel`] of the Science Window, fitted once.
///
/// # Errors
/// No live exposure, no source in the field, or a singular fit (sources too close to be told
/// apart).
pub fn fit_jemx_rates(
    events: &JemxEvents,
    pi_range: (u16, u16),
    sources: &[(String, SkyCoord)],
) -> Result<JemxScwFit> {
    JemxSourceModel::new(events, sources)?.fit(pi_range)
}

/// The sources of one unit's Science Window as the fit sees them: each source's expected counts
/// per cell for a unit rate (its illumination, exposure included) and the flat background.
/// They do not depend on the energy band, so a spectrum computes them once per Science Window
/// and fits every channel with them.
#[derive(Clone, Debug)]
pub struct JemxSourceModel<'a> {
    events: &'a JemxEvents,
    exposure: f64,
    names: Vec<String>,
    /// One column per source (counts per unit rate), then the background (counts per cell).
    columns: Vec<Vec<f64>>,
    /// (off-axis angle, vignetting) per source.
    geometry_of: Vec<(f64, f64)>,
    /// The detector cells on the sensitive disc.
    cells: Vec<usize>,
    /// Σ of the on-axis illumination over the detector (open fraction × cells).
    on_axis_sum: f64,
}

impl<'a> JemxSourceModel<'a> {
    /// The model of `sources` (name, position) in the field of `events`.
    ///
    /// # Errors
    /// No live exposure, or no source in the field.
    pub fn new(events: &'a JemxEvents, sources: &[(String, SkyCoord)]) -> Result<Self> {
        let exposure = events.header.exposure();
        if exposure <= 0.0 {
            return Err(Error::ScienceWindow {
                swid: events.header.swid.to_string(),
                reason: format!("{} has no live exposure", events.unit),
            });
        }
        Self::in_field(events, sources)?.ok_or_else(|| Error::ScienceWindow {
            swid: events.header.swid.to_string(),
            reason: format!("no source of the catalog is in {}'s field", events.unit),
        })
    }

    /// The model of those of `sources` in the field of `events`; `None` when none is, or when
    /// the Science Window has no live exposure.
    ///
    /// # Errors
    /// None today (the geometry's constants are checked by tests); kept for the real archive's
    /// attitude problems.
    pub fn in_field(
        events: &'a JemxEvents,
        sources: &[(String, SkyCoord)],
    ) -> Result<Option<Self>> {
        let exposure = events.header.exposure();
        if exposure <= 0.0 {
            return Ok(None);
        }
        let g = jemx::geometry(events.unit);
        let layout = g.detector().layout();
        let on_axis_sum = g.on_axis_open_fraction() * g.detector().n_pixels() as f64;
        let mut names = Vec::new();
        let mut columns: Vec<Vec<f64>> = Vec::new();
        let mut geometry_of = Vec::new();
        for (name, pos) in sources {
            let off = events.header.attitude.off_axis_angle(pos);
            if off > MAX_OFF_AXIS_DEG {
                continue;
            }
            let Some((ty, tz)) = events.header.attitude.to_tangents(pos) else {
                continue;
            };
            // The illumination includes the collimator (part of the geometry).
            let pif = g.pif(ty, tz);
            let lit = pif.sum();
            if lit <= 0.0 {
                continue;
            }
            let scale = exposure / on_axis_sum;
            columns.push(pif.iter().map(|p| p * scale).collect());
            names.push(name.clone());
            geometry_of.push((off, lit / on_axis_sum));
        }
        if names.is_empty() {
            return Ok(None);
        }
        columns.push(layout.iter().copied().collect());
        let cells: Vec<usize> = (0..layout.len())
            .filter(|&i| layout.as_slice().is_some_and(|l| l[i] > 0.0))
            .collect();
        Ok(Some(JemxSourceModel {
            events,
            exposure,
            names,
            columns,
            geometry_of,
            cells,
            on_axis_sum,
        }))
    }

    /// The names of the sources in the field, in the order of the fits' rates.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The live exposure of the Science Window, s.
    pub fn exposure(&self) -> f64 {
        self.exposure
    }

    /// Fits the sources' rates and the background to the detector image in PI channels
    /// `pi_range` (see the module documentation).
    ///
    /// # Errors
    /// A singular fit (sources too close to be told apart).
    pub fn fit(&self, pi_range: (u16, u16)) -> Result<JemxScwFit> {
        let y = jemx_shadowgram(self.events, pi_range);
        self.fit_counts(&y, pi_range, self.exposure)
    }

    /// Fits the rates in PI channels `pi_range` to the events between `t_from` and `t_to`
    /// (IJD), whose live exposure is `exposure` s: one bin of a light curve.
    ///
    /// # Errors
    /// A non-positive exposure; a singular fit.
    pub fn fit_between(
        &self,
        pi_range: (u16, u16),
        (t_from, t_to): (f64, f64),
        exposure: f64,
    ) -> Result<JemxScwFit> {
        if !(exposure.is_finite() && exposure > 0.0) {
            return Err(Error::invalid(
                "exposure",
                exposure,
                "a positive live time of the bin, s",
            ));
        }
        let time = &self.events.time;
        let range = time.partition_point(|t| *t < t_from)..time.partition_point(|t| *t < t_to);
        let y = jemx_shadowgram_between(self.events, pi_range, range);
        self.fit_counts(&y, pi_range, exposure)
    }

    /// The fit of detector image `y` taken over `exposure` s of live time.
    fn fit_counts(
        &self,
        y: &Array2<f64>,
        pi_range: (u16, u16),
        exposure: f64,
    ) -> Result<JemxScwFit> {
        let events = self.events;
        let (columns, cells, names) = (&self.columns, &self.cells, &self.names);
        // The sources' columns are counts per unit rate over the whole exposure: fitted as they
        // are, their coefficients are rates × exposure / the whole exposure, converted below
        // (the background column is per cell and needs no conversion).
        let to_rate = self.exposure / exposure;
        let k = columns.len();
        let y: Vec<f64> = y.iter().copied().collect();
        let mut params = vec![0.0; k];
        // Start from uniform weights (ordinary least squares), then weight by the model.
        let mut weights: Vec<f64> = vec![1.0; y.len()];
        let mut cov = vec![0.0; k * k];
        let mut chi2 = 0.0;
        for iteration in 0..=ITERATIONS {
            let mut a = vec![0.0; k * k];
            let mut b = vec![0.0; k];
            for &i in cells {
                let w = weights[i];
                for r in 0..k {
                    let xr = columns[r][i];
                    if xr == 0.0 {
                        continue;
                    }
                    b[r] += w * xr * y[i];
                    for c in 0..k {
                        a[r * k + c] += w * xr * columns[c][i];
                    }
                }
            }
            let inv = invert(&a, k).ok_or_else(|| Error::ScienceWindow {
                swid: events.header.swid.to_string(),
                reason: format!(
                    "{}: the sources {} cannot be told apart",
                    events.unit,
                    names.join(", ")
                ),
            })?;
            params = (0..k)
                .map(|r| (0..k).map(|c| inv[r * k + c] * b[c]).sum())
                .collect();
            cov = inv;
            chi2 = 0.0;
            for &i in cells {
                let model: f64 = (0..k).map(|r| params[r] * columns[r][i]).sum();
                // Poisson variance from the model, never below a tenth of a count.
                let var = model.max(0.1);
                if iteration < ITERATIONS {
                    weights[i] = 1.0 / var;
                }
                chi2 += (y[i] - model).powi(2) / var;
            }
        }
        // The background counts an on-axis source's open-mask area collects, per second.
        let per_rate = self.on_axis_sum / exposure;
        let (b, b_err) = (params[k - 1], cov[(k - 1) * k + k - 1].max(0.0).sqrt());
        let rates = names
            .iter()
            .enumerate()
            .map(|(j, name)| JemxRate {
                source: name.clone(),
                rate: params[j] * to_rate,
                error: cov[j * k + j].max(0.0).sqrt() * to_rate,
                off_axis_deg: self.geometry_of[j].0,
                vignetting: self.geometry_of[j].1,
                background_rate: b * per_rate,
                background_error: b_err * per_rate,
            })
            .collect();
        Ok(JemxScwFit {
            unit: events.unit,
            pi_range,
            exposure,
            rates,
            background_per_cell: params[k - 1],
            chi2: (chi2, cells.len().saturating_sub(k)),
        })
    }
}

/// The 16 standard channels as PI ranges (inclusive), and their edges in keV on the PI scale.
pub fn standard_channels() -> (Vec<(u16, u16)>, Vec<f64>) {
    let pis: Vec<u16> = STANDARD_CHANNEL_EDGES_KEV
        .iter()
        .map(|e| pi_of_energy(e + 1e-6))
        .collect();
    let ranges = pis.windows(2).map(|w| (w[0], w[1] - 1)).collect();
    let edges = pis.iter().map(|p| pi_energy_kev(f64::from(*p))).collect();
    (ranges, edges)
}

/// The response of `unit`'s on-axis-equivalent spectra in the standard channels from the
/// design (the cited area and resolution): [`jemx_response_of`] the design's calibration.
///
/// # Errors
/// None for JEM-X's constants (the response builders' checks).
pub fn jemx_response(unit: JemxUnit) -> Result<(Arf, Rmf)> {
    jemx_response_of(&JemxCalibration::design(unit))
}

/// The response of on-axis-equivalent spectra in the standard channels from `calibration` (an
/// archive's JEM-X response file): its on-axis area (ARF) and its Gaussian resolution into the
/// channels' PI ranges (RMF), on 200 log-spaced true-energy bins from 1.5 to 60 keV.
///
/// # Errors
/// The response builders' checks (areas or widths that are not finite and positive).
pub fn jemx_response_of(calibration: &JemxCalibration) -> Result<(Arf, Rmf)> {
    let (_, edges) = standard_channels();
    let n = 200;
    let true_edges: Vec<f64> = (0..=n)
        .map(|i| 1.5 * (60.0f64 / 1.5).powf(i as f64 / n as f64))
        .collect();
    let arf = Arf::from_area(&true_edges, |e| calibration.area_cm2(e))?;
    let fwhm = |e: f64| calibration.fwhm_kev(e);
    let rmf = Rmf::from_redistribution(
        &true_edges,
        &edges,
        &Redistribution {
            fwhm_kev: &fwhm,
            pulse_per_kev: 1.0,
            threshold_kev: 0.0,
            threshold_width_kev: 0.01,
            measured_per_reconstructed: 1.0,
        },
    )?;
    Ok((arf, rmf))
}

/// The spectrum of `source` in the 16 standard channels from the Science Windows `events` (all
/// of one unit): per channel, the rates of every catalog source (`sources`, which must include
/// `source`) fitted in each ScW and averaged with inverse-variance weights; with the response of
/// [`jemx_response`] and OSA's 3 % systematic error. The same as a [`JemxSpectrumExtractor`]
/// over these Science Windows.
///
/// # Errors
/// No events, events of two units, `source` in no ScW's field, or a fit error.
pub fn jemx_spectrum(
    events: &[JemxEvents],
    source: &str,
    sources: &[(String, SkyCoord)],
) -> Result<Spectrum> {
    let unit = events.first().map(|e| e.unit).ok_or_else(|| {
        Error::invalid(
            "scw_list",
            "(empty)",
            "at least one Science Window with JEM-X data",
        )
    })?;
    let k = sources
        .iter()
        .position(|(n, _)| n == source)
        .ok_or_else(|| Error::invalid("src_name", source, "one of the sources given"))?;
    let extractor = JemxSpectrumExtractor::new(unit);
    let parts: Vec<JemxScwSpectra> = events
        .iter()
        .map(|ev| extractor.part_of(ev, sources))
        .collect::<Result<_>>()?;
    let spectrum = extractor.combine_sources(&parts, sources)?.swap_remove(k);
    if spectrum.exposure <= 0.0 {
        return Err(Error::invalid(
            "src_name",
            source,
            format!("a source in {unit}'s field of view in the Science Windows given"),
        ));
    }
    Ok(spectrum)
}

/// The catalog as the JEM-X fits take it: (name, position) per source.
fn named_positions(catalog: &Catalog) -> Vec<(String, SkyCoord)> {
    catalog
        .entries()
        .iter()
        .map(|e| (e.name.clone(), e.position))
        .collect()
}

/// The model of the `sources` in the field of `events` with their indices in `sources` (in
/// the order of the fits' rates); `None` when none is in the field.
fn model_in_field<'a>(
    events: &'a JemxEvents,
    sources: &[(String, SkyCoord)],
) -> Result<Option<(JemxSourceModel<'a>, Vec<usize>)>> {
    Ok(JemxSourceModel::in_field(events, sources)?.map(|model| {
        let indices = model
            .names()
            .iter()
            .filter_map(|n| sources.iter().position(|(s, _)| s == n))
            .collect();
        (model, indices)
    }))
}

/// Checks that `events` are `unit`'s.
fn check_unit(unit: JemxUnit, events: &JemxEvents) -> Result<()> {
    if events.unit == unit {
        Ok(())
    } else {
        Err(Error::invalid(
            "jemx_num",
            events.unit.number(),
            format!(
                "the extractor's unit, {} (one JEM-X unit per product)",
                unit.number()
            ),
        ))
    }
}

/// What one Science Window contributes to JEM-X spectra: the rates of the catalog sources in
/// its field in each standard channel ([`JemxSpectrumExtractor::scw_part`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxScwSpectra {
    /// Catalog indices of the sources in the field.
    pub sources: Vec<usize>,
    /// Per channel, (rate, error) per source in the field, counts/s (on-axis equivalent).
    pub channels: Vec<Vec<(f64, f64)>>,
    /// Live exposure, s (0 when no source is in the field).
    pub exposure: f64,
    /// Start and end of the Science Window, IJD.
    pub time_range: (f64, f64),
}

/// Extracts JEM-X spectra of a catalog's sources in the 16 standard channels, one Science Window
/// at a time (the settings are the unit; the method's version is in the workflow's identity).
///
/// ```no_run
/// # use oda::analysis::jemx::JemxSpectrumExtractor;
/// # use oda::instrument::jemx::JemxUnit;
/// # fn f(events: &[oda::archive::JemxEvents], catalog: &oda::analysis::catalog::Catalog) -> oda::Result<()> {
/// let x = JemxSpectrumExtractor::new(JemxUnit::Jmx1);
/// let parts = events.iter().map(|e| x.scw_part(e, catalog)).collect::<oda::Result<Vec<_>>>()?;
/// let spectra = x.combine(&parts, catalog)?; // one per catalog source
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JemxSpectrumExtractor {
    /// The response (and with it the unit) the spectra carry: in the settings by its files' checksums (or, without
    /// files, a digest of its tables), not row by row.
    #[serde(serialize_with = "calibration_identity")]
    calibration: std::sync::Arc<JemxCalibration>,
}

/// What identifies a JEM-X response in a unit's settings: the unit and its files' checksums, or
/// the SHA-256 of its tables when it was not read from files.
fn calibration_identity<S: serde::Serializer>(
    c: &std::sync::Arc<JemxCalibration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    use sha2::{Digest, Sha256};
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry("unit", c.unit.name())?;
    if c.files.is_empty() {
        let mut h = Sha256::new();
        for (e, v) in c.area.iter().chain(&c.resolution) {
            h.update(e.to_le_bytes());
            h.update(v.to_le_bytes());
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        m.serialize_entry("tables_sha256", &hex)?;
    } else {
        m.serialize_entry("files", &c.files)?;
    }
    m.end()
}

impl JemxSpectrumExtractor {
    /// Spectra of `unit` with the design's response.
    pub fn new(unit: JemxUnit) -> JemxSpectrumExtractor {
        JemxSpectrumExtractor {
            calibration: std::sync::Arc::new(JemxCalibration::design(unit)),
        }
    }

    /// Spectra of `calibration`'s unit with its response (an archive's JEM-X response file).
    pub fn with_calibration(calibration: std::sync::Arc<JemxCalibration>) -> JemxSpectrumExtractor {
        JemxSpectrumExtractor { calibration }
    }

    /// The unit.
    pub fn unit(&self) -> JemxUnit {
        self.calibration.unit
    }

    /// The per-channel fits of one Science Window of the unit for the sources of `catalog`.
    ///
    /// # Errors
    /// Events of the other unit; a singular fit.
    pub fn scw_part(&self, events: &JemxEvents, catalog: &Catalog) -> Result<JemxScwSpectra> {
        self.part_of(events, &named_positions(catalog))
    }

    fn part_of(
        &self,
        events: &JemxEvents,
        sources: &[(String, SkyCoord)],
    ) -> Result<JemxScwSpectra> {
        check_unit(self.unit(), events)?;
        let h = &events.header;
        let mut part = JemxScwSpectra {
            sources: Vec::new(),
            channels: Vec::new(),
            exposure: 0.0,
            time_range: (h.tstart, h.tstop),
        };
        let Some((model, indices)) = model_in_field(events, sources)? else {
            return Ok(part);
        };
        part.sources = indices;
        part.exposure = model.exposure();
        let (channels, _) = standard_channels();
        for range in channels {
            let fit = model.fit(range)?;
            part.channels
                .push(fit.rates.iter().map(|r| (r.rate, r.error)).collect());
        }
        Ok(part)
    }

    /// Combines the Science Windows' fits, in order, into one spectrum per source of `catalog`
    /// (the catalog they were fitted with): inverse-variance means per channel, the exposure
    /// and time span of the Science Windows that saw the source, the unit's response and OSA's
    /// 3 % systematic error. A source in no field has exposure 0 and no rates (NaN).
    ///
    /// # Errors
    /// No parts, or no source of the catalog in any field.
    pub fn combine(&self, parts: &[JemxScwSpectra], catalog: &Catalog) -> Result<Vec<Spectrum>> {
        check_catalog(catalog)?;
        if !parts.iter().any(|p| !p.sources.is_empty()) {
            return Err(no_source_in_field(catalog, parts.len()));
        }
        self.combine_sources(parts, &named_positions(catalog))
    }

    fn combine_sources(
        &self,
        parts: &[JemxScwSpectra],
        sources: &[(String, SkyCoord)],
    ) -> Result<Vec<Spectrum>> {
        let (channels, edges) = standard_channels();
        let (arf, rmf) = jemx_response_of(&self.calibration)?;
        let mut out = Vec::with_capacity(sources.len());
        for (k, (name, _)) in sources.iter().enumerate() {
            let mut acc = vec![Acc::default(); channels.len()];
            let mut exposure = 0.0;
            let mut time_range = (f64::INFINITY, f64::NEG_INFINITY);
            for part in parts {
                let Some(j) = part.sources.iter().position(|s| *s == k) else {
                    continue;
                };
                exposure += part.exposure;
                time_range = (
                    time_range.0.min(part.time_range.0),
                    time_range.1.max(part.time_range.1),
                );
                for (c, rates) in part.channels.iter().enumerate() {
                    let (r, e) = rates[j];
                    acc[c].add(r, e, part.exposure);
                }
            }
            if !time_range.0.is_finite() {
                time_range = (0.0, 0.0);
            }
            let (rate, stat_err): (Vec<f64>, Vec<f64>) = acc.iter().map(Acc::value).unzip();
            out.push(Spectrum {
                source: name.clone(),
                e_min: edges[..edges.len() - 1].to_vec(),
                e_max: edges[1..].to_vec(),
                rate,
                stat_err,
                sys_err: SYSTEMATIC,
                exposure,
                time_range,
                osa_version: OsaVersion::default(),
                arf: Some(arf.clone()),
                rmf: Some(rmf.clone()),
                detector: Detector::Jemx(self.unit()),
            });
        }
        Ok(out)
    }
}

/// OSA's systematic error of JEM-X spectra, a fraction of the rate.
const SYSTEMATIC: f64 = 0.03;

/// One light-curve bin of one Science Window: bin index, live exposure (s), and per source in
/// the field (rate, error, background rate, background error), counts/s.
type JemxBinFit = (i64, f64, Vec<[f64; 4]>);

/// What one Science Window contributes to JEM-X light curves
/// ([`JemxLightCurveExtractor::scw_part`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxScwLightCurve {
    /// Catalog indices of the sources in the field.
    pub sources: Vec<usize>,
    /// (off-axis angle °, vignetting) per source in the field.
    pub geometry: Vec<(f64, f64)>,
    /// Live exposure of the Science Window, s.
    pub exposure: f64,
    /// Good time per bin of the light curves' grid, s.
    pub good: Vec<(i64, f64)>,
    /// The fitted bins.
    pub fits: Vec<JemxBinFit>,
}

/// Extracts JEM-X light curves of a catalog's sources in one band, in bins of `time_bin_s` on a
/// grid fixed in time (bin k covers [k·Δ, (k+1)·Δ) from IJD 0, as ISGRI's), one Science Window at
/// a time: in each bin the sources' rates and the background are fitted to the detector image
/// of the events in the bin with the Science Window's illumination patterns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JemxLightCurveExtractor {
    unit: JemxUnit,
    band: EnergyBand,
    pi_range: (u16, u16),
    time_bin_s: f64,
}

/// Shortest bin with a fit, s of live time: shorter pieces of a bin at a Science Window's edge
/// are left to the neighbouring Science Window (as ISGRI's).
const MIN_BIN_EXPOSURE_S: f64 = 1.0;

impl JemxLightCurveExtractor {
    /// Light curves of `unit` in `band` (3–35 keV) with bins of `time_bin_s` seconds.
    ///
    /// # Errors
    /// A band outside JEM-X's range; a bin shorter than JEM-X's time resolution (122 µs) or not
    /// finite.
    pub fn new(unit: JemxUnit, band: EnergyBand, time_bin_s: f64) -> Result<Self> {
        let pi_range = pi_range_of_band(band.e1, band.e2)?;
        if !(time_bin_s.is_finite() && time_bin_s >= jemx::TIME_RESOLUTION_S) {
            return Err(Error::invalid(
                "time_bin",
                time_bin_s,
                format!(
                    "seconds, at least JEM-X's time resolution of {:.0} µs",
                    jemx::TIME_RESOLUTION_S * 1e6
                ),
            ));
        }
        Ok(JemxLightCurveExtractor {
            unit,
            band,
            pi_range,
            time_bin_s,
        })
    }

    /// The PI channels of the band (CHANMIN, CHANMAX).
    pub fn pi_range(&self) -> (u16, u16) {
        self.pi_range
    }

    /// The per-bin fits of one Science Window of the unit.
    ///
    /// # Errors
    /// Events of the other unit; a singular fit.
    pub fn scw_part(&self, events: &JemxEvents, catalog: &Catalog) -> Result<JemxScwLightCurve> {
        check_unit(self.unit, events)?;
        let sources = named_positions(catalog);
        let width = self.time_bin_s / SECONDS_PER_DAY;
        let h = &events.header;
        let first = (h.tstart / width).floor() as i64;
        let last = (h.tstop / width).ceil() as i64;
        let good: Vec<(i64, f64)> = (first..last)
            .map(|b| {
                let (a, z) = (b as f64 * width, (b + 1) as f64 * width);
                let g: f64 = events
                    .gti
                    .start
                    .iter()
                    .zip(&events.gti.stop)
                    .map(|(s, e)| (e.min(z) - s.max(a)).max(0.0))
                    .sum();
                (b, g * SECONDS_PER_DAY)
            })
            .collect();
        let mut part = JemxScwLightCurve {
            sources: Vec::new(),
            geometry: Vec::new(),
            exposure: 0.0,
            good,
            fits: Vec::new(),
        };
        let Some((model, indices)) = model_in_field(events, &sources)? else {
            return Ok(part);
        };
        part.sources = indices;
        part.exposure = model.exposure();
        let live = h.deadc;
        for &(b, good_s) in &part.good {
            let exposure = good_s * live;
            if exposure < MIN_BIN_EXPOSURE_S {
                continue;
            }
            let span = (b as f64 * width, (b + 1) as f64 * width);
            let fit = model.fit_between(self.pi_range, span, exposure)?;
            if part.geometry.is_empty() {
                part.geometry = fit
                    .rates
                    .iter()
                    .map(|r| (r.off_axis_deg, r.vignetting))
                    .collect();
            }
            part.fits.push((
                b,
                exposure,
                fit.rates
                    .iter()
                    .map(|r| [r.rate, r.error, r.background_rate, r.background_error])
                    .collect(),
            ));
        }
        Ok(part)
    }

    /// Combines the Science Windows' fits, in order, into one light curve per source of
    /// `catalog`: bins covered by several Science Windows get the inverse-variance mean; FRACEXP
    /// is the bin's good time over its width; the off-axis angle and vignetting are the
    /// exposure-weighted means over the Science Windows that saw the source.
    ///
    /// # Errors
    /// No parts, or no source of the catalog in any field.
    pub fn combine(
        &self,
        parts: &[JemxScwLightCurve],
        catalog: &Catalog,
    ) -> Result<Vec<JemxLightCurve>> {
        check_catalog(catalog)?;
        if !parts.iter().any(|p| !p.fits.is_empty()) {
            return Err(no_source_in_field(catalog, parts.len()));
        }
        let mut good: BTreeMap<i64, f64> = BTreeMap::new();
        // (source, bin) → (rate, background) accumulators.
        let mut acc: BTreeMap<(usize, i64), (Acc, Acc)> = BTreeMap::new();
        let mut geometry: BTreeMap<usize, (f64, f64, f64)> = BTreeMap::new();
        for part in parts {
            for (b, g) in &part.good {
                *good.entry(*b).or_default() += g;
            }
            for (j, k) in part.sources.iter().enumerate() {
                if let Some((off, vig)) = part.geometry.get(j) {
                    let e = geometry.entry(*k).or_default();
                    e.0 += part.exposure * off;
                    e.1 += part.exposure * vig;
                    e.2 += part.exposure;
                }
            }
            for (b, exposure, rates) in &part.fits {
                for (k, [r, e, br, be]) in part.sources.iter().zip(rates) {
                    let a = acc.entry((*k, *b)).or_default();
                    a.0.add(*r, *e, *exposure);
                    a.1.add(*br, *be, *exposure);
                }
            }
        }
        let band = (
            pi_energy_kev(f64::from(self.pi_range.0)),
            pi_energy_kev(f64::from(self.pi_range.1) + 1.0),
        );
        let mut out = Vec::with_capacity(catalog.len());
        for (k, entry) in catalog.entries().iter().enumerate() {
            let mut lc = LightCurve {
                source: entry.name.clone(),
                band,
                time: Vec::new(),
                timedel: Vec::new(),
                rate: Vec::new(),
                error: Vec::new(),
                fracexp: Vec::new(),
                osa_version: OsaVersion::default(),
            };
            let (mut brate, mut berror) = (Vec::new(), Vec::new());
            for ((_, b), (a, ab)) in acc.range((k, i64::MIN)..=(k, i64::MAX)) {
                push_bin(&mut lc, *b, a.value(), self.time_bin_s, &good);
                let (br, be) = ab.value();
                brate.push(br);
                berror.push(be);
            }
            let (off, vig) = match geometry.get(&k) {
                Some((o, v, w)) if *w > 0.0 => (o / w, v / w),
                _ => (f64::NAN, f64::NAN),
            };
            out.push(JemxLightCurve {
                unit: self.unit,
                light_curve: lc,
                background_rate: brate,
                background_error: berror,
                channels: self.pi_range,
                position: Some((entry.position.ra(), entry.position.dec())),
                off_axis_deg: off,
                vignetting: vig,
            });
        }
        Ok(out)
    }
}
