//! Time systems: ISOT (UTC calendar), MJD (UTC), IJD (TT), and INTEGRAL revolutions.
//!
//! INTEGRAL counts time in IJD, the INTEGRAL Julian Date: days since 2000-01-01T00:00:00
//! **TT**, so `IJD = MJD(TT) − 51544`. Users write times as ISOT strings or MJDs, which are
//! **UTC**; converting between the two needs the leap-second table (TT − UTC = TAI − UTC + 32.184 s).
//! A [`Time`] is stored as IJD (TT) and converts to the others on demand. The UTC day that ends
//! in a leap second is 86 401 s long, and `23:59:60` is accepted and printed on such days only.
//!
//! ```
//! use oda::time::{Time, TimeFormat};
//! let t = Time::parse("2015-06-18T00:00:00", TimeFormat::Isot)?;
//! // TAI−UTC was 35 s in June 2015, so TT−UTC = 67.184 s.
//! assert!((t.ijd() - (5647.0 + 67.184 / 86400.0)).abs() < 1e-9);
//! assert_eq!(t.to_isot(), "2015-06-18T00:00:00.000");
//! assert!((t.mjd_utc() - 57191.0).abs() < 1e-9);
//! # Ok::<(), oda::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Seconds in a (non-leap) day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;
/// MJD of the IJD origin, 2000-01-01T00:00:00 TT.
pub const IJD_MJD_OFFSET: f64 = 51_544.0;
/// TT − TAI in seconds.
const TT_MINUS_TAI: f64 = 32.184;

/// TAI − UTC: (MJD of the first UTC day it applies to, seconds). From IERS Bulletin C;
/// no leap second has been announced after 2017-01-01.
const LEAP_SECONDS: [(i64, f64); 28] = [
    (41317, 10.0), // 1972-01-01
    (41499, 11.0), // 1972-07-01
    (41683, 12.0), // 1973-01-01
    (42048, 13.0), // 1974-01-01
    (42413, 14.0), // 1975-01-01
    (42778, 15.0), // 1976-01-01
    (43144, 16.0), // 1977-01-01
    (43509, 17.0), // 1978-01-01
    (43874, 18.0), // 1979-01-01
    (44239, 19.0), // 1980-01-01
    (44786, 20.0), // 1981-07-01
    (45151, 21.0), // 1982-07-01
    (45516, 22.0), // 1983-07-01
    (46247, 23.0), // 1985-07-01
    (47161, 24.0), // 1988-01-01
    (47892, 25.0), // 1990-01-01
    (48257, 26.0), // 1991-01-01
    (48804, 27.0), // 1992-07-01
    (49169, 28.0), // 1993-07-01
    (49534, 29.0), // 1994-07-01
    (50083, 30.0), // 1996-01-01
    (50630, 31.0), // 1997-07-01
    (51179, 32.0), // 1999-01-01
    (53736, 33.0), // 2006-01-01
    (54832, 34.0), // 2009-01-01
    (56109, 35.0), // 2012-07-01
    (57204, 36.0), // 2015-07-01
    (57754, 37.0), // 2017-01-01
];

/// First and last calendar years accepted (UTC is defined with leap seconds from 1972).
const FIRST_YEAR: i64 = 1972;
const LAST_YEAR: i64 = 2100;

/// TAI − UTC in seconds on the UTC day with integer MJD `day`.
fn tai_minus_utc(day: i64) -> f64 {
    LEAP_SECONDS
        .iter()
        .rev()
        .find(|(start, _)| day >= *start)
        .map_or(LEAP_SECONDS[0].1, |(_, s)| *s)
}

/// Length in seconds of the UTC day `day` (86 401 s when it ends in a leap second).
fn utc_day_length(day: i64) -> f64 {
    SECONDS_PER_DAY + tai_minus_utc(day + 1) - tai_minus_utc(day)
}

/// TT seconds since the IJD origin at which UTC day `day` begins.
fn utc_day_start_tt(day: i64) -> f64 {
    (day as f64 - IJD_MJD_OFFSET) * SECONDS_PER_DAY + tai_minus_utc(day) + TT_MINUS_TAI
}

/// The way a time is written in a request (`T_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeFormat {
    /// ISO 8601 calendar date and time in UTC, e.g. `2015-06-18T12:00:00`.
    #[default]
    Isot,
    /// Modified Julian Date in UTC.
    Mjd,
    /// INTEGRAL Julian Date in TT.
    Ijd,
}

impl FromStr for TimeFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "isot" => Ok(TimeFormat::Isot),
            "mjd" => Ok(TimeFormat::Mjd),
            "ijd" => Ok(TimeFormat::Ijd),
            _ => Err(Error::invalid("T_format", s, "one of isot, mjd, ijd")),
        }
    }
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeFormat::Isot => "isot",
            TimeFormat::Mjd => "mjd",
            TimeFormat::Ijd => "ijd",
        })
    }
}

/// A moment in time, held as IJD on the TT scale.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time {
    ijd: f64,
}

impl Time {
    /// A time from its IJD (TT). Errors if `ijd` is not finite or outside 1972–2100.
    pub fn from_ijd(ijd: f64) -> Result<Time> {
        let t = Time { ijd };
        let lo = days_from_civil(FIRST_YEAR, 1, 1) as f64 - IJD_MJD_OFFSET;
        let hi = days_from_civil(LAST_YEAR + 1, 1, 1) as f64 - IJD_MJD_OFFSET;
        if !ijd.is_finite() || ijd < lo || ijd >= hi {
            return Err(Error::invalid(
                "IJD",
                ijd,
                format!("a finite IJD between {lo} and {hi} (years {FIRST_YEAR}–{LAST_YEAR})"),
            ));
        }
        Ok(t)
    }

    /// A time from an IJD known to be valid (mission-internal arithmetic).
    pub(crate) const fn from_ijd_unchecked(ijd: f64) -> Time {
        Time { ijd }
    }

    /// A time from an MJD on the UTC scale (the fraction is of that UTC day's length).
    pub fn from_mjd_utc(mjd: f64) -> Result<Time> {
        if !mjd.is_finite() {
            return Err(Error::invalid("MJD", mjd, "a finite number"));
        }
        let day = mjd.floor() as i64;
        let tt = utc_day_start_tt(day) + (mjd - day as f64) * utc_day_length(day);
        Time::from_ijd(tt / SECONDS_PER_DAY)
    }

    /// A time from an MJD on the TT scale.
    pub fn from_mjd_tt(mjd: f64) -> Result<Time> {
        Time::from_ijd(mjd - IJD_MJD_OFFSET)
    }

    /// Parses `s` written in `format`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the format and the accepted syntax.
    pub fn parse(s: &str, format: TimeFormat) -> Result<Time> {
        let s = s.trim();
        match format {
            TimeFormat::Isot => Time::from_isot(s),
            TimeFormat::Mjd => {
                let v: f64 = s
                    .parse()
                    .map_err(|_| Error::invalid("MJD", s, "a decimal MJD (UTC), e.g. 57191.5"))?;
                Time::from_mjd_utc(v)
            }
            TimeFormat::Ijd => {
                let v: f64 = s
                    .parse()
                    .map_err(|_| Error::invalid("IJD", s, "a decimal IJD (TT), e.g. 5647.5"))?;
                Time::from_ijd(v)
            }
        }
    }

    /// Parses an ISO 8601 UTC time: `YYYY-MM-DD`, optionally followed by `T` (or a space)
    /// and `hh:mm[:ss[.fff]]`, optionally ending in `Z`.
    pub fn from_isot(s: &str) -> Result<Time> {
        let bad = |why: &str| {
            Error::invalid(
                "ISOT",
                s,
                format!("an ISO 8601 UTC time YYYY-MM-DD[THH:MM[:SS[.fff]]] ({why})"),
            )
        };
        let s = s.trim();
        let s = s.strip_suffix('Z').unwrap_or(s);
        let (date, clock) = match s.find(['T', ' ']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let mut parts = date.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("the date needs year, month and day"));
        };
        let year: i64 = parse_digits(y, 4).ok_or_else(|| bad("year must have 4 digits"))?;
        let month: i64 = parse_digits(m, 2).ok_or_else(|| bad("month must have 2 digits"))?;
        let dom: i64 = parse_digits(d, 2).ok_or_else(|| bad("day must have 2 digits"))?;
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(bad(&format!(
                "year must be within {FIRST_YEAR}–{LAST_YEAR}"
            )));
        }
        if !(1..=12).contains(&month) {
            return Err(bad("month must be 01–12"));
        }
        if dom < 1 || dom > days_in_month(year, month) {
            return Err(bad("no such day in that month"));
        }
        let day = days_from_civil(year, month, dom);
        let mut seconds = 0.0;
        if let Some(clock) = clock {
            let mut parts = clock.split(':');
            let h = parts.next().and_then(|v| parse_digits(v, 2));
            let mi = parts.next().and_then(|v| parse_digits(v, 2));
            let sec = match parts.next() {
                None => Some(0.0),
                Some(v) => parse_seconds(v),
            };
            let (Some(h), Some(mi), Some(sec), None) = (h, mi, sec, parts.next()) else {
                return Err(bad("the time must be hh:mm[:ss[.fff]]"));
            };
            if h > 23 || mi > 59 {
                return Err(bad("hours must be 00–23 and minutes 00–59"));
            }
            let leap = utc_day_length(day) > SECONDS_PER_DAY && h == 23 && mi == 59;
            let max_sec = if leap { 61.0 } else { 60.0 };
            if !(0.0..max_sec).contains(&sec) {
                return Err(bad("seconds must be below 60 (61 only in a leap second)"));
            }
            seconds = (h * 3600 + mi * 60) as f64 + sec;
        }
        Time::from_ijd((utc_day_start_tt(day) + seconds) / SECONDS_PER_DAY)
    }

    /// IJD on the TT scale.
    pub fn ijd(self) -> f64 {
        self.ijd
    }

    /// MJD on the TT scale.
    pub fn mjd_tt(self) -> f64 {
        self.ijd + IJD_MJD_OFFSET
    }

    /// Splits into (UTC day as integer MJD, seconds since the start of that UTC day).
    fn utc_day_and_seconds(self) -> (i64, f64) {
        let tt = self.ijd * SECONDS_PER_DAY;
        let mut day = (self.ijd + IJD_MJD_OFFSET).floor() as i64;
        // TT runs ahead of UTC by about a minute; step back or forward at most one day.
        for _ in 0..3 {
            let start = utc_day_start_tt(day);
            if tt < start {
                day -= 1;
            } else if tt >= start + utc_day_length(day) {
                day += 1;
            } else {
                break;
            }
        }
        (day, tt - utc_day_start_tt(day))
    }

    /// MJD on the UTC scale (the fraction is of that UTC day's length).
    pub fn mjd_utc(self) -> f64 {
        let (day, sec) = self.utc_day_and_seconds();
        day as f64 + sec / utc_day_length(day)
    }

    /// ISO 8601 UTC string with millisecond precision; `23:59:60.xxx` during a leap second.
    pub fn to_isot(self) -> String {
        let (mut day, sec) = self.utc_day_and_seconds();
        let mut ms = (sec * 1000.0).round() as i64;
        let day_ms = (utc_day_length(day) * 1000.0).round() as i64;
        if ms >= day_ms {
            ms -= day_ms;
            day += 1;
        }
        let (y, m, d) = civil_from_days(day);
        let (h, rest) = if ms >= 86_400_000 {
            (23, ms - 23 * 3_600_000) // within the leap second
        } else {
            (ms / 3_600_000, ms % 3_600_000)
        };
        let (mi, rest) = if ms >= 86_400_000 {
            (59, rest - 59 * 60_000)
        } else {
            (rest / 60_000, rest % 60_000)
        };
        format!(
            "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{:02}.{:03}",
            rest / 1000,
            rest % 1000
        )
    }

    /// The time written in `format` (ISOT string, or the decimal MJD/IJD).
    pub fn format(self, format: TimeFormat) -> String {
        match format {
            TimeFormat::Isot => self.to_isot(),
            TimeFormat::Mjd => format!("{:.8}", self.mjd_utc()),
            TimeFormat::Ijd => format!("{:.8}", self.ijd),
        }
    }

    /// This time shifted by `seconds` of TT.
    pub fn add_seconds(self, seconds: f64) -> Time {
        Time {
            ijd: self.ijd + seconds / SECONDS_PER_DAY,
        }
    }

    /// TT seconds from `earlier` to `self`.
    pub fn seconds_since(self, earlier: Time) -> f64 {
        (self.ijd - earlier.ijd) * SECONDS_PER_DAY
    }

    /// Fractional calendar year (UTC), e.g. 2015.46; convenient for trends and plots.
    pub fn year(self) -> f64 {
        let (day, _) = self.utc_day_and_seconds();
        let (y, _, _) = civil_from_days(day);
        let start = days_from_civil(y, 1, 1) as f64;
        let end = days_from_civil(y + 1, 1, 1) as f64;
        y as f64 + (self.mjd_utc() - start) / (end - start)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_isot())
    }
}

/// INTEGRAL's launch, 2002-10-17T04:41:00 UTC, as IJD (TT).
pub const LAUNCH_IJD: f64 = 1_020.195_881_759_259;
/// Length of one revolution (orbit) in days.
pub const REVOLUTION_DAYS: f64 = 3.0;

/// The revolution (orbit number, from 1) in progress at `t`; 0 before launch.
pub fn revolution_at(t: Time) -> u32 {
    let days = t.ijd() - LAUNCH_IJD;
    if days < 0.0 {
        0
    } else {
        (days / REVOLUTION_DAYS).floor() as u32 + 1
    }
}

/// Start of revolution `rev` (rev ≥ 1).
pub fn revolution_start(rev: u32) -> Time {
    Time::from_ijd_unchecked(LAUNCH_IJD + f64::from(rev.max(1) - 1) * REVOLUTION_DAYS)
}

fn parse_digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_seconds(s: &str) -> Option<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.len() != 2
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(y) => 29,
        _ => 28,
    }
}

/// MJD of a proleptic Gregorian date (H. Hinnant's days-from-civil, shifted to MJD).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + 40_587
}

/// The system clock as Unix seconds (0 for a clock set before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Unix time (seconds since 1970-01-01T00:00:00 UTC, leap seconds not counted, as system
/// clocks and JWT `exp` claims count) as ISO 8601 UTC with a `Z`.
///
/// ```
/// assert_eq!(oda::time::unix_to_isot_utc(1_000_000_000), "2001-09-09T01:46:40Z");
/// ```
pub fn unix_to_isot_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days + 40_587);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(mjd: i64) -> (i64, i64, i64) {
    let z = mjd - 40_587 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_known_mjds() {
        assert_eq!(days_from_civil(2000, 1, 1), 51544);
        assert_eq!(days_from_civil(1858, 11, 17), 0);
        assert_eq!(days_from_civil(2015, 6, 18), 57191);
        for mjd in 40_000..70_000 {
            let (y, m, d) = civil_from_days(mjd);
            assert_eq!(days_from_civil(y, m, d), mjd);
        }
    }

    #[test]
    fn ijd_origin_is_tt() {
        // At 2000-01-01T00:00:00 UTC the TT clock already reads 00:01:04.184 (TAI−UTC = 32 s).
        let t = Time::from_isot("2000-01-01T00:00:00").unwrap();
        assert!((t.ijd() * SECONDS_PER_DAY - 64.184).abs() < 1e-6);
    }

    #[test]
    fn leap_second_2016_end() {
        // 2016-12-31 ends with 23:59:60; TT−UTC goes from 68.184 s to 69.184 s.
        let before = Time::from_isot("2016-12-31T23:59:59").unwrap();
        let leap = Time::from_isot("2016-12-31T23:59:60").unwrap();
        let after = Time::from_isot("2017-01-01T00:00:00").unwrap();
        assert!((leap.seconds_since(before) - 1.0).abs() < 1e-5);
        assert!((after.seconds_since(leap) - 1.0).abs() < 1e-5);
        assert_eq!(leap.to_isot(), "2016-12-31T23:59:60.000");
        assert_eq!(after.to_isot(), "2017-01-01T00:00:00.000");
        let ijd_after =
            (days_from_civil(2017, 1, 1) as f64 - IJD_MJD_OFFSET) + 69.184 / SECONDS_PER_DAY;
        assert!((after.ijd() - ijd_after).abs() < 1e-10);
        // No leap second on an ordinary day.
        assert!(Time::from_isot("2016-12-30T23:59:60").is_err());
    }

    #[test]
    fn format_round_trips() {
        for s in [
            "2003-03-15T23:27:40.000",
            "2015-06-18T12:34:56.789",
            "2018-03-16T00:00:00.000",
        ] {
            let t = Time::from_isot(s).unwrap();
            assert_eq!(t.to_isot(), s);
            let m = Time::parse(&t.format(TimeFormat::Mjd), TimeFormat::Mjd).unwrap();
            assert!((m.seconds_since(t)).abs() < 1e-3);
            let i = Time::parse(&t.format(TimeFormat::Ijd), TimeFormat::Ijd).unwrap();
            assert!((i.seconds_since(t)).abs() < 1e-3);
        }
    }

    #[test]
    fn malformed_times_are_rejected_with_names() {
        for s in [
            "2015-13-01",
            "2015-02-30",
            "15-06-18",
            "2015-06-18T25:00",
            "yesterday",
            "2015-06-18T12:00:00.x",
        ] {
            let e = Time::from_isot(s).unwrap_err();
            assert!(e.to_string().contains("ISOT"), "{e}");
        }
        assert!(
            Time::parse("abc", TimeFormat::Mjd)
                .unwrap_err()
                .to_string()
                .contains("MJD")
        );
        assert!(Time::parse("NaN", TimeFormat::Ijd).is_err());
        assert!(
            "utc"
                .parse::<TimeFormat>()
                .unwrap_err()
                .to_string()
                .contains("T_format")
        );
    }

    #[test]
    fn revolutions() {
        assert_eq!(revolution_at(Time::from_ijd_unchecked(LAUNCH_IJD + 0.5)), 1);
        // Revolution 1626 (the OSA10.2/OSA11 boundary) falls early in 2016.
        let y = revolution_start(1626).year();
        assert!((2016.0..2016.3).contains(&y), "{y}");
        for rev in [1, 100, 1626, 2000] {
            assert_eq!(revolution_at(revolution_start(rev).add_seconds(1.0)), rev);
        }
    }
}
