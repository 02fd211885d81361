//! The simulated mission behind the archive's interface: [`Simulation`] is an
//! [`EventSource`], and [`Archive::open`] opens whichever archive the settings name.
//!
//! `Archive::open` is defined here rather than in [`crate::archive`] because opening the
//! default archive builds the simulation: the archive reader stays free of it, and everything
//! above (workflow, requests, service) reaches the simulation only through the archive.

use std::sync::Arc;

use serde_json::json;

use super::spiacs::AcsSimulation;
use super::{ExtraSky, MODEL_VERSION, Simulation};
use crate::archive::{Archive, EventList, EventSource, JemxEvents, ScwId, ScwIndex};
use crate::config::{ArchiveSource, Settings};
use crate::error::{Error, Result};
use crate::instrument::jemx::JemxUnit;

impl EventSource for Simulation {
    fn index(&self) -> ScwIndex {
        Simulation::index(self)
    }

    fn events(&self, swid: &ScwId) -> Result<EventList> {
        Simulation::events(self, swid)
    }

    fn install_calibration(&self, root: &std::path::Path) -> Result<()> {
        super::calibration::install_calibration(root)
    }

    fn acs_counts(&self, first: i64, n: usize) -> Result<Vec<u32>> {
        AcsSimulation::new(self.seed()).counts(first, n)
    }

    fn jemx_events(&self, swid: &ScwId, unit: JemxUnit) -> Result<JemxEvents> {
        Simulation::jemx_events(self, swid, unit)
    }

    fn jemx_provenance(&self, swid: &ScwId, unit: JemxUnit) -> serde_json::Value {
        let mut p = EventSource::provenance(self, swid);
        p["unit"] = json!(unit.name());
        p["jemx_model_version"] = json!(super::JEMX_MODEL_VERSION);
        p
    }

    fn acs_provenance(&self) -> serde_json::Value {
        json!({
            "instrument": "spi_acs",
            "archive": "simulated",
            "seed": self.seed(),
            "model_version": super::spiacs::MODEL_VERSION,
        })
    }

    fn provenance(&self, swid: &ScwId) -> serde_json::Value {
        let mut p = json!({
            "swid": swid.to_string(),
            "archive": "simulated",
            "seed": self.seed(),
            "model_version": MODEL_VERSION,
        });
        // A perturbed instrument changes every ScW's events.
        if !self.perturbation().is_nominal() {
            p["perturbation"] = serde_json::to_value(self.perturbation()).unwrap_or_default();
        }
        // Extra sources enter only where they are seen: every other ScW keeps its identity.
        if let Ok(planned) = self.planned(swid) {
            let seen = self.extra_sources_seen(planned);
            if !seen.is_empty() {
                p["extra_sources"] = serde_json::to_value(seen).unwrap_or_default();
            }
        }
        p
    }
}

impl Archive {
    /// Opens the archive the settings name: the real one at `ODA_ARCHIVE`, or the simulated
    /// mission of the settings' seed under the data directory (its index written on first use,
    /// its events generated when first asked for).
    ///
    /// # Errors
    /// A real archive root without a readable index; I/O errors writing the simulated index.
    pub fn open(settings: &Settings) -> Result<Archive> {
        let root = settings.archive_root();
        match &settings.archive {
            ArchiveSource::Real(_) => Archive::open_real(&root),
            ArchiveSource::Simulated => {
                let mut sim = Simulation::new(settings.seed)?;
                if let Some(file) = &settings.sky_file {
                    let extra = ExtraSky::read(&file.path)?;
                    // The archive's directory is named after the digest the settings saw.
                    if extra.digest() != file.sha256 {
                        return Err(Error::Setting {
                            name: "ODA_SIM_SKY".into(),
                            message: format!(
                                "{} changed after the settings were read: open the archive again",
                                file.path.display()
                            ),
                        });
                    }
                    sim = sim.with_extra_sky(&extra);
                }
                if let Some(p) = &settings.perturbation {
                    sim = sim.with_perturbation(*p);
                }
                Archive::generated(&root, Arc::new(sim))
            }
        }
    }
}
