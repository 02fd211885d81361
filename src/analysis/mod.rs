//! The coded-mask analysis chain: shadowgrams → sky images → mosaics → source catalogs;
//! spectra and light curves by sky-model fits of the shadowgrams.
//!
//! Each stage is a small struct of validated settings with a `run` method:
//! [`ShadowgramMaker`](shadowgram::ShadowgramMaker) → [`ScwImager`](image::ScwImager) →
//! [`MosaicMaker`](mosaic::MosaicMaker) → [`SourceFinder`](detect::SourceFinder) →
//! [`Catalog`](catalog::Catalog) → [`SpectrumExtractor`](extract::SpectrumExtractor) and
//! [`LightCurveExtractor`](extract::LightCurveExtractor). [`image_analysis`] chains the imaging
//! stages over many Science Windows in parallel.

pub mod catalog;
pub mod decode;
pub mod detect;
pub mod extract;
pub mod image;
pub mod mosaic;
pub mod shadowgram;
pub mod skyfit;

use rayon::prelude::*;

use crate::archive::{Archive, ScwId};
use crate::error::{Error, Result};
use crate::osa::OsaVersion;
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

/// Images every Science Window of `scws` in `band`, builds the mosaic centred on `center` and
/// finds the sources above `detection_threshold` σ. Science Windows run in parallel.
///
/// # Errors
/// No Science Windows; an unreadable one (named); invalid thresholds.
pub fn image_analysis(
    archive: &Archive,
    scws: &[ScwId],
    band: EnergyBand,
    detection_threshold: f64,
    version: OsaVersion,
    center: SkyCoord,
) -> Result<ImageAnalysis> {
    if scws.is_empty() {
        return Err(Error::EmptySelection {
            reason: "no Science Windows to image".into(),
        });
    }
    let finder = SourceFinder::new(detection_threshold)?;
    let maker = ShadowgramMaker::new(vec![band], version)?;
    let imager = ScwImager::new(
        DEFAULT_CLEAN_THRESHOLD.min(detection_threshold),
        MAX_CLEANED_SOURCES,
    )?;
    let scw_images: Vec<ScwImage> = scws
        .par_iter()
        .map(|id| {
            let events = archive.events(id)?;
            let sg = maker
                .run(&events)
                .into_iter()
                .next()
                .ok_or_else(|| Error::ScienceWindow {
                    swid: id.to_string(),
                    reason: "no shadowgram".into(),
                })?;
            imager.run(&sg)
        })
        .collect::<Result<_>>()?;
    let mosaic = MosaicMaker::new(center, None).run(&scw_images)?;
    let catalog = finder.run(&mosaic, &scw_images)?;
    Ok(ImageAnalysis {
        scw_images,
        mosaic,
        catalog,
    })
}
