//! The standard (OGIP) FITS files of spectra, responses and light curves, written so that
//! XSPEC, Sherpa, ISIS or astropy read them as they read any high-energy mission's products.
//!
//! | file | function | standard | extensions |
//! |---|---|---|---|
//! | spectrum (PHA type I) | [`write_pha`], [`read_pha`] | OGIP/92-007 | `SPECTRUM`, `EBOUNDS` |
//! | stacked spectra (PHA type II) | [`write_pha_type2`], [`read_pha_type2`] | OGIP/92-007a | `SPECTRUM`, `EBOUNDS` |
//! | redistribution matrix (RMF) | [`write_rmf`], [`read_rmf`] | CAL/GEN/92-002 | `MATRIX`, `EBOUNDS` |
//! | ancillary response (ARF) | [`write_arf`], [`read_arf`] | CAL/GEN/92-002 | `SPECRESP` |
//! | light curve | [`write_lightcurve`], [`read_lightcurve`] | OGIP/93-003 | `RATE` |
//!
//! [`write_spectrum_files`] writes a spectrum with its RMF and ARF side by side, the PHA's
//! `RESPFILE` and `ANCRFILE` naming the other two, and [`read_pha`] loads them back.
//!
//! # Conventions
//! - Channels are numbered from 1 (`TLMIN` = 1) in the PHA, the RMF and their `EBOUNDS`.
//!   Channel energies (keV) are those of the spectrum; the PHA carries its own copy of the
//!   `EBOUNDS` table (as e.g. Fermi/GBM spectra do), so that it reads back without the RMF.
//! - Rates are net (background-subtracted) on-axis equivalent count rates, `counts/s`
//!   (`HDUCLAS2 = 'NET'`, `HDUCLAS3 = 'RATE'`, `POISSERR = F`), with their 1σ `STAT_ERR` and the
//!   fractional systematic error `SYS_ERR`. A channel whose rate is not finite or whose error is
//!   not a positive finite number gets `QUALITY = 5` (bad, set by the software's user); the
//!   others 0. `GROUPING` is 1 everywhere (every channel a group of its own: no grouping).
//! - The RMF rows are full: one group per energy bin (`N_GRP = 1`, `F_CHAN = 1`,
//!   `N_CHAN = DETCHANS`) and `MATRIX` a fixed-length vector of `DETCHANS` values. The matrix
//!   holds probabilities (`HDUCLAS3 = 'REDIST'`): rows sum to at most 1, less at low energies
//!   where the threshold loses events. The area is in the ARF, cm².
//! - Times are IJD on the TT scale: `TIMESYS = 'TT'`, `MJDREF = 51544`, `TIMEUNIT = 'd'`.
//!   Light-curve `TIME` is the bin centre (`TIMEPIXR = 0.5`) and `TIMEDEL` the bin width in
//!   days (a [`LightCurve`](crate::products::LightCurve) holds seconds; widths read back
//!   exactly when they have up to 15 significant digits, otherwise within 2 ulp).
//! - Per-channel values, energies and effective areas are stored as 32-bit floats (`E`), as
//!   the standards specify; keyword values (EXPOSURE, TSTART, ...) and times are exact `f64`.
//!   A 32-bit value reads back as the shortest decimal that identifies it, so a `SYS_ERR` of
//!   0.01 reads back as 0.01.
//! - The OSA version that calibrated the rates is recorded in `OSA_VERS`.
//!
//! Writes are atomic (the file appears complete or not at all; an existing file is replaced
//! only on success), create missing directories and give the same bytes for the same input
//! (there is no DATE keyword). Paths are taken literally. Readers check what they return and
//! fail with [`Error::Fits`] naming the file, the extension and what is wrong.
//!
//! # Example
//! ```
//! use oda::instrument::response::{Arf, Redistribution, Rmf};
//! use oda::osa::OsaVersion;
//! use oda::products::{Spectrum, read_pha, write_spectrum_files};
//!
//! let version = OsaVersion::Osa11_2;
//! let true_edges: Vec<f64> = (0..=60).map(|i| 15.0 * 1.05f64.powi(i)).collect();
//! let channels = [20.0, 30.0, 40.0, 60.0, 100.0, 200.0];
//! let fwhm = |e: f64| 4.8 * (e / 60.0).sqrt();
//! let rmf = Rmf::from_redistribution(&true_edges, &channels, &Redistribution {
//!     fwhm_kev: &fwhm, pulse_per_kev: 1.0, threshold_kev: 13.0, threshold_width_kev: 0.8,
//!     measured_per_reconstructed: 1.0,
//! })?;
//! let spectrum = Spectrum {
//!     source: "Crab".into(),
//!     e_min: channels[..5].to_vec(),
//!     e_max: channels[1..].to_vec(),
//!     rate: vec![60.0, 50.0, 41.0, 23.0, 6.5],
//!     stat_err: vec![0.5, 0.4, 0.4, 0.3, 0.25],
//!     sys_err: 0.01,
//!     exposure: 1800.0,
//!     time_range: (3653.5, 3653.52),
//!     osa_version: version,
//!     arf: Some(Arf::from_area(&true_edges, |_| 900.0)?),
//!     rmf: Some(rmf),
//!     detector: Default::default(),
//! };
//! let dir = tempfile::tempdir().unwrap();
//! let files = write_spectrum_files(dir.path(), "crab", &spectrum)?;
//! assert!(files.pha.ends_with("crab_pha.fits") && files.rmf.ends_with("crab_rmf.fits"));
//!
//! let back = read_pha(&files.pha)?;
//! assert_eq!(back.rate, spectrum.rate); // these rates are exact in 32 bits
//! assert_eq!((back.sys_err, back.exposure), (0.01, 1800.0));
//! assert_eq!(back.rmf.unwrap().n_channels(), 5);
//! # Ok::<(), oda::Error>(())
//! ```

mod lc;
mod pha;
mod response;

use std::path::Path;

use fitsio::FitsFile;
use fitsio::hdu::FitsHdu;
use fitsio::tables::ColumnDataType;

use crate::error::{Error, Result};
use crate::fits::{self, Column, NewFile, Table};
use crate::instrument::Detector;

pub use lc::{read_lightcurve, write_lightcurve};
pub use pha::{
    ResponseFiles, SpectrumFiles, read_pha, read_pha_type2, write_pha, write_pha_type2,
    write_pha_type2_with_responses, write_pha_with_responses, write_spectrum_files,
};
pub use response::{read_arf, read_rmf, write_arf, write_arf_for, write_rmf, write_rmf_for};

/// MJD of IJD 0 (2000-01-01T00:00:00 TT): the `MJDREF` of every file.
const MJDREF: f64 = crate::time::IJD_MJD_OFFSET;

/// Relative tolerance within which two energy grids are the same (32-bit storage).
const GRID_TOLERANCE: f64 = 1e-6;

/// The value of `RESPFILE`, `ANCRFILE`, `BACKFILE` and `CORRFILE` when there is no such file.
const NO_FILE: &str = "NONE";

/// Writes the keywords naming the mission, instrument and detector.
fn mission_keys(f: &mut NewFile<'_>, hdu: &FitsHdu, detector: Detector) -> Result<()> {
    f.key_str(hdu, "TELESCOP", "INTEGRAL", "Mission name")?;
    f.key_str(hdu, "INSTRUME", detector.instrume(), "Instrument name")?;
    f.key_str(hdu, "DETNAM", detector.detnam(), "Detector name")?;
    f.key_str(hdu, "FILTER", "NONE", "No filter")
}

/// Writes the OGIP classification keywords (`HDUCLASn`, `HDUVERS`); empty classes are skipped.
fn class_keys(f: &mut NewFile<'_>, hdu: &FitsHdu, classes: &[&str], hduvers: &str) -> Result<()> {
    f.key_str(hdu, "HDUCLASS", "OGIP", "Format conforms to OGIP standards")?;
    for (i, class) in classes.iter().enumerate() {
        if !class.is_empty() {
            let name = format!("HDUCLAS{}", i + 1);
            f.key_str(hdu, &name, class, "OGIP classification of this extension")?;
        }
    }
    f.key_str(hdu, "HDUVERS", hduvers, "Version of the OGIP format")
}

/// Writes the time-system keywords and the time span `[tstart, tstop]` (IJD, TT).
fn time_keys(f: &mut NewFile<'_>, hdu: &FitsHdu, tstart: f64, tstop: f64) -> Result<()> {
    f.key_str(hdu, "TIMESYS", "TT", "Terrestrial Time")?;
    f.key_str(hdu, "TIMEUNIT", "d", "Times are in days")?;
    f.key_f64(
        hdu,
        "MJDREF",
        MJDREF,
        "[d] MJD of IJD 0 (2000-01-01T00:00:00 TT)",
    )?;
    f.key_f64(hdu, "TSTART", tstart, "[d] Start time (IJD)")?;
    f.key_f64(hdu, "TSTOP", tstop, "[d] Stop time (IJD)")
}

/// Checks a channel or energy-bin grid (keV): the same number of lower and upper edges, at
/// least one bin, each finite and non-negative with lower < upper, and bins increasing without
/// overlap.
fn check_grid(what: &str, lo: &[f64], hi: &[f64]) -> std::result::Result<(), String> {
    if lo.len() != hi.len() {
        return Err(format!(
            "{what}: {} lower edges but {} upper edges",
            lo.len(),
            hi.len()
        ));
    }
    if lo.is_empty() {
        return Err(format!("{what}: no bins"));
    }
    for (i, (&a, &b)) in lo.iter().zip(hi).enumerate() {
        if !(a.is_finite() && b.is_finite() && a >= 0.0 && b > a) {
            return Err(format!(
                "{what}: bin {} spans {a} .. {b} keV, which is not a finite, non-negative, \
                 increasing interval",
                i + 1
            ));
        }
        if i > 0 && a < hi[i - 1] * (1.0 - GRID_TOLERANCE) {
            return Err(format!(
                "{what}: bin {} starts at {a} keV, before bin {} ends ({} keV)",
                i + 1,
                i,
                hi[i - 1]
            ));
        }
    }
    Ok(())
}

/// True when `a` and `b` agree to [`GRID_TOLERANCE`].
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= GRID_TOLERANCE * a.abs().max(b.abs())
}

/// The first difference between grid `a` and grid `b` (lower and upper edges, keV), described
/// with `a_name` and `b_name`, or `None` when they agree to [`GRID_TOLERANCE`].
fn grid_mismatch(
    (a_name, a_lo, a_hi): (&str, &[f64], &[f64]),
    (b_name, b_lo, b_hi): (&str, &[f64], &[f64]),
    unit: &str,
) -> Option<String> {
    if a_lo.len() != b_lo.len() {
        return Some(format!(
            "{a_name} has {} {unit}s but {b_name} has {}",
            a_lo.len(),
            b_lo.len()
        ));
    }
    (0..a_lo.len())
        .find(|&i| !(close(a_lo[i], b_lo[i]) && close(a_hi[i], b_hi[i])))
        .map(|i| {
            format!(
                "{unit} {} spans {} .. {} keV in {a_name} but {} .. {} keV in {b_name}",
                i + 1,
                a_lo[i],
                a_hi[i],
                b_lo[i],
                b_hi[i]
            )
        })
}

/// Columns of an `EBOUNDS` extension.
const EBOUNDS_COLUMNS: [Column; 3] = [
    Column::new("CHANNEL", ColumnDataType::Int, 1, ""),
    Column::new("E_MIN", ColumnDataType::Float, 1, "keV"),
    Column::new("E_MAX", ColumnDataType::Float, 1, "keV"),
];

/// Appends an `EBOUNDS` extension: channels 1..=n with their energy bounds (keV).
fn write_ebounds(
    f: &mut NewFile<'_>,
    e_min: &[f64],
    e_max: &[f64],
    detector: Detector,
) -> Result<()> {
    let n = e_min.len();
    let hdu = f.table("EBOUNDS", &EBOUNDS_COLUMNS)?;
    mission_keys(f, &hdu, detector)?;
    f.key_str(&hdu, "CHANTYPE", "PI", "Channels are calibrated energies")?;
    f.key_int(&hdu, "DETCHANS", n as i64, "Number of channels")?;
    class_keys(f, &hdu, &["RESPONSE", "EBOUNDS"], "1.2.0")?;
    f.legal_range(&hdu, 1, 1, n as i64)?;
    let channel: Vec<i32> = (1..=n as i32).collect();
    f.column(&hdu, "CHANNEL", &channel)?;
    f.column(&hdu, "E_MIN", &to_f32(e_min))?;
    f.column(&hdu, "E_MAX", &to_f32(e_max))
}

/// Channel energy bounds read from an `EBOUNDS` extension.
struct Ebounds {
    /// The number of the first channel; the others follow consecutively.
    first_channel: i64,
    /// Lower bounds, keV.
    e_min: Vec<f64>,
    /// Upper bounds, keV.
    e_max: Vec<f64>,
}

/// Reads and checks the `EBOUNDS` extension, or `None` when the file has none.
fn read_ebounds(f: &mut FitsFile, path: &Path) -> Result<Option<Ebounds>> {
    let Some(t) = Table::find(f, path, "EBOUNDS")? else {
        return Ok(None);
    };
    t.require_columns(&["CHANNEL", "E_MIN", "E_MAX"])?;
    let channel = t.i64_values(f, "CHANNEL", Some(1))?;
    let e_min = energy_column(&t, f, "E_MIN")?;
    let e_max = energy_column(&t, f, "E_MAX")?;
    if t.num_rows() == 0 {
        return Err(t.error("the table has no rows"));
    }
    if let Some(detchans) = t.optional_key::<i64>(f, "DETCHANS")?
        && detchans != t.num_rows() as i64
    {
        return Err(t.error(format!(
            "DETCHANS = {detchans} but the table has {} rows",
            t.num_rows()
        )));
    }
    check_consecutive(&channel).map_err(|m| t.error(m))?;
    check_grid("channel bounds E_MIN/E_MAX", &e_min, &e_max).map_err(|m| t.error(m))?;
    Ok(Some(Ebounds {
        first_channel: channel[0],
        e_min,
        e_max,
    }))
}

/// Checks that channel numbers are consecutive (each one more than the previous).
fn check_consecutive(channel: &[i64]) -> std::result::Result<(), String> {
    match channel.windows(2).position(|w| w[1] != w[0] + 1) {
        None => Ok(()),
        Some(i) => Err(format!(
            "CHANNEL is not consecutive: row {} has channel {} after {}",
            i + 2,
            channel[i + 1],
            channel[i]
        )),
    }
}

/// A scalar energy column, keV (TUNITn, when present, must say keV).
fn energy_column(t: &Table<'_>, f: &mut FitsFile, name: &str) -> Result<Vec<f64>> {
    let unit_key = format!("TUNIT{}", t.column_number(name)?);
    if let Some(unit) = t.optional_text(f, &unit_key)?
        && !unit.eq_ignore_ascii_case("keV")
    {
        return Err(t.error(format!(
            "column {name} is in {unit:?}; only keV is supported"
        )));
    }
    t.f64_values(f, name, Some(1))
}

/// The values as 32-bit floats (the `E` columns of the standards).
fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// Checks that `name` can be a file name in a `RESPFILE`-like keyword: a plain name or relative
/// path of printable ASCII that fits a header card.
fn check_file_name(key: &str, name: &str) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("{key}: the file name is empty"));
    }
    fits::check_key_string(key, name)
}

/// The file a `RESPFILE`/`ANCRFILE` value names, relative to the directory of `path`, or `None`
/// for `NONE` or an empty value.
fn referenced_file(path: &Path, value: Option<&str>) -> Option<std::path::PathBuf> {
    let value = value?.trim();
    if value.is_empty() || value.eq_ignore_ascii_case(NO_FILE) {
        return None;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    Some(dir.join(value))
}

/// Wraps an error loading the file `key = value` referenced by `path`.
fn referenced_error(path: &Path, key: &str, value: &str, e: Error) -> Error {
    Error::fits(path, format!("cannot load {key} = '{value}': {e}"))
}

#[cfg(test)]
mod testutil {
    //! Synthetic inputs and file-editing helpers shared by the tests of the OGIP files.

    use std::path::Path;

    use crate::datasets::{LightCurve, Spectrum};
    pub(crate) use crate::fits::testutil::{delete_key, edit, fits_message, set_key};
    use crate::instrument::response::{Arf, Rmf};
    use crate::osa::OsaVersion;

    /// Log-spaced true-energy edges, 15–1000 keV.
    pub(crate) fn true_edges() -> Vec<f64> {
        (0..=80)
            .map(|i| 15.0 * (1000.0f64 / 15.0).powf(f64::from(i) / 80.0))
            .collect()
    }

    /// Channel edges, 20–500 keV: `n` log-spaced channels.
    pub(crate) fn channel_edges(n: usize) -> Vec<f64> {
        (0..=n)
            .map(|i| 20.0 * 25.0f64.powf(i as f64 / n as f64))
            .collect()
    }

    pub(crate) fn rmf(n_channels: usize) -> Rmf {
        crate::instrument::response::fixtures::rmf(&true_edges(), &channel_edges(n_channels))
    }

    pub(crate) fn arf() -> Arf {
        crate::instrument::response::fixtures::arf(&true_edges())
    }

    /// A spectrum with `n` channels, its response, and deterministic, irregular values.
    pub(crate) fn spectrum(n: usize) -> Spectrum {
        let edges = channel_edges(n);
        let rate: Vec<f64> = (0..n)
            .map(|i| 150.0 * (edges[i] / 20.0).powf(-2.1) + 0.123_456_789 * i as f64)
            .collect();
        let stat_err = rate.iter().map(|r| 0.05 + 0.01 * r.sqrt()).collect();
        Spectrum {
            source: "Crab".into(),
            e_min: edges[..n].to_vec(),
            e_max: edges[1..].to_vec(),
            rate,
            stat_err,
            sys_err: 0.01,
            exposure: 1_987.654_321,
            time_range: (3_653.512_345_678_9, 3_653.536_789_012_3),
            osa_version: OsaVersion::Osa11_2,
            arf: Some(arf()),
            rmf: Some(rmf(n)),
            detector: Default::default(),
        }
    }

    pub(crate) fn lightcurve(n: usize) -> LightCurve {
        let t0 = 5_647.123_456_789;
        let width = 300.0;
        LightCurve {
            source: "Cyg X-1".into(),
            band: (30.0, 80.0),
            time: (0..n)
                .map(|i| t0 + (i as f64 + 0.5) * width / 86_400.0)
                .collect(),
            timedel: vec![width; n],
            rate: (0..n)
                .map(|i| 40.0 + (i as f64 * 0.7).sin() * 7.3)
                .collect(),
            error: (0..n).map(|i| 1.1 + 0.01 * i as f64).collect(),
            fracexp: (0..n).map(|i| if i % 5 == 0 { 0.5 } else { 1.0 }).collect(),
            osa_version: OsaVersion::Osa10_2,
        }
    }

    /// Asserts that `a` and `b` agree to 32-bit precision, element by element (NaN matching NaN).
    pub(crate) fn assert_close32(what: &str, a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{what}: lengths differ");
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            let same = (x.is_nan() && y.is_nan()) || x as f32 == y as f32;
            assert!(same, "{what}[{i}]: {x} != {y}");
        }
    }

    /// Runs the astropy checker `tests/python/check_ogip.py` on a file; `None` when python3
    /// with astropy is not available, else whether it passed and its output.
    pub(crate) fn astropy_check(kind: &str, path: &Path) -> Option<(bool, String)> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_ogip.py");
        let probe = std::process::Command::new("python3")
            .args(["-c", "import astropy, numpy"])
            .output()
            .ok()?;
        if !probe.status.success() {
            return None;
        }
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(kind)
            .arg(path)
            .output()
            .ok()?;
        Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes one file of each kind to `$ODA_OGIP_EXAMPLES` (default `target/ogip-examples`) and
    /// runs the astropy checker on them, printing its summaries:
    /// `cargo test --release --lib products::ogip::tests::examples -- --ignored --nocapture`.
    #[test]
    #[ignore = "writes example files for inspection"]
    fn examples() {
        use super::testutil::*;
        let dir = std::env::var_os("ODA_OGIP_EXAMPLES").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ogip-examples"),
            std::path::PathBuf::from,
        );
        let files = write_spectrum_files(&dir, "crab", &spectrum(64)).unwrap();
        let spectra: Vec<_> = (0..4).map(|_| spectrum(64)).collect();
        let responses = vec![
            ResponseFiles {
                rmf: Some("crab_rmf.fits".into()),
                arf: Some("crab_arf.fits".into()),
            };
            4
        ];
        let pha2 = dir.join("crab_pha2.fits");
        write_pha_type2_with_responses(&pha2, &spectra, &responses).unwrap();
        let lc = dir.join("cygx1_lc.fits");
        write_lightcurve(&lc, &lightcurve(288)).unwrap();
        for (kind, path) in [
            ("pha", &files.pha),
            ("rmf", &files.rmf),
            ("arf", &files.arf),
            ("pha2", &pha2),
            ("lc", &lc),
        ] {
            let (ok, out) = astropy_check(kind, path).expect("python3 with astropy");
            print!("{out}");
            assert!(ok);
        }
    }

    #[test]
    fn grids_are_checked_and_compared() {
        assert!(check_grid("g", &[1.0, 2.0], &[2.0, 3.0]).is_ok());
        let m = check_grid("g", &[1.0, 2.0], &[2.0]).unwrap_err();
        assert!(m.contains("2 lower edges but 1 upper"), "{m}");
        let m = check_grid("g", &[1.0, 2.5], &[3.0, 4.0]).unwrap_err();
        assert!(
            m.contains("bin 2 starts at 2.5 keV, before bin 1 ends"),
            "{m}"
        );
        let m = check_grid("g", &[1.0, f64::NAN], &[2.0, 3.0]).unwrap_err();
        assert!(m.contains("bin 2 spans NaN"), "{m}");
        assert!(check_grid("g", &[], &[]).is_err());

        let a = [1.0, 2.0];
        let b = [2.0, 3.0];
        assert_eq!(grid_mismatch(("a", &a, &b), ("b", &a, &b), "channel"), None);
        let c = [2.0, 3.1];
        let m = grid_mismatch(("a", &a, &b), ("b", &a, &c), "channel").unwrap();
        assert_eq!(m, "channel 2 spans 2 .. 3 keV in a but 2 .. 3.1 keV in b");
        let m = grid_mismatch(("a", &a, &b), ("b", &a[..1], &b[..1]), "bin").unwrap();
        assert_eq!(m, "a has 2 bins but b has 1");
    }

    #[test]
    fn referenced_files_are_relative_to_the_referring_file() {
        let p = Path::new("/data/crab/crab_pha.fits");
        assert_eq!(
            referenced_file(p, Some("crab_rmf.fits ")).unwrap(),
            Path::new("/data/crab/crab_rmf.fits")
        );
        assert_eq!(referenced_file(p, Some("none")), None);
        assert_eq!(referenced_file(p, Some("")), None);
        assert_eq!(referenced_file(p, None), None);
        assert_eq!(
            referenced_file(Path::new("a_pha.fits"), Some("a_rmf.fits")).unwrap(),
            Path::new("a_rmf.fits")
        );
    }
}
