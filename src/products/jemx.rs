//! The JEM-X light-curve file in OSA's layout (`JMXn-SRC.-LCR`, as
//! `tests/data/fixtures/jemx1_crab_lc.fits.gz`, a real JEM-X1 light curve of the Crab): columns
//! TIME [d] (bin centre, days from MJDREF = 51544 TT), RATE, ERROR, BRATE, BERROR [count/s],
//! BARYTIME [d] and FRACEXP; keywords INSTRUME (JMX1/JMX2), TIMESYS = 'TT', TIMEUNIT = 'd',
//! TIMEDEL [d], TSTART/TSTOP [d], CHANTYPE = 'PI', CHANMIN/CHANMAX, E_MIN/E_MAX [keV], NAME,
//! RA_OBJ/DEC_OBJ, OFFANGLE, VIGNET, and the flags BACKAPP, DEADAPP, VIGNAPP.

use std::path::Path;

use fitsio::tables::ColumnDataType;

use crate::datasets::{JemxLightCurve, LightCurve};
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::instrument::jemx::JemxUnit;
use crate::osa::OsaVersion;
use crate::time::{IJD_MJD_OFFSET, SECONDS_PER_DAY};

/// The extension name of `unit`'s source light curves.
pub fn jemx_lightcurve_extname(unit: JemxUnit) -> String {
    format!("{}-SRC.-LCR", unit.name())
}

/// Checks a light curve before writing: bins, equal lengths, one bin width, finite times.
fn check(lc: &JemxLightCurve) -> std::result::Result<(), String> {
    let l = &lc.light_curve;
    let n = l.len();
    if n == 0 {
        return Err("no bins".into());
    }
    let lens = [
        l.timedel.len(),
        l.rate.len(),
        l.error.len(),
        l.fracexp.len(),
        lc.background_rate.len(),
        lc.background_error.len(),
    ];
    if lens.iter().any(|m| *m != n) {
        return Err(format!("{n} bins but columns of lengths {lens:?}"));
    }
    let w = l.timedel[0];
    if !(w.is_finite() && w > 0.0) || l.timedel.iter().any(|d| (d / w - 1.0).abs() > 1e-9) {
        return Err("the bins do not share one positive width (TIMEDEL is a keyword)".into());
    }
    if !l.time.iter().all(|t| t.is_finite()) || !l.time.windows(2).all(|t| t[1] > t[0]) {
        return Err("times are not finite and increasing".into());
    }
    Ok(())
}

/// Writes `lc` to `path` in OSA's layout (atomically; the same input gives the same bytes).
///
/// # Errors
/// [`Error::Fits`] for an empty or inconsistent light curve (the bins must share one width) or
/// when cfitsio fails; [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_jemx_lightcurve(path: &Path, lc: &JemxLightCurve) -> Result<()> {
    check(lc).map_err(|m| Error::fits(path, format!("cannot write the JEM-X light curve: {m}")))?;
    let l = &lc.light_curve;
    let n = l.len();
    let width_d = l.timedel[0] / SECONDS_PER_DAY;
    let (tstart, tstop) = (l.time[0] - width_d / 2.0, l.time[n - 1] + width_d / 2.0);
    let ontime: f64 = l.timedel.iter().zip(&l.fracexp).map(|(d, f)| d * f).sum();
    let columns = [
        Column::new("TIME", ColumnDataType::Double, 1, "d"),
        Column::new("RATE", ColumnDataType::Float, 1, "count/s"),
        Column::new("ERROR", ColumnDataType::Float, 1, "count/s"),
        Column::new("BRATE", ColumnDataType::Float, 1, "count/s"),
        Column::new("BERROR", ColumnDataType::Float, 1, "count/s"),
        Column::new("BARYTIME", ColumnDataType::Double, 1, "d"),
        Column::new("FRACEXP", ColumnDataType::Float, 1, ""),
    ];
    let f32s = |v: &[f64]| -> Vec<f32> { v.iter().map(|x| *x as f32).collect() };
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table(&jemx_lightcurve_extname(lc.unit), &columns)?;
        f.key_str(&hdu, "TELESCOP", "INTEGRAL", "Telescope or mission name")?;
        f.key_str(&hdu, "INSTRUME", lc.unit.name(), "Instrument name")?;
        f.key_str(&hdu, "ISDCLEVL", "LCR", "ISDC level of data processing")?;
        f.key_f64(
            &hdu,
            "MJDREF",
            IJD_MJD_OFFSET,
            "Modified Julian Date of time origin",
        )?;
        f.key_str(&hdu, "TIMESYS", "TT", "Time frame system")?;
        f.key_str(&hdu, "TIMEUNIT", "d", "Time unit")?;
        f.key_str(&hdu, "TIMEREF", "LOCAL", "Time reference frame")?;
        f.key_f64(&hdu, "TSTART", tstart, "[d] Start of the first bin")?;
        f.key_f64(&hdu, "TSTOP", tstop, "[d] End of the last bin")?;
        f.key_f64(
            &hdu,
            "TELAPSE",
            (tstop - tstart) * SECONDS_PER_DAY,
            "[s] TSTOP - TSTART",
        )?;
        f.key_f64(&hdu, "ONTIME", ontime, "[s] Exposed time")?;
        f.key_f64(&hdu, "TIMEDEL", width_d, "[d] Bin width")?;
        f.key_f64(&hdu, "TIMEPIXR", 0.5, "TIME is the centre of each bin")?;
        f.key_str(&hdu, "TIMVERS", "OGIP/93-003", "OGIP timing memo")?;
        f.key_str(&hdu, "CHANTYPE", "PI", "Channel type")?;
        f.key_int(
            &hdu,
            "CHANMIN",
            i64::from(lc.channels.0),
            "Lowest channel of the energy range",
        )?;
        f.key_int(
            &hdu,
            "CHANMAX",
            i64::from(lc.channels.1),
            "Highest channel of the energy range",
        )?;
        f.key_f64(
            &hdu,
            "E_MIN",
            l.band.0,
            "[keV] Lower bound of the energy range",
        )?;
        f.key_f64(
            &hdu,
            "E_MAX",
            l.band.1,
            "[keV] Upper bound of the energy range",
        )?;
        f.key_str(&hdu, "EUNIT", "keV", "Energy unit")?;
        f.key_str(&hdu, "NAME", &fits::ascii_fold(&l.source), "Source name")?;
        if let Some((ra, dec)) = lc.position {
            f.key_f64(&hdu, "RA_OBJ", ra, "[deg] Source right ascension")?;
            f.key_f64(&hdu, "DEC_OBJ", dec, "[deg] Source declination")?;
        }
        f.key_f64(
            &hdu,
            "OFFANGLE",
            lc.off_axis_deg,
            "[deg] Off-axis angle of the source",
        )?;
        f.key_f64(
            &hdu,
            "VIGNET",
            lc.vignetting,
            "Vignetting the rates were corrected for",
        )?;
        f.key_bool(&hdu, "BACKAPP", true, "Background subtracted")?;
        f.key_bool(&hdu, "DEADAPP", true, "Dead time corrected")?;
        f.key_bool(&hdu, "VIGNAPP", true, "Vignetting corrected")?;
        f.key_str(
            &hdu,
            "OSAVERS",
            l.osa_version.name(),
            "Calibration of the rates",
        )?;
        f.column(&hdu, "TIME", &l.time)?;
        f.column(&hdu, "RATE", &f32s(&l.rate))?;
        f.column(&hdu, "ERROR", &f32s(&l.error))?;
        f.column(&hdu, "BRATE", &f32s(&lc.background_rate))?;
        f.column(&hdu, "BERROR", &f32s(&lc.background_error))?;
        // Not barycentred (as OSA's files where the correction was not asked for: 0).
        f.column(&hdu, "BARYTIME", &vec![0.0f64; n])?;
        f.column(&hdu, "FRACEXP", &f32s(&l.fracexp))
    })
}

/// Reads a JEM-X light curve in OSA's layout: ours, or OSA's (the first `JMX1-SRC.-LCR` or
/// `JMX2-SRC.-LCR` extension; a `.gz` file is read as it is). The calibration is the file's
/// `OSAVERS` keyword, or the default version when the file does not say.
///
/// # Errors
/// [`Error::Fits`] naming the file and the problem: no such extension, a missing column (TIME,
/// RATE, ERROR, BRATE, BERROR, FRACEXP) or keyword (MJDREF, TIMEDEL, E_MIN, E_MAX, CHANMIN,
/// CHANMAX), a time system other than TT, a time unit other than days, or times that are not
/// finite.
pub fn read_jemx_lightcurve(path: &Path) -> Result<JemxLightCurve> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let f = &mut f;
        let names = [
            jemx_lightcurve_extname(JemxUnit::Jmx1),
            jemx_lightcurve_extname(JemxUnit::Jmx2),
        ];
        let refs = [names[0].as_str(), names[1].as_str()];
        let t = Table::require(f, path, &refs, "a JEM-X source light curve")?;
        let unit = if Table::find(f, path, &names[0])?.is_some() {
            JemxUnit::Jmx1
        } else {
            JemxUnit::Jmx2
        };
        t.require_columns(&["TIME", "RATE", "ERROR", "BRATE", "BERROR", "FRACEXP"])?;
        t.require_tt(f)?;
        let unit_of_time = t
            .optional_text(f, "TIMEUNIT")?
            .unwrap_or_else(|| "d".into());
        if unit_of_time != "d" {
            return Err(t.error(format!(
                "TIMEUNIT = {unit_of_time:?}; OSA's light curves count days"
            )));
        }
        let mjdref = t.mjdref(f)?;
        let timedel_d = t.finite_key(f, "TIMEDEL")?;
        if timedel_d <= 0.0 {
            return Err(t.error(format!("TIMEDEL = {timedel_d} is not a positive width")));
        }
        let time: Vec<f64> = t
            .f64_values(f, "TIME", Some(1))?
            .into_iter()
            .map(|d| d + mjdref - IJD_MJD_OFFSET)
            .collect();
        if let Some(i) = (0..time.len()).find(|&i| !time[i].is_finite()) {
            return Err(t.error(format!("row {}: TIME is not finite", i + 1)));
        }
        let n = time.len();
        let band = (t.finite_key(f, "E_MIN")?, t.finite_key(f, "E_MAX")?);
        let channels = (
            t.int_key(f, "CHANMIN", 0..=255)? as u16,
            t.int_key(f, "CHANMAX", 0..=255)? as u16,
        );
        let ra = t.optional_key::<f64>(f, "RA_OBJ")?;
        let dec = t.optional_key::<f64>(f, "DEC_OBJ")?;
        let osa_version = match t.optional_text(f, "OSAVERS")? {
            Some(v) => v.parse()?,
            None => OsaVersion::default(),
        };
        let source = t
            .optional_text(f, "NAME")?
            .filter(|s| !s.is_empty() && s != "String")
            .or(t.optional_text(f, "SOURCEID")?)
            .unwrap_or_default();
        Ok(JemxLightCurve {
            unit,
            light_curve: LightCurve {
                source,
                band,
                time,
                timedel: vec![timedel_d * SECONDS_PER_DAY; n],
                rate: t.f64_values(f, "RATE", Some(1))?,
                error: t.f64_values(f, "ERROR", Some(1))?,
                fracexp: t.f64_values(f, "FRACEXP", Some(1))?,
                osa_version,
            },
            background_rate: t.f64_values(f, "BRATE", Some(1))?,
            background_error: t.f64_values(f, "BERROR", Some(1))?,
            channels,
            position: ra.zip(dec),
            off_axis_deg: t.optional_key::<f64>(f, "OFFANGLE")?.unwrap_or(f64::NAN),
            vignetting: t.optional_key::<f64>(f, "VIGNET")?.unwrap_or(1.0),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real JEM-X1 light curve of the Crab (tests/data/fixtures/README.md: origin, licence).
    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/jemx1_crab_lc.fits.gz")
    }

    #[test]
    fn the_real_jemx1_crab_light_curve_is_read() {
        let lc = read_jemx_lightcurve(&fixture()).unwrap();
        let l = &lc.light_curve;
        assert_eq!(lc.unit, JemxUnit::Jmx1);
        assert_eq!(l.len(), 96);
        assert!((l.timedel[0] - 20.0).abs() < 1e-3, "{}", l.timedel[0]);
        assert!(
            (l.band.0 - 3.04).abs() < 1e-5 && (l.band.1 - 34.88).abs() < 1e-5,
            "{:?}",
            l.band
        );
        assert_eq!(lc.channels, (46, 223));
        // Revolution 102, 2003-08-17 (IJD 1322.7).
        assert!((l.time[0] - 1322.719).abs() < 1e-3, "{}", l.time[0]);
        let mean = l.rate.iter().sum::<f64>() / l.len() as f64;
        assert!((mean - 136.03).abs() < 0.05, "{mean}");
        assert!((lc.off_axis_deg - 3.739).abs() < 1e-3 && (lc.vignetting - 0.3044).abs() < 1e-3);
        let (ra, dec) = lc.position.unwrap();
        assert!((ra - 83.63).abs() < 0.01 && (dec - 22.018).abs() < 0.01);
        assert_eq!(l.source, "J053432.0+220052");
    }

    #[test]
    fn written_light_curves_read_back_bit_for_bit() {
        let real = read_jemx_lightcurve(&fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lc.fits");
        let mut lc = real.clone();
        lc.unit = JemxUnit::Jmx2;
        lc.light_curve.source = "Crab".into();
        write_jemx_lightcurve(&path, &lc).unwrap();
        let first = std::fs::read(&path).unwrap();
        let back = read_jemx_lightcurve(&path).unwrap();
        assert_eq!(back.unit, JemxUnit::Jmx2);
        // The real file's values are single precision: they round-trip exactly.
        assert_eq!(back.light_curve.rate, real.light_curve.rate);
        assert_eq!(back.background_rate, real.background_rate);
        assert_eq!(back.light_curve.time, real.light_curve.time);
        assert_eq!(back.light_curve.source, "Crab");
        write_jemx_lightcurve(&path, &lc).unwrap();
        assert_eq!(
            first,
            std::fs::read(&path).unwrap(),
            "same input, same bytes"
        );
        let mut uneven = lc.clone();
        uneven.light_curve.timedel[3] = 40.0;
        let e = write_jemx_lightcurve(&path, &uneven).unwrap_err();
        assert!(e.to_string().contains("one positive width"), "{e}");
        assert_eq!(
            read_jemx_lightcurve(&path).unwrap(),
            back,
            "a failed write keeps the file"
        );
    }
}
