//! An archive on disk: the ScW index and the event files, simulated or real.

use std::path::{Path, PathBuf};

use super::{
    EventList, ScwId, ScwIndex, ScwSelection, Selection, read_events, read_index, select,
    write_events, write_index,
};
use crate::config::{ArchiveSource, Settings};
use crate::error::{Error, Result};
use crate::simulate::Simulation;

/// Path of the ScW index below an archive root.
pub const INDEX_PATH: &str = "idx/scw/GNRL-SCWG-GRP-IDX.fits";
/// File name of the ISGRI events in a ScW directory.
pub const EVENTS_FILE: &str = "isgri_events.fits";

/// An INTEGRAL archive: the real one at `ODA_ARCHIVE`, or the simulated one, read the same way.
#[derive(Debug)]
pub struct Archive {
    root: PathBuf,
    index: ScwIndex,
    simulation: Option<Simulation>,
}

impl Archive {
    /// Opens the archive the settings name. The simulated archive writes its index on first use.
    ///
    /// # Errors
    /// A real archive root without a readable index; I/O errors writing the simulated index.
    pub fn open(settings: &Settings) -> Result<Archive> {
        let root = settings.archive_root();
        let index_path = root.join(INDEX_PATH);
        match &settings.archive {
            ArchiveSource::Real(_) => {
                if !index_path.exists() {
                    return Err(Error::Setting {
                        name: "ODA_ARCHIVE".into(),
                        message: format!(
                            "{} is not an INTEGRAL archive root: {} is missing",
                            root.display(),
                            index_path.display()
                        ),
                    });
                }
                let index = read_index(&index_path)?;
                Ok(Archive {
                    root,
                    index,
                    simulation: None,
                })
            }
            ArchiveSource::Simulated => {
                let sim = Simulation::new(settings.seed)?;
                // The index is derived data: (re)write it when missing or unreadable.
                let index = match read_index(&index_path) {
                    Ok(index) => index,
                    Err(_) => {
                        write_index(&index_path, &sim.index())?;
                        read_index(&index_path)?
                    }
                };
                Ok(Archive {
                    root,
                    index,
                    simulation: Some(sim),
                })
            }
        }
    }

    /// The archive root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ScW index.
    pub fn index(&self) -> &ScwIndex {
        &self.index
    }

    /// The simulation behind a simulated archive.
    pub fn simulation(&self) -> Option<&Simulation> {
        self.simulation.as_ref()
    }

    /// Selects Science Windows.
    ///
    /// # Errors
    /// See [`select`].
    pub fn select(&self, sel: &ScwSelection) -> Result<Selection> {
        select(&self.index, sel)
    }

    /// The directory of Science Window `swid`: `scw/RRRR/RRRRPPPPSSSF.001`.
    pub fn scw_dir(&self, swid: &ScwId) -> PathBuf {
        self.root
            .join("scw")
            .join(swid.revolution_dir())
            .join(swid.with_version())
    }

    /// Path of the event file of `swid`, materialising it first in a simulated archive.
    ///
    /// # Errors
    /// An unknown ScW; a real archive without its events file; I/O errors.
    pub fn events_path(&self, swid: &ScwId) -> Result<PathBuf> {
        let dir = self.scw_dir(swid);
        let plain = dir.join(EVENTS_FILE);
        let gz = dir.join(format!("{EVENTS_FILE}.gz"));
        match &self.simulation {
            Some(sim) => {
                if !plain.exists() {
                    let events = sim.events(swid)?;
                    write_events(&plain, &events)?;
                }
                Ok(plain)
            }
            None => {
                if plain.exists() {
                    Ok(plain)
                } else if gz.exists() {
                    Ok(gz)
                } else {
                    Err(Error::ScienceWindow {
                        swid: swid.to_string(),
                        reason: format!("no {EVENTS_FILE}[.gz] in {}", dir.display()),
                    })
                }
            }
        }
    }

    /// True when the events of `swid` are on disk.
    pub fn is_materialised(&self, swid: &ScwId) -> bool {
        let dir = self.scw_dir(swid);
        dir.join(EVENTS_FILE).exists() || dir.join(format!("{EVENTS_FILE}.gz")).exists()
    }

    /// The events of `swid`, read from its file (materialised first if simulated).
    ///
    /// # Errors
    /// As [`Archive::events_path`] and [`read_events`].
    pub fn events(&self, swid: &ScwId) -> Result<EventList> {
        read_events(&self.events_path(swid)?)
    }
}
