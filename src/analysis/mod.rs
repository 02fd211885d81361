//! The coded-mask analysis chain: shadowgrams → sky images → mosaics → source catalogs;
//! spectra and light curves by sky-model fits of the shadowgrams.
//!
//! Each stage is a small struct of validated settings with a `run` method:
//! [`ShadowgramMaker`] → [`ScwImager`] →
//! [`MosaicMaker`] → [`SourceFinder`] →
//! [`Catalog`] → [`SpectrumExtractor`](extract::SpectrumExtractor) and
//! [`LightCurveExtractor`](extract::LightCurveExtractor). [`ImageAnalyzer`] chains the imaging
//! stages over many Science Windows in parallel.

pub mod burst;
pub mod catalog;
pub mod decode;
pub mod detect;
pub mod extract;
pub mod image;
pub mod jemx;
pub mod mosaic;
pub mod shadowgram;
pub mod skyfit;

use rayon::prelude::*;

use std::sync::Arc;

use crate::archive::{Archive, EventList, ScwId};
use crate::error::{Error, Result};
use crate::instrument::calibration::Calibration;
use crate::sky::SkyCoord;
use catalog::Catalog;
use detect::SourceFinder;
use image::{ScwImage, ScwImager};
use mosaic::{Mosaic, MosaicMaker};
use shadowgram::{EnergyBand, ShadowgramMaker};

/// Significance above which sources are cleaned from single-ScW images.
pub const DEFAULT_CLEAN_THRESHOLD: f64 = 6.0;
/// At most this many sources are cleaned per ScW image.
pub const MAX_CLEANED_SOURCES: usize = 20;

/// The ScW imager of every analysis: it cleans the reference catalog's sources in the field and
/// any other peak above [`DEFAULT_CLEAN_THRESHOLD`], at most [`MAX_CLEANED_SOURCES`] of them.
///
/// # Errors
/// Only if the bundled reference catalog cannot be read.
pub fn cleaning_imager() -> Result<ScwImager> {
    Ok(
        ScwImager::new(DEFAULT_CLEAN_THRESHOLD, MAX_CLEANED_SOURCES)?
            .with_known_sources(reference_positions()?),
    )
}

/// The positions of the bundled reference catalog's sources.
fn reference_positions() -> Result<Vec<SkyCoord>> {
    Ok(crate::sky::ReferenceCatalog::bundled()?
        .sources()
        .iter()
        .map(|s| s.position)
        .collect())
}

/// The imager of JEM-X unit `unit`'s Science Windows for mosaics: as [`cleaning_imager`], on
/// JEM-X's geometry and imaging calibration.
///
/// # Errors
/// An unreadable bundled reference catalog.
pub fn jemx_cleaning_imager(unit: crate::instrument::jemx::JemxUnit) -> Result<ScwImager> {
    Ok(
        jemx::jemx_imager(unit, DEFAULT_CLEAN_THRESHOLD, MAX_CLEANED_SOURCES)?
            .with_known_sources(reference_positions()?),
    )
}

/// The image of one Science Window's events in the (first) band of `maker`.
///
/// # Errors
/// No shadowgram (the maker has no band); errors of the imager.
pub fn image_scw(
    maker: &ShadowgramMaker,
    imager: &ScwImager,
    events: &EventList,
) -> Result<ScwImage> {
    let sg = maker
        .run(events)
        .into_iter()
        .next()
        .ok_or_else(|| Error::ScienceWindow {
            swid: events.header.swid.to_string(),
            reason: "no shadowgram".into(),
        })?;
    imager.run(&sg)
}

/// The products of an imaging analysis.
#[derive(Clone, Debug)]
pub struct ImageAnalysis {
    /// The cleaned image of every Science Window.
    pub scw_images: Vec<ScwImage>,
    /// Their mosaic.
    pub mosaic: Mosaic,
    /// Sources above the detection threshold.
    pub catalog: Catalog,
}

/// Imaging settings: band, detection threshold, calibration, mosaic centre, cleaning.
#[derive(Clone, Debug)]
pub struct ImageAnalyzer {
    maker: ShadowgramMaker,
    imager: ScwImager,
    finder: SourceFinder,
    center: SkyCoord,
}

impl ImageAnalyzer {
    /// Images in `band`, finds sources above `detection_threshold` σ in the mosaic centred on
    /// `center`, with `calibration` (one OSA version's, from the archive). Every ScW image is
    /// cleaned of the reference catalog's sources in its field and of any other peak above 6σ.
    ///
    /// # Errors
    /// A non-positive threshold.
    pub fn new(
        band: EnergyBand,
        detection_threshold: f64,
        calibration: Arc<Calibration>,
        center: SkyCoord,
    ) -> Result<ImageAnalyzer> {
        Ok(ImageAnalyzer {
            imager: cleaning_imager()?.with_calibration(&calibration),
            finder: SourceFinder::new(detection_threshold)?.with_imaging(&calibration.imaging),
            maker: ShadowgramMaker::new(vec![band], calibration)?,
            center,
        })
    }

    /// The same analysis without cleaning: ghosts and coding noise of bright sources stay.
    pub fn without_cleaning(mut self) -> ImageAnalyzer {
        self.imager = self.imager.with_max_sources(0);
        self
    }

    /// Runs on the Science Windows `scws` of `archive`, in parallel.
    ///
    /// # Errors
    /// No Science Windows; an unreadable one (named).
    pub fn run(&self, archive: &Archive, scws: &[ScwId]) -> Result<ImageAnalysis> {
        self.run_with(scws, |id| archive.events(id))
    }

    /// Runs on Science Windows whose events `load` provides (a simulation in memory, a cache).
    ///
    /// # Errors
    /// No Science Windows; errors of `load`.
    pub fn run_with(
        &self,
        scws: &[ScwId],
        load: impl Fn(&ScwId) -> Result<EventList> + Sync,
    ) -> Result<ImageAnalysis> {
        if scws.is_empty() {
            return Err(Error::EmptySelection {
                reason: "no Science Windows to image".into(),
            });
        }
        let scw_images: Vec<ScwImage> = scws
            .par_iter()
            .map(|id| image_scw(&self.maker, &self.imager, &load(id)?))
            .collect::<Result<_>>()?;
        let mosaic = MosaicMaker::new(self.center, None)
            .with_calibration(self.maker.calibration())
            .run(&scw_images)?;
        let catalog = self.finder.run(&mosaic, &scw_images)?;
        Ok(ImageAnalysis {
            scw_images,
            mosaic,
            catalog,
        })
    }
}
