//! JEM-X event files: `scw/RRRR/RRRRPPPPSSSF.001/jmx1_events.fits` (and `jmx2_...`) with the
//! corrected events `JMXn-FULL-COR` — TIME [d, IJD], DETX and DETY [mm from the detector
//! centre], PI (0–255) and STATUS (0 = good; OSA's bit mask) — and the good time intervals
//! `JMXn-GNRL-GTI`, with the same Science Window keywords as the ISGRI file.
//!
//! Axes: DETX runs along the spacecraft Y axis and DETY along Z (*assumed*: the sign and order
//! of OSA's JEM-X detector axes relative to the spacecraft are not in the public notes; the
//! analysis reads both the way this writer writes them).

use std::path::Path;

use fitsio::tables::ColumnDataType;
use serde::{Deserialize, Serialize};

use super::events::{
    GTI_COLUMNS, check_gti, read_header, write_pointing_keys, write_scw_keys, write_time_keys,
};
use super::{Gti, ScwHeader};
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::instrument::jemx::{DETECTOR_RADIUS_MM, JemxUnit};

/// The events of one JEM-X unit in one Science Window, column by column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JemxEvents {
    /// The unit.
    pub unit: JemxUnit,
    /// Pointing and timing keywords (DEADC is the unit's live fraction).
    pub header: ScwHeader,
    /// Good time intervals.
    pub gti: Gti,
    /// Arrival time, IJD (TT), sorted.
    pub time: Vec<f64>,
    /// Position along the spacecraft Y axis, mm from the detector centre.
    pub detx: Vec<f32>,
    /// Position along the spacecraft Z axis, mm from the detector centre.
    pub dety: Vec<f32>,
    /// Pulse-height invariant channel, 0–255.
    pub pi: Vec<u8>,
    /// OSA's status bits, 0 = good.
    pub status: Vec<u16>,
}

impl JemxEvents {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// EXTNAME of `unit`'s corrected events.
pub fn jemx_events_extname(unit: JemxUnit) -> String {
    format!("{}-FULL-COR", unit.name())
}

/// EXTNAME of `unit`'s good time intervals.
pub fn jemx_gti_extname(unit: JemxUnit) -> String {
    format!("{}-GNRL-GTI", unit.name())
}

const EVENT_COLUMNS: [Column; 5] = [
    Column::new("TIME", ColumnDataType::Double, 1, "d"),
    Column::new("DETX", ColumnDataType::Float, 1, "mm"),
    Column::new("DETY", ColumnDataType::Float, 1, "mm"),
    Column::new("PI", ColumnDataType::Short, 1, ""),
    Column::new("STATUS", ColumnDataType::Int, 1, ""),
];

/// Positions further from the centre than this are not on the detector, mm.
const MAX_RADIUS_MM: f64 = DETECTOR_RADIUS_MM + 5.0;

/// Checks the columns: equal lengths, sorted finite times within [TSTART, TSTOP], positions on
/// the detector.
fn check(e: &JemxEvents) -> std::result::Result<(), String> {
    let n = e.time.len();
    let lens = [e.detx.len(), e.dety.len(), e.pi.len(), e.status.len()];
    if lens.iter().any(|m| *m != n) {
        return Err(format!(
            "{n} times but DETX, DETY, PI, STATUS of lengths {lens:?}"
        ));
    }
    if !e.time.windows(2).all(|w| w[1] >= w[0]) {
        return Err("TIME is not sorted".into());
    }
    if let Some(i) =
        (0..n).find(|&i| !(e.time[i] >= e.header.tstart && e.time[i] <= e.header.tstop))
    {
        return Err(format!(
            "event {} at {} lies outside TSTART..TSTOP",
            i + 1,
            e.time[i]
        ));
    }
    if let Some(i) = (0..n).find(|&i| {
        let r = f64::from(e.detx[i]).hypot(f64::from(e.dety[i]));
        r.is_nan() || r > MAX_RADIUS_MM
    }) {
        return Err(format!(
            "event {}: DETX, DETY = {}, {} mm is off the detector (radius {MAX_RADIUS_MM} mm)",
            i + 1,
            e.detx[i],
            e.dety[i]
        ));
    }
    check_gti(&e.gti)
}

/// Writes `events` to `path` (atomically; the same events give the same bytes).
///
/// # Errors
/// [`Error::Fits`] naming the problem for inconsistent events (see the checks) or when cfitsio
/// fails; [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_jemx_events(path: &Path, events: &JemxEvents) -> Result<()> {
    check(events).map_err(|m| Error::fits(path, format!("cannot write the JEM-X events: {m}")))?;
    let h = &events.header;
    let instrume = events.unit.name();
    fits::write_atomically(path, |f| {
        f.empty_primary()?;
        let hdu = f.table(&jemx_events_extname(events.unit), &EVENT_COLUMNS)?;
        write_pointing_keys(f, &hdu, h, instrume, instrume)?;
        f.key_str(&hdu, "CHANTYPE", "PI", "PI channels 0-255")?;
        f.column(&hdu, "TIME", &events.time)?;
        f.column(&hdu, "DETX", &events.detx)?;
        f.column(&hdu, "DETY", &events.dety)?;
        let pi: Vec<i16> = events.pi.iter().map(|p| i16::from(*p)).collect();
        f.column(&hdu, "PI", &pi)?;
        let status: Vec<i32> = events.status.iter().map(|s| i32::from(*s)).collect();
        f.column(&hdu, "STATUS", &status)?;
        let hdu = f.table(&jemx_gti_extname(events.unit), &GTI_COLUMNS)?;
        write_scw_keys(f, &hdu, h, instrume)?;
        write_time_keys(f, &hdu)?;
        f.column(&hdu, "START", &events.gti.start)?;
        f.column(&hdu, "STOP", &events.gti.stop)
    })
}

/// Reads a JEM-X event file (the unit from its extension's name).
///
/// # Errors
/// [`Error::Fits`] naming the file and the problem: no `JMX1-FULL-COR` or `JMX2-FULL-COR`
/// extension, missing columns or keywords, values out of range (see the checks).
pub fn read_jemx_events(path: &Path) -> Result<JemxEvents> {
    fits::guard(path, || {
        let mut f = fits::open_readonly_no_size_check(path)?;
        let f = &mut f;
        let names = [JemxUnit::Jmx1, JemxUnit::Jmx2].map(jemx_events_extname);
        let (unit, t) = match Table::find(f, path, &names[0])? {
            Some(t) => (JemxUnit::Jmx1, t),
            None => match Table::find(f, path, &names[1])? {
                Some(t) => (JemxUnit::Jmx2, t),
                None => {
                    return Err(Error::fits(
                        path,
                        format!("no {} or {} extension (JEM-X events)", names[0], names[1]),
                    ));
                }
            },
        };
        t.require_columns(&EVENT_COLUMNS.map(|c| c.name))?;
        let header = read_header(f, &t)?;
        let pi: Vec<i64> = t.i64_values(f, "PI", Some(1))?;
        let status: Vec<i64> = t.i64_values(f, "STATUS", Some(1))?;
        if let Some(i) = pi.iter().position(|p| !(0..=255).contains(p)) {
            return Err(t.error(format!("row {}: PI = {} is outside 0-255", i + 1, pi[i])));
        }
        if let Some(i) = status.iter().position(|s| !(0..=0xFFFF).contains(s)) {
            return Err(t.error(format!(
                "row {}: STATUS = {} is not a 16-bit mask",
                i + 1,
                status[i]
            )));
        }
        let gti = match Table::find(f, path, &jemx_gti_extname(unit))? {
            Some(g) => Gti {
                start: g.f64_values(f, "START", Some(1))?,
                stop: g.f64_values(f, "STOP", Some(1))?,
            },
            None => Gti {
                start: vec![header.tstart],
                stop: vec![header.tstop],
            },
        };
        let events = JemxEvents {
            unit,
            header,
            gti,
            time: t.f64_values(f, "TIME", Some(1))?,
            detx: t.numeric_column(f, "DETX")?,
            dety: t.numeric_column(f, "DETY")?,
            pi: pi.into_iter().map(|p| p as u8).collect(),
            status: status.into_iter().map(|s| s as u16).collect(),
        };
        check(&events).map_err(|m| t.error(m))?;
        Ok(events)
    })
}
