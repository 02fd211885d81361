//! Light-curve files: a `RATE` extension as OGIP/93-003 defines it.

use std::path::Path;

use fitsio::FitsFile;
use fitsio::tables::ColumnDataType;

use super::{MJDREF, class_keys, mission_keys, time_keys, to_f32};
use crate::datasets::LightCurve;
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table, significant_digits};
use crate::osa::OsaVersion;
use crate::time::SECONDS_PER_DAY;

/// Overlap of consecutive bins tolerated (rounding of the bin centres), as a fraction of the
/// larger width.
const OVERLAP_TOLERANCE: f64 = 1e-6;

/// Checks a light curve before writing it; the message names the first problem.
fn check_lightcurve(lc: &LightCurve) -> std::result::Result<(), String> {
    let n = lc.time.len();
    if n == 0 {
        return Err("the light curve has no bins".into());
    }
    for (name, len) in [
        ("timedel", lc.timedel.len()),
        ("rate", lc.rate.len()),
        ("error", lc.error.len()),
        ("fracexp", lc.fracexp.len()),
    ] {
        if len != n {
            return Err(format!("{name} has {len} values for {n} time bins"));
        }
    }
    let (lo, hi) = lc.band;
    if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi > lo) {
        return Err(format!(
            "the energy band {lo} .. {hi} keV is not a finite, non-negative, increasing interval"
        ));
    }
    for i in 0..n {
        let (t, dt, fe) = (lc.time[i], lc.timedel[i], lc.fracexp[i]);
        if !t.is_finite() {
            return Err(format!("the time of bin {} is {t}", i + 1));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(format!(
                "the width of bin {} is {dt} s, not positive",
                i + 1
            ));
        }
        if i > 0 {
            let (prev, prev_dt) = (lc.time[i - 1], lc.timedel[i - 1]);
            if t <= prev {
                return Err(format!(
                    "the times are not increasing: bin {} at {t} follows {prev} (IJD)",
                    i + 1
                ));
            }
            let gap = (t - prev) * SECONDS_PER_DAY - 0.5 * (dt + prev_dt);
            if gap < -OVERLAP_TOLERANCE * dt.max(prev_dt) {
                return Err(format!(
                    "bin {} (centre {t}, {dt} s wide) overlaps bin {} by {:.3} s",
                    i + 1,
                    i,
                    -gap
                ));
            }
        }
        if !(fe.is_finite() && (0.0..=1.0).contains(&fe)) {
            return Err(format!(
                "the exposed fraction of bin {} is {fe}, not in [0, 1]",
                i + 1
            ));
        }
    }
    fits::check_key_string("OBJECT", &lc.source)
}

/// The bin width in seconds whose value in days is `days`: of the few `f64` near
/// `days × 86400` that give back `days` when divided by 86400, the one with the shortest
/// decimal form (so 300 s, stored as 300/86400 d, reads back as exactly 300 s).
fn days_to_seconds(days: f64) -> f64 {
    let s = days * SECONDS_PER_DAY;
    if !s.is_finite() || s == 0.0 {
        return s;
    }
    let bits = s.to_bits() as i64;
    (-2i64..=2)
        .map(|k| (k, f64::from_bits((bits + k) as u64)))
        .filter(|(_, c)| c.is_finite() && *c / SECONDS_PER_DAY == days)
        .min_by_key(|(k, c)| (significant_digits(*c), k.abs()))
        .map_or(s, |(_, c)| c)
}

/// Writes `lc` to `path` as an OGIP light curve (OGIP/93-003).
///
/// Extension `RATE` (`HDUCLAS1 = 'LIGHTCURVE'`, `HDUCLAS2 = 'NET'`, `HDUCLAS3 = 'RATE'`) holds
/// TIME (1D, IJD of the bin centre, `TIMEPIXR = 0.5`), TIMEDEL (1D, bin width in days), RATE and
/// ERROR (1E, counts/s) and FRACEXP (1E); its header has `TIMESYS = 'TT'`, `MJDREF = 51544`,
/// `TIMEUNIT = 'd'`, `TIMEREF = 'LOCAL'`, TSTART and TSTOP (the first bin's start and the last
/// one's end), the band in `E_MIN` and `E_MAX` (keV), OBJECT and `OSA_VERS`. Rates and errors
/// may be NaN (empty bins). The write is atomic, creates missing parent directories and gives
/// the same bytes for the same input.
///
/// # Errors
/// [`Error::Fits`] when the light curve is empty or inconsistent (vectors of different lengths,
/// times not finite and increasing, widths not positive, FRACEXP outside [0, 1], a band that is
/// not an increasing interval), when the source name does not fit a FITS header card, or when
/// cfitsio fails; [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_lightcurve(path: &Path, lc: &LightCurve) -> Result<()> {
    check_lightcurve(lc)
        .map_err(|m| Error::fits(path, format!("cannot write the light curve: {m}")))?;
    let n = lc.time.len();
    let tstart = lc.time[0] - 0.5 * lc.timedel[0] / SECONDS_PER_DAY;
    let tstop = lc.time[n - 1] + 0.5 * lc.timedel[n - 1] / SECONDS_PER_DAY;
    let timedel: Vec<f64> = lc.timedel.iter().map(|s| s / SECONDS_PER_DAY).collect();
    let columns = [
        Column::new("TIME", ColumnDataType::Double, 1, "d"),
        Column::new("TIMEDEL", ColumnDataType::Double, 1, "d"),
        Column::new("RATE", ColumnDataType::Float, 1, "counts/s"),
        Column::new("ERROR", ColumnDataType::Float, 1, "counts/s"),
        Column::new("FRACEXP", ColumnDataType::Float, 1, ""),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table("RATE", &columns)?;
        mission_keys(f, &hdu, crate::instrument::Detector::Isgri)?;
        class_keys(f, &hdu, &["LIGHTCURVE", "NET", "RATE"], "1.1.0")?;
        f.key_str(&hdu, "OBJECT", &lc.source, "Source name")?;
        time_keys(f, &hdu, tstart, tstop)?;
        f.onboard_time_keys(&hdu)?;
        f.key_f64(&hdu, "TIMEPIXR", 0.5, "TIME is the centre of each bin")?;
        f.key_f64(
            &hdu,
            "E_MIN",
            lc.band.0,
            "[keV] Lower bound of the energy band",
        )?;
        f.key_f64(
            &hdu,
            "E_MAX",
            lc.band.1,
            "[keV] Upper bound of the energy band",
        )?;
        f.key_str(&hdu, "EUNIT", "keV", "Unit of E_MIN and E_MAX")?;
        f.key_str(
            &hdu,
            "OSA_VERS",
            lc.osa_version.name(),
            "OSA version that calibrated the rates",
        )?;
        f.column(&hdu, "TIME", &lc.time)?;
        f.column(&hdu, "TIMEDEL", &timedel)?;
        f.column(&hdu, "RATE", &to_f32(&lc.rate))?;
        f.column(&hdu, "ERROR", &to_f32(&lc.error))?;
        f.column(&hdu, "FRACEXP", &to_f32(&lc.fracexp))
    })
}

/// Days per unit of the time unit `unit` (`d` or `s`).
fn days_per_unit(t: &Table<'_>, what: &str, unit: &str) -> Result<f64> {
    match unit {
        "d" => Ok(1.0),
        "s" => Ok(1.0 / SECONDS_PER_DAY),
        other => Err(t.error(format!(
            "{what} is in {other:?}; only 'd' and 's' are supported"
        ))),
    }
}

/// The unit of time column `name`: its TUNITn, else TIMEUNIT, else seconds (the OGIP default).
fn time_unit(t: &Table<'_>, f: &mut FitsFile, name: &str, default: &str) -> Result<String> {
    let key = format!("TUNIT{}", t.column_number(name)?);
    Ok(t.optional_text(f, &key)?
        .unwrap_or_else(|| default.to_string()))
}

/// Reads an OGIP light curve such as [`write_lightcurve`] writes.
///
/// TIME may be in days or seconds (TUNITn or TIMEUNIT) from any MJDREF (or MJDREFI + MJDREFF)
/// with a TIMEZERO, on the TT scale; it is returned as IJD, the bin centre (`TIMEPIXR` 0 or 1
/// is converted). TIMEDEL is a column or a keyword. FRACEXP is 1 when absent.
///
/// # Errors
/// [`Error::Fits`] naming the file and the problem when it cannot be read (with cfitsio's
/// message), lacks the `RATE` extension, a column (TIME, RATE, ERROR) or a keyword (E_MIN,
/// E_MAX, OSA_VERS, MJDREF), has a time system other than TT or a time unit other than d or s,
/// or has times or widths that are not finite.
pub fn read_lightcurve(path: &Path) -> Result<LightCurve> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let f = &mut f;
        let t = Table::require(f, path, &["RATE"], "an OGIP light curve")?;
        t.require_columns(&["TIME", "RATE", "ERROR"])?;
        t.require_tt(f)?;
        let timeunit = t
            .optional_text(f, "TIMEUNIT")?
            .unwrap_or_else(|| "s".into());
        let mjdref = t.mjdref(f)?;
        let timezero = t.optional_key::<f64>(f, "TIMEZERO")?.unwrap_or(0.0);
        let timepixr = t.optional_key::<f64>(f, "TIMEPIXR")?.unwrap_or(0.0);
        if !(mjdref.is_finite() && timezero.is_finite() && (0.0..=1.0).contains(&timepixr)) {
            return Err(t.error(format!(
                "MJDREF = {mjdref}, TIMEZERO = {timezero}, TIMEPIXR = {timepixr} are not usable"
            )));
        }

        let time_scale = days_per_unit(&t, "TIME", &time_unit(&t, f, "TIME", &timeunit)?)?;
        let raw_time = t.f64_values(f, "TIME", Some(1))?;
        let n = raw_time.len();
        let timedel_days: Vec<f64> = if t.has_column("TIMEDEL") {
            let unit = time_unit(&t, f, "TIMEDEL", &timeunit)?;
            let scale = days_per_unit(&t, "TIMEDEL", &unit)?;
            let v = t.f64_values(f, "TIMEDEL", Some(1))?;
            if scale == 1.0 {
                v
            } else {
                v.into_iter().map(|x| x * scale).collect()
            }
        } else {
            let v: f64 = t.key(f, "TIMEDEL")?;
            vec![v * days_per_unit(&t, "TIMEDEL", &timeunit)?; n]
        };
        let offset_days = mjdref - MJDREF;
        let mut time = Vec::with_capacity(n);
        for (i, (&raw, &dt)) in raw_time.iter().zip(&timedel_days).enumerate() {
            if !(raw.is_finite() && dt.is_finite() && dt > 0.0) {
                return Err(t.error(format!(
                    "row {}: TIME = {raw}, TIMEDEL = {dt} d are not a finite time and a \
                     positive width",
                    i + 1
                )));
            }
            // Exact for this crate's files: days, MJDREF 51544, no TIMEZERO, centred stamps.
            let mut ijd = if time_scale == 1.0 && timezero == 0.0 {
                raw
            } else {
                (raw + timezero) * time_scale
            };
            if offset_days != 0.0 {
                ijd += offset_days;
            }
            if timepixr != 0.5 {
                ijd += (0.5 - timepixr) * dt;
            }
            time.push(ijd);
        }
        let timedel = timedel_days.into_iter().map(days_to_seconds).collect();
        let rate = t.f64_values(f, "RATE", Some(1))?;
        let error = t.f64_values(f, "ERROR", Some(1))?;
        let fracexp = if t.has_column("FRACEXP") {
            t.f64_values(f, "FRACEXP", Some(1))?
        } else {
            vec![1.0; n]
        };
        let band = (t.finite_key(f, "E_MIN")?, t.finite_key(f, "E_MAX")?);
        let source = t.optional_text(f, "OBJECT")?.unwrap_or_default();
        let osa: String = t.key(f, "OSA_VERS")?;
        let osa_version: OsaVersion = osa.trim().parse().map_err(|_| {
            t.error(format!(
                "OSA_VERS = {osa:?} is not an OSA version (OSA10.2, OSA11.0 or OSA11.2)"
            ))
        })?;
        Ok(LightCurve {
            source,
            band,
            time,
            timedel,
            rate,
            error,
            fracexp,
            osa_version,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn bin_widths_in_days_read_back_as_the_seconds_written() {
        for s in [
            1.0,
            0.1,
            0.125,
            8.0,
            60.0,
            100.0,
            300.0,
            1000.0,
            1800.0,
            2000.5,
            3600.0,
            86_400.0,
            1e5,
            7.3,
            12.345,
            0.001,
            33.333_333_333_333_336,
        ] {
            assert_eq!(days_to_seconds(s / SECONDS_PER_DAY), s, "{s}");
        }
        // Values with all 17 digits come back within 2 ulp.
        let mut x = 0.123_456_789_012_345_67;
        for _ in 0..1000 {
            x = (x * 9_301.0 + 49_297.0) % 233_280.0;
            let s = x / 7.0 + 0.01;
            let back = days_to_seconds(s / SECONDS_PER_DAY);
            assert!((back - s).abs() <= 2.0 * f64::EPSILON * s, "{s} -> {back}");
        }
    }

    #[test]
    fn lightcurve_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut lc = lightcurve(200);
        lc.rate[10] = f64::NAN;
        lc.error[10] = f64::NAN;
        lc.timedel[199] = 123.456;
        let path = dir.path().join("lc/crab_lc.fits");
        write_lightcurve(&path, &lc).unwrap();
        let back = read_lightcurve(&path).unwrap();
        assert_eq!(back.source, lc.source);
        assert_eq!(back.band, lc.band);
        assert_eq!(back.time, lc.time);
        assert_eq!(back.timedel, lc.timedel);
        assert_close32("rate", &back.rate, &lc.rate);
        assert_close32("error", &back.error, &lc.error);
        assert_eq!(back.fracexp, lc.fracexp);
        assert_eq!(back.osa_version, lc.osa_version);

        let mut f = FitsFile::open(&path).unwrap();
        let hdu = f.hdu("RATE").unwrap();
        let text = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        assert_eq!(text(&mut f, "HDUCLAS1"), "LIGHTCURVE");
        assert_eq!(text(&mut f, "TIMEUNIT"), "d");
        assert_eq!(text(&mut f, "TUNIT2"), "d");
        let num = |f: &mut FitsFile, k: &str| hdu.read_key::<f64>(f, k).unwrap();
        assert_eq!(num(&mut f, "TSTART"), lc.time[0] - 150.0 / 86_400.0);
        assert_eq!(num(&mut f, "TSTOP"), lc.time[199] + 61.728 / 86_400.0);
        assert_eq!(num(&mut f, "E_MIN"), 30.0);
        let td: Vec<f64> = hdu.read_col(&mut f, "TIMEDEL").unwrap();
        assert_eq!(td[0], 300.0 / 86_400.0);
    }

    #[test]
    fn other_time_conventions_are_converted() {
        // Seconds from another MJDREF, a TIMEZERO, stamps at the bin start, TIMEDEL a keyword.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lc.fits");
        let lc = lightcurve(4);
        write_lightcurve(&path, &lc).unwrap();
        let (mut f, hdu) = edit(&path, "RATE");
        let start_s: Vec<f64> = lc
            .time
            .iter()
            .map(|t| (t - 150.0 / 86_400.0 + 51_544.0 - 50_000.0) * 86_400.0 - 10.0)
            .collect();
        hdu.write_col(&mut f, "TIME", &start_s).unwrap();
        hdu.delete_column(&mut f, "TIMEDEL").unwrap();
        drop(f);
        set_key(&path, "RATE", "TUNIT1", "s");
        set_key(&path, "RATE", "TIMEUNIT", "s");
        set_key(&path, "RATE", "MJDREF", 50_000.0f64);
        set_key(&path, "RATE", "TIMEPIXR", 0.0f64);
        let (mut f, hdu) = edit(&path, "RATE");
        hdu.write_key(&mut f, "TIMEZERO", 10.0f64).unwrap();
        hdu.write_key(&mut f, "TIMEDEL", 300.0f64).unwrap();
        drop(f);
        let back = read_lightcurve(&path).unwrap();
        assert_eq!(back.timedel, vec![300.0; 4]);
        for (a, b) in back.time.iter().zip(&lc.time) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        set_key(&path, "RATE", "TIMESYS", "UTC");
        let m = fits_message(read_lightcurve(&path).unwrap_err());
        assert!(m.contains("TIMESYS = \"UTC\""), "{m}");
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let lc = lightcurve(1000);
        let (a, b) = (dir.path().join("a.fits"), dir.path().join("b.fits"));
        write_lightcurve(&a, &lc).unwrap();
        write_lightcurve(&b, &lc).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        assert_eq!(bytes.len() % 2880, 0);
    }

    #[test]
    fn bad_light_curves_are_refused_and_damaged_files_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lc.fits");
        let refuse = |lc: &LightCurve, expected: &str| {
            let m = fits_message(write_lightcurve(&path, lc).unwrap_err());
            assert!(
                m.contains("cannot write the light curve") && m.contains(expected),
                "{m:?} should contain {expected:?}"
            );
        };
        refuse(&lightcurve(0), "no bins");
        let mut lc = lightcurve(5);
        lc.fracexp.pop();
        refuse(&lc, "fracexp has 4 values for 5 time bins");
        let mut lc = lightcurve(5);
        lc.time.swap(1, 2);
        refuse(&lc, "not increasing: bin 3");
        let mut lc = lightcurve(5);
        lc.timedel[4] = 0.0;
        refuse(&lc, "width of bin 5 is 0 s");
        let mut lc = lightcurve(5);
        lc.timedel[2] = 400.0;
        refuse(&lc, "bin 3 (centre");
        refuse(&lc, "overlaps bin 2 by 50.000 s");
        let mut lc = lightcurve(5);
        lc.band = (80.0, 30.0);
        refuse(&lc, "band 80 .. 30 keV");
        assert!(!path.exists());

        write_lightcurve(&path, &lightcurve(5000)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let truncated = dir.path().join("truncated_lc.fits");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let m = fits_message(read_lightcurve(&truncated).unwrap_err());
        assert!(
            m.contains("truncated_lc.fits") && m.contains("the file is truncated"),
            "{m}"
        );
        delete_key(&path, "RATE", "E_MAX");
        let m = fits_message(read_lightcurve(&path).unwrap_err());
        assert!(m.contains("extension RATE: missing keyword E_MAX"), "{m}");
    }

    #[test]
    fn written_files_pass_the_astropy_checker() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_lc.fits");
        write_lightcurve(&path, &lightcurve(100)).unwrap();
        match astropy_check("lc", &path) {
            None => eprintln!("python3 with astropy not available: skipping the check"),
            Some((ok, out)) => assert!(ok, "{out}"),
        }
    }
}
