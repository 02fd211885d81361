//! # oda — INTEGRAL Online Data Analysis, notebook-first
//!
//! `oda` analyses INTEGRAL/ISGRI hard X-ray data in Rust: name a source, a time span and
//! an energy band and get sky images with catalogs, spectra and light curves, computed by a
//! coded-mask analysis chain. The default data are an embedded, deterministic simulation of
//! the mission that writes exactly the files of the real archive; set `ODA_ARCHIVE` to a
//! real archive root and the same code reads real data.
//!
//! ```no_run
//! use oda::prelude::*;
//! let settings = Settings::from_env()?;
//! let archive = Archive::open(&settings)?;
//! let selection = ScwSelection::from_pairs([("src_name", "Crab"), ("T1", "2003-03-15"),
//!     ("T2", "2018-03-16"), ("max_pointings", "5")])?;
//! for scw in archive.select(&selection)?.scws() {
//!     println!("{} {:.1} ks", scw.swid, scw.telapse / 1000.0);
//! }
//! # Ok::<(), oda::Error>(())
//! ```
//!
//! The crate is organised as the analysis flows:
//! - [`time`], [`sky`] — time systems, coordinates, projections, the reference catalog;
//! - [`instrument`] — the coded-mask seam, IBIS/ISGRI (mask, detector, response, background)
//!   and SPI-ACS (the shield's rate as a burst monitor);
//! - [`archive`] — Science Windows, the ScW index and selection, the on-disk FITS layout;
//! - [`simulate`] — the simulated mission that serves as the default archive, behind the
//!   archive's interface ([`archive::EventSource`]): the analysis never sees its truth;
//! - [`datasets`] — what the analysis measures: spectra and light curves with their responses;
//! - [`analysis`] — shadowgrams → sky images → mosaics → catalogs; spectra and light curves;
//! - [`spectrum`], [`fit`] — spectral models and χ² fits with errors and fluxes;
//! - [`products`] — images, catalogs, spectra and light curves: FITS files, polars tables;
//! - [`workflow`] — analysis units identified by provenance, cached on disk, run in parallel;
//! - [`query`] — ODA requests (`product`, `src_name`, `T1`, `E1_keV`, …) and [`query::get_product`];
//! - [`display`] — figures and tables in notebooks (plotly) and for papers (SVG, PNG);
//! - [`publish`] — a notebook and its products as one record with a DOI on Zenodo or any
//!   InvenioRDM server: reserve the DOI, make the products with it, bundle, upload, verify.
//!
//! Most users start from a request:
//!
//! ```no_run
//! use oda::prelude::*;
//! let request = Request::builder(ProductType::IsgriImage)
//!     .src_name("Crab")
//!     .time_range("2003-03-15", "2018-03-16")
//!     .detection_threshold(7.5)
//!     .build()?;
//! let result = get_product(&request)?;   // computed once, then from the cache
//! println!("{}", result.product.catalog());
//! # Ok::<(), oda::Error>(())
//! ```
//!
//! Units: energies in keV, angles in degrees, times as [`time::Time`] (IJD, TT) or seconds.
#![deny(missing_docs)]

pub mod analysis;
pub mod archive;
pub mod config;
pub mod datasets;
pub mod display;
mod error;
pub mod fit;
mod fits;
pub mod instrument;
pub mod osa;
pub mod products;
pub mod publish;
pub mod query;
#[cfg(feature = "server")]
pub mod server;
pub mod simulate;
pub mod sky;
pub mod spectrum;
pub mod time;
pub mod workflow;

pub use error::{Error, PublishErrorKind, Result};
/// The polars crate the products convert to, for notebooks that build their own tables
/// (`oda::polars::df!`) without another dependency.
pub use polars;

/// The names a notebook or script usually needs, in one `use`.
pub mod prelude {
    pub use crate::analysis::burst::{BurstSearch, BurstSearchResult};
    pub use crate::analysis::catalog::Catalog;
    pub use crate::archive::{Archive, ScienceWindow, ScwId, ScwSelection, Selection};
    pub use crate::config::Settings;
    pub use crate::datasets::{AcsLightCurve, JemxLightCurve};
    pub use crate::display::{Chart, Comparison};
    pub use crate::fit::{JointFit, ModelKind, SpectralFit, SpectralFitter};
    pub use crate::instrument::Detector;
    pub use crate::instrument::jemx::JemxUnit;
    pub use crate::osa::OsaVersion;
    pub use crate::products::{Image, LightCurve, Spectrum, ToDataFrame};
    pub use crate::publish::{Creator, Metadata, Publication, PublishOptions, Target};
    pub use crate::query::{
        Instrument, MeasuredCatalog, Product, ProductResult, ProductType, Request, Session,
        get_product,
    };
    pub use crate::sky::{SkyCoord, resolve};
    pub use crate::time::{Time, TimeFormat};
    pub use crate::{Error, Result};
}
