//! Source catalogs: what an image shows, and what spectra and light curves are extracted for.
//!
//! A [`Catalog`] lists sources with position, position error, rate and significance, named after
//! the reference catalog or `NEW_n`. It is meant to be edited in code, as ODA users edit
//! `selected_catalog`: drop the `NEW_` entries (often ghosts), keep the brightest, add a source by
//! name or by position — and then hand it to [`SpectrumExtractor`](super::extract::SpectrumExtractor)
//! or [`LightCurveExtractor`](super::extract::LightCurveExtractor).
//!
//! ```
//! use oda::analysis::catalog::Catalog;
//! let mut cat = Catalog::default();
//! cat.add_named("Crab")?;
//! cat.add_position("my source", oda::sky::SkyCoord::new(84.0, 21.0)?)?;
//! assert_eq!(cat.len(), 2);
//! cat.remove("my source")?;
//! assert_eq!(cat.names(), vec!["Crab"]);
//! # Ok::<(), oda::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::archive::ScwId;
use crate::error::{Error, Result};
use crate::sky::{ReferenceCatalog, SkyCoord};

/// Where a catalog entry comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Origin {
    /// Detected in the mosaic.
    Mosaic,
    /// Detected only in the image of this Science Window (e.g. a short flare).
    ScienceWindow(ScwId),
    /// Added by the user.
    User,
}

/// One source of a catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Name: the reference catalog's, `NEW_n`, or the user's.
    pub name: String,
    /// Position.
    pub position: SkyCoord,
    /// 90 % position error radius, arcmin (0 for user entries).
    pub error_radius_arcmin: f64,
    /// Detection significance (0 for user entries).
    pub significance: f64,
    /// On-axis equivalent rate, cts/s, in the detection band (0 for user entries).
    pub rate: f64,
    /// Its 1σ error.
    pub rate_err: f64,
    /// True for an unidentified detection (`NEW_n`).
    pub is_new: bool,
    /// Where the entry comes from.
    pub origin: Origin,
}

/// A list of sources.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// A catalog of these entries.
    pub fn from_entries(entries: Vec<CatalogEntry>) -> Catalog {
        Catalog { entries }
    }

    /// The entries.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Removes every `NEW_n` entry.
    pub fn drop_new(&mut self) -> &mut Self {
        self.entries.retain(|e| !e.is_new);
        self
    }

    /// Removes the entry called `name`.
    ///
    /// # Errors
    /// No such entry (the message lists the names present).
    pub fn remove(&mut self, name: &str) -> Result<&mut Self> {
        let before = self.entries.len();
        self.entries.retain(|e| e.name != name);
        if self.entries.len() == before {
            return Err(Error::invalid(
                "catalog entry",
                name,
                format!("one of {}", self.names().join(", ")),
            ));
        }
        Ok(self)
    }

    /// Keeps the `n` most significant entries (user entries are kept).
    pub fn keep_brightest(&mut self, n: usize) -> &mut Self {
        let mut detected: Vec<CatalogEntry> = self
            .entries
            .iter()
            .filter(|e| e.origin != Origin::User)
            .cloned()
            .collect();
        detected.sort_by(|a, b| b.significance.total_cmp(&a.significance));
        detected.truncate(n);
        let users = self
            .entries
            .iter()
            .filter(|e| e.origin == Origin::User)
            .cloned();
        self.entries = detected.into_iter().chain(users).collect();
        self
    }

    /// Adds a source of the reference catalog by name (resolved offline).
    ///
    /// # Errors
    /// An unknown name (with suggestions) or a name already in the catalog.
    pub fn add_named(&mut self, name: &str) -> Result<&mut Self> {
        let src = ReferenceCatalog::bundled()?.get(name)?;
        let (name, position) = (src.name.clone(), src.position);
        self.add_position(&name, position)
    }

    /// Adds a source at `position` called `name`.
    ///
    /// # Errors
    /// A name already in the catalog.
    pub fn add_position(&mut self, name: &str, position: SkyCoord) -> Result<&mut Self> {
        if self.get(name).is_some() {
            return Err(Error::invalid(
                "catalog entry",
                name,
                "a name not yet in the catalog",
            ));
        }
        self.entries.push(CatalogEntry {
            name: name.to_string(),
            position,
            error_radius_arcmin: 0.0,
            significance: 0.0,
            rate: 0.0,
            rate_err: 0.0,
            is_new: false,
            origin: Origin::User,
        });
        Ok(self)
    }

    /// Entries within `radius_deg` of `center`.
    pub fn within(&self, center: &SkyCoord, radius_deg: f64) -> Vec<&CatalogEntry> {
        self.entries
            .iter()
            .filter(|e| e.position.separation(center) <= radius_deg)
            .collect()
    }
}

impl std::fmt::Display for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<22} {:>9} {:>9} {:>7} {:>10} {:>9} {:>6}",
            "NAME", "RA", "DEC", "ERR(')", "RATE", "ERROR", "SIGMA"
        )?;
        for e in &self.entries {
            writeln!(
                f,
                "{:<22} {:>9.4} {:>+9.4} {:>7.2} {:>10.3} {:>9.3} {:>6.1}",
                e.name,
                e.position.ra(),
                e.position.dec(),
                e.error_radius_arcmin,
                e.rate,
                e.rate_err,
                e.significance
            )?;
        }
        Ok(())
    }
}
