//! The simulated mission.
