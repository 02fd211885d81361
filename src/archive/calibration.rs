//! The calibration files of an archive: the instrument-characteristics tree `ic/` and its
//! index, as the analysis reads them (and the simulated archive's calibration team writes them).
//!
//! Layout below the archive root (one set per OSA version `VVV` = `102`, `110`, `112`; eras
//! numbered `NNNN` from 0001):
//!
//! | file | extensions | content |
//! |---|---|---|
//! | `idx/ic/ISGR-IC-IDX.fits` | `IC-IDX` (DS, FILE, OSA_VERS, VSTART, VSTOP) | what exists, for which version and time span |
//! | `ic/ibis/mod/isgr_effi_mod_NNNN.fits` | `ISGR-EFFI-MOD` image | pixel efficiency of an era (0 dead, 1 live) |
//! | `ic/ibis/bkg/isgr_back_bkg_VVV_NNNN.fits` | `ISGR-BACK-BKG` images, one per band (E_MIN, E_MAX) | blank-sky count rate per pixel, cts/s |
//! | `ic/ibis/mod/isgr_gain_mod_VVV.fits` | `ISGR-GAIN-MOD` (TIME, GAIN), `ISGR-THRS-MOD` (TIME, E_THRESH; THRWIDTH) | gain estimate and low threshold over time |
//! | `ic/ibis/rsp/isgr_rsp_mod_VVV.fits` | `ISGR-RESO-MOD` (ENERGY, FWHM), `ISGR-AREA-MOD` (ENERGY, AREA) | resolution and on-axis effective area |
//! | `ic/jmxN/rsp/jmxN_rsp_mod.fits` | `JMXN-AREA-MOD` (ENERGY, AREA), `JMXN-RESO-MOD` (ENERGY, FWHM) | JEM-X unit N's on-axis area and resolution (every version; not in the index) |
//!
//! Times are IJD (TT); VSTART/VSTOP bound an era's validity. Every file read is checksummed
//! (SHA-256): the checksums are the calibration's identity in every product's provenance.
//! A real archive (`ODA_ARCHIVE`) is read the same way; when it lacks files the error lists every
//! missing one.

use std::path::{Path, PathBuf};

use fitsio::FitsFile;
use fitsio::hdu::HduInfo;
use fitsio::tables::ColumnDataType;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::instrument::calibration::{BackgroundMap, Calibration, CalibrationFile, Era};
use crate::instrument::isgri::{DetectorMap, N_DETY, N_DETZ};
use crate::instrument::jemx::{JemxCalibration, JemxUnit};
use crate::osa::OsaVersion;

/// Path of the calibration index below an archive root.
pub const CALIBRATION_INDEX_PATH: &str = "idx/ic/ISGR-IC-IDX.fits";
const INDEX_EXTNAME: &str = "IC-IDX";
const DS_EFFI: &str = "ISGR-EFFI-MOD";
const DS_BACK: &str = "ISGR-BACK-BKG";
const DS_GAIN: &str = "ISGR-GAIN-MOD";
const DS_RSP: &str = "ISGR-RSP-MOD";
/// OSA_VERS of files valid for every version.
const ALL_VERSIONS: &str = "ALL";

/// The short tag of a version in file names: `102`, `110`, `112`.
fn tag(v: OsaVersion) -> String {
    v.name().trim_start_matches("OSA").replace('.', "")
}

/// One row of the index.
#[derive(Clone, Debug, PartialEq)]
struct IndexRow {
    ds: String,
    file: String,
    osa: String,
    vstart: f64,
    vstop: f64,
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Writes the calibrations of `versions` (sharing their eras' efficiency maps, which must be
/// equal) and the index below `root`. Every file is written atomically; the index last, so a
/// reader never sees an index naming a file not yet written.
///
/// # Errors
/// Invalid calibrations; calibrations whose eras differ; I/O errors.
pub fn write_calibration(root: &Path, calibrations: &[Calibration]) -> Result<()> {
    let Some(first) = calibrations.first() else {
        return Err(Error::invalid(
            "calibrations",
            "none",
            "at least one OSA version",
        ));
    };
    let mut rows = Vec::new();
    for (k, era) in first.eras.iter().enumerate() {
        let file = format!("ic/ibis/mod/isgr_effi_mod_{:04}.fits", k + 1);
        write_map_file(&root.join(&file), DS_EFFI, era, &[(None, &era.efficiency)])?;
        rows.push(IndexRow {
            ds: DS_EFFI.into(),
            file,
            osa: ALL_VERSIONS.into(),
            vstart: era.start,
            vstop: era.stop,
        });
    }
    for cal in calibrations {
        cal.validate()?;
        if cal.eras.len() != first.eras.len()
            || cal.eras.iter().zip(&first.eras).any(|(a, b)| {
                a.start != b.start || a.stop != b.stop || a.efficiency != b.efficiency
            })
        {
            return Err(Error::invalid(
                "calibrations",
                cal.osa_version.name(),
                "the same eras and efficiency maps for every version",
            ));
        }
        let t = tag(cal.osa_version);
        let osa = cal.osa_version.name().to_string();
        for (k, era) in cal.eras.iter().enumerate() {
            let file = format!("ic/ibis/bkg/isgr_back_bkg_{t}_{:04}.fits", k + 1);
            let maps: Vec<(Option<(f64, f64)>, &DetectorMap)> = era
                .background
                .iter()
                .map(|b| (Some((b.e_min, b.e_max)), &b.rate))
                .collect();
            write_map_file(&root.join(&file), DS_BACK, era, &maps)?;
            rows.push(IndexRow {
                ds: DS_BACK.into(),
                file,
                osa: osa.clone(),
                vstart: era.start,
                vstop: era.stop,
            });
        }
        let (start, stop) = (
            cal.eras.first().map_or(0.0, |e| e.start),
            cal.eras.last().map_or(0.0, |e| e.stop),
        );
        let file = format!("ic/ibis/mod/isgr_gain_mod_{t}.fits");
        write_tables(
            &root.join(&file),
            &[
                (
                    "ISGR-GAIN-MOD",
                    ["TIME", "GAIN"],
                    ["d", ""],
                    &cal.gain,
                    None,
                ),
                (
                    "ISGR-THRS-MOD",
                    ["TIME", "E_THRESH"],
                    ["d", "keV"],
                    &cal.threshold,
                    Some(("THRWIDTH", cal.threshold_width_kev)),
                ),
            ],
        )?;
        rows.push(IndexRow {
            ds: DS_GAIN.into(),
            file,
            osa: osa.clone(),
            vstart: start,
            vstop: stop,
        });
        let file = format!("ic/ibis/rsp/isgr_rsp_mod_{t}.fits");
        write_tables(
            &root.join(&file),
            &[
                (
                    "ISGR-RESO-MOD",
                    ["ENERGY", "FWHM"],
                    ["keV", "keV"],
                    &cal.resolution,
                    None,
                ),
                (
                    "ISGR-AREA-MOD",
                    ["ENERGY", "AREA"],
                    ["keV", "cm**2"],
                    &cal.area,
                    None,
                ),
            ],
        )?;
        rows.push(IndexRow {
            ds: DS_RSP.into(),
            file,
            osa,
            vstart: start,
            vstop: stop,
        });
    }
    write_index(&root.join(CALIBRATION_INDEX_PATH), &rows)
}

fn write_map_file(
    path: &Path,
    extname: &str,
    era: &Era,
    maps: &[(Option<(f64, f64)>, &DetectorMap)],
) -> Result<()> {
    fits::write_atomically(path, |f| {
        f.empty_primary()?;
        for (k, (band, map)) in maps.iter().enumerate() {
            let data: Vec<f32> = map.iter().map(|v| *v as f32).collect();
            let hdu = f.image_f32(extname, map.dim(), &data)?;
            f.key_int(&hdu, "EXTVER", k as i64 + 1, "band number")?;
            f.key_f64(&hdu, "VSTART", era.start, "validity start, IJD")?;
            f.key_f64(&hdu, "VSTOP", era.stop, "validity stop, IJD")?;
            if let Some((lo, hi)) = band {
                f.key_f64(&hdu, "E_MIN", *lo, "band lower edge, keV")?;
                f.key_f64(&hdu, "E_MAX", *hi, "band upper edge, keV")?;
                f.key_str(&hdu, "BUNIT", "count/s", "rate per pixel")?;
            }
        }
        Ok(())
    })
}

/// (EXTNAME, column names, units, rows, optional keyword).
type TableSpec<'a> = (
    &'a str,
    [&'static str; 2],
    [&'static str; 2],
    &'a [(f64, f64)],
    Option<(&'a str, f64)>,
);

fn write_tables(path: &Path, tables: &[TableSpec<'_>]) -> Result<()> {
    fits::write_atomically(path, |f| {
        f.empty_primary()?;
        for (extname, names, units, rows, key) in tables {
            let cols = [
                Column::new(names[0], ColumnDataType::Double, 1, units[0]),
                Column::new(names[1], ColumnDataType::Double, 1, units[1]),
            ];
            let hdu = f.table(extname, &cols)?;
            let a: Vec<f64> = rows.iter().map(|r| r.0).collect();
            let b: Vec<f64> = rows.iter().map(|r| r.1).collect();
            f.column(&hdu, names[0], &a)?;
            f.column(&hdu, names[1], &b)?;
            if let Some((k, v)) = key {
                f.key_f64(&hdu, k, *v, "")?;
            }
        }
        Ok(())
    })
}

fn write_index(path: &Path, rows: &[IndexRow]) -> Result<()> {
    let cols = [
        Column::new("DS", ColumnDataType::String, 16, ""),
        Column::new("FILE", ColumnDataType::String, 64, ""),
        Column::new("OSA_VERS", ColumnDataType::String, 8, ""),
        Column::new("VSTART", ColumnDataType::Double, 1, "d"),
        Column::new("VSTOP", ColumnDataType::Double, 1, "d"),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary()?;
        let hdu = f.table(INDEX_EXTNAME, &cols)?;
        f.key_str(&hdu, "TIMESYS", "TT", "Terrestrial Time")?;
        f.key_str(&hdu, "TIMEUNIT", "d", "VSTART, VSTOP in IJD")?;
        f.column(
            &hdu,
            "DS",
            &rows.iter().map(|r| r.ds.clone()).collect::<Vec<_>>(),
        )?;
        f.column(
            &hdu,
            "FILE",
            &rows.iter().map(|r| r.file.clone()).collect::<Vec<_>>(),
        )?;
        f.column(
            &hdu,
            "OSA_VERS",
            &rows.iter().map(|r| r.osa.clone()).collect::<Vec<_>>(),
        )?;
        f.column(
            &hdu,
            "VSTART",
            &rows.iter().map(|r| r.vstart).collect::<Vec<_>>(),
        )?;
        f.column(
            &hdu,
            "VSTOP",
            &rows.iter().map(|r| r.vstop).collect::<Vec<_>>(),
        )
    })
}

fn read_index(path: &Path) -> Result<Vec<IndexRow>> {
    let mut f = fits::open_readonly(path)?;
    let t = Table::require(&mut f, path, &[INDEX_EXTNAME], "the calibration index")?;
    t.require_columns(&["DS", "FILE", "OSA_VERS", "VSTART", "VSTOP"])?;
    let ds = t.string_values(&mut f, "DS")?;
    let file = t.string_values(&mut f, "FILE")?;
    let osa = t.string_values(&mut f, "OSA_VERS")?;
    let vstart = t.f64_values(&mut f, "VSTART", Some(1))?;
    let vstop = t.f64_values(&mut f, "VSTOP", Some(1))?;
    let mut rows = Vec::with_capacity(ds.len());
    for i in 0..ds.len() {
        if file[i].contains("..") || file[i].starts_with('/') {
            return Err(t.error(format!(
                "row {}: FILE {:?} leaves the archive",
                i + 1,
                file[i]
            )));
        }
        rows.push(IndexRow {
            ds: ds[i].clone(),
            file: file[i].clone(),
            osa: osa[i].clone(),
            vstart: vstart[i],
            vstop: vstop[i],
        });
    }
    Ok(rows)
}

/// The image extensions of a map file: (E_MIN, E_MAX when present, the map).
/// An image extension of a map file: its band (E_MIN, E_MAX) when it has one, and the map.
type BandMap = (Option<(f64, f64)>, DetectorMap);

fn read_maps(path: &Path) -> Result<Vec<BandMap>> {
    let mut f: FitsFile = fits::open_readonly(path)?;
    let mut out = Vec::new();
    for i in 1.. {
        let Ok(hdu) = f.hdu(i) else { break };
        let shape = match &hdu.info {
            HduInfo::ImageInfo { shape, .. } => shape.clone(),
            _ => continue,
        };
        if shape != [N_DETY, N_DETZ] {
            return Err(Error::fits(
                path,
                format!("extension {i}: a {shape:?} image, not the {N_DETY} × {N_DETZ} detector"),
            ));
        }
        let data: Vec<f32> = hdu
            .read_image(&mut f)
            .map_err(|e| Error::fits(path, format!("extension {i}: {e}")))?;
        let band = match (
            hdu.read_key::<f64>(&mut f, "E_MIN"),
            hdu.read_key::<f64>(&mut f, "E_MAX"),
        ) {
            (Ok(a), Ok(b)) => Some((a, b)),
            _ => None,
        };
        let data: Vec<f64> = data.into_iter().map(fits::f32_to_f64).collect();
        let map = DetectorMap::from_shape_vec((N_DETY, N_DETZ), data)
            .map_err(|e| Error::fits(path, format!("extension {i}: {e}")))?;
        out.push((band, map));
    }
    if out.is_empty() {
        return Err(Error::fits(path, "no image extension"));
    }
    Ok(out)
}

/// Rows of a two-column table and its optional THRWIDTH keyword.
type Pairs = (Vec<(f64, f64)>, Option<f64>);

fn read_pairs(path: &Path, extname: &str, names: [&str; 2]) -> Result<Pairs> {
    let mut f = fits::open_readonly(path)?;
    let t = Table::require(&mut f, path, &[extname], extname)?;
    t.require_columns(&names)?;
    let a = t.f64_values(&mut f, names[0], Some(1))?;
    let b = t.f64_values(&mut f, names[1], Some(1))?;
    let width = t.optional_key::<f64>(&mut f, "THRWIDTH")?;
    Ok((a.into_iter().zip(b).collect(), width))
}

/// Path below an archive root of JEM-X unit `unit`'s response file.
pub fn jemx_calibration_path(unit: JemxUnit) -> String {
    let n = unit.number();
    format!("ic/jmx{n}/rsp/jmx{n}_rsp_mod.fits")
}

/// Writes `calibration` (JEM-X's response) below `root` at [`jemx_calibration_path`]:
/// extensions `JMXn-AREA-MOD` (ENERGY keV, AREA cm²) and `JMXn-RESO-MOD` (ENERGY keV,
/// FWHM keV), atomically.
///
/// # Errors
/// Tables that do not pass [`JemxCalibration::check`]; I/O and FITS errors.
pub fn write_jemx_calibration(root: &Path, calibration: &JemxCalibration) -> Result<()> {
    let path = root.join(jemx_calibration_path(calibration.unit));
    calibration
        .check()
        .map_err(|m| Error::fits(&path, format!("cannot write the JEM-X response: {m}")))?;
    let name = calibration.unit.name();
    write_tables(
        &path,
        &[
            (
                &format!("{name}-AREA-MOD"),
                ["ENERGY", "AREA"],
                ["keV", "cm**2"],
                &calibration.area,
                None,
            ),
            (
                &format!("{name}-RESO-MOD"),
                ["ENERGY", "FWHM"],
                ["keV", "keV"],
                &calibration.resolution,
                None,
            ),
        ],
    )
}

/// Reads JEM-X unit `unit`'s response from the archive at `root` (checksummed, as ISGRI's).
///
/// # Errors
/// A missing file (the error names it and the setting `ODA_ARCHIVE`), tables that do not read
/// as the layout says or do not pass [`JemxCalibration::check`].
pub fn read_jemx_calibration(root: &Path, unit: JemxUnit) -> Result<JemxCalibration> {
    let file = jemx_calibration_path(unit);
    let path = root.join(&file);
    if !path.is_file() {
        return Err(Error::Setting {
            name: "ODA_ARCHIVE".into(),
            message: format!(
                "{} has no {unit} response: {file} is missing (see docs/calibration.md)",
                root.display()
            ),
        });
    }
    let name = unit.name();
    let (area, _) = read_pairs(&path, &format!("{name}-AREA-MOD"), ["ENERGY", "AREA"])?;
    let (resolution, _) = read_pairs(&path, &format!("{name}-RESO-MOD"), ["ENERGY", "FWHM"])?;
    let calibration = JemxCalibration {
        unit,
        area,
        resolution,
        files: vec![CalibrationFile {
            sha256: sha256_file(&path)?,
            path: file,
        }],
    };
    calibration
        .check()
        .map_err(|m| Error::fits(&path, format!("not a usable JEM-X response: {m}")))?;
    Ok(calibration)
}

/// Reads the calibration of `version` from the archive at `root`.
///
/// # Errors
/// A missing index or missing files (the error names the setting `ODA_ARCHIVE` and lists every
/// missing file), or files that do not read as the layout says.
pub fn read_calibration(root: &Path, version: OsaVersion) -> Result<Calibration> {
    let index_path = root.join(CALIBRATION_INDEX_PATH);
    if !index_path.exists() {
        return Err(Error::Setting {
            name: "ODA_ARCHIVE".into(),
            message: format!(
                "{} has no ISGRI calibration: {CALIBRATION_INDEX_PATH} is missing (see \
                 docs/calibration.md for the files the analysis needs)",
                root.display()
            ),
        });
    }
    let rows = read_index(&index_path)?;
    let osa = version.name();
    let mine = |ds: &str| -> Vec<&IndexRow> {
        let mut v: Vec<&IndexRow> = rows
            .iter()
            .filter(|r| r.ds == ds && (r.osa == osa || r.osa == ALL_VERSIONS))
            .collect();
        v.sort_by(|a, b| a.vstart.total_cmp(&b.vstart));
        v
    };
    let (effi, back, gain, rsp) = (mine(DS_EFFI), mine(DS_BACK), mine(DS_GAIN), mine(DS_RSP));
    let mut missing: Vec<String> = Vec::new();
    for (ds, list) in [
        (DS_EFFI, &effi),
        (DS_BACK, &back),
        (DS_GAIN, &gain),
        (DS_RSP, &rsp),
    ] {
        if list.is_empty() {
            missing.push(format!("{ds} for {osa} (not in the index)"));
        }
        for r in list.iter() {
            if !root.join(&r.file).is_file() {
                missing.push(r.file.clone());
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::Setting {
            name: "ODA_ARCHIVE".into(),
            message: format!(
                "{} lacks calibration files for {osa}: {}",
                root.display(),
                missing.join(", ")
            ),
        });
    }
    let mut files = Vec::new();
    let mut checksum = |p: &str| -> Result<PathBuf> {
        let path = root.join(p);
        files.push(CalibrationFile {
            path: p.to_string(),
            sha256: sha256_file(&path)?,
        });
        Ok(path)
    };
    let mut eras = Vec::new();
    for b in &back {
        let Some(e) = effi
            .iter()
            .find(|e| e.vstart <= b.vstart && e.vstop >= b.vstop)
        else {
            return Err(Error::Setting {
                name: "ODA_ARCHIVE".into(),
                message: format!(
                    "{}: no efficiency map {DS_EFFI} covers the background file {} (IJD {} – {})",
                    root.display(),
                    b.file,
                    b.vstart,
                    b.vstop
                ),
            });
        };
        let efficiency = read_maps(&checksum(&e.file)?)?
            .into_iter()
            .next()
            .map(|m| m.1)
            .unwrap_or_default();
        let path = checksum(&b.file)?;
        let background = read_maps(&path)?
            .into_iter()
            .map(|(band, rate)| {
                let (e_min, e_max) = band.ok_or_else(|| {
                    Error::fits(&path, "a background map without E_MIN and E_MAX")
                })?;
                Ok(BackgroundMap { e_min, e_max, rate })
            })
            .collect::<Result<Vec<_>>>()?;
        eras.push(Era {
            start: b.vstart,
            stop: b.vstop,
            efficiency,
            background,
        });
    }
    let gain_path = checksum(&gain[gain.len() - 1].file)?;
    let rsp_path = checksum(&rsp[rsp.len() - 1].file)?;
    let (gain, _) = read_pairs(&gain_path, "ISGR-GAIN-MOD", ["TIME", "GAIN"])?;
    let (threshold, width) = read_pairs(&gain_path, "ISGR-THRS-MOD", ["TIME", "E_THRESH"])?;
    let (resolution, _) = read_pairs(&rsp_path, "ISGR-RESO-MOD", ["ENERGY", "FWHM"])?;
    let (area, _) = read_pairs(&rsp_path, "ISGR-AREA-MOD", ["ENERGY", "AREA"])?;
    let cal = Calibration {
        geometry: crate::instrument::isgri::geometry(),
        imaging: crate::instrument::isgri::imaging_calibration(),
        osa_version: version,
        eras,
        gain,
        threshold,
        threshold_width_kev: width.ok_or_else(|| {
            Error::fits(
                &gain_path,
                "extension ISGR-THRS-MOD: missing keyword THRWIDTH",
            )
        })?,
        resolution,
        area,
        files,
    };
    cal.validate()?;
    Ok(cal)
}
