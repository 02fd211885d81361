//! An archive on disk: the ScW index and the event files, simulated or real.
//!
//! The reader knows nothing of the simulation: a simulated archive is an [`Archive`] with an
//! [`EventSource`] that generates the events it does not yet hold.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    EventList, JemxEvents, ScienceWindow, ScwId, ScwIndex, ScwSelection, Selection, read_events,
    read_index, read_jemx_events, select, select_where, write_events, write_index,
    write_jemx_events,
};
use crate::error::{Error, Result};
use crate::instrument::calibration::Calibration;
use crate::instrument::jemx::{JemxCalibration, JemxUnit};
use crate::instrument::spiacs;
use crate::osa::OsaVersion;
use crate::time::Time;

/// Path of the ScW index below an archive root.
pub const INDEX_PATH: &str = "idx/scw/GNRL-SCWG-GRP-IDX.fits";
/// File name of the ISGRI events in a ScW directory.
pub const EVENTS_FILE: &str = "isgri_events.fits";

/// An INTEGRAL archive: the real one at `ODA_ARCHIVE`, or the simulated one, read the same way.
#[derive(Debug)]
pub struct Archive {
    root: PathBuf,
    index: ScwIndex,
    source: Option<Arc<dyn EventSource>>,
    /// Calibrations read so far, by OSA version.
    calibrations: Mutex<Vec<Arc<Calibration>>>,
    jemx_calibrations: Mutex<Vec<Arc<JemxCalibration>>>,
}

/// Where a simulated archive's events come from: the simulation implements it, and the
/// archive, the workflow and the request layer reach the simulation only through it.
pub trait EventSource: Send + Sync + std::fmt::Debug {
    /// The ScW index of everything the source can generate.
    fn index(&self) -> ScwIndex;
    /// The events of `swid`.
    ///
    /// # Errors
    /// A `swid` the source does not have.
    fn events(&self, swid: &ScwId) -> Result<EventList>;
    /// What identifies the events of `swid` in a product's provenance: everything that, if
    /// changed, changes them (seed, model version, the sources it sees).
    fn provenance(&self, swid: &ScwId) -> serde_json::Value;
    /// Writes the archive's calibration files below `root` when they are missing (as a
    /// calibration team would have delivered them with the data).
    ///
    /// # Errors
    /// Errors making or writing them.
    fn install_calibration(&self, root: &Path) -> Result<()>;
    /// The SPI-ACS counts in `n` consecutive 50 ms bins from bin `first` of the mission's grid
    /// ([`crate::instrument::spiacs::bin_index`]).
    ///
    /// # Errors
    /// Too many bins at once for the source.
    fn acs_counts(&self, first: i64, n: usize) -> Result<Vec<u32>>;
    /// What identifies the SPI-ACS rate in a product's provenance.
    fn acs_provenance(&self) -> serde_json::Value;
    /// The events of JEM-X unit `unit` in `swid`.
    ///
    /// # Errors
    /// A `swid` the source does not have, or a unit that was not operating then.
    fn jemx_events(&self, swid: &ScwId, unit: JemxUnit) -> Result<JemxEvents>;
    /// What identifies `unit`'s events of `swid` in a product's provenance.
    fn jemx_provenance(&self, swid: &ScwId, unit: JemxUnit) -> serde_json::Value;
}

/// The SPI-ACS rate over an interval: counts in consecutive 50 ms bins of the mission's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct AcsCounts {
    /// Grid index of the first bin ([`crate::instrument::spiacs::bin_start`] gives its start).
    pub first_bin: i64,
    /// Counts per 50 ms bin.
    pub counts: Vec<u32>,
}

impl Archive {
    /// Opens the real archive at `root` (its ScW index and event files).
    ///
    /// [`Archive::open`] opens whichever archive the settings name (defined with the
    /// simulation, which builds the default archive).
    ///
    /// # Errors
    /// A root without a readable index, named as the setting `ODA_ARCHIVE`.
    pub fn open_real(root: &Path) -> Result<Archive> {
        let index_path = root.join(INDEX_PATH);
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
            root: root.to_path_buf(),
            index,
            source: None,
            calibrations: Mutex::new(Vec::new()),
            jemx_calibrations: Mutex::new(Vec::new()),
        })
    }

    /// An archive at `root` whose events come from `source` (a simulation) and are written
    /// to the usual files when first asked for. The index is derived data: it is (re)written
    /// from the source when missing or unreadable.
    ///
    /// # Errors
    /// I/O errors writing the index.
    pub fn generated(root: &Path, source: Arc<dyn EventSource>) -> Result<Archive> {
        let index_path = root.join(INDEX_PATH);
        let index = match read_index(&index_path) {
            Ok(index) => index,
            Err(_) => {
                write_index(&index_path, &source.index())?;
                read_index(&index_path)?
            }
        };
        Ok(Archive {
            root: root.to_path_buf(),
            index,
            source: Some(source),
            calibrations: Mutex::new(Vec::new()),
            jemx_calibrations: Mutex::new(Vec::new()),
        })
    }

    /// The archive root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ScW index.
    pub fn index(&self) -> &ScwIndex {
        &self.index
    }

    /// The source that generates the events of a simulated archive (`None` for a real one).
    pub fn event_source(&self) -> Option<&dyn EventSource> {
        self.source.as_deref()
    }

    /// True when the events are generated (a simulated archive): they can be regenerated
    /// bit for bit, so caches may keep and drop them freely.
    pub fn is_generated(&self) -> bool {
        self.source.is_some()
    }

    /// What identifies the events of `swid` in a product's provenance: the generating source's
    /// description (seed, model, sky) for a simulated archive; the file's path, size and
    /// modification time for a real one.
    ///
    /// # Errors
    /// A real archive without the events file.
    pub fn events_provenance(&self, swid: &ScwId) -> Result<serde_json::Value> {
        if let Some(source) = &self.source {
            return Ok(source.provenance(swid));
        }
        let path = self.events_path(swid)?;
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(serde_json::json!({
            "swid": swid.to_string(),
            "archive": self.root.display().to_string(),
            "file": path.display().to_string(),
            "size": meta.len(),
            "mtime_ns": mtime,
        }))
    }

    /// The events of `swid` as the archive holds them: generated by the source of a simulated
    /// archive (without writing them), read from the file of a real one.
    ///
    /// # Errors
    /// An unknown ScW; a real archive without its events file; I/O errors.
    pub fn load_events(&self, swid: &ScwId) -> Result<EventList> {
        match &self.source {
            Some(source) => source.events(swid),
            None => self.events(swid),
        }
    }

    /// The calibration of `version`, read from the archive's calibration files once (a
    /// simulated archive installs its files first).
    ///
    /// # Errors
    /// Missing or unreadable calibration files (see [`super::read_calibration`]).
    pub fn calibration(&self, version: OsaVersion) -> Result<Arc<Calibration>> {
        self.read_once(
            &self.calibrations,
            |c| c.osa_version == version,
            |root| super::read_calibration(root, version),
        )
    }

    /// JEM-X unit `unit`'s response, read from the archive's calibration file once (a simulated
    /// archive installs its files first).
    ///
    /// # Errors
    /// A missing or unreadable file (see [`super::read_jemx_calibration`]).
    pub fn jemx_calibration(&self, unit: JemxUnit) -> Result<Arc<JemxCalibration>> {
        self.read_once(
            &self.jemx_calibrations,
            |c| c.unit == unit,
            |root| super::read_jemx_calibration(root, unit),
        )
    }

    /// The calibration in `cache` that `wanted` accepts, else `read` from the archive root (a
    /// simulated archive's files installed first) and kept.
    fn read_once<T>(
        &self,
        cache: &Mutex<Vec<Arc<T>>>,
        wanted: impl Fn(&T) -> bool,
        read: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<Arc<T>> {
        // Reading takes a moment: one reader at a time, the others then find it here.
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.iter().find(|c| wanted(c)) {
            return Ok(c.clone());
        }
        if let Some(source) = &self.source {
            source.install_calibration(&self.root)?;
        }
        let c = Arc::new(read(&self.root)?);
        cache.push(c.clone());
        Ok(c)
    }

    /// The SPI-ACS counts of the 50 ms bins from the one holding `t1` to the one holding `t2`
    /// (excluded), on the mission's fixed grid.
    ///
    /// # Errors
    /// `t1` not before `t2`; a real archive (its SPI-ACS rate is housekeeping data,
    /// `SPI.-OACS-HRW` per ScW, which this reader does not read yet); errors of the source.
    pub fn acs_counts(&self, t1: Time, t2: Time) -> Result<AcsCounts> {
        let (first, last) = (spiacs::bin_index(t1), spiacs::bin_index(t2));
        if last <= first {
            return Err(Error::invalid(
                "T1",
                t1.to_isot(),
                format!("a time at least one 50 ms bin before T2 = {}", t2.to_isot()),
            ));
        }
        let n = usize::try_from(last - first).map_err(|_| {
            Error::invalid("T2", t2.to_isot(), "a time after T1 within the mission")
        })?;
        match &self.source {
            Some(source) => Ok(AcsCounts {
                first_bin: first,
                counts: source.acs_counts(first, n)?,
            }),
            None => Err(Error::Setting {
                name: "ODA_ARCHIVE".into(),
                message: format!(
                    "the SPI-ACS rate of the real archive at {} is housekeeping data (SPI.-OACS-HRW, per ScW), which this version does not read: SPI-ACS light curves come from the simulated archive only",
                    self.root.display()
                ),
            }),
        }
    }

    /// What identifies the SPI-ACS rate in a product's provenance (the generating source's
    /// description for a simulated archive; the archive root for a real one).
    pub fn acs_provenance(&self) -> serde_json::Value {
        match &self.source {
            Some(source) => source.acs_provenance(),
            None => serde_json::json!({"archive": self.root.display().to_string()}),
        }
    }

    /// Selects Science Windows.
    ///
    /// # Errors
    /// See [`select`].
    pub fn select(&self, sel: &ScwSelection) -> Result<Selection> {
        select(&self.index, sel)
    }

    /// Selects Science Windows with data of JEM-X unit `unit` (the unit was on: see
    /// [`crate::instrument::jemx::units_on`]), before `max_pointings` picks among them.
    ///
    /// # Errors
    /// See [`select_where`]; none of the matching Science Windows has the unit's data (the
    /// message names the unit that was on).
    pub fn select_jemx(&self, sel: &ScwSelection, unit: JemxUnit) -> Result<Selection> {
        let on = |s: &ScienceWindow| {
            crate::time::Time::from_ijd(s.tstart)
                .is_ok_and(|t| crate::instrument::jemx::units_on(t).contains(&unit))
        };
        let other = match unit {
            JemxUnit::Jmx1 => JemxUnit::Jmx2,
            JemxUnit::Jmx2 => JemxUnit::Jmx1,
        };
        let advice = format!(
            "{unit} was off: JEM-X2 observed until revolution {}, JEM-X1 from then, both from {}; try jemx_num={}",
            crate::instrument::jemx::JMX1_PRIME_FROM_REVOLUTION,
            crate::instrument::jemx::DUAL_OPERATION_FROM,
            other.number()
        );
        select_where(&self.index, sel, &on, &format!("{unit} data"), &advice)
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
        match &self.source {
            Some(source) => {
                if !plain.exists() {
                    let events = source.events(swid)?;
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

    /// Path of JEM-X unit `unit`'s event file of `swid` (`jmx1_events.fits[.gz]`),
    /// materialising it first in a simulated archive.
    ///
    /// # Errors
    /// An unknown ScW or a unit that was not operating (simulated archive); a real archive
    /// without the file; I/O errors.
    pub fn jemx_events_path(&self, swid: &ScwId, unit: JemxUnit) -> Result<PathBuf> {
        let dir = self.scw_dir(swid);
        let plain = dir.join(unit.events_file());
        let gz = dir.join(format!("{}.gz", unit.events_file()));
        match &self.source {
            Some(source) => {
                if !plain.exists() {
                    write_jemx_events(&plain, &source.jemx_events(swid, unit)?)?;
                }
                Ok(plain)
            }
            None if plain.exists() => Ok(plain),
            None if gz.exists() => Ok(gz),
            None => Err(Error::ScienceWindow {
                swid: swid.to_string(),
                reason: format!("no {}[.gz] in {}", unit.events_file(), dir.display()),
            }),
        }
    }

    /// JEM-X unit `unit`'s events of `swid`, read from its file (materialised first if
    /// simulated).
    ///
    /// # Errors
    /// As [`Archive::jemx_events_path`] and [`read_jemx_events`].
    pub fn jemx_events(&self, swid: &ScwId, unit: JemxUnit) -> Result<JemxEvents> {
        read_jemx_events(&self.jemx_events_path(swid, unit)?)
    }

    /// What identifies `unit`'s events of `swid` in a product's provenance (as
    /// [`Archive::events_provenance`] for ISGRI).
    ///
    /// # Errors
    /// A real archive without the file.
    pub fn jemx_events_provenance(
        &self,
        swid: &ScwId,
        unit: JemxUnit,
    ) -> Result<serde_json::Value> {
        if let Some(source) = &self.source {
            return Ok(source.jemx_provenance(swid, unit));
        }
        let path = self.jemx_events_path(swid, unit)?;
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        Ok(serde_json::json!({
            "swid": swid.to_string(),
            "unit": unit.name(),
            "archive": self.root.display().to_string(),
            "file": path.display().to_string(),
            "size": meta.len(),
        }))
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
