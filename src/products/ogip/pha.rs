//! Spectrum files: PHA type I (one spectrum, OGIP/92-007) and type II (one spectrum per row,
//! OGIP/92-007a), each with an `EBOUNDS` copy of the channel energies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fitsio::FitsFile;
use fitsio::hdu::FitsHdu;
use fitsio::tables::ColumnDataType;

use super::response::{read_rmf_from, rmf_arf_mismatch, write_arf_for, write_rmf_for};
use super::{
    Ebounds, NO_FILE, check_consecutive, check_file_name, check_grid, class_keys, grid_mismatch,
    mission_keys, read_ebounds, referenced_error, referenced_file, time_keys, to_f32,
    write_ebounds,
};
use crate::datasets::Spectrum;
use crate::error::{Error, Result};
use crate::fits::{self, Column, NewFile, Table};
use crate::instrument::Detector;
use crate::instrument::response::{Arf, Rmf};
use crate::osa::OsaVersion;

/// The response files a PHA file names in `RESPFILE` and `ANCRFILE`, as written in the file:
/// names relative to the PHA file's directory (or absolute paths).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseFiles {
    /// `RESPFILE`, the redistribution matrix; `None` writes `'NONE'`.
    pub rmf: Option<String>,
    /// `ANCRFILE`, the ancillary response; `None` writes `'NONE'`.
    pub arf: Option<String>,
}

/// The three files [`write_spectrum_files`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpectrumFiles {
    /// The spectrum, `<stem>_pha.fits`.
    pub pha: PathBuf,
    /// The redistribution matrix, `<stem>_rmf.fits`.
    pub rmf: PathBuf,
    /// The ancillary response, `<stem>_arf.fits`.
    pub arf: PathBuf,
}

/// `QUALITY` of a bad channel: "bad, set by the user" in OGIP/92-007.
const BAD_QUALITY: i16 = 5;

/// Checks a spectrum before writing it; the message names the first problem.
fn check_spectrum(s: &Spectrum) -> std::result::Result<(), String> {
    check_grid("channel bounds e_min/e_max", &s.e_min, &s.e_max)?;
    let n = s.e_min.len();
    if n > i32::MAX as usize {
        return Err(format!(
            "{n} channels are more than a FITS J column numbers"
        ));
    }
    for (name, len) in [("rate", s.rate.len()), ("stat_err", s.stat_err.len())] {
        if len != n {
            return Err(format!("{name} has {len} values for {n} channels"));
        }
    }
    if !(s.sys_err.is_finite() && s.sys_err >= 0.0) {
        return Err(format!(
            "the systematic error {} is not a finite fraction ≥ 0",
            s.sys_err
        ));
    }
    if !(s.exposure.is_finite() && s.exposure > 0.0) {
        return Err(format!(
            "the exposure {} s is not a positive, finite time",
            s.exposure
        ));
    }
    let (t0, t1) = s.time_range;
    if !(t0.is_finite() && t1.is_finite() && t1 >= t0) {
        return Err(format!(
            "the time range {t0} .. {t1} (IJD) is not a finite interval"
        ));
    }
    fits::check_key_string("OBJECT", &s.source)
}

/// `QUALITY` per channel: 0, or [`BAD_QUALITY`] when the rate is not finite or the error is not
/// a positive finite number, as written (in 32 bits).
fn quality(s: &Spectrum) -> Vec<i16> {
    s.rate
        .iter()
        .zip(&s.stat_err)
        .map(|(&r, &e)| {
            let (r, e) = (r as f32, e as f32);
            if r.is_finite() && e.is_finite() && e > 0.0 {
                0
            } else {
                BAD_QUALITY
            }
        })
        .collect()
}

/// The keyword value naming a response file.
fn file_key(name: Option<&str>) -> &str {
    name.unwrap_or(NO_FILE)
}

/// Checks the names of the response files.
fn check_responses(r: &ResponseFiles) -> std::result::Result<(), String> {
    if let Some(name) = &r.rmf {
        check_file_name("RESPFILE", name)?;
    }
    if let Some(name) = &r.arf {
        check_file_name("ANCRFILE", name)?;
    }
    Ok(())
}

/// Writes the keywords common to type I and type II spectra. `channel_column` is the 1-based
/// number of the CHANNEL column.
fn spectrum_keys(
    f: &mut NewFile<'_>,
    hdu: &FitsHdu,
    n_channels: usize,
    type2: bool,
    channel_column: usize,
    detector: Detector,
) -> Result<()> {
    mission_keys(f, hdu, detector)?;
    let class4 = if type2 { "TYPE:II" } else { "TYPE:I" };
    class_keys(f, hdu, &["SPECTRUM", "NET", "RATE", class4], "1.2.1")?;
    f.key_str(hdu, "CHANTYPE", "PI", "Channels are calibrated energies")?;
    f.key_int(hdu, "DETCHANS", n_channels as i64, "Number of channels")?;
    f.key_bool(
        hdu,
        "POISSERR",
        false,
        "Errors are given in STAT_ERR, not Poissonian",
    )?;
    f.key_f64(hdu, "AREASCAL", 1.0, "Area scaling factor")?;
    f.key_f64(hdu, "BACKSCAL", 1.0, "Background scaling factor")?;
    f.key_f64(hdu, "CORRSCAL", 0.0, "Correction scaling factor")?;
    f.key_str(hdu, "BACKFILE", NO_FILE, "Rates are background-subtracted")?;
    f.key_str(hdu, "CORRFILE", NO_FILE, "No correction file")?;
    f.legal_range(hdu, channel_column, 1, n_channels as i64)
}

/// Writes `spectrum` to `path` as an OGIP PHA type I file, with `RESPFILE` and `ANCRFILE`
/// `'NONE'`; see [`write_pha_with_responses`] to name response files, and
/// [`write_spectrum_files`] to write them too.
///
/// # Errors
/// As [`write_pha_with_responses`].
pub fn write_pha(path: &Path, spectrum: &Spectrum) -> Result<()> {
    write_pha_with_responses(path, spectrum, &ResponseFiles::default())
}

/// Writes `spectrum` to `path` as an OGIP PHA type I file whose `RESPFILE` and `ANCRFILE` are
/// `responses` (names relative to the directory of `path`; the files themselves are not
/// written here).
///
/// Extension `SPECTRUM` holds CHANNEL (1J, 1..=n), RATE and STAT_ERR (1E, counts/s), SYS_ERR
/// (1E, fraction), QUALITY and GROUPING (1I), with the OGIP keywords (`HDUCLAS1 = 'SPECTRUM'`,
/// `HDUCLAS2 = 'NET'`, `HDUCLAS3 = 'RATE'`, `HDUVERS = '1.2.1'`, OBJECT, EXPOSURE, TSTART and
/// TSTOP in IJD, ...) and `OSA_VERS`. Extension `EBOUNDS` gives the channel energies. The write
/// is atomic, creates missing parent directories and gives the same bytes for the same input.
///
/// # Errors
/// [`Error::Fits`] when the spectrum is inconsistent (vectors of different lengths, channel
/// bounds not finite and increasing, a non-positive exposure, a negative systematic error,
/// TSTOP before TSTART), when the source name or a file name does not fit a FITS header card
/// (printable ASCII, 68 characters), or when cfitsio fails; [`Error::Io`] when the directory
/// cannot be created or the file renamed.
pub fn write_pha_with_responses(
    path: &Path,
    spectrum: &Spectrum,
    responses: &ResponseFiles,
) -> Result<()> {
    check_spectrum(spectrum)
        .and_then(|()| check_responses(responses))
        .map_err(|m| Error::fits(path, format!("cannot write the spectrum: {m}")))?;
    let s = spectrum;
    let n = s.n_channels();
    let columns = [
        Column::new("CHANNEL", ColumnDataType::Int, 1, ""),
        Column::new("RATE", ColumnDataType::Float, 1, "counts/s"),
        Column::new("STAT_ERR", ColumnDataType::Float, 1, "counts/s"),
        Column::new("SYS_ERR", ColumnDataType::Float, 1, ""),
        Column::new("QUALITY", ColumnDataType::Short, 1, ""),
        Column::new("GROUPING", ColumnDataType::Short, 1, ""),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table(&s.detector.spectrum_extname(), &columns)?;
        spectrum_keys(f, &hdu, n, false, 1, s.detector)?;
        f.key_str(&hdu, "OBJECT", &s.source, "Source name")?;
        f.key_f64(&hdu, "EXPOSURE", s.exposure, "[s] Live exposure")?;
        f.key_str(
            &hdu,
            "RESPFILE",
            file_key(responses.rmf.as_deref()),
            "Redistribution matrix",
        )?;
        f.key_str(
            &hdu,
            "ANCRFILE",
            file_key(responses.arf.as_deref()),
            "Ancillary response",
        )?;
        time_keys(f, &hdu, s.time_range.0, s.time_range.1)?;
        f.key_str(
            &hdu,
            "OSA_VERS",
            s.osa_version.name(),
            "OSA version that calibrated the rates",
        )?;
        let channel: Vec<i32> = (1..=n as i32).collect();
        f.column(&hdu, "CHANNEL", &channel)?;
        f.column(&hdu, "RATE", &to_f32(&s.rate))?;
        f.column(&hdu, "STAT_ERR", &to_f32(&s.stat_err))?;
        f.column(&hdu, "SYS_ERR", &vec![s.sys_err as f32; n])?;
        f.column(&hdu, "QUALITY", &quality(s))?;
        f.column(&hdu, "GROUPING", &vec![1i16; n])?;
        write_ebounds(f, &s.e_min, &s.e_max, s.detector)
    })
}

/// Writes `spectrum` with its response as `<stem>_pha.fits`, `<stem>_rmf.fits` and
/// `<stem>_arf.fits` in `dir` (created if missing); the PHA's `RESPFILE` and `ANCRFILE` name the
/// other two. Each file is written atomically, the PHA last.
///
/// # Errors
/// [`Error::Fits`] naming the PHA file when the spectrum has no RMF or no ARF, when its channels
/// are not the RMF's, when the ARF's energy bins are not the RMF's, when `stem` is empty or
/// contains a path separator or characters a FITS header cannot hold; otherwise the errors of
/// [`write_rmf`], [`write_arf`] and [`write_pha_with_responses`].
pub fn write_spectrum_files(dir: &Path, stem: &str, spectrum: &Spectrum) -> Result<SpectrumFiles> {
    let names = ["pha", "rmf", "arf"].map(|kind| format!("{stem}_{kind}.fits"));
    let files = SpectrumFiles {
        pha: dir.join(&names[0]),
        rmf: dir.join(&names[1]),
        arf: dir.join(&names[2]),
    };
    let fail = |m: String| Error::fits(&files.pha, format!("cannot write the spectrum files: {m}"));
    if stem.is_empty() || stem.contains(['/', '\\']) {
        return Err(fail(format!(
            "the file stem {stem:?} must be a non-empty name without path separators"
        )));
    }
    let responses = ResponseFiles {
        rmf: Some(names[1].clone()),
        arf: Some(names[2].clone()),
    };
    check_responses(&responses).map_err(fail)?;
    check_spectrum(spectrum).map_err(fail)?;
    let what = |r: &str| {
        format!(
            "the spectrum of {:?} has no {r} (its `{}` is None)",
            spectrum.source,
            r.to_lowercase()
        )
    };
    let rmf = spectrum.rmf.as_ref().ok_or_else(|| fail(what("RMF")))?;
    let arf = spectrum.arf.as_ref().ok_or_else(|| fail(what("ARF")))?;
    if let Some(m) = grid_mismatch(
        ("the spectrum", &spectrum.e_min, &spectrum.e_max),
        ("its RMF", &rmf.e_min, &rmf.e_max),
        "channel",
    ) {
        return Err(fail(m));
    }
    if let Some(m) = rmf_arf_mismatch(rmf, arf) {
        return Err(fail(m));
    }
    write_rmf_for(&files.rmf, rmf, spectrum.detector)?;
    write_arf_for(&files.arf, arf, spectrum.detector)?;
    write_pha_with_responses(&files.pha, spectrum, &responses)?;
    Ok(files)
}

/// Writes `spectra` to `path` as one OGIP PHA type II file (`HDUCLAS4 = 'TYPE:II'`), one row per
/// spectrum, with `RESPFILE` and `ANCRFILE` `'NONE'`; see [`write_pha_type2_with_responses`].
///
/// # Errors
/// As [`write_pha_type2_with_responses`].
pub fn write_pha_type2(path: &Path, spectra: &[Spectrum]) -> Result<()> {
    write_pha_type2_with_responses(
        path,
        spectra,
        &vec![ResponseFiles::default(); spectra.len()],
    )
}

/// Writes `spectra` to `path` as one OGIP PHA type II file, spectrum `k` naming the response
/// files `responses[k]` (relative to the directory of `path`).
///
/// Extension `SPECTRUM` has one row per spectrum: SPEC_NUM (1J, from 1), CHANNEL, RATE,
/// STAT_ERR, SYS_ERR, QUALITY and GROUPING as vectors of `DETCHANS` values, EXPOSURE (s),
/// TSTART and TSTOP (IJD) and OBJECT. `OSA_VERS`, `RESPFILE` and `ANCRFILE` are header keywords
/// when all rows share them, columns otherwise. The header's TSTART and TSTOP span all rows.
/// Extension `EBOUNDS` gives the common channel energies.
///
/// # Errors
/// [`Error::Fits`] when there are no spectra, when `responses` does not have one entry per
/// spectrum, when a spectrum is inconsistent (see [`write_pha_with_responses`]) or its channels
/// differ from the first spectrum's (the message names the first mismatch), or when cfitsio
/// fails; [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_pha_type2_with_responses(
    path: &Path,
    spectra: &[Spectrum],
    responses: &[ResponseFiles],
) -> Result<()> {
    let fail = |m: String| Error::fits(path, format!("cannot write the type II spectra: {m}"));
    let Some(first) = spectra.first() else {
        return Err(fail("there are no spectra".into()));
    };
    if responses.len() != spectra.len() {
        return Err(fail(format!(
            "{} response file entries for {} spectra",
            responses.len(),
            spectra.len()
        )));
    }
    let label = |k: usize| format!("spectrum {} ({})", k + 1, spectra[k].source);
    for (k, (s, r)) in spectra.iter().zip(responses).enumerate() {
        check_spectrum(s)
            .and_then(|()| check_responses(r))
            .map_err(|m| fail(format!("{}: {m}", label(k))))?;
        if let Some(m) = grid_mismatch(
            (&label(0), &first.e_min, &first.e_max),
            (&label(k), &s.e_min, &s.e_max),
            "channel",
        ) {
            return Err(fail(format!(
                "all spectra must share the channel grid: {m}"
            )));
        }
    }
    let n = first.n_channels();
    let rows = spectra.len();

    let text = |v: Vec<String>| {
        let width = v.iter().map(String::len).max().unwrap_or(0).max(1);
        let common = v.iter().all(|x| *x == v[0]).then(|| v[0].clone());
        (v, width, common)
    };
    let (object, object_width, _) = text(spectra.iter().map(|s| s.source.clone()).collect());
    let (osa, osa_width, osa_common) = text(
        spectra
            .iter()
            .map(|s| s.osa_version.name().to_string())
            .collect(),
    );
    let (respfile, resp_width, resp_common) = text(
        responses
            .iter()
            .map(|r| file_key(r.rmf.as_deref()).to_string())
            .collect(),
    );
    let (ancrfile, ancr_width, ancr_common) = text(
        responses
            .iter()
            .map(|r| file_key(r.arf.as_deref()).to_string())
            .collect(),
    );

    let mut columns = vec![
        Column::new("SPEC_NUM", ColumnDataType::Int, 1, ""),
        Column::new("CHANNEL", ColumnDataType::Int, n, ""),
        Column::new("RATE", ColumnDataType::Float, n, "counts/s"),
        Column::new("STAT_ERR", ColumnDataType::Float, n, "counts/s"),
        Column::new("SYS_ERR", ColumnDataType::Float, n, ""),
        Column::new("QUALITY", ColumnDataType::Short, n, ""),
        Column::new("GROUPING", ColumnDataType::Short, n, ""),
        Column::new("EXPOSURE", ColumnDataType::Double, 1, "s"),
        Column::new("TSTART", ColumnDataType::Double, 1, "d"),
        Column::new("TSTOP", ColumnDataType::Double, 1, "d"),
        Column::new("OBJECT", ColumnDataType::String, object_width, ""),
    ];
    if osa_common.is_none() {
        columns.push(Column::new(
            "OSA_VERS",
            ColumnDataType::String,
            osa_width,
            "",
        ));
    }
    if resp_common.is_none() {
        columns.push(Column::new(
            "RESPFILE",
            ColumnDataType::String,
            resp_width,
            "",
        ));
    }
    if ancr_common.is_none() {
        columns.push(Column::new(
            "ANCRFILE",
            ColumnDataType::String,
            ancr_width,
            "",
        ));
    }

    let flat = |f: fn(&Spectrum) -> &[f64]| -> Vec<f32> {
        spectra.iter().flat_map(|s| to_f32(f(s))).collect()
    };
    let scalar = |f: fn(&Spectrum) -> f64| -> Vec<f64> { spectra.iter().map(f).collect() };
    let tstart = spectra
        .iter()
        .map(|s| s.time_range.0)
        .fold(f64::INFINITY, f64::min);
    let tstop = spectra
        .iter()
        .map(|s| s.time_range.1)
        .fold(f64::NEG_INFINITY, f64::max);

    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table("SPECTRUM", &columns)?;
        spectrum_keys(f, &hdu, n, true, 2, first.detector)?;
        if let Some(v) = &resp_common {
            f.key_str(&hdu, "RESPFILE", v, "Redistribution matrix of every row")?;
        }
        if let Some(v) = &ancr_common {
            f.key_str(&hdu, "ANCRFILE", v, "Ancillary response of every row")?;
        }
        time_keys(f, &hdu, tstart, tstop)?;
        if let Some(v) = &osa_common {
            f.key_str(&hdu, "OSA_VERS", v, "OSA version that calibrated the rates")?;
        }
        let spec_num: Vec<i32> = (1..=rows as i32).collect();
        f.column(&hdu, "SPEC_NUM", &spec_num)?;
        let channel: Vec<i32> = (0..rows).flat_map(|_| 1..=n as i32).collect();
        f.column(&hdu, "CHANNEL", &channel)?;
        f.column(&hdu, "RATE", &flat(|s| &s.rate))?;
        f.column(&hdu, "STAT_ERR", &flat(|s| &s.stat_err))?;
        let sys: Vec<f32> = spectra
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.sys_err as f32, n))
            .collect();
        f.column(&hdu, "SYS_ERR", &sys)?;
        let q: Vec<i16> = spectra.iter().flat_map(quality).collect();
        f.column(&hdu, "QUALITY", &q)?;
        f.column(&hdu, "GROUPING", &vec![1i16; rows * n])?;
        f.column(&hdu, "EXPOSURE", &scalar(|s| s.exposure))?;
        f.column(&hdu, "TSTART", &scalar(|s| s.time_range.0))?;
        f.column(&hdu, "TSTOP", &scalar(|s| s.time_range.1))?;
        f.string_column(&hdu, "OBJECT", &object)?;
        if osa_common.is_none() {
            f.string_column(&hdu, "OSA_VERS", &osa)?;
        }
        if resp_common.is_none() {
            f.string_column(&hdu, "RESPFILE", &respfile)?;
        }
        if ancr_common.is_none() {
            f.string_column(&hdu, "ANCRFILE", &ancrfile)?;
        }
        write_ebounds(f, &first.e_min, &first.e_max, first.detector)
    })
}

/// True when the `SPECTRUM` table holds type II spectra (one per row).
fn is_type2(t: &Table<'_>, f: &mut FitsFile) -> Result<bool> {
    let class4 = t.optional_text(f, "HDUCLAS4")?;
    Ok(class4.is_some_and(|c| c.eq_ignore_ascii_case("TYPE:II")) || t.repeat("RATE")? > 1)
}

/// Parses an `OSA_VERS` value.
fn osa_version(t: &Table<'_>, value: &str) -> Result<OsaVersion> {
    value.parse().map_err(|_| {
        t.error(format!(
            "OSA_VERS = {value:?} is not an OSA version (OSA10.2, OSA11.0 or OSA11.2)"
        ))
    })
}

/// The one systematic fraction of `values` (the SYS_ERR of every channel), or an error when
/// they differ.
fn common_sys_err(t: &Table<'_>, where_: &str, values: &[f64]) -> Result<f64> {
    let first = values.first().copied().unwrap_or(0.0);
    match values.iter().position(|v| *v != first) {
        None => Ok(first),
        Some(j) => Err(t.error(format!(
            "{where_}SYS_ERR varies between channels ({first} in the first, {} in channel {}); \
             a Spectrum holds one systematic fraction",
            values[j],
            j + 1
        ))),
    }
}

/// Loads the response files that PHA rows name, each file once.
struct ResponseLoader<'a> {
    pha: &'a Path,
    rmfs: HashMap<String, (Rmf, i64)>,
    arfs: HashMap<String, Arf>,
}

impl<'a> ResponseLoader<'a> {
    fn new(pha: &'a Path) -> Self {
        ResponseLoader {
            pha,
            rmfs: HashMap::new(),
            arfs: HashMap::new(),
        }
    }

    /// The RMF `RESPFILE = value` names, with its first channel number; `None` for `NONE`.
    fn rmf(&mut self, value: Option<&str>) -> Result<Option<(Rmf, i64)>> {
        let Some(file) = referenced_file(self.pha, value) else {
            return Ok(None);
        };
        let value = value.unwrap_or_default().trim().to_string();
        if let Some(r) = self.rmfs.get(&value) {
            return Ok(Some(r.clone()));
        }
        let loaded = fits::guard(&file, || {
            let mut f = fits::open_readonly(&file)?;
            read_rmf_from(&mut f, &file)
        })
        .map_err(|e| referenced_error(self.pha, "RESPFILE", &value, e))?;
        self.rmfs.insert(value, loaded.clone());
        Ok(Some(loaded))
    }

    /// The ARF `ANCRFILE = value` names; `None` for `NONE`.
    fn arf(&mut self, value: Option<&str>) -> Result<Option<Arf>> {
        let Some(file) = referenced_file(self.pha, value) else {
            return Ok(None);
        };
        let value = value.unwrap_or_default().trim().to_string();
        if let Some(a) = self.arfs.get(&value) {
            return Ok(Some(a.clone()));
        }
        let loaded = super::read_arf(&file)
            .map_err(|e| referenced_error(self.pha, "ANCRFILE", &value, e))?;
        self.arfs.insert(value, loaded.clone());
        Ok(Some(loaded))
    }
}

/// The energy bounds of the channels numbered `channels` (consecutive), from the file's own
/// `EBOUNDS` and/or the RMF (with its first channel number), which must agree.
fn channel_bounds(
    t: &Table<'_>,
    where_: &str,
    channels: &[i64],
    ebounds: Option<&Ebounds>,
    rmf: Option<&(Rmf, i64)>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (first, n) = (channels[0], channels.len());
    let own = match ebounds {
        Some(eb) => {
            let start = first - eb.first_channel;
            if start < 0 || start as usize + n > eb.e_min.len() {
                return Err(t.error(format!(
                    "{where_}channels {first} .. {} are not all in EBOUNDS ({} .. {})",
                    channels[n - 1],
                    eb.first_channel,
                    eb.first_channel + eb.e_min.len() as i64 - 1
                )));
            }
            let r = start as usize..start as usize + n;
            Some((eb.e_min[r.clone()].to_vec(), eb.e_max[r].to_vec()))
        }
        None => None,
    };
    if let Some((rmf, rmf_first)) = rmf {
        if *rmf_first != first || rmf.n_channels() != n {
            return Err(t.error(format!(
                "{where_}the spectrum has channels {first} .. {} but its RMF (RESPFILE) has \
                 {rmf_first} .. {}",
                channels[n - 1],
                rmf_first + rmf.n_channels() as i64 - 1
            )));
        }
        if let Some((lo, hi)) = &own
            && let Some(m) = grid_mismatch(
                ("the EBOUNDS of the spectrum file", lo, hi),
                ("the RMF", &rmf.e_min, &rmf.e_max),
                "channel",
            )
        {
            return Err(t.error(format!("{where_}{m}")));
        }
    }
    match (own, rmf) {
        (Some(bounds), _) => Ok(bounds),
        (None, Some((rmf, _))) => Ok((rmf.e_min.clone(), rmf.e_max.clone())),
        (None, None) => Err(t.error(format!(
            "{where_}no channel energies: the file has no EBOUNDS extension and RESPFILE is NONE"
        ))),
    }
}

/// Reads an OGIP PHA type I file of count rates, such as [`write_pha`] writes, with the
/// response files it names.
///
/// `RESPFILE` and `ANCRFILE`, unless `'NONE'`, are loaded (relative to the PHA file's directory)
/// into the spectrum's `rmf` and `arf`. Channel energies come from the file's `EBOUNDS`
/// extension, or from the RMF when the file has none; when both exist they must agree. The
/// systematic error is the SYS_ERR column (the same in every channel) or keyword, 0 when
/// absent. `QUALITY` is not applied: the values of bad channels are returned as stored.
///
/// # Errors
/// [`Error::Fits`] naming the file and the problem when it cannot be read (with cfitsio's
/// message), is a type II file, lacks the `SPECTRUM` extension, a column (CHANNEL, RATE,
/// STAT_ERR) or a keyword (EXPOSURE, TSTART, TSTOP, OSA_VERS), has non-consecutive channels, a
/// SYS_ERR that varies, channels that the energies or the RMF do not cover, or when a response
/// file it names cannot be read (the message names both files).
pub fn read_pha(path: &Path) -> Result<Spectrum> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let f = &mut f;
        let t = Table::require(f, path, &SPECTRUM_EXTNAMES, "an OGIP spectrum")?;
        t.require_columns(&["CHANNEL", "RATE", "STAT_ERR"])?;
        if is_type2(&t, f)? {
            return Err(t.error(
                "this is a PHA type II file (one spectrum per row): read it with read_pha_type2",
            ));
        }
        let channels = t.i64_values(f, "CHANNEL", Some(1))?;
        if channels.is_empty() {
            return Err(t.error("the spectrum has no channels"));
        }
        check_consecutive(&channels).map_err(|m| t.error(m))?;
        let rate = t.f64_values(f, "RATE", Some(1))?;
        let stat_err = t.f64_values(f, "STAT_ERR", Some(1))?;
        let sys_err = if t.has_column("SYS_ERR") {
            common_sys_err(&t, "", &t.f64_values(f, "SYS_ERR", Some(1))?)?
        } else {
            t.optional_key::<f64>(f, "SYS_ERR")?.unwrap_or(0.0)
        };
        let exposure = t.finite_key(f, "EXPOSURE")?;
        let time_range = (t.finite_key(f, "TSTART")?, t.finite_key(f, "TSTOP")?);
        let source = t.optional_text(f, "OBJECT")?.unwrap_or_default();
        let osa: String = t.key(f, "OSA_VERS")?;
        let osa_version = osa_version(&t, osa.trim())?;
        let respfile = t.optional_text(f, "RESPFILE")?;
        let ancrfile = t.optional_text(f, "ANCRFILE")?;
        let ebounds = read_ebounds(f, path)?;
        let detector = detector_of(&t, f)?;

        let mut loader = ResponseLoader::new(path);
        let rmf = loader.rmf(respfile.as_deref())?;
        let arf = loader.arf(ancrfile.as_deref())?;
        let (e_min, e_max) = channel_bounds(&t, "", &channels, ebounds.as_ref(), rmf.as_ref())?;
        Ok(Spectrum {
            source,
            e_min,
            e_max,
            rate,
            stat_err,
            sys_err,
            exposure,
            time_range,
            osa_version,
            arf,
            rmf: rmf.map(|(r, _)| r),
            detector,
        })
    })
}

/// The extensions a spectrum is read from: OGIP's `SPECTRUM` and OSA's JEM-X names.
const SPECTRUM_EXTNAMES: [&str; 3] = ["SPECTRUM", "JMX1-PHA1-SPE", "JMX2-PHA1-SPE"];

/// The detector a spectrum's `INSTRUME` and `DETNAM` name (ISGRI when they name none known).
fn detector_of(t: &Table<'_>, f: &mut FitsFile) -> Result<Detector> {
    let instrume = t.optional_text(f, "INSTRUME")?;
    let detnam = t.optional_text(f, "DETNAM")?;
    Ok(instrume
        .and_then(|i| Detector::from_keywords(&i, detnam.as_deref()))
        .unwrap_or_default())
}

/// A per-row quantity of a type II table: the column `name` if there is one, else the keyword
/// repeated for every row, else `None`.
fn per_row_f64(t: &Table<'_>, f: &mut FitsFile, name: &str) -> Result<Option<Vec<f64>>> {
    if t.has_column(name) {
        return t.f64_values(f, name, Some(1)).map(Some);
    }
    Ok(t.optional_key::<f64>(f, name)?
        .map(|v| vec![v; t.num_rows()]))
}

/// A per-row text of a type II table: the column `name`, else the keyword, else `None`.
fn per_row_text(t: &Table<'_>, f: &mut FitsFile, name: &str) -> Result<Option<Vec<String>>> {
    if t.has_column(name) {
        return t.string_values(f, name).map(Some);
    }
    Ok(t.optional_text(f, name)?.map(|v| vec![v; t.num_rows()]))
}

/// Reads an OGIP PHA type II file of count rates, such as [`write_pha_type2`] writes: one
/// [`Spectrum`] per row, in row order, with the response files each row names (each file is
/// read once).
///
/// Per-row quantities (EXPOSURE, TSTART, TSTOP, OBJECT, OSA_VERS, RESPFILE, ANCRFILE, SYS_ERR)
/// are read from a column when there is one, else from the header keyword.
///
/// # Errors
/// [`Error::Fits`] as for [`read_pha`], naming the row; also when the file is a type I file or
/// the vector columns do not all hold the same number of channels.
pub fn read_pha_type2(path: &Path) -> Result<Vec<Spectrum>> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let f = &mut f;
        let t = Table::require(f, path, &SPECTRUM_EXTNAMES, "OGIP spectra")?;
        t.require_columns(&["CHANNEL", "RATE", "STAT_ERR"])?;
        if !is_type2(&t, f)? {
            return Err(t.error("this is a PHA type I file (one spectrum): read it with read_pha"));
        }
        let n = t.repeat("RATE")?;
        let rows = t.num_rows();
        let channels = t.i64_values(f, "CHANNEL", Some(n))?;
        let rate = t.f64_values(f, "RATE", Some(n))?;
        let stat_err = t.f64_values(f, "STAT_ERR", Some(n))?;
        let sys_err = if t.has_column("SYS_ERR") {
            let per_row = t.repeat("SYS_ERR")?;
            if per_row != n && per_row != 1 {
                return Err(t.error(format!(
                    "column SYS_ERR holds {per_row} values per row, neither 1 nor {n}"
                )));
            }
            let values = t.f64_values(f, "SYS_ERR", Some(per_row))?;
            values
                .chunks(per_row)
                .enumerate()
                .map(|(k, v)| common_sys_err(&t, &format!("row {}: ", k + 1), v))
                .collect::<Result<Vec<f64>>>()?
        } else {
            vec![t.optional_key::<f64>(f, "SYS_ERR")?.unwrap_or(0.0); rows]
        };
        let required = |v: Option<Vec<f64>>, name: &str| {
            v.ok_or_else(|| t.error(format!("missing column or keyword {name}")))
        };
        let exposure = required(per_row_f64(&t, f, "EXPOSURE")?, "EXPOSURE")?;
        let tstart = required(per_row_f64(&t, f, "TSTART")?, "TSTART")?;
        let tstop = required(per_row_f64(&t, f, "TSTOP")?, "TSTOP")?;
        let object = per_row_text(&t, f, "OBJECT")?.unwrap_or_else(|| vec![String::new(); rows]);
        let osa = per_row_text(&t, f, "OSA_VERS")?
            .ok_or_else(|| t.error("missing column or keyword OSA_VERS"))?;
        let respfile = per_row_text(&t, f, "RESPFILE")?;
        let ancrfile = per_row_text(&t, f, "ANCRFILE")?;
        let ebounds = read_ebounds(f, path)?;
        let detector = detector_of(&t, f)?;

        let mut loader = ResponseLoader::new(path);
        let mut spectra = Vec::with_capacity(rows);
        for k in 0..rows {
            let where_ = format!("row {}: ", k + 1);
            let row = k * n..(k + 1) * n;
            let ch = &channels[row.clone()];
            check_consecutive(ch).map_err(|m| t.error(format!("{where_}{m}")))?;
            for (name, v) in [
                ("EXPOSURE", exposure[k]),
                ("TSTART", tstart[k]),
                ("TSTOP", tstop[k]),
            ] {
                if !v.is_finite() {
                    return Err(t.error(format!("{where_}{name} = {v} is not finite")));
                }
            }
            let rmf = loader.rmf(respfile.as_ref().map(|v| v[k].as_str()))?;
            let arf = loader.arf(ancrfile.as_ref().map(|v| v[k].as_str()))?;
            let (e_min, e_max) = channel_bounds(&t, &where_, ch, ebounds.as_ref(), rmf.as_ref())?;
            spectra.push(Spectrum {
                source: object[k].clone(),
                e_min,
                e_max,
                rate: rate[row.clone()].to_vec(),
                stat_err: stat_err[row].to_vec(),
                sys_err: sys_err[k],
                exposure: exposure[k],
                time_range: (tstart[k], tstop[k]),
                osa_version: osa_version(&t, &osa[k])
                    .map_err(|e| t.error(format!("{where_}{e}")))?,
                arf,
                rmf: rmf.map(|(r, _)| r),
                detector,
            });
        }
        Ok(spectra)
    })
}

#[cfg(test)]
mod tests {
    use super::super::response::{write_arf, write_rmf};
    use super::super::testutil::*;
    use super::*;

    /// Asserts that a spectrum read back equals the one written, to 32-bit precision for the
    /// per-channel values and energies and exactly for the rest.
    fn assert_same(back: &Spectrum, s: &Spectrum) {
        assert_eq!(back.source, s.source);
        assert_close32("e_min", &back.e_min, &s.e_min);
        assert_close32("e_max", &back.e_max, &s.e_max);
        assert_close32("rate", &back.rate, &s.rate);
        assert_close32("stat_err", &back.stat_err, &s.stat_err);
        assert_eq!(back.sys_err, s.sys_err);
        assert_eq!(back.exposure, s.exposure);
        assert_eq!(back.time_range, s.time_range);
        assert_eq!(back.osa_version, s.osa_version);
    }

    fn assert_same_response(back: &Spectrum, s: &Spectrum) {
        let (a, b) = (back.rmf.as_ref().unwrap(), s.rmf.as_ref().unwrap());
        assert_close32("matrix", &a.matrix, &b.matrix);
        assert_close32("rmf energ_lo", &a.energ_lo, &b.energ_lo);
        let (a, b) = (back.arf.as_ref().unwrap(), s.arf.as_ref().unwrap());
        assert_close32("specresp", &a.specresp, &b.specresp);
        assert_close32("arf energ_hi", &a.energ_hi, &b.energ_hi);
    }

    #[test]
    fn spectrum_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spectrum(32);
        s.rate[3] = f64::NAN;
        s.stat_err[7] = 0.0;
        let files = write_spectrum_files(&dir.path().join("out"), "crab_2010", &s).unwrap();
        assert_eq!(files.pha, dir.path().join("out/crab_2010_pha.fits"));
        assert_eq!(files.rmf, dir.path().join("out/crab_2010_rmf.fits"));
        assert_eq!(files.arf, dir.path().join("out/crab_2010_arf.fits"));
        let back = read_pha(&files.pha).unwrap();
        assert_same(&back, &s);
        assert_same_response(&back, &s);

        // The header names the responses; QUALITY marks the two bad channels.
        let mut f = FitsFile::open(&files.pha).unwrap();
        let hdu = f.hdu("SPECTRUM").unwrap();
        let text = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        assert_eq!(text(&mut f, "RESPFILE"), "crab_2010_rmf.fits");
        assert_eq!(text(&mut f, "ANCRFILE"), "crab_2010_arf.fits");
        assert_eq!(text(&mut f, "OSA_VERS"), "OSA11.2");
        assert_eq!(text(&mut f, "HDUCLAS3"), "RATE");
        assert_eq!(text(&mut f, "TFORM1"), "1J");
        assert_eq!(text(&mut f, "TUNIT2"), "counts/s");
        assert!(!hdu.read_key::<bool>(&mut f, "POISSERR").unwrap());
        assert_eq!(hdu.read_key::<i64>(&mut f, "TLMIN1").unwrap(), 1);
        assert_eq!(hdu.read_key::<i64>(&mut f, "TLMAX1").unwrap(), 32);
        assert_eq!(hdu.read_key::<f64>(&mut f, "EXPOSURE").unwrap(), s.exposure);
        assert_eq!(hdu.read_key::<f64>(&mut f, "MJDREF").unwrap(), 51_544.0);
        let q: Vec<i16> = hdu.read_col(&mut f, "QUALITY").unwrap();
        let bad: Vec<usize> = (0..q.len()).filter(|&i| q[i] != 0).collect();
        assert_eq!(bad, vec![3, 7]);
        assert!(q.iter().all(|&v| v == 0 || v == 5));
        let g: Vec<i16> = hdu.read_col(&mut f, "GROUPING").unwrap();
        assert!(g.iter().all(|&v| v == 1));
    }

    #[test]
    fn pha_without_responses_reads_its_own_ebounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alone.fits");
        let s = spectrum(16);
        write_pha(&path, &s).unwrap();
        let back = read_pha(&path).unwrap();
        assert_same(&back, &s);
        assert!(back.rmf.is_none() && back.arf.is_none());
        // A gzip-compressed copy reads the same.
        let gz = dir.path().join("alone.fits.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        std::io::Write::write_all(&mut enc, &std::fs::read(&path).unwrap()).unwrap();
        enc.finish().unwrap();
        assert_eq!(read_pha(&gz).unwrap(), back);
        // Nice values come back exactly.
        let mut nice = spectrum(3);
        (nice.e_min, nice.e_max) = (vec![20.0, 30.0, 40.0], vec![30.0, 40.0, 60.0]);
        (nice.rate, nice.stat_err) = (vec![1.5, 0.25, -0.125], vec![0.1, 0.2, 0.3]);
        (nice.arf, nice.rmf) = (None, None);
        nice.sys_err = 0.02;
        write_pha(&path, &nice).unwrap();
        assert_eq!(read_pha(&path).unwrap(), nice);
    }

    #[test]
    fn responses_and_ebounds_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let s = spectrum(16);
        let files = write_spectrum_files(dir.path(), "x", &s).unwrap();
        // Without its own EBOUNDS the PHA takes the channel energies from the RMF.
        let (mut f, hdu) = edit(&files.pha, "EBOUNDS");
        hdu.delete(&mut f).unwrap();
        drop(f);
        let back = read_pha(&files.pha).unwrap();
        assert_same(&back, &s);
        // An RMF with other channels.
        write_rmf(&files.rmf, &rmf(8)).unwrap();
        let m = fits_message(read_pha(&files.pha).unwrap_err());
        assert!(
            m.contains("x_pha.fits")
                && m.contains("channels 1 .. 16 but its RMF (RESPFILE) has 1 .. 8"),
            "{m}"
        );
        // An RMF with the same number of channels but other energies.
        let files = write_spectrum_files(dir.path(), "y", &s).unwrap();
        let mut other = rmf(16);
        other.e_max[15] *= 1.5;
        write_rmf(&files.rmf, &other).unwrap();
        let m = fits_message(read_pha(&files.pha).unwrap_err());
        assert!(m.contains("channel 16 spans"), "{m}");
        // A missing response file: both files are named.
        std::fs::remove_file(&files.arf).unwrap();
        let m = fits_message(read_pha(&files.pha).unwrap_err());
        assert!(
            m.contains("y_pha.fits")
                && m.contains("cannot load ANCRFILE = 'y_arf.fits'")
                && m.contains("cannot open"),
            "{m}"
        );
    }

    #[test]
    fn missing_or_mismatched_responses_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spectrum(8);
        s.arf = None;
        let m = fits_message(write_spectrum_files(dir.path(), "a", &s).unwrap_err());
        assert!(m.contains("a_pha.fits") && m.contains("has no ARF"), "{m}");
        s.rmf = None;
        let m = fits_message(write_spectrum_files(dir.path(), "a", &s).unwrap_err());
        assert!(m.contains("has no RMF"), "{m}");
        let mut s = spectrum(8);
        s.rmf = Some(rmf(9));
        let m = fits_message(write_spectrum_files(dir.path(), "a", &s).unwrap_err());
        assert!(
            m.contains("the spectrum has 8 channels but its RMF has 9"),
            "{m}"
        );
        let mut s = spectrum(8);
        s.arf = Some(crate::instrument::response::fixtures::arf(&[20.0, 30.0]));
        let m = fits_message(write_spectrum_files(dir.path(), "a", &s).unwrap_err());
        assert!(
            m.contains("the RMF has 80 energy bins but the ARF has 1"),
            "{m}"
        );
        let m = fits_message(write_spectrum_files(dir.path(), "a/b", &spectrum(8)).unwrap_err());
        assert!(m.contains("path separators"), "{m}");
        let long = "x".repeat(70);
        let m = fits_message(write_spectrum_files(dir.path(), &long, &spectrum(8)).unwrap_err());
        assert!(m.contains("RESPFILE") && m.contains("68"), "{m}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut s = spectrum(8);
        s.exposure = 0.0;
        let m = fits_message(write_pha(&dir.path().join("p.fits"), &s).unwrap_err());
        assert!(m.contains("exposure 0 s"), "{m}");
        let mut s = spectrum(8);
        s.stat_err.pop();
        let m = fits_message(write_pha(&dir.path().join("p.fits"), &s).unwrap_err());
        assert!(m.contains("stat_err has 7 values for 8 channels"), "{m}");
        let mut s = spectrum(8);
        s.source = "Cyg X\u{2011}1".into();
        let m = fits_message(write_pha(&dir.path().join("p.fits"), &s).unwrap_err());
        assert!(m.contains("OBJECT") && m.contains("ASCII"), "{m}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let s = spectrum(64);
        let a = write_spectrum_files(&dir.path().join("a"), "s", &s).unwrap();
        let b = write_spectrum_files(&dir.path().join("b"), "s", &s).unwrap();
        for (x, y) in [(&a.pha, &b.pha), (&a.rmf, &b.rmf), (&a.arf, &b.arf)] {
            let bytes = std::fs::read(x).unwrap();
            assert_eq!(bytes, std::fs::read(y).unwrap(), "{}", x.display());
            assert_eq!(bytes.len() % 2880, 0);
        }
        let spectra = [spectrum(64), spectrum(64)];
        let (p, q) = (dir.path().join("p.fits"), dir.path().join("q.fits"));
        write_pha_type2(&p, &spectra).unwrap();
        write_pha_type2(&q, &spectra).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&q).unwrap());
        // Rewriting over an existing file gives the same bytes again.
        let before = std::fs::read(&a.pha).unwrap();
        write_spectrum_files(&dir.path().join("a"), "s", &s).unwrap();
        assert_eq!(before, std::fs::read(&a.pha).unwrap());
    }

    fn stack() -> Vec<Spectrum> {
        let mut spectra: Vec<Spectrum> = (0..3).map(|_| spectrum(24)).collect();
        for (k, s) in spectra.iter_mut().enumerate() {
            let k = k as f64;
            s.source = ["Crab", "Crab", "GX 301-2"][k as usize].into();
            s.exposure += 100.0 * k;
            s.time_range = (s.time_range.0 + k, s.time_range.1 + k);
            s.rate.iter_mut().for_each(|r| *r *= 1.0 + 0.1 * k);
            s.sys_err = 0.01 * (k + 1.0);
        }
        spectra[2].osa_version = OsaVersion::Osa10_2;
        spectra
    }

    #[test]
    fn type2_round_trips_with_common_and_per_row_responses() {
        let dir = tempfile::tempdir().unwrap();
        let spectra = stack();
        let path = dir.path().join("stack_pha2.fits");
        write_pha_type2(&path, &spectra).unwrap();
        let back = read_pha_type2(&path).unwrap();
        assert_eq!(back.len(), 3);
        for (b, s) in back.iter().zip(&spectra) {
            assert_same(b, s);
            assert!(b.rmf.is_none());
        }
        let mut f = FitsFile::open(&path).unwrap();
        let hdu = f.hdu("SPECTRUM").unwrap();
        let text = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        assert_eq!(text(&mut f, "HDUCLAS4"), "TYPE:II");
        assert_eq!(text(&mut f, "RESPFILE"), "NONE");
        assert_eq!(text(&mut f, "TFORM3"), "24E");
        assert_eq!(
            hdu.read_key::<f64>(&mut f, "TSTART").unwrap(),
            spectra[0].time_range.0
        );
        assert_eq!(
            hdu.read_key::<f64>(&mut f, "TSTOP").unwrap(),
            spectra[2].time_range.1
        );
        // OSA_VERS differs between rows: a column, not a keyword.
        assert!(hdu.read_key::<String>(&mut f, "OSA_VERS").is_err());
        drop(f);

        // Responses: a common ARF (a header keyword), one RMF per row (a column).
        let (r1, r2) = (rmf(24), rmf(24));
        write_rmf(&dir.path().join("r1.fits"), &r1).unwrap();
        write_rmf(&dir.path().join("r2.fits"), &r2).unwrap();
        write_arf(&dir.path().join("a.fits"), &arf()).unwrap();
        let responses: Vec<ResponseFiles> = ["r1.fits", "r2.fits", "r1.fits"]
            .iter()
            .map(|r| ResponseFiles {
                rmf: Some(r.to_string()),
                arf: Some("a.fits".into()),
            })
            .collect();
        write_pha_type2_with_responses(&path, &spectra, &responses).unwrap();
        let back = read_pha_type2(&path).unwrap();
        for (b, s) in back.iter().zip(&spectra) {
            assert_same(b, s);
            assert_same_response(b, s);
        }
        let mut f = FitsFile::open(&path).unwrap();
        let hdu = f.hdu("SPECTRUM").unwrap();
        assert_eq!(
            hdu.read_key::<String>(&mut f, "ANCRFILE").unwrap(),
            "a.fits"
        );
        assert!(hdu.read_key::<String>(&mut f, "RESPFILE").is_err());
        let files: Vec<String> = hdu.read_col(&mut f, "RESPFILE").unwrap();
        assert_eq!(files, ["r1.fits", "r2.fits", "r1.fits"]);

        // Each reader refuses the other type.
        let m = fits_message(read_pha(&path).unwrap_err());
        assert!(m.contains("type II") && m.contains("read_pha_type2"), "{m}");
        let one = dir.path().join("one.fits");
        write_pha(&one, &spectra[0]).unwrap();
        let m = fits_message(read_pha_type2(&one).unwrap_err());
        assert!(m.contains("type I file") && m.contains("read_pha"), "{m}");
    }

    #[test]
    fn type2_needs_one_channel_grid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.fits");
        let mut spectra = stack();
        spectra[2].e_max[4] += 0.5;
        spectra[2].e_min[5] += 0.5;
        let m = fits_message(write_pha_type2(&path, &spectra).unwrap_err());
        assert!(
            m.contains("stack.fits")
                && m.contains("all spectra must share the channel grid: channel 5 spans")
                && m.contains("in spectrum 1 (Crab) but")
                && m.contains("in spectrum 3 (GX 301-2)"),
            "{m}"
        );
        let mut spectra = stack();
        spectra[1] = spectrum(12);
        let m = fits_message(write_pha_type2(&path, &spectra).unwrap_err());
        assert!(
            m.contains("spectrum 1 (Crab) has 24 channels but spectrum 2 (Crab) has 12"),
            "{m}"
        );
        let m = fits_message(write_pha_type2(&path, &[]).unwrap_err());
        assert!(m.contains("no spectra"), "{m}");
        let m = fits_message(
            write_pha_type2_with_responses(&path, &stack(), &[ResponseFiles::default()])
                .unwrap_err(),
        );
        assert!(m.contains("1 response file entries for 3 spectra"), "{m}");
        assert!(!path.exists());
    }

    #[test]
    fn damaged_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_spectrum_files(dir.path(), "d", &spectrum(256)).unwrap();
        let bytes = std::fs::read(&files.pha).unwrap();
        let truncated = dir.path().join("truncated_pha.fits");
        std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let m = fits_message(read_pha(&truncated).unwrap_err());
        assert!(
            m.contains("truncated_pha.fits") && m.contains("the file is truncated"),
            "{m}"
        );
        let header_only = dir.path().join("header_only.fits");
        std::fs::write(&header_only, &bytes[..2880 * 2]).unwrap();
        let m = fits_message(read_pha(&header_only).unwrap_err());
        assert!(m.contains("header_only.fits"), "{m}");
        let m = fits_message(read_pha(&dir.path().join("missing.fits")).unwrap_err());
        assert!(
            m.contains("missing.fits") && m.contains("cannot open"),
            "{m}"
        );
        let m = fits_message(read_pha(&files.rmf).unwrap_err());
        assert!(m.contains("no SPECTRUM or JMX1-PHA1-SPE"), "{m}");

        let check = |edit_file: &dyn Fn(&Path), expected: &str| {
            let files = write_spectrum_files(dir.path(), "e", &spectrum(16)).unwrap();
            edit_file(&files.pha);
            let m = fits_message(read_pha(&files.pha).unwrap_err());
            assert!(
                m.contains("e_pha.fits") && m.contains(expected),
                "{m:?} should contain {expected:?}"
            );
        };
        check(
            &|p| delete_key(p, "SPECTRUM", "EXPOSURE"),
            "extension SPECTRUM: missing keyword EXPOSURE",
        );
        check(
            &|p| set_key(p, "SPECTRUM", "OSA_VERS", "OSA9"),
            "OSA_VERS = \"OSA9\" is not an OSA version",
        );
        check(
            &|p| {
                let (mut f, hdu) = edit(p, "SPECTRUM");
                hdu.write_col_range(&mut f, "CHANNEL", &[7i32], &(2..3))
                    .unwrap();
            },
            "CHANNEL is not consecutive: row 3 has channel 7 after 2",
        );
        check(
            &|p| {
                let (mut f, hdu) = edit(p, "SPECTRUM");
                hdu.write_col_range(&mut f, "SYS_ERR", &[0.5f32], &(4..5))
                    .unwrap();
            },
            "SYS_ERR varies between channels (0.01 in the first, 0.5 in channel 5)",
        );
        check(
            &|p| {
                let (mut f, hdu) = edit(p, "SPECTRUM");
                hdu.delete_column(&mut f, "STAT_ERR").unwrap();
            },
            "missing column STAT_ERR",
        );
        check(
            &|p| set_key(p, "SPECTRUM", "RESPFILE", "elsewhere_rmf.fits"),
            "cannot load RESPFILE = 'elsewhere_rmf.fits'",
        );
    }

    #[test]
    fn written_files_pass_the_astropy_checker() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spectrum(64);
        s.rate[0] = f64::NAN;
        let files = write_spectrum_files(dir.path(), "chk", &s).unwrap();
        // A stack of 24-channel spectra with one RMF per row and a common ARF.
        write_rmf(&dir.path().join("r24a.fits"), &rmf(24)).unwrap();
        write_rmf(&dir.path().join("r24b.fits"), &rmf(24)).unwrap();
        let responses = ["r24a.fits", "r24b.fits", "r24b.fits"].map(|r| ResponseFiles {
            rmf: Some(r.to_string()),
            arf: Some("chk_arf.fits".into()),
        });
        let pha2 = dir.path().join("chk_pha2.fits");
        write_pha_type2_with_responses(&pha2, &stack(), &responses).unwrap();
        for (kind, path) in [
            ("pha", &files.pha),
            ("rmf", &files.rmf),
            ("arf", &files.arf),
            ("pha2", &pha2),
        ] {
            match astropy_check(kind, path) {
                None => eprintln!("python3 with astropy not available: skipping the check"),
                Some((ok, out)) => assert!(ok, "{out}"),
            }
        }
        // The checker notices a broken file.
        set_key(&files.pha, "SPECTRUM", "HDUCLAS1", "IMAGE");
        if let Some((ok, out)) = astropy_check("pha", &files.pha) {
            assert!(!ok && out.contains("HDUCLAS1"), "{out}");
        }
    }
}
