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

use super::skyfit::invert;
use crate::archive::JemxEvents;
use crate::datasets::Spectrum;
use crate::error::{Error, Result};
use crate::instrument::jemx::{
    self, JemxUnit, STANDARD_CHANNEL_EDGES_KEV, on_axis_area_cm2, pi_energy_kev, pi_of_energy,
    resolution_fwhm_kev,
};
use crate::instrument::response::{Arf, Redistribution, Rmf};
use crate::osa::OsaVersion;
use crate::sky::SkyCoord;
use crate::time::Time;

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
    let g = jemx::geometry(events.unit);
    let (ny, nz) = g.detector().dim();
    let (cy, cz) = (ny as f64 / 2.0, nz as f64 / 2.0);
    let mut counts = Array2::zeros((ny, nz));
    for i in 0..events.len() {
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
            return Err(Error::ScienceWindow {
                swid: events.header.swid.to_string(),
                reason: format!("no source of the catalog is in {}'s field", events.unit),
            });
        }
        columns.push(layout.iter().copied().collect());
        let cells: Vec<usize> = (0..layout.len())
            .filter(|&i| layout.as_slice().is_some_and(|l| l[i] > 0.0))
            .collect();
        Ok(JemxSourceModel {
            events,
            exposure,
            names,
            columns,
            geometry_of,
            cells,
        })
    }

    /// Fits the sources' rates and the background to the detector image in PI channels
    /// `pi_range` (see the module documentation).
    ///
    /// # Errors
    /// A singular fit (sources too close to be told apart).
    pub fn fit(&self, pi_range: (u16, u16)) -> Result<JemxScwFit> {
        let events = self.events;
        let (columns, cells, names) = (&self.columns, &self.cells, &self.names);
        let y: Vec<f64> = jemx_shadowgram(events, pi_range).iter().copied().collect();
        let k = columns.len();
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
        let rates = names
            .iter()
            .enumerate()
            .map(|(j, name)| JemxRate {
                source: name.clone(),
                rate: params[j],
                error: cov[j * k + j].max(0.0).sqrt(),
                off_axis_deg: self.geometry_of[j].0,
                vignetting: self.geometry_of[j].1,
            })
            .collect();
        Ok(JemxScwFit {
            unit: events.unit,
            pi_range,
            exposure: self.exposure,
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

/// The response of `unit`'s on-axis-equivalent spectra in the standard channels: the cited
/// on-axis area (ARF) and the gas detector's Gaussian resolution into the channels' PI ranges
/// (RMF), on 200 log-spaced true-energy bins from 1.5 to 60 keV.
///
/// # Errors
/// None for JEM-X's constants (the response builders' checks).
pub fn jemx_response(unit: JemxUnit) -> Result<(Arf, Rmf)> {
    let (_, edges) = standard_channels();
    let n = 200;
    let true_edges: Vec<f64> = (0..=n)
        .map(|i| 1.5 * (60.0f64 / 1.5).powf(i as f64 / n as f64))
        .collect();
    let arf = Arf::from_area(&true_edges, |e| on_axis_area_cm2(unit, e))?;
    let fwhm = |e: f64| resolution_fwhm_kev(e);
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
/// [`jemx_response`] and OSA's 3 % systematic error.
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
    if events.iter().any(|e| e.unit != unit) {
        return Err(Error::invalid(
            "jemx_num",
            "1 and 2",
            "one JEM-X unit per spectrum",
        ));
    }
    let (channels, edges) = standard_channels();
    // The sources' illumination does not depend on the channel: once per Science Window.
    let models: Vec<JemxSourceModel> = events
        .iter()
        .map(|ev| JemxSourceModel::new(ev, sources))
        .collect::<Result<_>>()?;
    let mut rate = Vec::new();
    let mut stat_err = Vec::new();
    let mut exposure = 0.0;
    for (c, &range) in channels.iter().enumerate() {
        let (mut sw, mut swr) = (0.0, 0.0);
        for model in &models {
            let fit = model.fit(range)?;
            if let Some(r) = fit.rate(source)
                && r.error > 0.0
            {
                let w = 1.0 / (r.error * r.error);
                sw += w;
                swr += w * r.rate;
                if c == 0 {
                    exposure += fit.exposure;
                }
            }
        }
        if sw <= 0.0 {
            return Err(Error::invalid(
                "src_name",
                source,
                format!("a source in {unit}'s field of view in the Science Windows given"),
            ));
        }
        rate.push(swr / sw);
        stat_err.push(1.0 / sw.sqrt());
    }
    let (arf, rmf) = jemx_response(unit)?;
    let t0 = events
        .iter()
        .map(|e| e.header.tstart)
        .fold(f64::INFINITY, f64::min);
    let t1 = events
        .iter()
        .map(|e| e.header.tstop)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Spectrum {
        source: source.to_string(),
        e_min: edges[..edges.len() - 1].to_vec(),
        e_max: edges[1..].to_vec(),
        rate,
        stat_err,
        sys_err: 0.03,
        exposure,
        time_range: (t0, t1),
        osa_version: OsaVersion::default(),
        arf: Some(arf),
        rmf: Some(rmf),
    })
}
