//! The response files: redistribution matrix (RMF: `MATRIX` + `EBOUNDS`) and ancillary response
//! (ARF: `SPECRESP`), as OGIP memo CAL/GEN/92-002 defines them.

use std::path::Path;

use fitsio::FitsFile;
use fitsio::tables::ColumnDataType;

use super::{
    check_grid, class_keys, energy_column, grid_mismatch, mission_keys, read_ebounds, to_f32,
    write_ebounds,
};
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::instrument::Detector;
use crate::instrument::response::{Arf, Rmf};

/// The extension names an RMF's matrix may have (the second for a matrix that includes the
/// effective area).
const MATRIX_EXTNAMES: [&str; 2] = ["MATRIX", "SPECRESP MATRIX"];

/// Checks an RMF before writing it; the message names the first problem.
fn check_rmf(rmf: &Rmf) -> std::result::Result<(), String> {
    check_grid(
        "true-energy bins ENERG_LO/ENERG_HI",
        &rmf.energ_lo,
        &rmf.energ_hi,
    )?;
    check_grid("channel bounds E_MIN/E_MAX", &rmf.e_min, &rmf.e_max)?;
    let (n_e, n_ch) = (rmf.energ_lo.len(), rmf.e_min.len());
    if n_ch > i32::MAX as usize {
        return Err(format!(
            "{n_ch} channels are more than a FITS J column numbers"
        ));
    }
    if rmf.matrix.len() != n_e * n_ch {
        return Err(format!(
            "the matrix has {} elements, but {n_e} energy bins × {n_ch} channels need {}",
            rmf.matrix.len(),
            n_e * n_ch
        ));
    }
    if let Some(k) = rmf
        .matrix
        .iter()
        .position(|v| !(v.is_finite() && *v >= 0.0))
    {
        return Err(format!(
            "matrix element (energy bin {}, channel {}) is {}, not a finite probability ≥ 0",
            k / n_ch + 1,
            k % n_ch + 1,
            rmf.matrix[k]
        ));
    }
    Ok(())
}

/// Writes `rmf` to `path` as an OGIP redistribution matrix file: a `MATRIX` extension
/// (`HDUCLAS2 = 'RSP_MATRIX'`, `HDUVERS = '1.3.0'`) with ENERG_LO, ENERG_HI (keV), N_GRP,
/// F_CHAN, N_CHAN and MATRIX, one full row of `DETCHANS` probabilities per true-energy bin; and an
/// `EBOUNDS` extension with CHANNEL, E_MIN, E_MAX (keV). Channels are numbered from 1.
///
/// The write is atomic, creates missing parent directories and gives the same bytes for the
/// same input.
///
/// # Errors
/// [`Error::Fits`] when the matrix is inconsistent (grids that are not increasing, finite and
/// non-negative; a matrix whose size is not bins × channels; negative or non-finite elements) or
/// cfitsio fails; [`Error::Io`] when the directory cannot be created or the file renamed.
pub fn write_rmf(path: &Path, rmf: &Rmf) -> Result<()> {
    write_rmf_for(path, rmf, Detector::Isgri)
}

/// Writes `rmf` as [`write_rmf`] does, naming `detector` in `INSTRUME` and `DETNAM`.
///
/// # Errors
/// As [`write_rmf`].
pub fn write_rmf_for(path: &Path, rmf: &Rmf, detector: Detector) -> Result<()> {
    check_rmf(rmf).map_err(|m| Error::fits(path, format!("cannot write the RMF: {m}")))?;
    let n_e = rmf.energ_lo.len();
    let n_ch = rmf.e_min.len();
    let columns = [
        Column::new("ENERG_LO", ColumnDataType::Float, 1, "keV"),
        Column::new("ENERG_HI", ColumnDataType::Float, 1, "keV"),
        Column::new("N_GRP", ColumnDataType::Short, 1, ""),
        Column::new("F_CHAN", ColumnDataType::Int, 1, ""),
        Column::new("N_CHAN", ColumnDataType::Int, 1, ""),
        Column::new("MATRIX", ColumnDataType::Float, n_ch, ""),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table("MATRIX", &columns)?;
        mission_keys(f, &hdu, detector)?;
        f.key_str(&hdu, "CHANTYPE", "PI", "Channels are calibrated energies")?;
        f.key_int(&hdu, "DETCHANS", n_ch as i64, "Number of channels")?;
        class_keys(f, &hdu, &["RESPONSE", "RSP_MATRIX", "REDIST"], "1.3.0")?;
        f.key_f64(
            &hdu,
            "LO_THRES",
            0.0,
            "Lower threshold of stored elements (all stored)",
        )?;
        f.legal_range(&hdu, 4, 1, n_ch as i64)?;
        f.column(&hdu, "ENERG_LO", &to_f32(&rmf.energ_lo))?;
        f.column(&hdu, "ENERG_HI", &to_f32(&rmf.energ_hi))?;
        f.column(&hdu, "N_GRP", &vec![1i16; n_e])?;
        f.column(&hdu, "F_CHAN", &vec![1i32; n_e])?;
        f.column(&hdu, "N_CHAN", &vec![n_ch as i32; n_e])?;
        f.column(&hdu, "MATRIX", &to_f32(&rmf.matrix))?;
        write_ebounds(f, &rmf.e_min, &rmf.e_max, detector)
    })
}

/// Reads an OGIP redistribution matrix file (`MATRIX` or `SPECRESP MATRIX`, and `EBOUNDS`).
///
/// Reads the files [`write_rmf`] writes and other fixed-length RMFs: any grouping (N_GRP,
/// F_CHAN, N_CHAN, scalar or vector) and first channel (TLMIN of F_CHAN, 1 when absent); the
/// [`Rmf`]'s channel `j` is the `j`-th channel of `EBOUNDS`. Elements stored as 32-bit floats
/// read back as their shortest decimal.
///
/// # Errors
/// [`Error::Fits`] when the file cannot be read (with cfitsio's message), lacks an extension,
/// column or keyword, has variable-length columns, energies not in keV, or inconsistent contents
/// (groups outside the channel range, EBOUNDS not matching DETCHANS, non-increasing grids).
pub fn read_rmf(path: &Path) -> Result<Rmf> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        read_rmf_from(&mut f, path).map(|(rmf, _)| rmf)
    })
}

/// Reads the RMF of an open file; also returns the number of its first channel.
pub(super) fn read_rmf_from(f: &mut FitsFile, path: &Path) -> Result<(Rmf, i64)> {
    let t = Table::require(f, path, &MATRIX_EXTNAMES, "the redistribution matrix")?;
    t.require_columns(&[
        "ENERG_LO", "ENERG_HI", "N_GRP", "F_CHAN", "N_CHAN", "MATRIX",
    ])?;
    let n_ch = t.int_key(f, "DETCHANS", 1..=i64::from(i32::MAX))? as usize;
    let first_key = format!("TLMIN{}", t.column_number("F_CHAN")?);
    let first_channel = t.optional_key::<i64>(f, &first_key)?.unwrap_or(1);
    let energ_lo = energy_column(&t, f, "ENERG_LO")?;
    let energ_hi = energy_column(&t, f, "ENERG_HI")?;
    check_grid("true-energy bins ENERG_LO/ENERG_HI", &energ_lo, &energ_hi)
        .map_err(|m| t.error(m))?;
    let n_grp = t.i64_values(f, "N_GRP", Some(1))?;
    let groups = t.repeat("F_CHAN")?;
    if t.repeat("N_CHAN")? != groups {
        return Err(t.error(format!(
            "F_CHAN holds {groups} values per row but N_CHAN {}",
            t.repeat("N_CHAN")?
        )));
    }
    let f_chan = t.i64_values(f, "F_CHAN", None)?;
    let n_chan = t.i64_values(f, "N_CHAN", None)?;
    let width = t.repeat("MATRIX")?;
    let values = t.f64_values(f, "MATRIX", None)?;

    let n_e = energ_lo.len();
    let mut matrix = vec![0.0; n_e * n_ch];
    for i in 0..n_e {
        let row_error =
            |m: String| t.error(format!("row {} (ENERG_LO = {}): {m}", i + 1, energ_lo[i]));
        let g = n_grp[i];
        if g < 0 || g as usize > groups {
            return Err(row_error(format!(
                "N_GRP = {g}, but F_CHAN and N_CHAN hold {groups} group(s) per row"
            )));
        }
        let mut used = 0usize;
        for k in 0..g as usize {
            let (first, count) = (f_chan[i * groups + k], n_chan[i * groups + k]);
            let start = first - first_channel;
            if count < 0 || start < 0 || start + count > n_ch as i64 {
                return Err(row_error(format!(
                    "group {} covers channels {first} .. {} outside {first_channel} .. {} \
                     (DETCHANS = {n_ch})",
                    k + 1,
                    first + count - 1,
                    first_channel + n_ch as i64 - 1
                )));
            }
            let (start, count) = (start as usize, count as usize);
            if used + count > width {
                return Err(row_error(format!(
                    "the groups hold more than the {width} elements of MATRIX"
                )));
            }
            let src = &values[i * width + used..i * width + used + count];
            matrix[i * n_ch + start..i * n_ch + start + count].copy_from_slice(src);
            used += count;
        }
    }
    if let Some(k) = matrix.iter().position(|v| !v.is_finite()) {
        return Err(t.error(format!(
            "MATRIX element (row {}, channel {}) is {}",
            k / n_ch + 1,
            first_channel + (k % n_ch) as i64,
            matrix[k]
        )));
    }

    let eb = read_ebounds(f, path)?.ok_or_else(|| {
        Error::fits(
            path,
            "no EBOUNDS extension (the channel energies of the RMF)",
        )
    })?;
    if eb.e_min.len() != n_ch || eb.first_channel != first_channel {
        return Err(Error::fits(
            path,
            format!(
                "EBOUNDS has channels {} .. {} but the matrix has {first_channel} .. {}",
                eb.first_channel,
                eb.first_channel + eb.e_min.len() as i64 - 1,
                first_channel + n_ch as i64 - 1
            ),
        ));
    }
    Ok((
        Rmf {
            energ_lo,
            energ_hi,
            e_min: eb.e_min,
            e_max: eb.e_max,
            matrix,
        },
        first_channel,
    ))
}

/// Checks an ARF before writing it.
fn check_arf(arf: &Arf) -> std::result::Result<(), String> {
    check_grid(
        "energy bins ENERG_LO/ENERG_HI",
        &arf.energ_lo,
        &arf.energ_hi,
    )?;
    if arf.specresp.len() != arf.energ_lo.len() {
        return Err(format!(
            "{} effective areas for {} energy bins",
            arf.specresp.len(),
            arf.energ_lo.len()
        ));
    }
    if let Some(i) = arf
        .specresp
        .iter()
        .position(|v| !(v.is_finite() && *v >= 0.0))
    {
        return Err(format!(
            "the effective area of bin {} is {} cm², not a finite area ≥ 0",
            i + 1,
            arf.specresp[i]
        ));
    }
    Ok(())
}

/// Writes `arf` to `path` as an OGIP ancillary response file: a `SPECRESP` extension
/// (`HDUCLAS2 = 'SPECRESP'`, `HDUVERS = '1.1.0'`) with ENERG_LO, ENERG_HI (keV) and SPECRESP
/// (cm²).
///
/// The write is atomic, creates missing parent directories and gives the same bytes for the
/// same input.
///
/// # Errors
/// [`Error::Fits`] when the ARF is inconsistent (grid not increasing, finite and non-negative;
/// lengths that differ; negative or non-finite areas) or cfitsio fails; [`Error::Io`] when the
/// directory cannot be created or the file renamed.
pub fn write_arf(path: &Path, arf: &Arf) -> Result<()> {
    write_arf_for(path, arf, Detector::Isgri)
}

/// Writes `arf` as [`write_arf`] does, naming `detector` in `INSTRUME` and `DETNAM`.
///
/// # Errors
/// As [`write_arf`].
pub fn write_arf_for(path: &Path, arf: &Arf, detector: Detector) -> Result<()> {
    check_arf(arf).map_err(|m| Error::fits(path, format!("cannot write the ARF: {m}")))?;
    let columns = [
        Column::new("ENERG_LO", ColumnDataType::Float, 1, "keV"),
        Column::new("ENERG_HI", ColumnDataType::Float, 1, "keV"),
        Column::new("SPECRESP", ColumnDataType::Float, 1, "cm**2"),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        let hdu = f.table("SPECRESP", &columns)?;
        mission_keys(f, &hdu, detector)?;
        class_keys(f, &hdu, &["RESPONSE", "SPECRESP"], "1.1.0")?;
        f.column(&hdu, "ENERG_LO", &to_f32(&arf.energ_lo))?;
        f.column(&hdu, "ENERG_HI", &to_f32(&arf.energ_hi))?;
        f.column(&hdu, "SPECRESP", &to_f32(&arf.specresp))
    })
}

/// Reads an OGIP ancillary response file (type I: one area per energy bin).
///
/// # Errors
/// [`Error::Fits`] when the file cannot be read, lacks the `SPECRESP` extension or one of its
/// columns, has energies not in keV, a non-increasing grid, or areas that are negative or not
/// finite.
pub fn read_arf(path: &Path) -> Result<Arf> {
    fits::guard(path, || {
        let mut f = fits::open_readonly(path)?;
        let t = Table::require(&mut f, path, &["SPECRESP"], "the effective area")?;
        t.require_columns(&["ENERG_LO", "ENERG_HI", "SPECRESP"])?;
        let energ_lo = energy_column(&t, &mut f, "ENERG_LO")?;
        let energ_hi = energy_column(&t, &mut f, "ENERG_HI")?;
        let specresp = t.f64_values(&mut f, "SPECRESP", Some(1))?;
        let arf = Arf {
            energ_lo,
            energ_hi,
            specresp,
        };
        check_arf(&arf).map_err(|m| t.error(m))?;
        Ok(arf)
    })
}

/// The first difference between the true-energy grids of an RMF and an ARF, if any.
pub(super) fn rmf_arf_mismatch(rmf: &Rmf, arf: &Arf) -> Option<String> {
    grid_mismatch(
        ("the RMF", &rmf.energ_lo, &rmf.energ_hi),
        ("the ARF", &arf.energ_lo, &arf.energ_hi),
        "energy bin",
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn rmf_round_trips_to_32_bit_precision() {
        let dir = tempfile::tempdir().unwrap();
        for n in [1, 7, 64] {
            let rmf = rmf(n);
            let path = dir.path().join(format!("rsp/{n}_rmf.fits"));
            write_rmf(&path, &rmf).unwrap();
            let back = read_rmf(&path).unwrap();
            assert_close32("ENERG_LO", &back.energ_lo, &rmf.energ_lo);
            assert_close32("ENERG_HI", &back.energ_hi, &rmf.energ_hi);
            assert_close32("E_MIN", &back.e_min, &rmf.e_min);
            assert_close32("E_MAX", &back.e_max, &rmf.e_max);
            assert_close32("MATRIX", &back.matrix, &rmf.matrix);
            // Writing what was read gives the same file.
            let again = dir.path().join(format!("rsp/{n}_again.fits"));
            write_rmf(&again, &back).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(&again).unwrap()
            );
        }
    }

    #[test]
    fn arf_round_trips_to_32_bit_precision() {
        let dir = tempfile::tempdir().unwrap();
        let arf = arf();
        let path = dir.path().join("x_arf.fits");
        write_arf(&path, &arf).unwrap();
        let back = read_arf(&path).unwrap();
        assert_close32("ENERG_LO", &back.energ_lo, &arf.energ_lo);
        assert_close32("ENERG_HI", &back.energ_hi, &arf.energ_hi);
        assert_close32("SPECRESP", &back.specresp, &arf.specresp);
        let simple = Arf {
            energ_lo: vec![20.0, 30.0],
            energ_hi: vec![30.0, 45.5],
            specresp: vec![812.25, 900.0],
        };
        write_arf(&path, &simple).unwrap();
        assert_eq!(read_arf(&path).unwrap(), simple);
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (rmf, arf) = (rmf(32), arf());
        let (a, b) = (dir.path().join("a.fits"), dir.path().join("b.fits"));
        write_rmf(&a, &rmf).unwrap();
        write_rmf(&b, &rmf).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        assert_eq!(bytes.len() % 2880, 0);
        write_arf(&a, &arf).unwrap();
        write_arf(&b, &arf).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn headers_follow_cal_gen_92_002() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_rmf.fits");
        write_rmf(&path, &rmf(16)).unwrap();
        let mut f = FitsFile::open(&path).unwrap();
        let hdu = f.hdu("MATRIX").unwrap();
        let text = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        assert_eq!(text(&mut f, "HDUCLASS"), "OGIP");
        assert_eq!(text(&mut f, "HDUCLAS1"), "RESPONSE");
        assert_eq!(text(&mut f, "HDUCLAS2"), "RSP_MATRIX");
        assert_eq!(text(&mut f, "HDUVERS"), "1.3.0");
        assert_eq!(text(&mut f, "CHANTYPE"), "PI");
        assert_eq!(text(&mut f, "TFORM6"), "16E");
        assert_eq!(text(&mut f, "TTYPE4"), "F_CHAN");
        assert_eq!(hdu.read_key::<i64>(&mut f, "TLMIN4").unwrap(), 1);
        assert_eq!(hdu.read_key::<i64>(&mut f, "DETCHANS").unwrap(), 16);
        let eb = f.hdu("EBOUNDS").unwrap();
        assert_eq!(
            eb.read_key::<String>(&mut f, "HDUCLAS2").unwrap(),
            "EBOUNDS"
        );
        assert_eq!(eb.read_key::<String>(&mut f, "TUNIT2").unwrap(), "keV");
        let primary = f.primary_hdu().unwrap();
        assert!(primary.read_key::<String>(&mut f, "DATE").is_err());
    }

    #[test]
    fn grouped_matrices_are_read() {
        // A compressed RMF with up to two groups per row, first channel 0.
        use fitsio::tables::ColumnDescription;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grouped_rmf.fits");
        write_rmf(&path, &rmf(4)).unwrap();
        let (mut f, hdu) = edit(&path, "MATRIX");
        hdu.delete(&mut f).unwrap();
        let hdu = f.hdu("EBOUNDS").unwrap();
        let channels: Vec<i32> = vec![0, 1, 2, 3];
        hdu.write_col(&mut f, "CHANNEL", &channels).unwrap();
        let desc = |name: &str, typ, repeat| {
            ColumnDescription::new(name)
                .with_type(typ)
                .that_repeats(repeat)
                .create()
                .unwrap()
        };
        use fitsio::tables::ColumnDataType as T;
        let cols = [
            desc("ENERG_LO", T::Float, 1),
            desc("ENERG_HI", T::Float, 1),
            desc("N_GRP", T::Short, 1),
            desc("F_CHAN", T::Short, 2),
            desc("N_CHAN", T::Short, 2),
            desc("MATRIX", T::Float, 3),
        ];
        let m = f.create_table("MATRIX", &cols).unwrap();
        m.write_key(&mut f, "DETCHANS", 4i64).unwrap();
        m.write_key(&mut f, "TLMIN4", 0i64).unwrap();
        m.write_col(&mut f, "ENERG_LO", &[20.0f32, 30.0]).unwrap();
        m.write_col(&mut f, "ENERG_HI", &[30.0f32, 40.0]).unwrap();
        m.write_col(&mut f, "N_GRP", &[2i16, 1]).unwrap();
        m.write_col(&mut f, "F_CHAN", &[0i16, 3, 1, 0]).unwrap();
        m.write_col(&mut f, "N_CHAN", &[1i16, 1, 3, 0]).unwrap();
        m.write_col(&mut f, "MATRIX", &[0.5f32, 0.25, 0.0, 0.1, 0.2, 0.3])
            .unwrap();
        drop(f);
        let back = read_rmf(&path).unwrap();
        assert_eq!(back.energ_lo, vec![20.0, 30.0]);
        assert_eq!(back.matrix, vec![0.5, 0.0, 0.0, 0.25, 0.0, 0.1, 0.2, 0.3]);

        // A group reaching past the last channel.
        let (mut f, m) = edit(&path, "MATRIX");
        m.write_col(&mut f, "N_CHAN", &[1i16, 2, 3, 0]).unwrap();
        drop(f);
        let msg = fits_message(read_rmf(&path).unwrap_err());
        assert!(
            msg.contains("grouped_rmf.fits")
                && msg.contains("extension MATRIX: row 1 (ENERG_LO = 20)")
                && msg.contains("group 2 covers channels 3 .. 4 outside 0 .. 3"),
            "{msg}"
        );
    }

    #[test]
    fn bad_inputs_are_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_rmf.fits");
        let mut bad = rmf(8);
        bad.matrix.pop();
        let m = fits_message(write_rmf(&path, &bad).unwrap_err());
        assert!(
            m.contains("cannot write the RMF") && m.contains("need"),
            "{m}"
        );
        let mut bad = rmf(8);
        bad.matrix[17] = f64::NAN;
        let m = fits_message(write_rmf(&path, &bad).unwrap_err());
        assert!(m.contains("(energy bin 3, channel 2) is NaN"), "{m}");
        let mut bad = arf();
        bad.specresp[0] = -1.0;
        let m = fits_message(write_arf(&path, &bad).unwrap_err());
        assert!(
            m.contains("cannot write the ARF") && m.contains("bin 1 is -1"),
            "{m}"
        );
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn damaged_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_rmf.fits");
        write_rmf(&path, &rmf(64)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let truncated = dir.path().join("truncated_rmf.fits");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let m = fits_message(read_rmf(&truncated).unwrap_err());
        assert!(
            m.contains("truncated_rmf.fits") && m.contains("the file is truncated"),
            "{m}"
        );
        // An ARF is not an RMF.
        let arf_path = dir.path().join("x_arf.fits");
        write_arf(&arf_path, &arf()).unwrap();
        let m = fits_message(read_rmf(&arf_path).unwrap_err());
        assert!(m.contains("no MATRIX or SPECRESP MATRIX extension"), "{m}");
        let m = fits_message(read_arf(&path).unwrap_err());
        assert!(m.contains("no SPECRESP extension"), "{m}");

        set_key(&path, "MATRIX", "TUNIT1", "eV");
        let m = fits_message(read_rmf(&path).unwrap_err());
        assert!(m.contains("column ENERG_LO is in \"eV\""), "{m}");
        write_rmf(&path, &rmf(64)).unwrap();
        set_key(&path, "EBOUNDS", "DETCHANS", 63i64);
        let m = fits_message(read_rmf(&path).unwrap_err());
        assert!(
            m.contains("extension EBOUNDS: DETCHANS = 63 but the table has 64 rows"),
            "{m}"
        );
        write_rmf(&path, &rmf(64)).unwrap();
        delete_key(&path, "MATRIX", "DETCHANS");
        let m = fits_message(read_rmf(&path).unwrap_err());
        assert!(
            m.contains("extension MATRIX: missing keyword DETCHANS"),
            "{m}"
        );
    }

    #[test]
    fn written_files_pass_the_astropy_checker() {
        let dir = tempfile::tempdir().unwrap();
        let (r, a) = (dir.path().join("x_rmf.fits"), dir.path().join("x_arf.fits"));
        write_rmf(&r, &rmf(64)).unwrap();
        write_arf(&a, &arf()).unwrap();
        for (kind, path) in [("rmf", &r), ("arf", &a)] {
            match astropy_check(kind, path) {
                None => eprintln!("python3 with astropy not available: skipping the check"),
                Some((ok, out)) => assert!(ok, "{out}"),
            }
        }
    }
}
