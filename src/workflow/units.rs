//! The analysis chain as units: events → ScW images → mosaic batches → mosaic → catalog;
//! events → per-ScW counts in the channels or time bins; counts + catalog → per-ScW spectral /
//! light-curve fits → spectra / light curves → fits.
//!
//! Per-Science-Window units are independent and run in parallel; combining units take their
//! inputs in Science-Window order, so products are bit-identical whatever the thread count.
//! Images are combined in batches of [`MOSAIC_BATCH`] Science Windows, so a request over
//! thousands of them holds one batch of images in memory at a time; per-ScW spectral and
//! light-curve fits are small and are combined all at once. Before a stage's per-ScW units are
//! asked for, [`Workflow::prepare`] lets the executor compute the missing ones (on Slurm: one
//! job array for the whole stage).
//!
//! A ScW's counts ([`ScwCountsUnit`]) are made from its events in the same pass as its image
//! ([`Workflow::count_alongside`]), so a request generates or reads each ScW's events once; a
//! request whose events do not fit the cache streams them ([`Workflow::set_streaming`]).

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{EntryClass, Identity, Node, Payload, Unit, Workflow, serde_payload};
use crate::analysis::catalog::Catalog;
use crate::analysis::detect::SourceFinder;
use crate::analysis::extract::{LightCurveExtractor, ScwLightCurve, ScwSpectra, SpectrumExtractor};
use crate::analysis::image::ScwImager;
use crate::analysis::image::{ScwImage, ScwSource};
use crate::analysis::jemx::{
    JemxLightCurveExtractor, JemxScwLightCurve, JemxScwSpectra, JemxSpectrumExtractor,
    jemx_imaging_shadowgram,
};
use crate::analysis::mosaic::{Mosaic, MosaicSum};
use crate::analysis::shadowgram::{EnergyBand, ScwCounts, ShadowgramMaker, TimeBinning};
use crate::analysis::{cleaning_imager, image_scw, jemx_cleaning_imager};
use crate::archive::{
    Archive, EVENTS_FILE, EventList, JemxEvents, ScwId, read_events, read_jemx_events,
    write_events, write_jemx_events,
};
use crate::datasets::JemxLightCurve;
use crate::error::{Error, Result};
use crate::fit::{ModelKind, SpectralFit, SpectralFitter};
use crate::instrument::jemx::{self, JemxUnit};
use crate::osa::OsaVersion;
use crate::products::{LightCurve, Spectrum};
use crate::sky::SkyCoord;

/// Science Windows per mosaic batch.
pub const MOSAIC_BATCH: usize = 50;

/// The size of one Science Window's ISGRI events in the cache, bytes: the simulated archive's
/// are 60–85 MB (3–6 × 10⁶ events of 14 bytes), the upper end taken.
pub const ISGRI_EVENTS_BYTES_PER_SCW: u64 = 85_000_000;

/// Whether a request over `n_scw` Science Windows streams their ISGRI events (see
/// [`Workflow::set_streaming`]): when they would take more than three quarters of a cache of
/// `cache_limit` bytes, the rest being left to the products.
pub fn streams_events(n_scw: usize, cache_limit: u64) -> bool {
    (n_scw as u64).saturating_mul(ISGRI_EVENTS_BYTES_PER_SCW) > cache_limit / 4 * 3
}

impl Payload for EventList {
    fn save(&self, dir: &Path) -> Result<()> {
        write_events(&dir.join(EVENTS_FILE), self)
    }
    fn load(dir: &Path) -> Result<EventList> {
        read_events(&dir.join(EVENTS_FILE))
    }
}

/// File of a cached [`JemxEvents`] payload (the unit is in its extension's name).
const JEMX_EVENTS_FILE: &str = "jemx_events.fits";

impl Payload for JemxEvents {
    fn save(&self, dir: &Path) -> Result<()> {
        write_jemx_events(&dir.join(JEMX_EVENTS_FILE), self)
    }
    fn load(dir: &Path) -> Result<JemxEvents> {
        read_jemx_events(&dir.join(JEMX_EVENTS_FILE))
    }
}

serde_payload!(
    Vec<JemxLightCurve>,
    ScwImage,
    Mosaic,
    Catalog,
    ScwSpectra,
    ScwLightCurve,
    Vec<Spectrum>,
    Vec<LightCurve>,
    MosaicBatch,
    MosaicStack,
);

/// Fits are stored as JSON: the model is an internally tagged enum, which the compact binary
/// format cannot read back. Every number of a converged fit is finite.
impl Payload for SpectralFit {
    fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("fit.json");
        let text =
            serde_json::to_vec(self).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    }
    fn load(dir: &Path) -> Result<SpectralFit> {
        let path = dir.join("fit.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Cache {
            path,
            message: format!("undecodable fit: {e}"),
        })
    }
}

/// The events of one Science Window. From a simulated archive they are generated (and cached,
/// first in line for eviction: they regenerate bit-identically); from a real archive they are
/// read from the archive each time (never copied).
#[derive(Clone, Debug)]
pub struct ScwEvents {
    archive: Arc<Archive>,
    swid: ScwId,
    node: Arc<Node>,
}

impl ScwEvents {
    /// The events of `swid` in `archive`.
    ///
    /// # Errors
    /// A real archive without the events file.
    pub fn new(archive: &Arc<Archive>, swid: ScwId) -> Result<ScwEvents> {
        let params = archive.events_provenance(&swid)?;
        Ok(ScwEvents {
            archive: archive.clone(),
            swid,
            node: Node::new("ScwEvents", "1", params, vec![]),
        })
    }
}

impl Unit for ScwEvents {
    type Output = EventList;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Events
    }
    fn cached(&self) -> bool {
        self.archive.is_generated()
    }
    fn run(&self, _: &Workflow) -> Result<EventList> {
        self.archive.load_events(&self.swid)
    }
}

/// The events of one JEM-X unit in one Science Window: generated and cached from a simulated
/// archive, read from a real one each time (as [`ScwEvents`]).
#[derive(Clone, Debug)]
pub struct JemxScwEvents {
    archive: Arc<Archive>,
    swid: ScwId,
    unit: JemxUnit,
    node: Arc<Node>,
}

impl JemxScwEvents {
    /// `unit`'s events of `swid` in `archive`.
    ///
    /// # Errors
    /// A real archive without the unit's events file.
    pub fn new(archive: &Arc<Archive>, swid: ScwId, unit: JemxUnit) -> Result<JemxScwEvents> {
        let params = archive.jemx_events_provenance(&swid, unit)?;
        Ok(JemxScwEvents {
            archive: archive.clone(),
            swid,
            unit,
            node: Node::new("JemxScwEvents", "1", params, vec![]),
        })
    }
}

impl Unit for JemxScwEvents {
    type Output = JemxEvents;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Events
    }
    fn cached(&self) -> bool {
        self.archive.is_generated()
    }
    fn run(&self, _: &Workflow) -> Result<JemxEvents> {
        self.archive.jemx_events(&self.swid, self.unit)
    }
}

/// The parameters of a unit that runs `maker`: its settings as it serialises them, so that
/// everything configured in the maker (and nothing written by hand beside it) is in the identity.
fn settings<T: Serialize>(maker: &T) -> serde_json::Value {
    // Makers serialise plain numbers, strings and lists; should one ever fail, the message
    // stands in for it (still deterministic, never silently equal to another maker's).
    serde_json::to_value(maker).unwrap_or_else(|e| json!({ "unserialisable": e.to_string() }))
}

/// The counts of one Science Window's ISGRI events per pixel in an extractor's channels or
/// time bins ([`ShadowgramMaker::count`]): all its spectral or light-curve fits need of the
/// events, a few hundred kB where the events take ~70 MB.
#[derive(Clone, Debug)]
pub struct ScwCountsUnit {
    events: ScwEvents,
    maker: ShadowgramMaker,
    binning: TimeBinning,
    node: Arc<Node>,
}

serde_payload!(ScwCounts);

impl ScwCountsUnit {
    /// The counts of `events` in `maker`'s bands and the bins of `binning`.
    pub fn new(events: ScwEvents, maker: ShadowgramMaker, binning: TimeBinning) -> ScwCountsUnit {
        let node = Node::new(
            "ScwCounts",
            "1",
            json!({ "shadowgram": settings(&maker), "binning": binning }),
            vec![events.node.clone()],
        );
        ScwCountsUnit {
            events,
            maker,
            binning,
            node,
        }
    }

    /// The Science Window.
    pub fn swid(&self) -> ScwId {
        self.events.swid
    }

    /// The identity of the events it counts.
    pub fn events_identity(&self) -> Identity {
        self.events.node.identity
    }

    /// The counts of `events` (the events of its Science Window).
    pub fn count(&self, events: &EventList) -> ScwCounts {
        self.maker.count_in(events, self.binning)
    }
}

impl Unit for ScwCountsUnit {
    type Output = ScwCounts;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::ScwProduct
    }
    fn run(&self, wf: &Workflow) -> Result<ScwCounts> {
        Ok(self.count(&wf.get(&self.events)?))
    }
}

/// The cleaned sky image of one Science Window in one band.
#[derive(Clone, Debug)]
pub struct ScwImageUnit {
    input: ImageInput,
    imager: Arc<ScwImager>,
    node: Arc<Node>,
}

/// What a Science Window image is made from.
#[derive(Clone, Debug)]
enum ImageInput {
    /// ISGRI events through a shadowgram maker (its first band).
    Isgri(ScwEvents, ShadowgramMaker),
    /// JEM-X events in a band.
    Jemx(JemxScwEvents, EnergyBand),
}

impl ScwImageUnit {
    /// The image of `events` with the shadowgram `maker` (its first band) and `imager`.
    pub fn new(events: ScwEvents, maker: ShadowgramMaker, imager: Arc<ScwImager>) -> ScwImageUnit {
        let node = Node::new(
            "ScwImage",
            // 2: images carry their sky grid (the telescope's).
            "2",
            json!({ "shadowgram": settings(&maker), "imager": settings(imager.as_ref()) }),
            vec![events.node.clone()],
        );
        ScwImageUnit {
            input: ImageInput::Isgri(events, maker),
            imager,
            node,
        }
    }

    /// The image of JEM-X `events` in `band` with `imager` (JEM-X's: see
    /// [`jemx_cleaning_imager`]).
    pub fn jemx(events: JemxScwEvents, band: EnergyBand, imager: Arc<ScwImager>) -> ScwImageUnit {
        let node = Node::new(
            "JemxScwImage",
            "1",
            json!({ "band": band, "unit": events.unit.name(), "imager": settings(imager.as_ref()) }),
            vec![events.node.clone()],
        );
        ScwImageUnit {
            input: ImageInput::Jemx(events, band),
            imager,
            node,
        }
    }

    /// The Science Window.
    pub fn swid(&self) -> ScwId {
        match &self.input {
            ImageInput::Isgri(e, _) => e.swid,
            ImageInput::Jemx(e, _) => e.swid,
        }
    }
}

impl Unit for ScwImageUnit {
    type Output = ScwImage;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::ScwProduct
    }
    fn intermediate(&self) -> bool {
        true
    }
    fn run(&self, wf: &Workflow) -> Result<ScwImage> {
        match &self.input {
            ImageInput::Isgri(events, maker) => {
                let ev = wf.get(events)?;
                let image = image_scw(maker, &self.imager, &ev)?;
                // The request's spectra or light curves need these events too: count them now.
                wf.provide_alongside(&events.node.identity, &ev);
                Ok(image)
            }
            ImageInput::Jemx(events, band) => self
                .imager
                .run(&jemx_imaging_shadowgram(&wf.get(events)?, *band)?),
        }
    }
}

/// The mosaic sums of one batch of Science Window images, with the sources fitted in each.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MosaicBatch {
    /// The sums.
    pub sum: MosaicSum,
    /// Sources fitted in each image, in Science-Window order.
    pub sources: Vec<(ScwId, Vec<ScwSource>)>,
}

/// One batch of images added onto the mosaic grid.
#[derive(Clone, Debug)]
pub struct MosaicBatchUnit {
    images: Vec<ScwImageUnit>,
    empty: MosaicSum,
    /// Position of the batch's first image in the request and the request's size (progress
    /// reports only; not part of the identity).
    offset: usize,
    total: usize,
    node: Arc<Node>,
}

impl Unit for MosaicBatchUnit {
    type Output = MosaicBatch;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::ScwProduct
    }
    fn run(&self, wf: &Workflow) -> Result<MosaicBatch> {
        let done = std::sync::atomic::AtomicUsize::new(self.offset);
        let images: Vec<Result<ScwImage>> = self
            .images
            .par_iter()
            .map(|u| {
                let r = wf.get(u);
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                wf.progress("ScW images", d, self.total);
                r
            })
            .collect();
        let mut sum = self.empty.clone();
        let mut ok = Vec::with_capacity(images.len());
        let mut first_error = None;
        for (u, r) in self.images.iter().zip(images) {
            match r {
                Ok(img) => ok.push(img),
                Err(e) => {
                    wf.warn(format!("{}: {e}", u.swid()), true);
                    first_error.get_or_insert(e);
                }
            }
        }
        // When nothing worked, the cause (a full disk, an unreadable archive) is the answer.
        if ok.is_empty()
            && let Some(e) = first_error
        {
            return Err(e);
        }
        sum.add_all(&ok)?;
        Ok(MosaicBatch {
            sum,
            sources: ok.into_iter().map(|i| (i.swid, i.sources)).collect(),
        })
    }
}

/// The mosaic of all batches and the per-ScW sources the source finder needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MosaicStack {
    /// The mosaic.
    pub mosaic: Mosaic,
    /// Sources fitted in each Science Window image, in order.
    pub sources: Vec<(ScwId, Vec<ScwSource>)>,
}

/// The mosaic of a list of Science Windows.
#[derive(Clone, Debug)]
pub struct MosaicUnit {
    batches: Vec<MosaicBatchUnit>,
    node: Arc<Node>,
}

impl MosaicUnit {
    /// The mosaic centred on `center` of the images of `events` in `band`, in batches of
    /// `batch` Science Windows.
    ///
    /// # Errors
    /// No Science Windows.
    pub fn new(
        events: &[ScwEvents],
        band: EnergyBand,
        version: OsaVersion,
        center: SkyCoord,
        batch: usize,
    ) -> Result<MosaicUnit> {
        if events.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to image".into(),
            });
        }
        let pointings = events.iter().map(|e| pointing(&e.archive, &e.swid, center));
        // The calibration is read from the archive's files; their checksums enter every
        // identity downstream through the maker's settings.
        let maker = ShadowgramMaker::new(vec![band], events[0].archive.calibration(version)?)?;
        let imager = Arc::new(cleaning_imager()?.with_calibration(maker.calibration()));
        let empty = crate::analysis::mosaic::MosaicMaker::new(center, None)
            .with_calibration(maker.calibration())
            .start(band, pointings)?;
        let images = events
            .iter()
            .map(|e| ScwImageUnit::new(e.clone(), maker.clone(), imager.clone()))
            .collect();
        Ok(MosaicUnit::of_images(images, empty, batch))
    }

    /// The mosaic centred on `center` of JEM-X unit `unit`'s images of `events` in `band`, in
    /// batches of `batch` Science Windows (on JEM-X's grid, with its imaging calibration).
    ///
    /// # Errors
    /// No Science Windows; a band outside JEM-X's 3–35 keV.
    pub fn jemx(
        events: &[JemxScwEvents],
        band: EnergyBand,
        center: SkyCoord,
        batch: usize,
    ) -> Result<MosaicUnit> {
        let Some(first) = events.first() else {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to image".into(),
            });
        };
        let unit = first.unit;
        crate::analysis::jemx::jemx_band(band.e1, band.e2)?;
        let pointings = events.iter().map(|e| pointing(&e.archive, &e.swid, center));
        let imager = Arc::new(jemx_cleaning_imager(unit)?);
        let empty = crate::analysis::mosaic::MosaicMaker::new(center, None)
            .with_telescope(&jemx::geometry(unit), &jemx::imaging_calibration())
            .start(band, pointings)?;
        let images = events
            .iter()
            .map(|e| ScwImageUnit::jemx(e.clone(), band, imager.clone()))
            .collect();
        Ok(MosaicUnit::of_images(images, empty, batch))
    }

    /// The mosaic of `images` on the grid of `empty`, in batches of `batch`.
    fn of_images(images: Vec<ScwImageUnit>, empty: MosaicSum, batch: usize) -> MosaicUnit {
        let total = images.len();
        let grid = json!({
            "projection": empty.projection,
            "shape": empty.weight.dim(),
        });
        let batch = batch.max(1);
        let batches: Vec<MosaicBatchUnit> = images
            .chunks(batch)
            .enumerate()
            .map(|(k, chunk)| {
                let images: Vec<ScwImageUnit> = chunk.to_vec();
                let node = Node::new(
                    "MosaicBatch",
                    "2",
                    json!({ "grid": grid }),
                    images.iter().map(|i| i.node.clone()).collect(),
                );
                MosaicBatchUnit {
                    images,
                    empty: empty.clone(),
                    offset: k * batch,
                    total,
                    node,
                }
            })
            .collect();
        let node = Node::new(
            "Mosaic",
            "2",
            json!({}),
            batches.iter().map(|b| b.node.clone()).collect(),
        );
        MosaicUnit { batches, node }
    }

    /// Number of Science Windows.
    pub fn n_scw(&self) -> usize {
        self.batches.iter().map(|b| b.images.len()).sum()
    }
}

impl Unit for MosaicUnit {
    type Output = MosaicStack;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Product
    }
    fn run(&self, wf: &Workflow) -> Result<MosaicStack> {
        // On a cluster one job array computes every missing image of every batch; in a streamed
        // request, where the images are not stored, every missing batch, each in one task (the
        // ScWs' counts are stored, the mosaic batch sums their images).
        let missing = self
            .batches
            .iter()
            .filter(|b| !wf.cache().contains(&b.node.identity));
        if wf.streaming() {
            let batches: Vec<MosaicBatchUnit> = missing.cloned().collect();
            let scws = self.batches.first().map_or(1, |b| b.images.len());
            wf.prepare_grouped("mosaic batches", &batches, scws as f64, |b| {
                let swids: Vec<String> = b.images.iter().map(|i| i.swid().to_string()).collect();
                swids.join(", ")
            })?;
        } else {
            let images: Vec<ScwImageUnit> =
                missing.flat_map(|b| b.images.iter().cloned()).collect();
            wf.prepare("ScW images", &images, |u| u.swid().to_string())?;
        }
        let mut total: Option<MosaicSum> = None;
        let mut sources = Vec::new();
        let n = self.n_scw();
        let mut done = 0;
        for b in &self.batches {
            let batch = match wf.get(b) {
                Ok(batch) => batch,
                // A streamed request's batch whose Slurm task failed twice: the report is a
                // warning and the batch is made here (a ScW that cannot be imaged is then
                // skipped with its own warning), so the rest of the product is delivered.
                Err(e) if e.is_cluster_error() && wf.streaming() => {
                    wf.warn(e.to_string(), false);
                    b.run(wf)?
                }
                Err(e) => return Err(e),
            };
            done += b.images.len();
            wf.progress("ScW images", done, n);
            match &mut total {
                None => total = Some(batch.sum),
                Some(t) => t.merge(&batch.sum)?,
            }
            sources.extend(batch.sources);
        }
        let total = total.ok_or_else(|| Error::EmptySelection {
            reason: "no Science Windows to image".into(),
        })?;
        if total.n_images == 0 {
            return Err(Error::EmptySelection {
                reason: "none of the selected Science Windows could be imaged".into(),
            });
        }
        Ok(MosaicStack {
            mosaic: total.into_mosaic()?,
            sources,
        })
    }
}

/// The pointing of `swid` (`fallback` when the index does not have it).
fn pointing(archive: &Archive, swid: &ScwId, fallback: SkyCoord) -> SkyCoord {
    archive
        .index()
        .get(swid)
        .map(|s| s.attitude.pointing())
        .unwrap_or(fallback)
}

/// Source detection in a mosaic.
#[derive(Clone, Debug)]
pub struct DetectionUnit {
    mosaic: MosaicUnit,
    finder: SourceFinder,
    node: Arc<Node>,
}

impl DetectionUnit {
    /// The sources `finder` finds in `mosaic`.
    pub fn new(mosaic: MosaicUnit, finder: SourceFinder) -> DetectionUnit {
        let node = Node::new(
            "SourceDetection",
            "2",
            settings(&finder),
            vec![mosaic.node.clone()],
        );
        DetectionUnit {
            mosaic,
            finder,
            node,
        }
    }

    /// The mosaic unit it detects in.
    pub fn mosaic(&self) -> &MosaicUnit {
        &self.mosaic
    }
}

impl Unit for DetectionUnit {
    type Output = Catalog;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Product
    }
    fn run(&self, wf: &Workflow) -> Result<Catalog> {
        let stack = wf.get(&self.mosaic)?;
        self.finder.run_with_sources(&stack.mosaic, &stack.sources)
    }
}

/// The catalog spectra and light curves are extracted for: the user's, or the image's
/// detections completed with the target when it was not detected.
#[derive(Clone, Debug)]
pub enum CatalogUnit {
    /// A catalog given with the request (`selected_catalog`).
    User {
        /// The catalog.
        catalog: Catalog,
        /// Its provenance node.
        node: Arc<Node>,
    },
    /// Detections, plus the target if missing.
    Detected {
        /// The detection.
        detection: Box<DetectionUnit>,
        /// The target (name, position) to add when not detected.
        target: Option<(String, SkyCoord)>,
        /// Its provenance node.
        node: Arc<Node>,
    },
}

/// Detections closer than this to the target are the target, arcmin.
pub const TARGET_MATCH_ARCMIN: f64 = 12.0;

impl CatalogUnit {
    /// The user's catalog.
    pub fn user(catalog: Catalog) -> Result<CatalogUnit> {
        let params = serde_json::to_value(&catalog)
            .map_err(|e| Error::invalid("selected_catalog", e, "a serialisable catalog"))?;
        Ok(CatalogUnit::User {
            node: Node::new("UserCatalog", "1", json!({ "catalog": params }), vec![]),
            catalog,
        })
    }

    /// The detections of `detection`, with `target` added when no detection is within
    /// [`TARGET_MATCH_ARCMIN`] of it.
    pub fn detected(detection: DetectionUnit, target: Option<(String, SkyCoord)>) -> CatalogUnit {
        let t = target
            .as_ref()
            .map(|(n, p)| json!({"name": n, "ra": p.ra(), "dec": p.dec()}));
        CatalogUnit::Detected {
            node: Node::new(
                "ExtractionCatalog",
                "1",
                json!({ "target": t }),
                vec![detection.node.clone()],
            ),
            detection: Box::new(detection),
            target,
        }
    }
}

impl Unit for CatalogUnit {
    type Output = Catalog;
    fn node(&self) -> &Arc<Node> {
        match self {
            CatalogUnit::User { node, .. } | CatalogUnit::Detected { node, .. } => node,
        }
    }
    fn class(&self) -> EntryClass {
        EntryClass::Product
    }
    fn run(&self, wf: &Workflow) -> Result<Catalog> {
        match self {
            CatalogUnit::User { catalog, .. } => Ok(catalog.clone()),
            CatalogUnit::Detected {
                detection, target, ..
            } => {
                let mut cat = wf.get(detection.as_ref())?;
                if let Some((name, pos)) = target {
                    let found = cat
                        .entries()
                        .iter()
                        .any(|e| e.position.separation(pos) * 60.0 < TARGET_MATCH_ARCMIN);
                    if !found {
                        cat.add_position(name, *pos)?;
                    }
                }
                Ok(cat)
            }
        }
    }
}

/// What a per-ScW extraction fits: spectra in channels or light curves in time bins.
#[derive(Clone, Debug)]
pub enum Extraction {
    /// Spectra on channels with these edges, keV.
    Spectrum(Vec<f64>),
    /// Light curves in a band with bins of this many seconds.
    LightCurve(EnergyBand, f64),
}

/// What a per-ScW JEM-X extraction fits: spectra in the 16 standard channels or light curves
/// in a band with bins of this many seconds.
#[derive(Clone, Copy, Debug)]
pub enum JemxExtraction {
    /// Spectra in the standard channels.
    Spectrum,
    /// Light curves in a band with bins of this many seconds.
    LightCurve(EnergyBand, f64),
}

/// The configured extractor of an [`Extraction`]: its settings are the units' parameters.
#[derive(Clone, Debug, Serialize)]
enum Extractor {
    Spectrum(SpectrumExtractor),
    LightCurve(LightCurveExtractor),
    JemxSpectrum(JemxSpectrumExtractor),
    JemxLightCurve(JemxLightCurveExtractor),
}

/// What a per-ScW extraction fits: ISGRI counts, or JEM-X events.
#[derive(Clone, Debug)]
enum ScwInput {
    Isgri(ScwCountsUnit),
    Jemx(JemxScwEvents),
}

impl ScwInput {
    fn swid(&self) -> ScwId {
        match self {
            ScwInput::Isgri(c) => c.swid(),
            ScwInput::Jemx(e) => e.swid,
        }
    }
    fn node(&self) -> &Arc<Node> {
        match self {
            ScwInput::Isgri(c) => &c.node,
            ScwInput::Jemx(e) => &e.node,
        }
    }
}

/// The sky-model fits of one Science Window for spectra or light curves.
#[derive(Clone, Debug)]
pub struct ScwExtractionUnit {
    events: ScwInput,
    catalog: Arc<CatalogUnit>,
    extractor: Arc<Extractor>,
    node: Arc<Node>,
}

/// Output of [`ScwExtractionUnit`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ScwExtraction {
    /// Spectral fits.
    Spectrum(ScwSpectra),
    /// Light-curve fits.
    LightCurve(ScwLightCurve),
    /// JEM-X spectral fits.
    JemxSpectrum(JemxScwSpectra),
    /// JEM-X light-curve fits.
    JemxLightCurve(JemxScwLightCurve),
}
serde_payload!(ScwExtraction);

impl Unit for ScwExtractionUnit {
    type Output = ScwExtraction;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::ScwProduct
    }
    fn run(&self, wf: &Workflow) -> Result<ScwExtraction> {
        let catalog = wf.get(self.catalog.as_ref())?;
        let mismatch = || {
            Error::invalid(
                "instrument",
                self.events.swid(),
                "events of the extractor's instrument (internal inconsistency: please report)",
            )
        };
        Ok(match (self.extractor.as_ref(), &self.events) {
            (Extractor::Spectrum(x), ScwInput::Isgri(c)) => {
                ScwExtraction::Spectrum(x.scw_part_from_counts(&wf.get(c)?, &catalog)?)
            }
            (Extractor::LightCurve(x), ScwInput::Isgri(c)) => {
                ScwExtraction::LightCurve(x.scw_part_from_counts(&wf.get(c)?, &catalog)?)
            }
            (Extractor::JemxSpectrum(x), ScwInput::Jemx(e)) => {
                ScwExtraction::JemxSpectrum(x.scw_part(&wf.get(e)?, &catalog)?)
            }
            (Extractor::JemxLightCurve(x), ScwInput::Jemx(e)) => {
                ScwExtraction::JemxLightCurve(x.scw_part(&wf.get(e)?, &catalog)?)
            }
            _ => return Err(mismatch()),
        })
    }
}

/// Spectra or light curves of every catalog source over a list of Science Windows.
#[derive(Clone, Debug)]
pub struct ExtractionUnit {
    parts: Vec<ScwExtractionUnit>,
    catalog: Arc<CatalogUnit>,
    extractor: Arc<Extractor>,
    node: Arc<Node>,
}

impl ExtractionUnit {
    /// Extraction of `what` for the sources of `catalog` from `events`.
    ///
    /// # Errors
    /// Channels or a time bin the extractors refuse (see [`SpectrumExtractor::new`],
    /// [`LightCurveExtractor::new`]).
    pub fn new(
        events: &[ScwEvents],
        catalog: CatalogUnit,
        what: Extraction,
        version: OsaVersion,
    ) -> Result<ExtractionUnit> {
        let catalog = Arc::new(catalog);
        let Some(first) = events.first() else {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to analyse".into(),
            });
        };
        let calibration = first.archive.calibration(version)?;
        let (name, extractor) = match &what {
            Extraction::Spectrum(edges) => (
                "Spectrum",
                Extractor::Spectrum(SpectrumExtractor::new(edges, calibration)?),
            ),
            Extraction::LightCurve(band, bin) => (
                "LightCurve",
                Extractor::LightCurve(LightCurveExtractor::new(*band, *bin, calibration)?),
            ),
        };
        let (maker, binning) = match &extractor {
            Extractor::Spectrum(x) => (x.maker().clone(), x.binning()),
            Extractor::LightCurve(x) => (x.maker().clone(), x.binning()),
            _ => return Err(Error::invalid("extraction", name, "an ISGRI extraction")),
        };
        let inputs = events
            .iter()
            .map(|e| ScwInput::Isgri(ScwCountsUnit::new(e.clone(), maker.clone(), binning)))
            .collect();
        Ok(ExtractionUnit::of_parts(name, inputs, catalog, extractor))
    }

    /// Extraction of `what` from JEM-X unit `unit`'s `events` for the sources of `catalog`.
    ///
    /// # Errors
    /// No Science Windows; a band or time bin the extractor refuses
    /// ([`JemxLightCurveExtractor::new`]).
    pub fn jemx(
        events: &[JemxScwEvents],
        catalog: CatalogUnit,
        what: JemxExtraction,
        unit: JemxUnit,
    ) -> Result<ExtractionUnit> {
        if events.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to analyse".into(),
            });
        }
        let (name, extractor) = match what {
            // The response from the archive's file: its checksum enters the identity.
            JemxExtraction::Spectrum => (
                "JemxSpectrum",
                Extractor::JemxSpectrum(JemxSpectrumExtractor::with_calibration(
                    events[0].archive.jemx_calibration(unit)?,
                )),
            ),
            JemxExtraction::LightCurve(band, bin) => (
                "JemxLightCurve",
                Extractor::JemxLightCurve(JemxLightCurveExtractor::new(unit, band, bin)?),
            ),
        };
        let inputs = events.iter().cloned().map(ScwInput::Jemx).collect();
        Ok(ExtractionUnit::of_parts(
            name,
            inputs,
            Arc::new(catalog),
            extractor,
        ))
    }

    /// The extraction named `name` of `inputs` with `extractor`, one part per Science Window.
    fn of_parts(
        name: &str,
        inputs: Vec<ScwInput>,
        catalog: Arc<CatalogUnit>,
        extractor: Extractor,
    ) -> ExtractionUnit {
        let params = settings(&extractor);
        let extractor = Arc::new(extractor);
        let parts: Vec<ScwExtractionUnit> = inputs
            .into_iter()
            .map(|e| ScwExtractionUnit {
                node: Node::new(
                    &format!("Scw{name}Fit"),
                    // 2: ISGRI fits read the ScW's counts, not its events.
                    "2",
                    params.clone(),
                    vec![e.node().clone(), catalog.node().clone()],
                ),
                events: e,
                catalog: catalog.clone(),
                extractor: extractor.clone(),
            })
            .collect();
        let node = Node::new(
            name,
            "1",
            params,
            std::iter::once(catalog.node().clone())
                .chain(parts.iter().map(|p| p.node.clone()))
                .collect(),
        );
        ExtractionUnit {
            parts,
            catalog,
            extractor,
            node,
        }
    }

    /// The catalog unit.
    pub fn catalog(&self) -> &Arc<CatalogUnit> {
        &self.catalog
    }

    /// The per-ScW counts its fits read (ISGRI; none for JEM-X, whose fits read the events):
    /// give them to [`Workflow::count_alongside`] so that they are made in the images' pass.
    pub fn counts(&self) -> Vec<ScwCountsUnit> {
        self.parts
            .iter()
            .filter_map(|p| match &p.events {
                ScwInput::Isgri(c) => Some(c.clone()),
                ScwInput::Jemx(_) => None,
            })
            .collect()
    }

    /// Runs the per-ScW fits (in parallel; failures of single Science Windows are reported and
    /// skipped) and returns them in order.
    fn parts(&self, wf: &Workflow) -> Result<Vec<ScwExtraction>> {
        // The shared input first, so that no parallel task waits for another's computation.
        wf.get(self.catalog.as_ref())?;
        let n = self.parts.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let stage = match self.extractor.as_ref() {
            Extractor::Spectrum(_) | Extractor::JemxSpectrum(_) => "ScW spectral fits",
            Extractor::LightCurve(_) | Extractor::JemxLightCurve(_) => "ScW light-curve fits",
        };
        // A fit from stored counts is ~0.02 s against ~1 s to image a ScW; one that must
        // count the events first (a new time bin, JEM-X) is as much work as the image.
        let from_counts = self.parts.iter().all(|p| match &p.events {
            ScwInput::Isgri(c) => wf.cache().contains(&c.node().identity),
            ScwInput::Jemx(_) => false,
        });
        let work = if from_counts { 0.1 } else { 1.0 };
        wf.prepare_grouped(stage, &self.parts, work, |p| p.events.swid().to_string())?;
        let results: Vec<Result<ScwExtraction>> = self
            .parts
            .par_iter()
            .map(|p| {
                let r = wf.get(p);
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                wf.progress(stage, d, n);
                r
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        let mut first_error = None;
        for (p, r) in self.parts.iter().zip(results) {
            match r {
                Ok(x) => out.push(x),
                Err(e) => {
                    wf.warn(format!("{}: {e}", p.events.swid()), true);
                    first_error.get_or_insert(e);
                }
            }
        }
        if out.is_empty() {
            return Err(first_error.unwrap_or_else(|| Error::EmptySelection {
                reason: "no Science Windows to analyse".into(),
            }));
        }
        Ok(out)
    }
}

/// The combined output of an [`ExtractionUnit`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Extracted {
    /// One spectrum per catalog source.
    Spectra(Vec<Spectrum>),
    /// One light curve per catalog source.
    LightCurves(Vec<LightCurve>),
    /// One JEM-X light curve per catalog source.
    JemxLightCurves(Vec<JemxLightCurve>),
}
serde_payload!(Extracted);

impl Unit for ExtractionUnit {
    type Output = Extracted;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Product
    }
    fn run(&self, wf: &Workflow) -> Result<Extracted> {
        let catalog = wf.get(self.catalog.as_ref())?;
        let parts = self.parts(wf)?;
        // The parts of the extractor's kind (every part is: they were made by it).
        macro_rules! only {
            ($variant:path) => {
                parts
                    .into_iter()
                    .filter_map(|p| match p {
                        $variant(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            };
        }
        Ok(match self.extractor.as_ref() {
            Extractor::Spectrum(x) => {
                Extracted::Spectra(x.combine(&only!(ScwExtraction::Spectrum), &catalog)?)
            }
            Extractor::LightCurve(x) => {
                Extracted::LightCurves(x.combine(&only!(ScwExtraction::LightCurve), &catalog)?)
            }
            Extractor::JemxSpectrum(x) => {
                Extracted::Spectra(x.combine(&only!(ScwExtraction::JemxSpectrum), &catalog)?)
            }
            Extractor::JemxLightCurve(x) => Extracted::JemxLightCurves(
                x.combine(&only!(ScwExtraction::JemxLightCurve), &catalog)?,
            ),
        })
    }
}

/// A spectral fit of one source's spectrum.
#[derive(Clone, Debug)]
pub struct FitUnit {
    spectra: ExtractionUnit,
    source: String,
    fitter: SpectralFitter,
    node: Arc<Node>,
}

impl FitUnit {
    /// Fits `model` (with the fitter's defaults) to the spectrum of `source` (a catalog name)
    /// among `spectra`.
    pub fn new(spectra: ExtractionUnit, source: &str, model: ModelKind) -> FitUnit {
        FitUnit::with_fitter(spectra, source, SpectralFitter::new(model))
    }

    /// Fits the spectrum of `source` among `spectra` with `fitter`.
    pub fn with_fitter(spectra: ExtractionUnit, source: &str, fitter: SpectralFitter) -> FitUnit {
        let node = Node::new(
            "SpectralFit",
            "1",
            json!({ "source": source, "fitter": settings(&fitter) }),
            vec![spectra.node.clone()],
        );
        FitUnit {
            spectra,
            source: source.to_string(),
            fitter,
            node,
        }
    }
}

impl Unit for FitUnit {
    type Output = SpectralFit;
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
    fn class(&self) -> EntryClass {
        EntryClass::Product
    }
    fn run(&self, wf: &Workflow) -> Result<SpectralFit> {
        let Extracted::Spectra(spectra) = wf.get(&self.spectra)? else {
            return Err(Error::invalid(
                "product",
                "spectral_fit",
                "a fit of spectra (internal: the input is not a spectrum)",
            ));
        };
        let spectrum = spectra
            .iter()
            .find(|s| s.source == self.source)
            .ok_or_else(|| {
                Error::invalid(
                    "src_name",
                    &self.source,
                    format!(
                        "a source of the catalog: {}",
                        spectra
                            .iter()
                            .map(|s| s.source.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        self.fitter.run(spectrum)
    }
}
