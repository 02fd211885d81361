//! SPI-ACS, the anti-coincidence shield of the SPI spectrometer, as a gamma-ray burst monitor:
//! 91 BGO crystals (512 kg) whose summed count rate above ~75–80 keV is recorded every 50 ms,
//! with no energy and no direction information (von Kienlin et al. 2003; Savchenko et al. 2012,
//! 2017). Its light curve is the whole shield's rate; a burst shows as an excess over a
//! background that follows the cosmic-ray flux.
//!
//! Values marked *cited* come from those papers and real light curves (see
//! `../shared/reference/instruments.md` in the project's notes); *assumed* ones are this
//! project's choices where no public source pins the number down, kept here in one place.
//!
//! ```
//! use oda::instrument::spiacs;
//! use oda::time::Time;
//! // The background follows the solar cycle: highest at the 2008 solar minimum.
//! let b2008 = spiacs::quiet_background_rate(Time::from_isot("2008-11-20")?);
//! let b2023 = spiacs::quiet_background_rate(Time::from_isot("2023-03-07")?);
//! assert!((b2008 / 1.16e5 - 1.0).abs() < 0.02 && (b2023 / 9.1e4 - 1.0).abs() < 0.02);
//! // A burst perpendicular to the pointing axis gives one count per 1e-10 erg/cm².
//! assert!((spiacs::counts_per_fluence(90.0) * 1e-10 - 1.0).abs() < 1e-12);
//! # Ok::<(), oda::Error>(())
//! ```

use crate::time::{REVOLUTION_DAYS, Time, revolution_at, revolution_start};

/// Time resolution of the shield's rate, s (*cited*).
pub const BIN_S: f64 = 0.05;

/// Energy range of the counts, keV: threshold ~75–80 keV up to ~10 MeV (*cited*).
pub const ENERGY_RANGE_KEV: (f64, f64) = (75.0, 10_000.0);

/// Counts per erg/cm² of burst fluence (75 keV–1 MeV) arriving perpendicular to the pointing
/// axis: 1 count ≈ 1e-10 erg/cm² (*cited*, Savchenko et al. 2012).
pub const COUNTS_PER_ERG_CM2_PERPENDICULAR: f64 = 1e10;

/// Background at the solar minimum of late 2008, cts/s (*cited*: ≈ 1.16e5 in 2008).
const BACKGROUND_AT_MINIMUM: f64 = 1.16e5;
/// Background in March 2023, near the maximum of cycle 25, cts/s (*cited*: ≈ 9.1e4, the
/// background under GRB 230307A).
const BACKGROUND_2023: f64 = 9.1e4;
/// Year of the solar minimum of cycle 23/24 (*cited*: December 2008).
const SOLAR_MINIMUM_YEAR: f64 = 2008.9;
/// Length of the solar cycle, years (*assumed*: a plain 11-year cosine, the cosmic-ray flux
/// anti-correlated with the Sun's activity).
const SOLAR_CYCLE_YEARS: f64 = 11.0;

/// The background rate away from the radiation belts at `t`, cts/s: an 11-year cosine through
/// the two cited levels (*assumed* shape), highest at the solar minimum of 2008.
pub fn quiet_background_rate(t: Time) -> f64 {
    let phase =
        |year: f64| (std::f64::consts::TAU * (year - SOLAR_MINIMUM_YEAR) / SOLAR_CYCLE_YEARS).cos();
    // mean + amplitude·phase through (2008.9, 1.16e5) and (2023.18, 9.1e4).
    let p2023 = phase(2023.18);
    let amplitude = (BACKGROUND_AT_MINIMUM - BACKGROUND_2023) / (1.0 - p2023);
    let mean = BACKGROUND_AT_MINIMUM - amplitude;
    mean + amplitude * phase(t.year())
}

/// Fraction of a revolution over which the background climbs near perigee, e-folding
/// (*assumed*: the instruments are switched off below phase ~0.05 and above ~0.95).
const BELT_PHASE_SCALE: f64 = 0.02;
/// Background increase at the edge of the belts (phase 0 or 1), relative (*assumed*).
const BELT_RISE: f64 = 1.5;

/// Orbit phase (0–1) of `t` within its revolution.
pub fn orbit_phase(t: Time) -> f64 {
    let start = revolution_start(revolution_at(t));
    (t.seconds_since(start) / (REVOLUTION_DAYS * 86_400.0)).clamp(0.0, 1.0)
}

/// The background rate at `t`, cts/s: the solar-cycle level, rising near the radiation belts
/// at the start and end of each revolution.
pub fn background_rate(t: Time) -> f64 {
    let phase = orbit_phase(t);
    let belts =
        BELT_RISE * ((-phase / BELT_PHASE_SCALE).exp() + (-(1.0 - phase) / BELT_PHASE_SCALE).exp());
    quiet_background_rate(t) * (1.0 + belts)
}

/// Counts per erg/cm² of fluence for a burst `angle_deg` from the pointing axis: the shield is
/// thinnest seen along the axis (*assumed* shape 0.35 + 0.65·sin θ, normalised to the cited
/// perpendicular value).
pub fn counts_per_fluence(angle_deg: f64) -> f64 {
    let s = angle_deg.to_radians().sin().abs();
    COUNTS_PER_ERG_CM2_PERPENDICULAR * (0.35 + 0.65 * s)
}

/// End of INTEGRAL's science operations, 2025-02-28 (*cited*, ESA): the shield's rate exists
/// from launch ([`crate::time::LAUNCH_IJD`]) to here.
pub const MISSION_END_ISOT: &str = "2025-03-01T00:00:00";

/// Index of the 50 ms bin holding `t` on the mission's fixed grid (bin 0 starts at IJD 0):
/// every product bins on the same grid, so two requests over the same time agree bin for bin.
pub fn bin_index(t: Time) -> i64 {
    (t.ijd() * 86_400.0 / BIN_S).floor() as i64
}

/// Start of bin `k` of the mission's grid.
pub fn bin_start(k: i64) -> Time {
    Time::from_ijd_unchecked(k as f64 * BIN_S / 86_400.0)
}
