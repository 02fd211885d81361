//! FITS plumbing shared by the event-list and ScW-index readers and writers.
//!
//! - Files are opened and created with cfitsio's *disk-file* entry points (`ffdkopn`,
//!   `ffdkinit`), which take the path literally: a directory or file name containing `[`, `(`
//!   or starting with `!` is not interpreted as cfitsio's extended filename syntax. Gzip-compressed
//!   files are still recognised (by their magic bytes) and decompressed in memory when read.
//! - Writes are atomic: the file is built under a temporary name in the target directory and
//!   renamed over the target only when complete; on any error the temporary file is removed.
//! - Floating-point keywords are written with the shortest decimal representation that reads
//!   back to the same `f64` (fitsio's `write_key` keeps only 15 significant digits).
//! - cfitsio status codes become [`Error::Fits`] messages naming the file, the extension and the
//!   keyword or column involved.
//! - fitsio 0.21 panics on a few malformed inputs (e.g. a column type letter it does not know);
//!   [`guard`] turns such a panic into an [`Error::Fits`] instead of unwinding into the caller.

use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use fitsio::FitsFile;
use fitsio::errors::Error as FitsioError;
use fitsio::hdu::{FitsHdu, HduInfo};
use fitsio::headers::ReadsKey;
use fitsio::tables::{
    ColumnDataType, ColumnDescription, ConcreteColumnDescription, ReadsCol, WritesCol,
};

use crate::error::{Error, Result};

/// cfitsio status: the keyword does not exist.
const KEY_NO_EXIST: i32 = 202;
/// cfitsio status: there is no HDU with the requested name.
const BAD_HDU_NUM: i32 = 301;

/// The text of a fitsio error, with cfitsio's status code when there is one.
fn describe(e: &FitsioError) -> String {
    match e {
        FitsioError::Fits(fe) => format!("cfitsio error {}: {}", fe.status, fe.message),
        other => other.to_string(),
    }
}

/// The cfitsio status of a fitsio error, if it came from cfitsio.
fn status_of(e: &FitsioError) -> Option<i32> {
    match e {
        FitsioError::Fits(fe) => Some(fe.status),
        _ => None,
    }
}

/// The path as cfitsio wants it: valid UTF-8 without NUL bytes.
fn c_path(path: &Path) -> Result<CString> {
    let s = path
        .to_str()
        .ok_or_else(|| Error::fits(path, "the path is not valid UTF-8, which cfitsio requires"))?;
    CString::new(s).map_err(|_| Error::fits(path, "the path contains a NUL byte"))
}

/// Runs `f`, turning a panic inside it (fitsio panics on a few malformed files) into an
/// [`Error::Fits`] for `path`.
pub(super) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(Error::fits(
            path,
            format!("the FITS library failed on this file: {what}"),
        ))
    })
}

/// Opens `path` read-only, taking the name literally; gzip-compressed files are decompressed
/// in memory.
pub(super) fn open_readonly(path: &Path) -> Result<FitsFile> {
    let name = c_path(path)?;
    let mut fptr = ptr::null_mut();
    let mut status = 0;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call, and `fptr` and
    // `status` are valid out-pointers. On failure cfitsio frees the handle and leaves `fptr`
    // null; on success `fptr` is an open handle that the `FitsFile` below takes ownership of.
    unsafe {
        fitsio::sys::ffdkopn(&mut fptr, name.as_ptr(), 0, &mut status);
    }
    if status != 0 || fptr.is_null() {
        let message = fitsio::errors::check_status(status).err().map_or_else(
            || "cfitsio returned no file handle".to_string(),
            |e| describe(&e),
        );
        return Err(Error::fits(path, format!("cannot open: {message}")));
    }
    // SAFETY: `fptr` is a valid handle just opened read-only; ownership moves to the FitsFile,
    // whose Drop closes it.
    unsafe { FitsFile::from_raw(fptr, fitsio::FileOpenMode::READONLY) }
        .map_err(|e| Error::fits(path, format!("cannot open: {}", describe(&e))))
}

/// A binary-table extension opened for reading, with the context for error messages.
pub(super) struct Table<'a> {
    path: &'a Path,
    extname: &'static str,
    hdu: FitsHdu,
    columns: Vec<ConcreteColumnDescription>,
    num_rows: usize,
}

impl<'a> Table<'a> {
    /// The binary table named `extname` (EXTNAME or HDUNAME), or `None` when the file has no
    /// extension of that name.
    pub(super) fn find(
        f: &mut FitsFile,
        path: &'a Path,
        extname: &'static str,
    ) -> Result<Option<Table<'a>>> {
        let hdu = match f.hdu(extname) {
            Ok(hdu) => hdu,
            Err(e) if status_of(&e) == Some(BAD_HDU_NUM) => return Ok(None),
            Err(e) => {
                return Err(Error::fits(
                    path,
                    format!("extension {extname}: {}", describe(&e)),
                ));
            }
        };
        let (columns, num_rows) = match &hdu.info {
            HduInfo::TableInfo {
                column_descriptions,
                num_rows,
            } => (column_descriptions.clone(), *num_rows),
            _ => {
                return Err(Error::fits(
                    path,
                    format!("extension {extname} is not a table"),
                ));
            }
        };
        Ok(Some(Table {
            path,
            extname,
            hdu,
            columns,
            num_rows,
        }))
    }

    /// The number of rows.
    pub(super) fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// An [`Error::Fits`] for this file, prefixed with the extension name.
    pub(super) fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::fits(self.path, format!("extension {}: {message}", self.extname))
    }

    /// Fails naming every column of `names` that the table lacks.
    pub(super) fn require_columns(&self, names: &[&str]) -> Result<()> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.columns.iter().any(|c| c.name == *n))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let present: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        Err(self.error(format!(
            "missing column{} {} (the table has {})",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if present.is_empty() {
                "no columns".to_string()
            } else {
                present.join(", ")
            }
        )))
    }

    fn describe_column(&self, name: &str) -> Result<&ConcreteColumnDescription> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| self.error(format!("missing column {name}")))
    }

    /// A scalar numeric column, converted to `T` by cfitsio (which fails on values that do not
    /// fit). One cfitsio call for the whole column.
    pub(super) fn numeric_column<T: ReadsCol>(
        &self,
        f: &mut FitsFile,
        name: &str,
    ) -> Result<Vec<T>> {
        let desc = self.describe_column(name)?;
        let typ = desc.data_type.typ;
        if matches!(
            typ,
            ColumnDataType::Text
                | ColumnDataType::String
                | ColumnDataType::Logical
                | ColumnDataType::Bit
        ) {
            return Err(self.error(format!("column {name} is not numeric (TFORM type {typ:?})")));
        }
        if desc.data_type.repeat != 1 {
            return Err(self.error(format!(
                "column {name} holds {} values per row where one is expected, so its length \
                 does not match the other columns",
                desc.data_type.repeat
            )));
        }
        self.read_column(f, name)
    }

    /// Byte offsets within a row of the scalar columns `wanted` (name, type), when the table can
    /// be read as raw big-endian rows: every column of a fixed-width type, the wanted ones of the
    /// given type, unscaled (no TSCALn/TZEROn) and the row width matching NAXIS1. `None` means
    /// "use the column-by-column reader" (real archive files with exotic layouts still work).
    pub(super) fn raw_offsets(
        &self,
        f: &mut FitsFile,
        wanted: &[(&str, ColumnDataType)],
    ) -> Result<Option<Vec<usize>>> {
        let mut offsets = Vec::with_capacity(self.columns.len());
        let mut width = 0usize;
        for c in &self.columns {
            let size = match c.data_type.typ {
                ColumnDataType::Byte | ColumnDataType::SignedByte | ColumnDataType::Logical => 1,
                ColumnDataType::Short | ColumnDataType::UnsignedShort => 2,
                ColumnDataType::Int | ColumnDataType::Float | ColumnDataType::UnsignedLong => 4,
                ColumnDataType::Long | ColumnDataType::Double | ColumnDataType::LongLong => 8,
                ColumnDataType::Text | ColumnDataType::String => 1,
                _ => return Ok(None),
            };
            offsets.push(width);
            width += size * c.data_type.repeat;
        }
        let naxis1: Option<i64> = self.optional_key(f, "NAXIS1")?;
        if naxis1 != Some(width as i64) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(wanted.len());
        for (name, typ) in wanted {
            let Some(i) = self.columns.iter().position(|c| c.name == *name) else {
                return Ok(None);
            };
            let c = &self.columns[i];
            if c.data_type.typ != *typ || c.data_type.repeat != 1 {
                return Ok(None);
            }
            let zero: Option<f64> = self.optional_key(f, &format!("TZERO{}", i + 1))?;
            let scale: Option<f64> = self.optional_key(f, &format!("TSCAL{}", i + 1))?;
            if zero.is_some_and(|z| z != 0.0) || scale.is_some_and(|s| s != 1.0) {
                return Ok(None);
            }
            out.push(offsets[i]);
        }
        Ok(Some(out))
    }

    /// Reads all rows as raw bytes, `chunk_rows` rows at a time, handing each chunk (whole
    /// rows of NAXIS1 bytes) to `visit`.
    pub(super) fn read_raw_rows(
        &self,
        f: &mut FitsFile,
        row_width: usize,
        chunk_rows: usize,
        mut visit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut status = 0;
        let mut hdutype = 0;
        // SAFETY: the handle is open; HDU numbers are 1-based in cfitsio, 0-based in fitsio.
        unsafe {
            fitsio::sys::ffmahd(
                f.as_raw(),
                self.hdu.number as i32 + 1,
                &mut hdutype,
                &mut status,
            );
        }
        fitsio::errors::check_status(status).map_err(|e| self.error(describe(&e)))?;
        let mut buf = vec![0u8; row_width * chunk_rows.max(1)];
        let mut row = 0usize;
        while row < self.num_rows {
            let n = chunk_rows.max(1).min(self.num_rows - row);
            let bytes = &mut buf[..n * row_width];
            // SAFETY: `bytes` has room for exactly n rows of `row_width` bytes, which is what
            // cfitsio writes; the handle is positioned at this table.
            unsafe {
                fitsio::sys::ffgtbb(
                    f.as_raw(),
                    (row + 1) as i64,
                    1,
                    bytes.len() as i64,
                    bytes.as_mut_ptr(),
                    &mut status,
                );
            }
            fitsio::errors::check_status(status).map_err(|e| {
                self.error(format!("rows {}–{}: {}", row + 1, row + n, describe(&e)))
            })?;
            visit(bytes)?;
            row += n;
        }
        Ok(())
    }

    /// A character column, trailing blanks removed.
    pub(super) fn string_column(&self, f: &mut FitsFile, name: &str) -> Result<Vec<String>> {
        let desc = self.describe_column(name)?;
        if !matches!(
            desc.data_type.typ,
            ColumnDataType::Text | ColumnDataType::String
        ) {
            return Err(self.error(format!(
                "column {name} is not a character column (TFORM type {:?})",
                desc.data_type.typ
            )));
        }
        let n = self.num_rows;
        if n == 0 {
            return Ok(Vec::new());
        }
        let number = self
            .columns
            .iter()
            .position(|c| c.name == name)
            .map_or(1, |i| i + 1);
        let width = desc.data_type.repeat.max(1);
        let mut status = 0;
        let mut hdutype = 0;
        // fitsio 0.21's String reader gives cfitsio `width` bytes per value, but cfitsio also
        // writes a terminating NUL: read with `width + 1`-byte buffers of our own instead.
        let mut buffers: Vec<Vec<std::ffi::c_char>> = vec![vec![0; width + 1]; n];
        let mut pointers: Vec<*mut std::ffi::c_char> =
            buffers.iter_mut().map(|b| b.as_mut_ptr()).collect();
        let mut anynul = 0;
        let nulval = c"";
        // SAFETY: the handle is open; ffmahd moves it to this table (1-based HDU number);
        // `pointers` holds `n` pointers to live buffers of `width + 1` bytes, enough for any
        // value of this column plus its NUL; `nulval` is a valid C string.
        unsafe {
            fitsio::sys::ffmahd(
                f.as_raw(),
                self.hdu.number as i32 + 1,
                &mut hdutype,
                &mut status,
            );
            fitsio::sys::ffgcvs(
                f.as_raw(),
                number as i32,
                1,
                1,
                n as i64,
                nulval.as_ptr().cast_mut(),
                pointers.as_mut_ptr(),
                &mut anynul,
                &mut status,
            );
        }
        fitsio::errors::check_status(status)
            .map_err(|e| self.error(format!("column {name}: {}", describe(&e))))?;
        buffers
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let bytes: Vec<u8> = b
                    .iter()
                    .take_while(|&&c| c != 0)
                    .map(|&c| c as u8)
                    .collect();
                String::from_utf8(bytes)
                    .map(|s| s.trim_end().to_string())
                    .map_err(|_| {
                        self.error(format!("column {name}, row {}: not ASCII text", i + 1))
                    })
            })
            .collect()
    }

    fn read_column<T: ReadsCol>(&self, f: &mut FitsFile, name: &str) -> Result<Vec<T>> {
        if self.num_rows == 0 {
            return Ok(Vec::new());
        }
        let values: Vec<T> = self
            .hdu
            .read_col(f, name)
            .map_err(|e| self.error(format!("column {name}: {}", describe(&e))))?;
        if values.len() != self.num_rows {
            return Err(self.error(format!(
                "column {name} has {} values for {} rows",
                values.len(),
                self.num_rows
            )));
        }
        Ok(values)
    }

    /// A keyword of this extension's header, or `None` when it is absent.
    pub(super) fn optional_key<T: ReadsKey>(
        &self,
        f: &mut FitsFile,
        name: &str,
    ) -> Result<Option<T>> {
        match self.hdu.read_key::<T>(f, name) {
            Ok(v) => Ok(Some(v)),
            Err(e) if status_of(&e) == Some(KEY_NO_EXIST) => Ok(None),
            Err(e) => Err(self.error(format!("keyword {name}: {}", describe(&e)))),
        }
    }

    /// A required keyword of this extension's header.
    pub(super) fn key<T: ReadsKey>(&self, f: &mut FitsFile, name: &str) -> Result<T> {
        self.optional_key(f, name)?
            .ok_or_else(|| self.error(format!("missing keyword {name}")))
    }

    /// A required floating-point keyword that must be finite.
    pub(super) fn finite_key(&self, f: &mut FitsFile, name: &str) -> Result<f64> {
        let v: f64 = self.key(f, name)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.error(format!("keyword {name} = {v} is not a finite number")))
        }
    }
}

/// One column of a table to create: name, type, repeat count (string width for text) and unit
/// (`""` for none).
pub(super) struct Column {
    /// TTYPEn.
    pub name: &'static str,
    /// The data type (TFORMn letter).
    pub typ: ColumnDataType,
    /// The repeat count of TFORMn (the width of a character column).
    pub repeat: usize,
    /// TUNITn, or `""` for none.
    pub unit: &'static str,
}

/// A FITS file being written under a temporary name; see [`write_atomically`].
pub(super) struct NewFile<'a> {
    f: FitsFile,
    /// The final path, for error messages.
    target: &'a Path,
}

impl NewFile<'_> {
    fn error(&self, what: &str, e: &FitsioError) -> Error {
        Error::fits(self.target, format!("writing {what}: {}", describe(e)))
    }

    /// Writes the primary HDU: an empty array with `ORIGIN = 'oda'` (and no DATE, so that the
    /// same input always gives the same bytes). Returns the primary HDU.
    pub(super) fn empty_primary(&mut self) -> Result<FitsHdu> {
        let mut status = 0;
        // SAFETY: the handle is open read-write and positioned at the (not yet written) primary
        // HDU; a null NAXISn array is allowed with NAXIS = 0.
        unsafe {
            fitsio::sys::ffphps(self.f.as_raw(), 8, 0, ptr::null_mut(), &mut status);
        }
        fitsio::errors::check_status(status).map_err(|e| self.error("the primary header", &e))?;
        let hdu = self
            .f
            .primary_hdu()
            .map_err(|e| self.error("the primary header", &e))?;
        self.key_str(&hdu, "ORIGIN", "oda", "Written by the oda Rust crate")?;
        Ok(hdu)
    }

    /// Appends a binary table `extname` with `columns` (and their TUNITn) and no rows yet.
    pub(super) fn table(&mut self, extname: &str, columns: &[Column]) -> Result<FitsHdu> {
        let what = format!("extension {extname}");
        let descriptions = columns
            .iter()
            .map(|c| {
                ColumnDescription::new(c.name)
                    .with_type(c.typ)
                    .that_repeats(c.repeat)
                    .create()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(&what, &e))?;
        let hdu = self
            .f
            .create_table(extname, &descriptions)
            .map_err(|e| self.error(&what, &e))?;
        for (i, c) in columns.iter().enumerate() {
            if !c.unit.is_empty() {
                let key = format!("TUNIT{}", i + 1);
                let comment = format!("physical unit of field {}", i + 1);
                self.key_str(&hdu, &key, c.unit, &comment)?;
            }
        }
        Ok(hdu)
    }

    /// Writes a string keyword with a comment.
    pub(super) fn key_str(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: &str,
        comment: &str,
    ) -> Result<()> {
        hdu.write_key(&mut self.f, name, (value, comment))
            .map_err(|e| self.error(&format!("keyword {name}"), &e))
    }

    /// Writes an integer keyword with a comment.
    pub(super) fn key_int(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: i64,
        comment: &str,
    ) -> Result<()> {
        hdu.write_key(&mut self.f, name, (value, comment))
            .map_err(|e| self.error(&format!("keyword {name}"), &e))
    }

    /// Writes a floating-point keyword with a comment, in the shortest decimal form that reads
    /// back exactly.
    pub(super) fn key_f64(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: f64,
        comment: &str,
    ) -> Result<()> {
        let what = format!("keyword {name}");
        if !value.is_finite() {
            return Err(Error::fits(
                self.target,
                format!("writing {what}: {value} is not finite"),
            ));
        }
        // Make `hdu` the current HDU, as fitsio's own write_key does.
        self.f.hdu(hdu.number).map_err(|e| self.error(&what, &e))?;
        let c_name = CString::new(name).map_err(|e| self.error(&what, &FitsioError::Null(e)))?;
        let c_comment =
            CString::new(comment).map_err(|e| self.error(&what, &FitsioError::Null(e)))?;
        let mut status = 0;
        // SAFETY: the handle is open read-write, and the strings are NUL-terminated and outlive
        // the call. A negative `decim` asks for `%.*G` with that many significant digits.
        unsafe {
            fitsio::sys::ffpkyd(
                self.f.as_raw(),
                c_name.as_ptr(),
                value,
                -significant_digits(value),
                c_comment.as_ptr(),
                &mut status,
            );
        }
        fitsio::errors::check_status(status).map_err(|e| self.error(&what, &e))
    }

    /// Writes a whole column with one cfitsio call (the table grows to `data.len()` rows).
    pub(super) fn column<T: WritesCol>(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        data: &[T],
    ) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        hdu.write_col(&mut self.f, name, data)
            .map(|_| ())
            .map_err(|e| self.error(&format!("column {name}"), &e))
    }

    /// Writes `n_rows` whole rows given as raw big-endian bytes (the table's NAXIS1 bytes per
    /// row, in column order) into the empty table `hdu`: one cfitsio call instead of one strided
    /// pass per column.
    pub(super) fn raw_rows(&mut self, hdu: &FitsHdu, bytes: &[u8], n_rows: usize) -> Result<()> {
        if n_rows == 0 {
            return Ok(());
        }
        let mut status = 0;
        let mut hdutype = 0;
        // SAFETY: the handle is open read-write; `hdu.number` is fitsio's 0-based HDU index.
        // ffirow appends n_rows blank rows to the (empty) table, then ffptbb copies exactly
        // `bytes.len()` bytes from a live slice into them.
        unsafe {
            fitsio::sys::ffmahd(
                self.f.as_raw(),
                hdu.number as i32 + 1,
                &mut hdutype,
                &mut status,
            );
            fitsio::sys::ffirow(self.f.as_raw(), 0, n_rows as i64, &mut status);
            fitsio::sys::ffptbb(
                self.f.as_raw(),
                1,
                1,
                bytes.len() as i64,
                bytes.as_ptr() as *mut u8,
                &mut status,
            );
        }
        fitsio::errors::check_status(status).map_err(|e| self.error("the table rows", &e))
    }

    /// Flushes cfitsio's buffers, so that a failing write (e.g. a full disk) is reported.
    fn flush(&mut self) -> Result<()> {
        let mut status = 0;
        // SAFETY: the handle is open.
        unsafe {
            fitsio::sys::ffflus(self.f.as_raw(), &mut status);
        }
        fitsio::errors::check_status(status).map_err(|e| self.error("the file", &e))
    }
}

/// The fewest significant decimal digits (at most 17) that print `v` so that it parses back to
/// exactly `v`.
fn significant_digits(v: f64) -> i32 {
    (1..17)
        .find(|&d: &usize| format!("{:.*e}", d - 1, v).parse::<f64>() == Ok(v))
        .map_or(17, |d| d as i32)
}

/// Distinguishes the temporary files of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes a FITS file to `path` atomically: `build` fills a new file created under a temporary
/// name in the same directory (`.<name>.tmp.<pid>.<n>`), which is then renamed over `path`.
/// Missing parent directories are created. On any error the temporary file is removed and an
/// existing file at `path` is left untouched.
pub(super) fn write_atomically(
    path: &Path,
    build: impl FnOnce(&mut NewFile<'_>) -> Result<()>,
) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::fits(path, "the path must end in a UTF-8 file name"))?;
    if name.to_ascii_lowercase().ends_with(".gz") {
        return Err(Error::fits(
            path,
            "writing gzip-compressed FITS is not supported: write the uncompressed .fits file",
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
    // A leftover from a crashed process that had the same id: cfitsio will not overwrite it.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&temp, e)),
        _ => {}
    }
    let result = guard(path, || {
        let mut file = NewFile {
            f: create_literal(&temp, path)?,
            target: path,
        };
        build(&mut file)?;
        file.flush()
        // Dropping `file` closes it; everything was flushed above.
    })
    .and_then(|()| std::fs::rename(&temp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        // Best effort: the temporary file may not even exist.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Creates the new, empty FITS file `temp` (which must not exist), taking the name literally.
fn create_literal(temp: &Path, target: &Path) -> Result<FitsFile> {
    let name = c_path(temp)?;
    let mut fptr = ptr::null_mut();
    let mut status = 0;
    // SAFETY: as in `open_readonly`.
    unsafe {
        fitsio::sys::ffdkinit(&mut fptr, name.as_ptr(), &mut status);
    }
    if status != 0 || fptr.is_null() {
        let message = fitsio::errors::check_status(status).err().map_or_else(
            || "cfitsio returned no file handle".to_string(),
            |e| describe(&e),
        );
        return Err(Error::fits(
            target,
            format!(
                "cannot create the temporary file {}: {message}",
                temp.display()
            ),
        ));
    }
    // SAFETY: `fptr` is a valid handle just created read-write; the FitsFile owns it from here.
    unsafe { FitsFile::from_raw(fptr, fitsio::FileOpenMode::READWRITE) }.map_err(|e| {
        Error::fits(
            target,
            format!("cannot create {}: {}", temp.display(), describe(&e)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_digits_round_trip() {
        for v in [
            0.0,
            1.0,
            51544.0,
            0.1,
            1.0 / 3.0,
            5647.000777662037,
            1e-300,
            -2.5e20,
            f64::MAX,
        ] {
            let d = significant_digits(v);
            assert_eq!(
                format!("{:.*e}", (d - 1) as usize, v)
                    .parse::<f64>()
                    .unwrap(),
                v
            );
        }
        assert_eq!(significant_digits(51544.0), 5);
        assert_eq!(significant_digits(0.1), 1);
    }

    #[test]
    fn special_characters_in_paths_are_literal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd [1] (x)").join("!a+1.fits");
        write_atomically(&path, |f| f.empty_primary().map(|_| ())).unwrap();
        let mut f = open_readonly(&path).unwrap();
        let origin: String = f.primary_hdu().unwrap().read_key(&mut f, "ORIGIN").unwrap();
        assert_eq!(origin, "oda");
        // Only the file itself is left in the directory.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let e = write_atomically(&dir.path().join("x.fits.gz"), |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
    }
}
