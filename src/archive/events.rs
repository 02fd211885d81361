//! ISGRI event files: `scw/RRRR/RRRRPPPPSSSF.001/isgri_events.fits[.gz]`.
//!
//! Extension `ISGR-EVTS-ALL` holds one row per detected photon: TIME (IJD, TT), ISGRI_ENERGY
//! (keV), DETY (0–129), DETZ (0–133) and SELECT_FLAG (0 = good). Its header carries the pointing
//! keywords (REVOL, SWID, TSTART, TSTOP, TELAPSE, RA_SCX, DEC_SCX, RA_SCZ, DEC_SCZ, ...).
//! Extension `IBIS-GNRL-GTI` holds the good time intervals (START, STOP in IJD).

use serde::{Deserialize, Serialize};

use super::ScwId;
use crate::sky::Attitude;

/// How ISGRI_ENERGY in a file was calibrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum EnergyScale {
    /// Energies already carry the final gain calibration (real archive files): used as they are.
    #[default]
    Calibrated,
    /// Energies use the nominal launch gain (header `ENERGCAL = 'NOMINAL'`): the analysis applies
    /// the gain-drift correction of the chosen OSA version. The simulated archive writes these.
    Nominal,
}

/// The header of one Science Window's event list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwHeader {
    /// The Science Window.
    pub swid: ScwId,
    /// Start of the Science Window, IJD (TT).
    pub tstart: f64,
    /// End of the Science Window, IJD (TT).
    pub tstop: f64,
    /// Sum of the good time intervals, seconds.
    pub ontime: f64,
    /// Dead-time correction factor (live fraction), 0 < DEADC ≤ 1.
    pub deadc: f64,
    /// The spacecraft attitude (RA_SCX/DEC_SCX, RA_SCZ/DEC_SCZ).
    pub attitude: Attitude,
    /// How ISGRI_ENERGY is calibrated.
    pub energy_scale: EnergyScale,
}

impl ScwHeader {
    /// Elapsed time TSTOP − TSTART in seconds.
    pub fn telapse(&self) -> f64 {
        (self.tstop - self.tstart) * crate::time::SECONDS_PER_DAY
    }

    /// Live exposure: ONTIME × DEADC, seconds.
    pub fn exposure(&self) -> f64 {
        self.ontime * self.deadc
    }
}

/// Good time intervals, IJD (TT), sorted and disjoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Gti {
    /// Interval starts.
    pub start: Vec<f64>,
    /// Interval stops.
    pub stop: Vec<f64>,
}

impl Gti {
    /// Total good time in seconds.
    pub fn ontime(&self) -> f64 {
        self.start
            .iter()
            .zip(&self.stop)
            .map(|(a, b)| (b - a) * crate::time::SECONDS_PER_DAY)
            .sum()
    }

    /// True when `t` (IJD) lies in a good interval.
    pub fn contains(&self, t: f64) -> bool {
        self.start.iter().zip(&self.stop).any(|(a, b)| t >= *a && t < *b)
    }
}

/// The events of one Science Window, column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct EventList {
    /// Pointing and timing keywords.
    pub header: ScwHeader,
    /// Good time intervals.
    pub gti: Gti,
    /// Arrival time, IJD (TT), sorted.
    pub time: Vec<f64>,
    /// Energy, keV (see [`ScwHeader::energy_scale`]).
    pub energy: Vec<f32>,
    /// Detector Y index, 0–129 (module gaps included).
    pub dety: Vec<u8>,
    /// Detector Z index, 0–133 (module gaps included).
    pub detz: Vec<u8>,
    /// Event selection flag, 0 = good.
    pub select_flag: Vec<u8>,
}

impl EventList {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

