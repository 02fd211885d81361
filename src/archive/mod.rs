//! The archive: Science Window identifiers, the ScW index, selection, and the on-disk layout.
//!
//! One reader serves the real INTEGRAL archive (`ODA_ARCHIVE`) and the simulated one:
//! `scw/RRRR/RRRRPPPPSSSF.001/isgri_events.fits[.gz]` for the events and
//! `idx/scw/GNRL-SCWG-GRP-IDX.fits` for the index, and the calibration files below `ic/`
//! (indexed by `idx/ic/ISGR-IC-IDX.fits`).

mod calibration;
mod events;
mod index;
mod jemx_events;
mod scw_id;
mod select;
mod store;

pub use calibration::{
    CALIBRATION_INDEX_PATH, jemx_calibration_path, read_calibration, read_jemx_calibration,
    write_calibration, write_jemx_calibration,
};
pub use events::{EnergyScale, EventList, Gti, ScwHeader, read_events, write_events};
pub use index::{ScienceWindow, ScwIndex, read_index, write_index};
pub use jemx_events::{
    JemxEvents, jemx_events_extname, jemx_gti_extname, read_jemx_events, write_jemx_events,
};
pub use scw_id::{SCW_VERSION, ScwId};
pub use select::{
    DEFAULT_MAX_POINTINGS, DEFAULT_RADIUS_DEG, SELECTION_KEYS, ScwSelection, Selection, select,
    select_where,
};
pub use store::{AcsCounts, Archive, EVENTS_FILE, EventSource, INDEX_PATH};
