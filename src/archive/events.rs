//! ISGRI event files: `scw/RRRR/RRRRPPPPSSSF.001/isgri_events.fits[.gz]`.
//!
//! Extension `ISGR-EVTS-ALL` holds one row per detected photon: TIME (IJD, TT), ISGRI_ENERGY
//! (keV), DETY (0–129), DETZ (0–133) and SELECT_FLAG (0 = good). Its header carries the pointing
//! keywords (REVOL, SWID, TSTART, TSTOP, TELAPSE, RA_SCX, DEC_SCX, RA_SCZ, DEC_SCZ, ...).
//! Extension `IBIS-GNRL-GTI` holds the good time intervals (START, STOP in IJD).
//!
//! [`write_events`] writes exactly this layout (plus `ENERGCAL`, which records the
//! [`EnergyScale`]); [`read_events`] reads it and real archive files alike, checking every
//! value it returns. A file without `IBIS-GNRL-GTI` is read with the single good interval
//! [TSTART, TSTOP].

use std::path::Path;

use fitsio::FitsFile;
use fitsio::hdu::FitsHdu;
use fitsio::tables::ColumnDataType;
use serde::{Deserialize, Serialize};

use super::ScwId;
use crate::error::{Error, Result};
use crate::fits::{self, Column, NewFile, Table};
use crate::sky::{Attitude, SkyCoord};

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
        self.start
            .iter()
            .zip(&self.stop)
            .any(|(a, b)| t >= *a && t < *b)
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

/// EXTNAME of the event list.
const EVENTS_EXTNAME: &str = "ISGR-EVTS-ALL";
/// EXTNAME of the good time intervals.
const GTI_EXTNAME: &str = "IBIS-GNRL-GTI";
/// The largest DETY index (the detector grid is 130 × 134).
const MAX_DETY: u8 = 129;
/// The largest DETZ index.
const MAX_DETZ: u8 = 133;
/// MJD of the IJD origin, the MJDREF keyword.
const MJDREF: f64 = crate::time::IJD_MJD_OFFSET;

/// The columns of `ISGR-EVTS-ALL`, in file order.
const EVENT_COLUMNS: [Column; 5] = [
    Column {
        name: "TIME",
        typ: ColumnDataType::Double,
        repeat: 1,
        unit: "d",
    },
    Column {
        name: "ISGRI_ENERGY",
        typ: ColumnDataType::Float,
        repeat: 1,
        unit: "keV",
    },
    Column {
        name: "DETY",
        typ: ColumnDataType::Byte,
        repeat: 1,
        unit: "",
    },
    Column {
        name: "DETZ",
        typ: ColumnDataType::Byte,
        repeat: 1,
        unit: "",
    },
    Column {
        name: "SELECT_FLAG",
        typ: ColumnDataType::Byte,
        repeat: 1,
        unit: "",
    },
];

/// The columns of `IBIS-GNRL-GTI`.
pub(super) const GTI_COLUMNS: [Column; 2] = [
    Column {
        name: "START",
        typ: ColumnDataType::Double,
        repeat: 1,
        unit: "d",
    },
    Column {
        name: "STOP",
        typ: ColumnDataType::Double,
        repeat: 1,
        unit: "d",
    },
];

/// Writes `events` to `path` as an ISGRI event file: an empty primary HDU (`ORIGIN = 'oda'`),
/// the `ISGR-EVTS-ALL` table with its pointing and timing keywords (`ENERGCAL` records the
/// [`EnergyScale`]) and the `IBIS-GNRL-GTI` table.
///
/// The write is atomic: the file appears complete or not at all, and an existing file is
/// replaced only on success. Missing parent directories are created. The same input always
/// gives the same bytes (no timestamps are written).
///
/// # Errors
/// [`Error::Fits`] naming the problem when the event list is inconsistent (columns of different
/// lengths, unsorted or non-finite times, times or intervals outside [TSTART, TSTOP], detector
/// indices off the 130 × 134 grid, non-finite energies, invalid ONTIME or DEADC, overlapping
/// intervals) or when cfitsio fails; [`Error::Io`] when the directory cannot be created or the
/// file cannot be renamed into place.
pub fn write_events(path: &Path, events: &EventList) -> Result<()> {
    validate_for_write(events)
        .map_err(|m| Error::fits(path, format!("cannot write the event list: {m}")))?;
    let h = &events.header;
    fits::write_atomically(path, |f| {
        f.empty_primary()?;

        let hdu = f.table(EVENTS_EXTNAME, &EVENT_COLUMNS)?;
        write_pointing_keys(f, &hdu, h, "IBIS", "ISGRI")?;
        let energcal = match h.energy_scale {
            EnergyScale::Nominal => "NOMINAL",
            EnergyScale::Calibrated => "CALIBRATED",
        };
        f.key_str(&hdu, "ENERGCAL", energcal, "ISGRI_ENERGY gain calibration")?;
        f.raw_rows(&hdu, &event_rows(events), events.len())?;

        let hdu = f.table(GTI_EXTNAME, &GTI_COLUMNS)?;
        write_scw_keys(f, &hdu, h, "IBIS")?;
        write_time_keys(f, &hdu)?;
        f.column(&hdu, "START", &events.gti.start)?;
        f.column(&hdu, "STOP", &events.gti.stop)
    })
}

/// Width of one ISGR-EVTS-ALL row as written: TIME (8) ISGRI_ENERGY (4) DETY DETZ SELECT_FLAG (1 each).
const EVENT_ROW_BYTES: usize = 15;

/// The events as FITS rows: big-endian, in column order.
fn event_rows(events: &EventList) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(events.len() * EVENT_ROW_BYTES);
    for i in 0..events.len() {
        bytes.extend_from_slice(&events.time[i].to_be_bytes());
        bytes.extend_from_slice(&events.energy[i].to_be_bytes());
        bytes.extend_from_slice(&[events.dety[i], events.detz[i], events.select_flag[i]]);
    }
    bytes
}

/// Reads the five event columns from raw rows when the table's layout allows it (all files
/// this crate writes); `None` sends the caller to the column-by-column reader.
fn read_event_rows(f: &mut FitsFile, t: &Table<'_>) -> Result<Option<EventColumns>> {
    use fitsio::tables::ColumnDataType as T;
    let wanted = [
        ("TIME", T::Double),
        ("ISGRI_ENERGY", T::Float),
        ("DETY", T::Byte),
        ("DETZ", T::Byte),
        ("SELECT_FLAG", T::Byte),
    ];
    let Some(off) = t.raw_offsets(f, &wanted)? else {
        return Ok(None);
    };
    let width: Option<i64> = t.optional_key(f, "NAXIS1")?;
    let width = width.unwrap_or(0) as usize;
    let n = t.num_rows();
    let mut c = EventColumns {
        time: Vec::with_capacity(n),
        energy: Vec::with_capacity(n),
        dety: Vec::with_capacity(n),
        detz: Vec::with_capacity(n),
        select_flag: Vec::with_capacity(n),
    };
    t.read_raw_rows(f, width, 1 << 16, |chunk| {
        for row in chunk.chunks_exact(width) {
            let mut d = [0u8; 8];
            d.copy_from_slice(&row[off[0]..off[0] + 8]);
            c.time.push(f64::from_be_bytes(d));
            let mut e = [0u8; 4];
            e.copy_from_slice(&row[off[1]..off[1] + 4]);
            c.energy.push(f32::from_be_bytes(e));
            c.dety.push(row[off[2]]);
            c.detz.push(row[off[3]]);
            c.select_flag.push(row[off[4]]);
        }
        Ok(())
    })?;
    Ok(Some(c))
}

/// The five event columns.
struct EventColumns {
    time: Vec<f64>,
    energy: Vec<f32>,
    dety: Vec<u8>,
    detz: Vec<u8>,
    select_flag: Vec<u8>,
}

/// The keywords of an event extension describing its Science Window: identity, times, live
/// fraction, attitude and time system (shared by the ISGRI and JEM-X event files).
pub(super) fn write_pointing_keys(
    f: &mut NewFile<'_>,
    hdu: &FitsHdu,
    h: &ScwHeader,
    instrume: &str,
    detnam: &str,
) -> Result<()> {
    write_scw_keys(f, hdu, h, instrume)?;
    f.key_str(hdu, "DETNAM", detnam, "Detector name")?;
    f.key_int(
        hdu,
        "REVOL",
        i64::from(h.swid.revolution()),
        "Revolution number",
    )?;
    f.key_str(hdu, "SW_TYPE", "POINTING", "Type of the Science Window")?;
    f.key_f64(hdu, "TELAPSE", h.telapse(), "[s] TSTOP - TSTART")?;
    f.key_f64(
        hdu,
        "ONTIME",
        h.ontime,
        "[s] Sum of the good time intervals",
    )?;
    f.key_f64(
        hdu,
        "DEADC",
        h.deadc,
        "Dead-time correction factor (live fraction)",
    )?;
    f.key_f64(hdu, "EXPOSURE", h.exposure(), "[s] ONTIME x DEADC")?;
    f.key_f64(hdu, "LIVETIME", h.exposure(), "[s] ONTIME x DEADC")?;
    let (x, z) = (h.attitude.pointing(), h.attitude.z_axis());
    f.key_f64(
        hdu,
        "RA_SCX",
        x.ra(),
        "[deg] RA of the spacecraft X axis (pointing)",
    )?;
    f.key_f64(
        hdu,
        "DEC_SCX",
        x.dec(),
        "[deg] Dec of the spacecraft X axis (pointing)",
    )?;
    f.key_f64(hdu, "RA_SCZ", z.ra(), "[deg] RA of the spacecraft Z axis")?;
    f.key_f64(
        hdu,
        "DEC_SCZ",
        z.dec(),
        "[deg] Dec of the spacecraft Z axis",
    )?;
    write_time_keys(f, hdu)?;
    f.key_str(
        hdu,
        "TIMEREF",
        "LOCAL",
        "Times are not corrected to the barycentre",
    )?;
    Ok(())
}

/// The keywords identifying the Science Window, written to both extensions.
pub(super) fn write_scw_keys(
    f: &mut NewFile<'_>,
    hdu: &FitsHdu,
    h: &ScwHeader,
    instrume: &str,
) -> Result<()> {
    f.key_str(hdu, "TELESCOP", "INTEGRAL", "Telescope or mission name")?;
    f.key_str(hdu, "INSTRUME", instrume, "Instrument name")?;
    f.key_str(
        hdu,
        "SWID",
        &h.swid.to_string(),
        "Science Window identifier",
    )?;
    f.key_f64(
        hdu,
        "TSTART",
        h.tstart,
        "Start time of the Science Window (IJD)",
    )?;
    f.key_f64(
        hdu,
        "TSTOP",
        h.tstop,
        "End time of the Science Window (IJD)",
    )
}

/// The time-system keywords of a table whose times are IJD (TT).
pub(super) fn write_time_keys(f: &mut NewFile<'_>, hdu: &FitsHdu) -> Result<()> {
    f.key_str(hdu, "TIMESYS", "TT", "Terrestrial Time")?;
    f.key_str(hdu, "TIMEUNIT", "d", "Times are in days")?;
    f.key_f64(
        hdu,
        "MJDREF",
        MJDREF,
        "MJD of IJD 0 (2000-01-01T00:00:00 TT)",
    )
}

/// Checks everything [`read_events`] checks, plus that the events and intervals lie within
/// [TSTART, TSTOP], so that every written file can be read back.
fn validate_for_write(events: &EventList) -> std::result::Result<(), String> {
    let n = events.time.len();
    let lengths = [
        ("ISGRI_ENERGY (energy)", events.energy.len()),
        ("DETY (dety)", events.dety.len()),
        ("DETZ (detz)", events.detz.len()),
        ("SELECT_FLAG (select_flag)", events.select_flag.len()),
    ];
    for (name, len) in lengths {
        if len != n {
            return Err(format!(
                "column length mismatch: TIME (time) has {n} values but {name} has {len}"
            ));
        }
    }
    let h = &events.header;
    check_header(h.tstart, h.tstop, h.ontime, h.deadc)?;
    check_events(&events.time, &events.energy, &events.dety, &events.detz)?;
    if let Some(i) = events
        .time
        .iter()
        .position(|t| *t < h.tstart || *t > h.tstop)
    {
        return Err(format!(
            "TIME of event {} ({}) is outside [TSTART, TSTOP] = [{}, {}]",
            i + 1,
            events.time[i],
            h.tstart,
            h.tstop
        ));
    }
    let gti = &events.gti;
    if gti.start.len() != gti.stop.len() {
        return Err(format!(
            "GTI column length mismatch: {} START values but {} STOP values",
            gti.start.len(),
            gti.stop.len()
        ));
    }
    check_gti(gti)?;
    if let Some(i) =
        (0..gti.start.len()).find(|&i| gti.start[i] < h.tstart || gti.stop[i] > h.tstop)
    {
        return Err(format!(
            "good time interval {} [{}, {}] is outside [TSTART, TSTOP] = [{}, {}]",
            i + 1,
            gti.start[i],
            gti.stop[i],
            h.tstart,
            h.tstop
        ));
    }
    Ok(())
}

/// Checks the timing keywords.
fn check_header(
    tstart: f64,
    tstop: f64,
    ontime: f64,
    deadc: f64,
) -> std::result::Result<(), String> {
    for (name, v) in [
        ("TSTART", tstart),
        ("TSTOP", tstop),
        ("ONTIME", ontime),
        ("DEADC", deadc),
    ] {
        if !v.is_finite() {
            return Err(format!("{name} = {v} is not a finite number"));
        }
    }
    if tstop < tstart {
        return Err(format!("TSTOP ({tstop}) is before TSTART ({tstart})"));
    }
    if ontime < 0.0 {
        return Err(format!("ONTIME = {ontime} s is negative"));
    }
    if !(deadc > 0.0 && deadc <= 1.0) {
        return Err(format!("DEADC = {deadc} is not a live fraction in (0, 1]"));
    }
    Ok(())
}

/// Checks the event columns (of equal lengths): finite sorted times, finite energies and
/// detector indices on the grid. Rows are numbered from 1 as in FITS.
fn check_events(
    time: &[f64],
    energy: &[f32],
    dety: &[u8],
    detz: &[u8],
) -> std::result::Result<(), String> {
    if let Some(i) = time.iter().position(|t| !t.is_finite()) {
        return Err(format!(
            "TIME in row {} is {}, not a finite time",
            i + 1,
            time[i]
        ));
    }
    if let Some(i) = time.windows(2).position(|w| w[1] < w[0]) {
        return Err(format!(
            "TIME is not sorted: row {} ({}) is earlier than row {} ({})",
            i + 2,
            time[i + 1],
            i + 1,
            time[i]
        ));
    }
    if let Some(i) = energy.iter().position(|e| !e.is_finite()) {
        return Err(format!(
            "ISGRI_ENERGY in row {} is {}, not a finite energy",
            i + 1,
            energy[i]
        ));
    }
    if let Some(i) = dety.iter().position(|&y| y > MAX_DETY) {
        return Err(format!(
            "DETY in row {} is {}, outside the detector (0–{MAX_DETY})",
            i + 1,
            dety[i]
        ));
    }
    if let Some(i) = detz.iter().position(|&z| z > MAX_DETZ) {
        return Err(format!(
            "DETZ in row {} is {}, outside the detector (0–{MAX_DETZ})",
            i + 1,
            detz[i]
        ));
    }
    Ok(())
}

/// Checks that the good time intervals are finite, not reversed, sorted and disjoint.
pub(super) fn check_gti(gti: &Gti) -> std::result::Result<(), String> {
    for (i, (a, b)) in gti.start.iter().zip(&gti.stop).enumerate() {
        if !a.is_finite() || !b.is_finite() {
            return Err(format!(
                "good time interval {} [{a}, {b}] is not finite",
                i + 1
            ));
        }
        if b < a {
            return Err(format!(
                "good time interval {} has STOP ({b}) before START ({a})",
                i + 1
            ));
        }
        if i > 0 && *a < gti.stop[i - 1] {
            return Err(format!(
                "good time intervals {} and {} overlap or are not sorted (START {a} < previous STOP {})",
                i,
                i + 1,
                gti.stop[i - 1]
            ));
        }
    }
    Ok(())
}

/// Reads an ISGRI event file (`isgri_events.fits`, or gzip-compressed `isgri_events.fits.gz`).
///
/// The events are taken from the extension named `ISGR-EVTS-ALL` wherever it is in the file;
/// columns are found by name and other columns are ignored. Without an `ENERGCAL` keyword (as in
/// real archive files) the energies are [`EnergyScale::Calibrated`]. Without an `IBIS-GNRL-GTI`
/// extension the good time is the single interval [TSTART, TSTOP].
///
/// # Errors
/// [`Error::Fits`] naming the file and what is wrong: a file cfitsio cannot read (truncated,
/// not FITS; with cfitsio's message), a missing extension, column or keyword, a vector column
/// where a scalar is expected, non-finite or unsorted TIME, non-finite ISGRI_ENERGY, DETY > 129,
/// DETZ > 133, an invalid SWID, REVOL not matching it, RA/Dec out of range, inconsistent TSTART,
/// TSTOP, ONTIME or DEADC, or invalid good time intervals.
pub fn read_events(path: &Path) -> Result<EventList> {
    fits::guard(path, || {
        let mut f = fits::open_readonly_no_size_check(path)?;
        let t = Table::find(&mut f, path, EVENTS_EXTNAME)?.ok_or_else(|| {
            Error::fits(
                path,
                format!("no {EVENTS_EXTNAME} extension (the ISGRI event list)"),
            )
        })?;
        t.require_columns(&EVENT_COLUMNS.map(|c| c.name))?;
        let header = read_header(&mut f, &t)?;
        let EventColumns {
            time,
            energy,
            dety,
            detz,
            select_flag,
        } = match read_event_rows(&mut f, &t)? {
            Some(c) => c,
            None => EventColumns {
                time: t.numeric_column(&mut f, "TIME")?,
                energy: t.numeric_column(&mut f, "ISGRI_ENERGY")?,
                dety: t.numeric_column(&mut f, "DETY")?,
                detz: t.numeric_column(&mut f, "DETZ")?,
                select_flag: t.numeric_column(&mut f, "SELECT_FLAG")?,
            },
        };
        check_events(&time, &energy, &dety, &detz).map_err(|m| t.error(m))?;
        let gti = match Table::find(&mut f, path, GTI_EXTNAME)? {
            Some(g) => {
                g.require_columns(&GTI_COLUMNS.map(|c| c.name))?;
                let gti = Gti {
                    start: g.numeric_column(&mut f, "START")?,
                    stop: g.numeric_column(&mut f, "STOP")?,
                };
                check_gti(&gti).map_err(|m| g.error(m))?;
                gti
            }
            None => Gti {
                start: vec![header.tstart],
                stop: vec![header.tstop],
            },
        };
        Ok(EventList {
            header,
            gti,
            time,
            energy,
            dety,
            detz,
            select_flag,
        })
    })
}

/// Reads and checks the keywords of the event extension.
pub(super) fn read_header(f: &mut FitsFile, t: &Table<'_>) -> Result<ScwHeader> {
    let swid_text: String = t.key(f, "SWID")?;
    let swid: ScwId = swid_text.parse().map_err(|_| {
        t.error(format!(
            "keyword SWID = {swid_text:?} is not a ScW id (12 digits RRRRPPPPSSSF)"
        ))
    })?;
    let revol: i64 = t.key(f, "REVOL")?;
    if revol != i64::from(swid.revolution()) {
        return Err(t.error(format!(
            "keyword REVOL = {revol} does not match SWID {swid} (revolution {})",
            swid.revolution()
        )));
    }
    let tstart = t.finite_key(f, "TSTART")?;
    let tstop = t.finite_key(f, "TSTOP")?;
    let ontime = t.finite_key(f, "ONTIME")?;
    let deadc = t.finite_key(f, "DEADC")?;
    check_header(tstart, tstop, ontime, deadc).map_err(|m| t.error(format!("keyword {m}")))?;
    let x = sky_keys(f, t, "RA_SCX", "DEC_SCX")?;
    let z = sky_keys(f, t, "RA_SCZ", "DEC_SCZ")?;
    let energcal: Option<String> = t.optional_key(f, "ENERGCAL")?;
    let energy_scale = match energcal.as_deref().map(str::trim) {
        None | Some("CALIBRATED") => EnergyScale::Calibrated,
        Some("NOMINAL") => EnergyScale::Nominal,
        Some(other) => {
            return Err(t.error(format!(
                "keyword ENERGCAL = {other:?} is neither 'NOMINAL' nor 'CALIBRATED'"
            )));
        }
    };
    Ok(ScwHeader {
        swid,
        tstart,
        tstop,
        ontime,
        deadc,
        attitude: Attitude::new(x, z),
        energy_scale,
    })
}

/// A sky position from an RA and a Dec keyword, in degrees.
fn sky_keys(f: &mut FitsFile, t: &Table<'_>, ra_key: &str, dec_key: &str) -> Result<SkyCoord> {
    let ra: f64 = t.key(f, ra_key)?;
    let dec: f64 = t.key(f, dec_key)?;
    sky_position(ra, dec, ra_key, dec_key).map_err(|m| t.error(format!("keyword {m}")))
}

/// A sky position from RA and Dec in degrees, or a message naming the one that is out of range.
pub(super) fn sky_position(
    ra: f64,
    dec: f64,
    ra_name: &str,
    dec_name: &str,
) -> std::result::Result<SkyCoord, String> {
    if !(ra.is_finite() && (0.0..360.0).contains(&ra)) {
        return Err(format!(
            "{ra_name} = {ra} is not a right ascension in [0, 360) degrees"
        ));
    }
    if !(dec.is_finite() && (-90.0..=90.0).contains(&dec)) {
        return Err(format!(
            "{dec_name} = {dec} is not a declination in [-90, 90] degrees"
        ));
    }
    SkyCoord::new(ra, dec).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;
    use crate::fits::testutil::{delete_key, edit, fits_message, set_key};

    /// A deterministic event list with `n` events over one hour, two good intervals.
    pub(crate) fn sample_events(n: usize, energy_scale: EnergyScale) -> EventList {
        let swid: ScwId = "066500330010".parse().unwrap();
        let tstart = 1_200.123_456_789;
        let tstop = tstart + 3600.0 / 86_400.0;
        let mid = 0.5 * (tstart + tstop);
        let gti = Gti {
            start: vec![tstart, mid + 10.0 / 86_400.0],
            stop: vec![mid, tstop],
        };
        let mut state = 0x5eed_u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut time: Vec<f64> = (0..n)
            .map(|_| tstart + uniform() * (tstop - tstart))
            .collect();
        time.sort_by(f64::total_cmp);
        let energy = (0..n).map(|_| (15.0 + 985.0 * uniform()) as f32).collect();
        let dety = (0..n).map(|_| (uniform() * 130.0) as u8).collect();
        let detz = (0..n).map(|_| (uniform() * 134.0) as u8).collect();
        let select_flag = (0..n).map(|_| u8::from(uniform() < 0.01)).collect();
        EventList {
            header: ScwHeader {
                swid,
                tstart,
                tstop,
                ontime: gti.ontime(),
                deadc: 0.873_2,
                attitude: Attitude::with_roll(SkyCoord::new(83.633_08, 22.0145).unwrap(), 37.25),
                energy_scale,
            },
            gti,
            time,
            energy,
            dety,
            detz,
            select_flag,
        }
    }

    /// Asserts that two event lists are the same: everything bit for bit except the attitude,
    /// whose Z axis is re-orthogonalised when read (to ~1e-14 degrees).
    fn assert_same(a: &EventList, b: &EventList) {
        let (ha, hb) = (&a.header, &b.header);
        assert_eq!(
            (
                ha.swid,
                ha.tstart,
                ha.tstop,
                ha.ontime,
                ha.deadc,
                ha.energy_scale
            ),
            (
                hb.swid,
                hb.tstart,
                hb.tstop,
                hb.ontime,
                hb.deadc,
                hb.energy_scale
            )
        );
        let (xa, xb) = (ha.attitude.pointing(), hb.attitude.pointing());
        assert_eq!((xa.ra(), xa.dec()), (xb.ra(), xb.dec()));
        assert!(ha.attitude.z_axis().separation(&hb.attitude.z_axis()) < 1e-12);
        assert_eq!(a.gti, b.gti);
        assert!(
            a.time == b.time && a.energy == b.energy,
            "time or energy differ"
        );
        assert!(a.dety == b.dety && a.detz == b.detz && a.select_flag == b.select_flag);
    }

    #[test]
    fn round_trips_including_empty_lists() {
        let dir = tempfile::tempdir().unwrap();
        for (n, scale) in [
            (0, EnergyScale::Nominal),
            (1, EnergyScale::Calibrated),
            (5_000, EnergyScale::Nominal),
        ] {
            let events = sample_events(n, scale);
            let path = dir.path().join(format!("scw/{n}/isgri_events.fits"));
            write_events(&path, &events).unwrap();
            let back = read_events(&path).unwrap();
            assert_same(&back, &events);
            assert_eq!(back.len(), n);
        }
    }

    #[test]
    fn round_trips_a_million_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let events = sample_events(1_000_000, EnergyScale::Nominal);
        write_events(&path, &events).unwrap();
        assert_same(&read_events(&path).unwrap(), &events);
    }

    #[test]
    fn other_table_layouts_read_identically() {
        // Real archive files carry more columns; the raw-row reader finds ours by offset, and
        // layouts it cannot read raw (here a bit column) go through the column-by-column reader.
        use fitsio::tables::{ColumnDataType, ColumnDescription};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let events = sample_events(5_000, EnergyScale::Calibrated);
        write_events(&path, &events).unwrap();
        for (name, typ) in [
            ("RISE_TIME", ColumnDataType::Float),
            ("FLAGBITS", ColumnDataType::Bit),
        ] {
            let (mut f, hdu) = edit(&path, EVENTS_EXTNAME);
            let desc = ColumnDescription::new(name)
                .with_type(typ)
                .create()
                .unwrap();
            hdu.insert_column(&mut f, 1, &desc).unwrap();
            drop(f);
            assert_same(&read_events(&path).unwrap(), &events);
        }
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let events = sample_events(10_000, EnergyScale::Nominal);
        let (a, b) = (dir.path().join("a.fits"), dir.path().join("b.fits"));
        write_events(&a, &events).unwrap();
        write_events(&b, &events).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        assert_eq!(bytes.len() % 2880, 0);
        // Rewriting over an existing file gives the same bytes again.
        write_events(&a, &events).unwrap();
        assert_eq!(bytes, std::fs::read(&a).unwrap());
    }

    #[test]
    fn header_has_the_archive_keywords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let events = sample_events(10, EnergyScale::Calibrated);
        write_events(&path, &events).unwrap();
        let mut f = FitsFile::open(&path).unwrap();
        let primary = f.primary_hdu().unwrap();
        assert_eq!(primary.read_key::<String>(&mut f, "ORIGIN").unwrap(), "oda");
        assert!(primary.read_key::<String>(&mut f, "DATE").is_err());
        let hdu = f.hdu(EVENTS_EXTNAME).unwrap();
        let text = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        assert_eq!(text(&mut f, "SWID"), "066500330010");
        assert_eq!(text(&mut f, "ENERGCAL"), "CALIBRATED");
        assert_eq!(text(&mut f, "TUNIT1"), "d");
        assert_eq!(text(&mut f, "TUNIT2"), "keV");
        assert_eq!(text(&mut f, "TFORM3"), "1B");
        assert_eq!(hdu.read_key::<i64>(&mut f, "REVOL").unwrap(), 665);
        let num = |f: &mut FitsFile, k: &str| hdu.read_key::<f64>(f, k).unwrap();
        let h = &events.header;
        assert_eq!(num(&mut f, "EXPOSURE"), h.ontime * h.deadc);
        assert_eq!(num(&mut f, "LIVETIME"), h.ontime * h.deadc);
        assert_eq!(num(&mut f, "TELAPSE"), h.telapse());
        assert_eq!(num(&mut f, "MJDREF"), 51_544.0);
    }

    #[test]
    fn gzip_files_read_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let events = sample_events(20_000, EnergyScale::Nominal);
        write_events(&path, &events).unwrap();
        let gz = dir.path().join("isgri_events.fits.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(&std::fs::read(&path).unwrap()).unwrap();
        enc.finish().unwrap();
        assert_same(&read_events(&gz).unwrap(), &events);
    }

    #[test]
    fn unreadable_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.fits");
        write_events(&good, &sample_events(20_000, EnergyScale::Nominal)).unwrap();
        let bytes = std::fs::read(&good).unwrap();

        let truncated = dir.path().join("truncated.fits");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let m = fits_message(read_events(&truncated).unwrap_err());
        assert!(
            m.contains("truncated.fits") && m.contains("cfitsio error"),
            "{m}"
        );

        let mut state = 1u32;
        let garbage: Vec<u8> = (0..10_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        let random = dir.path().join("random.fits");
        std::fs::write(&random, garbage).unwrap();
        let m = fits_message(read_events(&random).unwrap_err());
        assert!(
            m.contains("random.fits") && m.contains("cannot open") && m.contains("cfitsio error"),
            "{m}"
        );

        let empty = dir.path().join("empty.fits");
        std::fs::write(&empty, b"").unwrap();
        let m = fits_message(read_events(&empty).unwrap_err());
        assert!(m.contains("empty.fits") && m.contains("cannot open"), "{m}");

        let m = fits_message(read_events(&dir.path().join("missing.fits")).unwrap_err());
        assert!(
            m.contains("missing.fits") && m.contains("cannot open"),
            "{m}"
        );

        // A valid FITS file without the event extension.
        let index = dir.path().join("index.fits");
        crate::archive::write_index(&index, &crate::archive::ScwIndex::default()).unwrap();
        let m = fits_message(read_events(&index).unwrap_err());
        assert!(m.contains("no ISGR-EVTS-ALL extension"), "{m}");
    }

    #[test]
    fn bad_values_are_reported_with_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let events = sample_events(100, EnergyScale::Nominal);
        let path = dir.path().join("isgri_events.fits");
        let check = |edit_file: &dyn Fn(&Path), expected: &[&str]| {
            write_events(&path, &events).unwrap();
            edit_file(&path);
            let m = fits_message(read_events(&path).unwrap_err());
            assert!(m.contains("isgri_events.fits"), "{m}");
            for e in expected {
                assert!(m.contains(e), "{m:?} should contain {e:?}");
            }
        };
        let put_u8 = |col: &'static str, row: usize, v: u8| {
            move |p: &Path| {
                let (mut f, hdu) = edit(p, EVENTS_EXTNAME);
                hdu.write_col_range(&mut f, col, &[v], &(row..row + 1))
                    .unwrap();
            }
        };
        let put_f64 = |col: &'static str, row: usize, v: f64| {
            move |p: &Path| {
                let (mut f, hdu) = edit(p, EVENTS_EXTNAME);
                hdu.write_col_range(&mut f, col, &[v], &(row..row + 1))
                    .unwrap();
            }
        };
        check(&put_u8("DETY", 6, 200), &["DETY in row 7 is 200", "0–129"]);
        check(&put_u8("DETZ", 0, 134), &["DETZ in row 1 is 134"]);
        check(&put_f64("TIME", 3, f64::NAN), &["TIME in row 4 is NaN"]);
        check(&put_f64("TIME", 50, 1e9), &["TIME is not sorted: row 52"]);
        check(
            &put_f64("ISGRI_ENERGY", 9, f64::INFINITY),
            &["ISGRI_ENERGY in row 10 is inf"],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "SWID", "0665003300"),
            &["keyword SWID = \"0665003300\""],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "REVOL", 12i64),
            &["REVOL = 12 does not match"],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "RA_SCX", 400.0f64),
            &["RA_SCX = 400", "[0, 360)"],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "DEC_SCZ", -91.5f64),
            &["DEC_SCZ = -91.5"],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "DEADC", 1.5f64),
            &["DEADC = 1.5"],
        );
        check(
            &|p| set_key(p, EVENTS_EXTNAME, "ENERGCAL", "GUESSED"),
            &["ENERGCAL = \"GUESSED\""],
        );
        check(
            &|p| delete_key(p, EVENTS_EXTNAME, "DEADC"),
            &["ISGR-EVTS-ALL: missing keyword DEADC"],
        );
        check(
            &|p| delete_key(p, EVENTS_EXTNAME, "TSTART"),
            &["missing keyword TSTART"],
        );
        check(
            &|p| {
                let (mut f, hdu) = edit(p, EVENTS_EXTNAME);
                hdu.delete_column(&mut f, "SELECT_FLAG").unwrap();
            },
            &["missing column SELECT_FLAG (the table has TIME, ISGRI_ENERGY, DETY, DETZ)"],
        );
        check(
            &|p| {
                let (mut f, hdu) = edit(p, GTI_EXTNAME);
                hdu.write_col_range(&mut f, "STOP", &[0.0], &(0..1))
                    .unwrap();
            },
            &[
                "IBIS-GNRL-GTI: good time interval 1",
                "STOP (0) before START",
            ],
        );
    }

    #[test]
    fn archive_conventions_for_missing_energcal_and_gti() {
        let dir = tempfile::tempdir().unwrap();
        let events = sample_events(100, EnergyScale::Nominal);
        let path = dir.path().join("isgri_events.fits");
        write_events(&path, &events).unwrap();
        delete_key(&path, EVENTS_EXTNAME, "ENERGCAL");
        let (mut f, hdu) = edit(&path, GTI_EXTNAME);
        hdu.delete(&mut f).unwrap();
        drop(f);
        let back = read_events(&path).unwrap();
        assert_eq!(back.header.energy_scale, EnergyScale::Calibrated);
        let h = &events.header;
        assert_eq!(
            back.gti,
            Gti {
                start: vec![h.tstart],
                stop: vec![h.tstop]
            }
        );
        assert_eq!(back.time, events.time);
    }

    #[test]
    fn failed_writes_leave_the_existing_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let good = sample_events(1_000, EnergyScale::Nominal);
        write_events(&path, &good).unwrap();
        let before = std::fs::read(&path).unwrap();

        let mut bad = good.clone();
        bad.detz.pop();
        let m = fits_message(write_events(&path, &bad).unwrap_err());
        assert!(
            m.contains("column length mismatch") && m.contains("DETZ (detz) has 999"),
            "{m}"
        );

        let mut bad = good.clone();
        bad.time.swap(10, 11);
        let m = fits_message(write_events(&path, &bad).unwrap_err());
        assert!(m.contains("TIME is not sorted: row 12"), "{m}");

        let mut bad = good.clone();
        bad.time[999] = bad.header.tstop + 1.0;
        let m = fits_message(write_events(&path, &bad).unwrap_err());
        assert!(m.contains("outside [TSTART, TSTOP]"), "{m}");

        let mut bad = good.clone();
        bad.gti.stop[0] = bad.gti.start[1] + 1e-6;
        let m = fits_message(write_events(&path, &bad).unwrap_err());
        assert!(m.contains("overlap"), "{m}");

        // A failure after the file was built: the target is a non-empty directory, so the
        // rename fails and the temporary file must be removed.
        let target_dir = dir.path().join("occupied.fits");
        std::fs::create_dir_all(target_dir.join("x")).unwrap();
        let e = write_events(&target_dir, &good).unwrap_err();
        assert!(
            matches!(e, Error::Io { .. }) && e.to_string().contains("occupied.fits"),
            "{e}"
        );

        assert_eq!(std::fs::read(&path).unwrap(), before);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "temporary files left behind: {names:?}");
    }

    /// Prints write and read times for a ScW-sized event list:
    /// `cargo test --release --lib archive::events::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_three_million_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isgri_events.fits");
        let events = sample_events(3_000_000, EnergyScale::Nominal);
        let t0 = Instant::now();
        write_events(&path, &events).unwrap();
        let t1 = Instant::now();
        let back = read_events(&path).unwrap();
        let t2 = Instant::now();
        assert_same(&back, &events);
        let size = std::fs::metadata(&path).unwrap().len();
        println!(
            "3e6 events, {:.1} MB: write {:.3} s, read {:.3} s",
            size as f64 / 1e6,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64()
        );
    }
}
