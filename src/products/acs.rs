//! The SPI-ACS light curve file, in the layout of ODA's `spi_acs_lc` product: extension `RATE`
//! with columns TIME (s from TIMEZERO), RATE and ERROR (count/s); keywords TIMESYS = 'TT',
//! MJDREF = 51544, TSTART/TSTOP and TIMEZERO in seconds from MJDREF, TIMEDEL, ONTIME,
//! DATE-OBS/DATE-END, TELESCOP = 'INTEGRAL', INSTRUME = 'SPI-ACS' (as
//! `../shared/fixtures/spiacs_grb230307a_lc.fits`, which [`read_acs_lightcurve`] reads).

use std::path::Path;

use fitsio::tables::ColumnDataType;

use crate::datasets::AcsLightCurve;
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::time::{IJD_MJD_OFFSET, SECONDS_PER_DAY, Time};

/// Seconds from MJDREF (51544, TT) of `t`.
fn seconds(t: Time) -> f64 {
    t.ijd() * SECONDS_PER_DAY
}

/// Checks a light curve before writing: bins, finite values, equal lengths, increasing times.
fn check(lc: &AcsLightCurve) -> std::result::Result<(), String> {
    let n = lc.time.len();
    if n == 0 {
        return Err("no bins".into());
    }
    if lc.rate.len() != n || lc.error.len() != n {
        return Err(format!(
            "{n} times, {} rates and {} errors",
            lc.rate.len(),
            lc.error.len()
        ));
    }
    if !(lc.timedel.is_finite() && lc.timedel > 0.0) {
        return Err(format!(
            "TIMEDEL = {} s is not a positive width",
            lc.timedel
        ));
    }
    let increasing = lc.time.windows(2).all(|w| w[1] > w[0]);
    if !increasing || !lc.time.iter().all(|t| t.is_finite()) {
        return Err("times are not finite and increasing".into());
    }
    Ok(())
}

/// Writes `lc` to `path` (atomically; the same input gives the same bytes).
///
/// # Errors
/// [`Error::Fits`] for an empty or inconsistent light curve or when cfitsio fails;
/// [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_acs_lightcurve(path: &Path, lc: &AcsLightCurve) -> Result<()> {
    check(lc)
        .map_err(|m| Error::fits(path, format!("cannot write the SPI-ACS light curve: {m}")))?;
    let n = lc.time.len();
    let zero = seconds(lc.t0);
    let tstart = zero + lc.time[0] - lc.timedel / 2.0;
    let tstop = zero + lc.time[n - 1] + lc.timedel / 2.0;
    let date = |s: f64| Time::from_ijd(s / SECONDS_PER_DAY).map(|t| t.to_isot());
    let (date_obs, date_end) = (date(tstart)?, date(tstop)?);
    let columns = [
        Column::new("TIME", ColumnDataType::Double, 1, "s"),
        Column::new("RATE", ColumnDataType::Double, 1, "count/s"),
        Column::new("ERROR", ColumnDataType::Double, 1, "count/s"),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table("RATE", &columns)?;
        f.key_str(&hdu, "TELESCOP", "INTEGRAL", "Mission name")?;
        f.key_str(
            &hdu,
            "INSTRUME",
            "SPI-ACS",
            "The SPI anti-coincidence shield",
        )?;
        f.key_str(&hdu, "TIMESYS", "TT", "Terrestrial Time")?;
        f.onboard_time_keys(&hdu)?;
        f.key_str(&hdu, "TIMEUNIT", "s", "Times are in seconds")?;
        f.key_f64(
            &hdu,
            "MJDREF",
            IJD_MJD_OFFSET,
            "[d] MJD of time 0 (2000-01-01T00:00:00 TT)",
        )?;
        f.key_f64(
            &hdu,
            "TIMEZERO",
            zero,
            "[s] Reference time; TIME is counted from it",
        )?;
        f.key_f64(&hdu, "TSTART", tstart, "[s] Start of the first bin")?;
        f.key_f64(&hdu, "TSTOP", tstop, "[s] End of the last bin")?;
        f.key_f64(&hdu, "TIMEDEL", lc.timedel, "[s] Bin width")?;
        f.key_f64(&hdu, "TIMEPIXR", 0.5, "TIME is the centre of each bin")?;
        f.key_f64(&hdu, "ONTIME", lc.ontime(), "[s] Time covered by the bins")?;
        f.key_str(&hdu, "DATE-OBS", &date_obs, "Start (UTC)")?;
        f.key_str(&hdu, "DATE-END", &date_end, "End (UTC)")?;
        f.column(&hdu, "TIME", &lc.time)?;
        f.column(&hdu, "RATE", &lc.rate)?;
        f.column(&hdu, "ERROR", &lc.error)
    })
}

/// Reads an SPI-ACS light curve in the layout [`write_acs_lightcurve`] writes and ODA serves.
///
/// # Errors
/// [`Error::Fits`] naming the file and the problem: no `RATE` extension, a missing column
/// (TIME, RATE, ERROR) or keyword (MJDREF or MJDREFI, TIMEDEL), a time system other than TT, a time unit
/// other than seconds, or values that are not finite.
pub fn read_acs_lightcurve(path: &Path) -> Result<AcsLightCurve> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let f = &mut f;
        let t = Table::require(f, path, &["RATE"], "an SPI-ACS light curve")?;
        t.require_columns(&["TIME", "RATE", "ERROR"])?;
        t.require_tt(f)?;
        let unit = t
            .optional_text(f, "TIMEUNIT")?
            .unwrap_or_else(|| "s".into());
        if unit.trim() != "s" {
            return Err(t.error(format!("TIMEUNIT = {unit:?}; only seconds are supported")));
        }
        let mjdref = t.mjdref(f)?;
        let timedel = t.finite_key(f, "TIMEDEL")?;
        let zero = t.optional_key::<f64>(f, "TIMEZERO")?.unwrap_or(0.0);
        if !(mjdref.is_finite() && zero.is_finite() && timedel > 0.0) {
            return Err(t.error(format!(
                "MJDREF = {mjdref}, TIMEZERO = {zero}, TIMEDEL = {timedel} are not usable"
            )));
        }
        let t0 = Time::from_ijd(mjdref - IJD_MJD_OFFSET + zero / SECONDS_PER_DAY)
            .map_err(|e| t.error(format!("MJDREF and TIMEZERO: {e}")))?;
        let time = t.f64_values(f, "TIME", Some(1))?;
        let rate = t.f64_values(f, "RATE", Some(1))?;
        let error = t.f64_values(f, "ERROR", Some(1))?;
        if let Some(i) = (0..time.len()).find(|&i| !time[i].is_finite()) {
            return Err(t.error(format!("row {}: TIME = {} is not finite", i + 1, time[i])));
        }
        Ok(AcsLightCurve {
            t0,
            timedel,
            time,
            rate,
            error,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real light curve served by ODA (tests/data/fixtures/README.md: origin and licence).
    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/spiacs_grb230307a_lc.fits")
    }

    #[test]
    fn the_real_grb_230307a_light_curve_is_read() {
        let lc = read_acs_lightcurve(&fixture()).unwrap();
        assert_eq!((lc.len(), lc.timedel), (5400, 0.1));
        assert!(
            lc.t0.to_isot().starts_with("2023-03-07T15:45:3"),
            "{}",
            lc.t0.to_isot()
        );
        let background = lc.rate[..200].iter().sum::<f64>() / 200.0;
        let peak = lc.rate.iter().copied().fold(0.0, f64::max);
        assert!((background / 9.05e4 - 1.0).abs() < 0.02, "{background}");
        assert!((peak / 1.74e6 - 1.0).abs() < 0.03, "{peak}");
        // Poisson errors in 0.1 s bins.
        assert!((lc.error[0] - (lc.rate[0] * 0.1).sqrt() / 0.1).abs() < 1.0);
    }

    #[test]
    fn written_light_curves_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acs.fits");
        let t0 = Time::from_isot("2017-08-17T12:41:06.47").unwrap();
        let counts: Vec<f64> = (0..100).map(|i| 5000.0 + f64::from(i)).collect();
        let lc = AcsLightCurve::from_counts(t0, -2.5, 0.05, &counts).unwrap();
        write_acs_lightcurve(&path, &lc).unwrap();
        let back = read_acs_lightcurve(&path).unwrap();
        assert_eq!(
            (back.time.clone(), back.rate.clone(), back.error.clone()),
            (lc.time.clone(), lc.rate.clone(), lc.error.clone())
        );
        assert!((back.t0.ijd() - t0.ijd()).abs() * 86_400.0 < 1e-6);
        let first = std::fs::read(&path).unwrap();
        write_acs_lightcurve(&path, &lc).unwrap();
        assert_eq!(
            first,
            std::fs::read(&path).unwrap(),
            "same input, same bytes"
        );
        let mut bad = lc.clone();
        bad.rate.pop();
        assert!(write_acs_lightcurve(&path, &bad).is_err());
        assert_eq!(
            read_acs_lightcurve(&path).unwrap(),
            back,
            "the old file is kept"
        );
    }
}
