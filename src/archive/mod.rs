//! The archive: Science Window identifiers, the ScW index, selection, and the on-disk layout.

mod events;
mod fitsutil;
mod index;
mod scw_id;

pub use events::{EnergyScale, EventList, Gti, ScwHeader, read_events, write_events};
pub use index::{ScienceWindow, ScwIndex, read_index, write_index};
pub use scw_id::{SCW_VERSION, ScwId};
