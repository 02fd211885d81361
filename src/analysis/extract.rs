//! Spectra and light curves by sky-model fits of shadowgrams, positions fixed.
//!
//! For every Science Window, energy channel (or time bin), the intensities of all catalog sources
//! in the field and the background scale are fitted together to the shadowgram
//! (the sky-model fit of [`super::skyfit`]); the on-axis equivalent rates are then
//! combined over Science Windows with inverse-variance weights. A catalog with spurious entries
//! (ghosts, `NEW_n`) degrades the fits: edit it first.
//!
//! The fits need of a ScW's events only its counts per pixel in the channels or time bins
//! ([`ShadowgramMaker::count`], see the extractors' `binning`): `scw_part_from_counts` fits those,
//! with the same result as `scw_part` of the events, so that the workflow can count a ScW's events
//! in the pass that images it and never read them again.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::shadowgram::{EnergyBand, ScwCounts, Shadowgram, ShadowgramMaker, TimeBinning};
use super::skyfit::{fit_shadowgram, onaxis_rate};
use crate::archive::{EventList, ScwId};
use crate::datasets::{DEFAULT_SYSTEMATIC, LightCurve, Spectrum};
use crate::error::{Error, Result};
use crate::instrument::calibration::Calibration;
use crate::instrument::coded_mask::{CodedMaskGeometry, DetectorMap};
use crate::instrument::isgri::TIME_RESOLUTION_S;
use crate::instrument::response::Rmf;
use crate::osa::OsaVersion;
use crate::sky::Attitude;
use crate::time::{SECONDS_PER_DAY, Time};

/// Default spectral channels, keV (edges).
pub const DEFAULT_CHANNELS: [f64; 21] = [
    20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 70.0, 80.0, 100.0, 120.0, 150.0, 200.0, 250.0,
    300.0, 400.0, 500.0, 600.0, 700.0, 800.0,
];

/// True-energy grid of the responses: 300 log-spaced bins over 7–1100 keV.
fn true_energy_edges() -> Vec<f64> {
    (0..=300)
        .map(|i| 7.0 * (1100.0f64 / 7.0).powf(i as f64 / 300.0))
        .collect()
}

/// PIFs of the catalog sources in a ScW's field: (catalog index, PIF).
fn sources_in_field(
    attitude: &Attitude,
    catalog: &Catalog,
    geometry: &CodedMaskGeometry,
) -> Vec<(usize, DetectorMap)> {
    catalog
        .entries()
        .iter()
        .enumerate()
        .filter_map(|(k, e)| {
            let (ty, tz) = attitude.to_tangents(&e.position)?;
            let p = geometry.pif(ty, tz);
            (p.sum() > 1.0).then_some((k, p))
        })
        .collect()
}

/// The error for a catalog none of whose sources is in the field of any selected ScW.
pub(crate) fn no_source_in_field(catalog: &Catalog, n_scw: usize) -> Error {
    Error::invalid(
        "selected_catalog",
        catalog.names().join(", "),
        format!(
            "at least one source in the field of view of the {n_scw} selected Science Window(s)"
        ),
    )
}

/// An empty catalog cannot be extracted.
pub(crate) fn check_catalog(catalog: &Catalog) -> Result<()> {
    if catalog.is_empty() {
        return Err(Error::invalid(
            "selected_catalog",
            "(empty)",
            "at least one source",
        ));
    }
    Ok(())
}

/// The sky-model fit of one shadowgram as on-axis equivalent (rate, error) per source in
/// `pifs` order; `None` when the fit is singular.
fn fitted_rates(
    geometry: &CodedMaskGeometry,
    sg: &Shadowgram,
    pifs: &[DetectorMap],
) -> Option<Vec<(f64, f64)>> {
    let version = sg.osa_version;
    let fit = fit_shadowgram(&sg.counts, &sg.efficiency, &sg.background, pifs).ok()?;
    Some(
        fit.rates
            .iter()
            .zip(&fit.errors)
            .map(|(r, e)| {
                (
                    onaxis_rate(geometry, *r, sg.exposure, version),
                    onaxis_rate(geometry, *e, sg.exposure, version),
                )
            })
            .collect(),
    )
}

/// Checks that `counts` were made by `maker` in the bins of `binning`.
fn check_counts(maker: &ShadowgramMaker, binning: TimeBinning, counts: &ScwCounts) -> Result<()> {
    if !maker.matches_counts(counts, binning) {
        return Err(Error::invalid(
            "counts",
            counts.header.swid,
            "counts in the extractor's own bands and time bins (internal inconsistency: please report)",
        ));
    }
    Ok(())
}

/// An extraction that fits each Science Window on its own and then combines the results in
/// Science-Window order (so sequential and parallel runs give identical products).
trait ScwReduction: Sync {
    /// What one Science Window contributes.
    type Part: Send;
    /// The combined product.
    type Output;
    /// Fits one Science Window.
    fn contribution(&self, ev: &EventList, catalog: &Catalog) -> Self::Part;
    /// Combines the contributions, in order.
    fn combine(&self, parts: &[Self::Part], catalog: &Catalog) -> Result<Self::Output>;
}

/// Runs `r` over events read one at a time (bounded memory).
fn reduce_sequential<R: ScwReduction>(
    r: &R,
    events: impl IntoIterator<Item = Result<EventList>>,
    catalog: &Catalog,
) -> Result<R::Output> {
    check_catalog(catalog)?;
    let parts = events
        .into_iter()
        .map(|ev| ev.map(|ev| r.contribution(&ev, catalog)))
        .collect::<Result<Vec<_>>>()?;
    r.combine(&parts, catalog)
}

/// Runs `r` over the Science Windows `scws`, loading and fitting them in parallel.
fn reduce_parallel<R: ScwReduction>(
    r: &R,
    scws: &[ScwId],
    load: impl Fn(&ScwId) -> Result<EventList> + Sync,
    catalog: &Catalog,
) -> Result<R::Output> {
    check_catalog(catalog)?;
    let parts = scws
        .par_iter()
        .map(|id| load(id).map(|ev| r.contribution(&ev, catalog)))
        .collect::<Result<Vec<_>>>()?;
    r.combine(&parts, catalog)
}

/// Inverse-variance accumulator.
#[derive(Clone, Copy, Default)]
pub(crate) struct Acc {
    wsum: f64,
    fsum: f64,
    exposure: f64,
}

impl Acc {
    pub(crate) fn add(&mut self, f: f64, err: f64, exposure: f64) {
        if err > 0.0 && err.is_finite() && f.is_finite() {
            self.wsum += 1.0 / (err * err);
            self.fsum += f / (err * err);
            self.exposure += exposure;
        }
    }
    pub(crate) fn value(&self) -> (f64, f64) {
        if self.wsum > 0.0 {
            (self.fsum / self.wsum, 1.0 / self.wsum.sqrt())
        } else {
            (f64::NAN, f64::INFINITY)
        }
    }
}

/// Extracts one spectrum per catalog source.
#[derive(Clone, Debug, Serialize)]
pub struct SpectrumExtractor {
    maker: ShadowgramMaker,
    version: OsaVersion,
}

impl SpectrumExtractor {
    /// An extractor on channels with `edges` (keV) with `calibration`.
    ///
    /// # Errors
    /// Edges outside 15–800 keV or not increasing.
    pub fn new(edges: &[f64], calibration: Arc<Calibration>) -> Result<SpectrumExtractor> {
        let version = calibration.osa_version;
        Ok(SpectrumExtractor {
            maker: ShadowgramMaker::new(EnergyBand::from_edges(edges)?, calibration)?,
            version,
        })
    }

    /// The spectra of every source of `catalog` over the Science Windows of `events`, read one
    /// at a time (sources never in the field get NaN rates and zero exposure).
    ///
    /// # Errors
    /// An empty catalog, no Science Window, a catalog with no source in any field, or an error
    /// reading a Science Window.
    pub fn run(
        &self,
        events: impl IntoIterator<Item = Result<EventList>>,
        catalog: &Catalog,
    ) -> Result<Vec<Spectrum>> {
        reduce_sequential(self, events, catalog)
    }

    /// As [`SpectrumExtractor::run`], for the Science Windows `scws` whose events `load`
    /// provides, in parallel; the result is identical to the sequential one.
    ///
    /// # Errors
    /// As [`SpectrumExtractor::run`].
    pub fn run_with(
        &self,
        scws: &[ScwId],
        load: impl Fn(&ScwId) -> Result<EventList> + Sync,
        catalog: &Catalog,
    ) -> Result<Vec<Spectrum>> {
        reduce_parallel(self, scws, load, catalog)
    }

    /// The fits of one Science Window: its contribution to the spectra of `catalog`. Cached
    /// per Science Window by the workflow and combined with [`SpectrumExtractor::combine`].
    pub fn scw_part(&self, events: &EventList, catalog: &Catalog) -> ScwSpectra {
        self.contribution(events, catalog)
    }

    /// How the events are binned in time: the whole Science Window.
    pub fn binning(&self) -> TimeBinning {
        TimeBinning::WholeScw
    }

    /// The shadowgram maker (the channels and the calibration).
    pub fn maker(&self) -> &ShadowgramMaker {
        &self.maker
    }

    /// The fits of one Science Window from its counts ([`ShadowgramMaker::count`] with this
    /// extractor's maker and binning): identical to [`SpectrumExtractor::scw_part`] of its
    /// events.
    ///
    /// # Errors
    /// Counts in other channels or time bins.
    pub fn scw_part_from_counts(
        &self,
        counts: &ScwCounts,
        catalog: &Catalog,
    ) -> Result<ScwSpectra> {
        check_counts(&self.maker, self.binning(), counts)?;
        Ok(self.fit_counts(counts, catalog))
    }

    fn fit_counts(&self, counts: &ScwCounts, catalog: &Catalog) -> ScwSpectra {
        let h = &counts.header;
        let geometry = &*self.maker.calibration().geometry;
        let in_field = sources_in_field(&h.attitude, catalog, geometry);
        let mut part = ScwSpectra {
            sources: in_field.iter().map(|(k, _)| *k).collect(),
            channels: Vec::new(),
            exposure: 0.0,
            time_range: (h.tstart, h.tstop),
        };
        if in_field.is_empty() {
            return part;
        }
        let sgs = self
            .maker
            .shadowgrams(counts)
            .into_iter()
            .next()
            .unwrap_or_default();
        let pifs: Vec<DetectorMap> = in_field.into_iter().map(|(_, p)| p).collect();
        part.exposure = sgs.first().map_or(0.0, |sg| sg.exposure);
        part.channels = sgs
            .iter()
            .map(|sg| fitted_rates(geometry, sg, &pifs))
            .collect();
        part
    }

    /// Combines Science Window contributions, in the order given, into one spectrum per source
    /// of `catalog` (the same catalog the parts were fitted with).
    ///
    /// # Errors
    /// No parts, or no source of the catalog in any field.
    pub fn combine(&self, parts: &[ScwSpectra], catalog: &Catalog) -> Result<Vec<Spectrum>> {
        check_catalog(catalog)?;
        ScwReduction::combine(self, parts, catalog)
    }
}

impl ScwReduction for SpectrumExtractor {
    type Part = ScwSpectra;
    type Output = Vec<Spectrum>;

    /// The per-channel fits of one Science Window.
    fn contribution(&self, ev: &EventList, catalog: &Catalog) -> ScwSpectra {
        self.fit_counts(&self.maker.count_in(ev, self.binning()), catalog)
    }

    /// Combines the Science Windows' fits, in order, into spectra with their responses.
    fn combine(&self, parts: &[ScwSpectra], catalog: &Catalog) -> Result<Vec<Spectrum>> {
        if parts.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to extract spectra from".into(),
            });
        }
        let nch = self.maker.bands().len();
        let mut acc = vec![vec![Acc::default(); nch]; catalog.len()];
        let mut exposure = vec![0.0; catalog.len()];
        let mut times = vec![(f64::INFINITY, f64::NEG_INFINITY); catalog.len()];
        // Exposure-weighted responses by month (the gain and threshold drift slowly).
        let mut weights_per_source: Vec<BTreeMap<i64, f64>> = vec![BTreeMap::new(); catalog.len()];
        for part in parts {
            let month = (part.time_range.0 / 30.0).floor() as i64;
            for (c, rates) in part.channels.iter().enumerate() {
                let Some(rates) = rates else { continue };
                for (k, (f, e)) in part.sources.iter().zip(rates) {
                    acc[*k][c].add(*f, *e, part.exposure);
                }
            }
            for k in &part.sources {
                exposure[*k] += part.exposure;
                times[*k].0 = times[*k].0.min(part.time_range.0);
                times[*k].1 = times[*k].1.max(part.time_range.1);
                *weights_per_source[*k].entry(month).or_default() += part.exposure;
            }
        }
        if exposure.iter().all(|e| *e <= 0.0) {
            return Err(no_source_in_field(catalog, parts.len()));
        }
        let edges: Vec<f64> = self
            .maker
            .bands()
            .iter()
            .map(|b| b.e1)
            .chain(self.maker.bands().last().map(|b| b.e2))
            .collect();
        let true_edges = true_energy_edges();
        let calibration = self.maker.calibration();
        let arf = calibration.arf(&true_edges)?;
        let mut rmf_cache: BTreeMap<i64, Rmf> = BTreeMap::new();
        for m in weights_per_source.iter().flat_map(|w| w.keys()) {
            if !rmf_cache.contains_key(m) {
                let t = Time::from_ijd((*m as f64 + 0.5) * 30.0)?;
                rmf_cache.insert(*m, calibration.rmf(&true_edges, &edges, t)?);
            }
        }
        let mut out = Vec::with_capacity(catalog.len());
        for (k, entry) in catalog.entries().iter().enumerate() {
            let (rate, stat_err): (Vec<f64>, Vec<f64>) = acc[k].iter().map(Acc::value).unzip();
            out.push(Spectrum {
                source: entry.name.clone(),
                e_min: edges[..nch].to_vec(),
                e_max: edges[1..].to_vec(),
                rate,
                stat_err,
                sys_err: DEFAULT_SYSTEMATIC,
                exposure: exposure[k],
                time_range: times[k],
                osa_version: self.version,
                arf: Some(arf.clone()),
                rmf: average_rmf(&weights_per_source[k], &rmf_cache),
                detector: crate::instrument::Detector::Isgri,
            });
        }
        Ok(out)
    }
}

/// The fits of one Science Window for [`SpectrumExtractor`]: what it contributes to the
/// spectra (see [`SpectrumExtractor::scw_part`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwSpectra {
    /// Catalog indices of the sources in the field.
    sources: Vec<usize>,
    /// Per channel: (rate, error) per source in the field, or `None` for a singular fit.
    channels: Vec<Option<Vec<(f64, f64)>>>,
    /// Live exposure, s.
    exposure: f64,
    /// TSTART, TSTOP (IJD).
    time_range: (f64, f64),
}

/// Exposure-weighted mean of the monthly RMFs.
fn average_rmf(weights: &BTreeMap<i64, f64>, cache: &BTreeMap<i64, Rmf>) -> Option<Rmf> {
    let total: f64 = weights.values().sum();
    let mut out: Option<Rmf> = None;
    for (m, w) in weights {
        let r = cache.get(m)?;
        match &mut out {
            None => {
                let mut first = r.clone();
                first.matrix.iter_mut().for_each(|v| *v *= w / total);
                out = Some(first);
            }
            Some(acc) => {
                for (a, v) in acc.matrix.iter_mut().zip(&r.matrix) {
                    *a += v * w / total;
                }
            }
        }
    }
    out
}

/// Extracts one light curve per catalog source.
#[derive(Clone, Debug, Serialize)]
pub struct LightCurveExtractor {
    maker: ShadowgramMaker,
    band: EnergyBand,
    time_bin_s: f64,
    version: OsaVersion,
}

impl LightCurveExtractor {
    /// Light curves in `band` with bins of `time_bin_s` seconds.
    ///
    /// # Errors
    /// A bin shorter than the event time resolution (61 µs) or not finite.
    pub fn new(
        band: EnergyBand,
        time_bin_s: f64,
        calibration: Arc<Calibration>,
    ) -> Result<LightCurveExtractor> {
        let version = calibration.osa_version;
        if !(time_bin_s.is_finite() && time_bin_s >= TIME_RESOLUTION_S) {
            return Err(Error::invalid(
                "time_bin",
                time_bin_s,
                format!(
                    "seconds, at least the ISGRI event time resolution of {:.0} µs",
                    TIME_RESOLUTION_S * 1e6
                ),
            ));
        }
        Ok(LightCurveExtractor {
            maker: ShadowgramMaker::new(vec![band], calibration)?,
            band,
            time_bin_s,
            version,
        })
    }

    /// The light curves of every source of `catalog` over the Science Windows of `events`,
    /// read one at a time. Bins lie on a fixed grid of `time_bin` seconds counted from IJD 0, so
    /// the same bin means the same time in every request; a bin's rate combines all ScWs that
    /// overlap it, and FRACEXP is the fraction of the bin covered by good time.
    ///
    /// # Errors
    /// An empty catalog, no Science Window, a catalog with no source in any field, or an error
    /// reading a Science Window.
    pub fn run(
        &self,
        events: impl IntoIterator<Item = Result<EventList>>,
        catalog: &Catalog,
    ) -> Result<Vec<LightCurve>> {
        reduce_sequential(self, events, catalog)
    }

    /// As [`LightCurveExtractor::run`], for the Science Windows `scws` whose events `load`
    /// provides, in parallel; the result is identical to the sequential one.
    ///
    /// # Errors
    /// As [`LightCurveExtractor::run`].
    pub fn run_with(
        &self,
        scws: &[ScwId],
        load: impl Fn(&ScwId) -> Result<EventList> + Sync,
        catalog: &Catalog,
    ) -> Result<Vec<LightCurve>> {
        reduce_parallel(self, scws, load, catalog)
    }

    /// The fits of one Science Window: its contribution to the light curves of `catalog`.
    /// Cached per Science Window by the workflow and combined with
    /// [`LightCurveExtractor::combine`].
    pub fn scw_part(&self, events: &EventList, catalog: &Catalog) -> ScwLightCurve {
        self.contribution(events, catalog)
    }

    /// How the events are binned in time: the fixed grid of the time bin.
    pub fn binning(&self) -> TimeBinning {
        TimeBinning::Grid(self.time_bin_s)
    }

    /// The shadowgram maker (the band and the calibration).
    pub fn maker(&self) -> &ShadowgramMaker {
        &self.maker
    }

    /// The fits of one Science Window from its counts ([`ShadowgramMaker::count`] with this
    /// extractor's maker and binning): identical to [`LightCurveExtractor::scw_part`] of its
    /// events.
    ///
    /// # Errors
    /// Counts in another band or other time bins.
    pub fn scw_part_from_counts(
        &self,
        counts: &ScwCounts,
        catalog: &Catalog,
    ) -> Result<ScwLightCurve> {
        check_counts(&self.maker, self.binning(), counts)?;
        Ok(self.fit_counts(counts, catalog))
    }

    fn fit_counts(&self, counts: &ScwCounts, catalog: &Catalog) -> ScwLightCurve {
        let geometry = &*self.maker.calibration().geometry;
        let h = &counts.header;
        let (first, bins) = self.binning().bins(h);
        let good = (first..)
            .zip(&bins)
            .map(|(b, (a, z))| {
                let g: f64 = counts
                    .gti
                    .start
                    .iter()
                    .zip(&counts.gti.stop)
                    .map(|(s, e)| (e.min(*z) - s.max(*a)).max(0.0))
                    .sum();
                (b, g * SECONDS_PER_DAY)
            })
            .collect();
        let in_field = sources_in_field(&h.attitude, catalog, geometry);
        let mut fits = Vec::new();
        if !in_field.is_empty() {
            let pifs: Vec<DetectorMap> = in_field.iter().map(|(_, p)| p.clone()).collect();
            for (b, row) in (first..).zip(self.maker.shadowgrams(counts)) {
                let Some(sg) = row.first() else { continue };
                if sg.exposure < 1.0 {
                    continue;
                }
                if let Some(rates) = fitted_rates(geometry, sg, &pifs) {
                    fits.push((b, sg.exposure, rates));
                }
            }
        }
        ScwLightCurve {
            sources: in_field.into_iter().map(|(k, _)| k).collect(),
            good,
            fits,
        }
    }

    /// Combines Science Window contributions, in the order given, into one light curve per
    /// source of `catalog`.
    ///
    /// # Errors
    /// No parts, or no source of the catalog in any field.
    pub fn combine(&self, parts: &[ScwLightCurve], catalog: &Catalog) -> Result<Vec<LightCurve>> {
        check_catalog(catalog)?;
        ScwReduction::combine(self, parts, catalog)
    }
}

impl ScwReduction for LightCurveExtractor {
    type Part = ScwLightCurve;
    type Output = Vec<LightCurve>;

    /// The per-bin fits of one Science Window.
    fn contribution(&self, ev: &EventList, catalog: &Catalog) -> ScwLightCurve {
        self.fit_counts(&self.maker.count_in(ev, self.binning()), catalog)
    }

    /// Combines the Science Windows' fits, in order, into light curves.
    fn combine(&self, parts: &[ScwLightCurve], catalog: &Catalog) -> Result<Vec<LightCurve>> {
        if parts.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to extract light curves from".into(),
            });
        }
        let mut acc: BTreeMap<(usize, i64), Acc> = BTreeMap::new();
        let mut good: BTreeMap<i64, f64> = BTreeMap::new();
        for part in parts {
            for (b, g) in &part.good {
                *good.entry(*b).or_default() += g;
            }
            for (b, exposure, rates) in &part.fits {
                for (k, (f, e)) in part.sources.iter().zip(rates) {
                    acc.entry((*k, *b)).or_default().add(*f, *e, *exposure);
                }
            }
        }
        if acc.is_empty() {
            return Err(no_source_in_field(catalog, parts.len()));
        }
        let mut out = Vec::with_capacity(catalog.len());
        for (k, entry) in catalog.entries().iter().enumerate() {
            let mut lc = LightCurve {
                source: entry.name.clone(),
                band: (self.band.e1, self.band.e2),
                time: Vec::new(),
                timedel: Vec::new(),
                rate: Vec::new(),
                error: Vec::new(),
                fracexp: Vec::new(),
                osa_version: self.version,
            };
            for ((_, b), a) in acc.range((k, i64::MIN)..=(k, i64::MAX)) {
                push_bin(&mut lc, *b, a.value(), self.time_bin_s, &good);
            }
            out.push(lc);
        }
        Ok(out)
    }
}

/// Appends bin `b` of the fixed grid of `time_bin_s` seconds to `lc`: its centre, width, rate
/// and error, and the fraction of it that `good` (good time per bin, s) covers.
pub(crate) fn push_bin(
    lc: &mut LightCurve,
    b: i64,
    (rate, error): (f64, f64),
    time_bin_s: f64,
    good: &BTreeMap<i64, f64>,
) {
    let width = time_bin_s / SECONDS_PER_DAY;
    lc.time.push((b as f64 + 0.5) * width);
    lc.timedel.push(time_bin_s);
    lc.rate.push(rate);
    lc.error.push(error);
    lc.fracexp
        .push((good.get(&b).copied().unwrap_or(0.0) / time_bin_s).min(1.0));
}

/// One time bin's fit: bin index, live exposure (s), (rate, error) per source in the field.
type BinFit = (i64, f64, Vec<(f64, f64)>);

/// The fits of one Science Window for [`LightCurveExtractor`]: what it contributes to the
/// light curves (see [`LightCurveExtractor::scw_part`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwLightCurve {
    /// Catalog indices of the sources in the field.
    sources: Vec<usize>,
    /// Good time per bin, s.
    good: Vec<(i64, f64)>,
    /// Per bin with exposure: (bin, live exposure, (rate, error) per source in the field).
    fits: Vec<BinFit>,
}
