//! FITS plumbing shared by every reader and writer of the crate: the archive's event and ScW
//! index files (`archive::events`, `archive::index`) and the OGIP products
//! (`products::ogip`). It wraps the `fitsio` crate and, where fitsio falls short, cfitsio's own
//! calls. The conventions:
//!
//! - Files are opened and created with cfitsio's *disk-file* entry points (`ffdkopn`,
//!   `ffdkinit`), which take the path literally: a directory or file name containing `[`, `(`
//!   or starting with `!` is not interpreted as cfitsio's extended filename syntax. Gzip-compressed
//!   files are still recognised (by their magic bytes) and decompressed in memory when read.
//! - [`open_readonly`] also checks that an uncompressed file ends where its last complete HDU
//!   ends, so a truncated file is reported as such rather than as a missing extension;
//!   [`open_readonly_no_size_check`] leaves truncation to be found (and named by cfitsio) when
//!   the data are read.
//! - Writes are atomic: the file is built under a temporary name in the target directory and
//!   renamed over the target only when complete; on any error the temporary file is removed.
//! - Floating-point keywords are written with the shortest decimal representation that reads
//!   back to the same `f64` (fitsio's `write_key` keeps only 15 significant digits), and no DATE
//!   keyword is written, so the same input always gives the same bytes.
//! - String keyword values must be printable ASCII that fits on one header card (cfitsio would
//!   silently truncate a longer value).
//! - cfitsio status codes become [`Error::Fits`] messages naming the file, the extension and the
//!   keyword or column involved.
//! - fitsio 0.21 panics on a few malformed inputs (e.g. a column type letter it does not know,
//!   or a variable-length column); [`guard`] turns such a panic into an [`Error::Fits`] instead
//!   of unwinding into the caller.
//!
//! Beyond fitsio: vector columns, logical keywords, TLMINn/TLMAXn, a character-column reader
//! that gives cfitsio the `width + 1` bytes per value it needs (fitsio 0.21's own `String`
//! column reader allocates `width` bytes, one short when a value fills the column), and a
//! raw-row path that reads and writes whole fixed-width rows with one cfitsio call (the event
//! tables, whose column-by-column access would take one strided pass per column).

use std::ffi::{CString, c_char};
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
/// The longest string value a standard FITS keyword card holds (quotes doubled).
const MAX_KEY_STRING: usize = 68;

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

/// Makes `hdu` the current HDU of `f` (cfitsio's `ffmahd`), without fitsio re-reading its
/// column descriptions.
fn move_to(f: &mut FitsFile, hdu: &FitsHdu) -> std::result::Result<(), FitsioError> {
    let mut status = 0;
    let mut hdutype = 0;
    // SAFETY: the handle is open and the out-pointers are valid; HDU numbers are 1-based in
    // cfitsio, 0-based in fitsio.
    unsafe {
        fitsio::sys::ffmahd(f.as_raw(), hdu.number as i32 + 1, &mut hdutype, &mut status);
    }
    fitsio::errors::check_status(status)
}

/// Runs `f`, turning a panic inside it (fitsio panics on a few malformed files, e.g. a column
/// type letter it does not know or a variable-length column) into an [`Error::Fits`] for `path`.
pub(crate) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
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
/// in memory. An uncompressed file must end where its last complete HDU ends (see
/// [`check_complete`]), so that a truncated file is reported as truncated.
pub(crate) fn open_readonly(path: &Path) -> Result<FitsFile> {
    let mut f = open_readonly_no_size_check(path)?;
    check_complete(&mut f, path)?;
    Ok(f)
}

/// Opens `path` read-only like [`open_readonly`], but without comparing the file's size with
/// its HDUs: a truncated file fails later, with cfitsio's message naming the extension being
/// read. The archive's event and index readers use this (their errors for truncated files name
/// the extension and carry cfitsio's message, as their callers rely on).
pub(crate) fn open_readonly_no_size_check(path: &Path) -> Result<FitsFile> {
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

/// Fails when the file does not end where its last complete HDU ends: data running past the
/// end of the file, or bytes after the last complete HDU (a truncated extension header, which
/// cfitsio would otherwise report as a missing extension). Gzip-compressed files, whose size on
/// disk says nothing about their content, are not checked.
fn check_complete(f: &mut FitsFile, path: &Path) -> Result<()> {
    use std::io::Read;
    let mut magic = [0u8; 2];
    let size = std::fs::File::open(path)
        .and_then(|mut file| {
            file.read_exact(&mut magic)?;
            file.metadata()
        })
        .map_err(|e| Error::io(path, e))?
        .len();
    if magic == [0x1f, 0x8b] {
        return Ok(());
    }
    let (mut n, mut status) = (0, 0);
    let (mut head, mut data, mut end) = (0i64, 0i64, 0i64);
    // SAFETY: the handle is open; ffthdu counts the complete HDUs and restores the position,
    // ffmahd moves to the last of them (1-based) and ffghadll reports where it ends (the
    // start of a following HDU, i.e. after the padding); all out-pointers are valid (cfitsio
    // accepts a null HDU-type pointer).
    unsafe {
        fitsio::sys::ffthdu(f.as_raw(), &mut n, &mut status);
        fitsio::sys::ffmahd(f.as_raw(), n.max(1), ptr::null_mut(), &mut status);
        fitsio::sys::ffghadll(f.as_raw(), &mut head, &mut data, &mut end, &mut status);
        fitsio::sys::ffmahd(f.as_raw(), 1, ptr::null_mut(), &mut status);
    }
    fitsio::errors::check_status(status).map_err(|e| {
        Error::fits(
            path,
            format!("cannot read the HDU structure: {}", describe(&e)),
        )
    })?;
    let end = end as u64;
    if end > size {
        return Err(Error::fits(
            path,
            format!(
                "the file is truncated: HDU {n} should end at byte {end} but the file has \
                 {size} bytes"
            ),
        ));
    }
    if end < size {
        return Err(Error::fits(
            path,
            format!(
                "the file is truncated or damaged: {} bytes follow the last complete HDU \
                 (HDU {n}, ending at byte {end}) but do not form a complete HDU",
                size - end
            ),
        ));
    }
    Ok(())
}

/// Converts a value read from a 32-bit float column to `f64` as the shortest decimal that
/// identifies it (so 0.01 written as `E` reads back as 0.01, not 0.009999999776), when that
/// decimal converts back to the same `f32`; otherwise (and for non-finite values) exactly.
pub(crate) fn f32_to_f64(x: f32) -> f64 {
    if !x.is_finite() {
        return f64::from(x);
    }
    match x.to_string().parse::<f64>() {
        Ok(v) if v as f32 == x => v,
        _ => f64::from(x),
    }
}

/// A binary-table extension opened for reading, with the context for error messages.
pub(crate) struct Table<'a> {
    path: &'a Path,
    extname: String,
    hdu: FitsHdu,
    columns: Vec<ConcreteColumnDescription>,
    num_rows: usize,
}

impl<'a> Table<'a> {
    /// The binary table named `extname` (EXTNAME or HDUNAME), or `None` when the file has no
    /// extension of that name.
    pub(crate) fn find(f: &mut FitsFile, path: &'a Path, extname: &str) -> Result<Option<Self>> {
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
            extname: extname.to_string(),
            hdu,
            columns,
            num_rows,
        }))
    }

    /// The first of the binary tables `names` that the file has; an error naming `what` the
    /// extension holds when it has none of them.
    pub(crate) fn require(
        f: &mut FitsFile,
        path: &'a Path,
        names: &[&str],
        what: &str,
    ) -> Result<Self> {
        for name in names {
            if let Some(t) = Self::find(f, path, name)? {
                return Ok(t);
            }
        }
        Err(Error::fits(
            path,
            format!("no {} extension ({what})", names.join(" or ")),
        ))
    }

    /// The number of rows.
    pub(crate) fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// An [`Error::Fits`] for this file, prefixed with the extension name.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::fits(self.path, format!("extension {}: {message}", self.extname))
    }

    /// True when the table has a column `name`.
    pub(crate) fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// Fails naming every column of `names` that the table lacks.
    /// The MJD of time 0: MJDREF, or MJDREFI + MJDREFF.
    pub(crate) fn mjdref(&self, f: &mut FitsFile) -> Result<f64> {
        match self.optional_key::<f64>(f, "MJDREF")? {
            Some(v) => Ok(v),
            None => match (
                self.optional_key::<f64>(f, "MJDREFI")?,
                self.optional_key::<f64>(f, "MJDREFF")?,
            ) {
                (Some(i), ff) => Ok(i + ff.unwrap_or(0.0)),
                (None, _) => Err(self.error("missing keyword MJDREF (or MJDREFI)")),
            },
        }
    }

    /// Fails unless the table's time system (TIMESYS, if given) is TT, INTEGRAL's.
    pub(crate) fn require_tt(&self, f: &mut FitsFile) -> Result<()> {
        match self.optional_text(f, "TIMESYS")? {
            Some(sys) if !sys.eq_ignore_ascii_case("TT") => Err(self.error(format!(
                "TIMESYS = {sys:?}; only TT (the INTEGRAL time scale) is supported"
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn require_columns(&self, names: &[&str]) -> Result<()> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.has_column(n))
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

    /// The 1-based index and description of column `name`.
    fn describe_column(&self, name: &str) -> Result<(usize, &ConcreteColumnDescription)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .map(|(i, c)| (i + 1, c))
            .ok_or_else(|| self.error(format!("missing column {name}")))
    }

    /// The number of values per row of column `name`.
    pub(crate) fn repeat(&self, name: &str) -> Result<usize> {
        Ok(self.describe_column(name)?.1.data_type.repeat)
    }

    /// The 1-based number of column `name`.
    pub(crate) fn column_number(&self, name: &str) -> Result<usize> {
        Ok(self.describe_column(name)?.0)
    }

    /// A scalar numeric column, converted to `T` by cfitsio (which fails on values that do not
    /// fit). One cfitsio call for the whole column. A vector column is an error saying that its
    /// length does not match the other columns.
    pub(crate) fn numeric_column<T: ReadsCol>(
        &self,
        f: &mut FitsFile,
        name: &str,
    ) -> Result<Vec<T>> {
        let (_, repeat) = self.numeric_type(name)?;
        if repeat != 1 {
            return Err(self.error(format!(
                "column {name} holds {repeat} values per row where one is expected, so its \
                 length does not match the other columns"
            )));
        }
        self.read_values(f, name)
    }

    /// A numeric column as `f64`, all its values row after row (`repeat` values per row), which
    /// must be `repeat` (`None`: any). Values of 32-bit float columns are converted with
    /// [`f32_to_f64`].
    pub(crate) fn f64_values(
        &self,
        f: &mut FitsFile,
        name: &str,
        repeat: Option<usize>,
    ) -> Result<Vec<f64>> {
        let typ = self.check_numeric(name, repeat)?;
        if typ == ColumnDataType::Float {
            let v: Vec<f32> = self.read_values(f, name)?;
            Ok(v.into_iter().map(f32_to_f64).collect())
        } else {
            self.read_values(f, name)
        }
    }

    /// An integer column as `i64`, all its values row after row; see [`Table::f64_values`].
    /// cfitsio fails on values that are not integers.
    pub(crate) fn i64_values(
        &self,
        f: &mut FitsFile,
        name: &str,
        repeat: Option<usize>,
    ) -> Result<Vec<i64>> {
        let typ = self.check_numeric(name, repeat)?;
        if matches!(typ, ColumnDataType::Float | ColumnDataType::Double) {
            return Err(self.error(format!(
                "column {name} holds floating-point values where integers are expected"
            )));
        }
        self.read_values(f, name)
    }

    /// The type and repeat count of column `name`, which must be numeric.
    fn numeric_type(&self, name: &str) -> Result<(ColumnDataType, usize)> {
        let (_, desc) = self.describe_column(name)?;
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
        Ok((typ, desc.data_type.repeat))
    }

    /// The type of numeric column `name`, which must hold `repeat` values per row (`None`:
    /// any number).
    fn check_numeric(&self, name: &str, repeat: Option<usize>) -> Result<ColumnDataType> {
        let (typ, has) = self.numeric_type(name)?;
        match repeat {
            Some(r) if r != has => Err(self.error(format!(
                "column {name} holds {has} value{} per row where {r} {} expected",
                if has == 1 { "" } else { "s" },
                if r == 1 { "is" } else { "are" }
            ))),
            _ => Ok(typ),
        }
    }

    /// All values of column `name` (repeat count × rows), read with one cfitsio call.
    fn read_values<T: ReadsCol>(&self, f: &mut FitsFile, name: &str) -> Result<Vec<T>> {
        let expected = self.num_rows * self.repeat(name)?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let values: Vec<T> = self
            .hdu
            .read_col(f, name)
            .map_err(|e| self.error(format!("column {name}: {}", describe(&e))))?;
        if values.len() != expected {
            return Err(self.error(format!(
                "column {name} has {} values for {} rows",
                values.len(),
                self.num_rows
            )));
        }
        Ok(values)
    }

    /// A scalar character column, trailing blanks removed.
    pub(crate) fn string_values(&self, f: &mut FitsFile, name: &str) -> Result<Vec<String>> {
        let (number, desc) = self.describe_column(name)?;
        if !matches!(
            desc.data_type.typ,
            ColumnDataType::Text | ColumnDataType::String
        ) {
            return Err(self.error(format!(
                "column {name} is not a character column (TFORM type {:?})",
                desc.data_type.typ
            )));
        }
        let width = desc.data_type.repeat.max(1);
        let n = self.num_rows;
        if n == 0 {
            return Ok(Vec::new());
        }
        self.make_current(f)?;
        // fitsio 0.21's String reader gives cfitsio `width` bytes per value, but cfitsio also
        // writes a terminating NUL: read with `width + 1`-byte buffers of our own instead.
        let mut buffers: Vec<Vec<c_char>> = vec![vec![0; width + 1]; n];
        let mut pointers: Vec<*mut c_char> = buffers.iter_mut().map(|b| b.as_mut_ptr()).collect();
        let mut status = 0;
        let mut anynul = 0;
        let nulval = c"";
        // SAFETY: the handle is open and positioned at this table; `pointers` holds `n` pointers
        // to live buffers of `width + 1` bytes each, enough for any value of this column plus
        // the NUL; `nulval` is a valid C string.
        unsafe {
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

    /// Makes this table the current HDU, for direct cfitsio calls.
    fn make_current(&self, f: &mut FitsFile) -> Result<()> {
        move_to(f, &self.hdu).map_err(|e| self.error(describe(&e)))
    }

    /// Byte offsets within a row of the scalar columns `wanted` (name, type), when the table can
    /// be read as raw big-endian rows: every column of a fixed-width type, the wanted ones of the
    /// given type, unscaled (no TSCALn/TZEROn) and the row width matching NAXIS1. `None` means
    /// "use the column-by-column reader" (real archive files with exotic layouts still work).
    pub(crate) fn raw_offsets(
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
    pub(crate) fn read_raw_rows(
        &self,
        f: &mut FitsFile,
        row_width: usize,
        chunk_rows: usize,
        mut visit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.make_current(f)?;
        let mut status = 0;
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

    /// A keyword of this extension's header, or `None` when it is absent.
    pub(crate) fn optional_key<T: ReadsKey>(
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
    pub(crate) fn key<T: ReadsKey>(&self, f: &mut FitsFile, name: &str) -> Result<T> {
        self.optional_key(f, name)?
            .ok_or_else(|| self.error(format!("missing keyword {name}")))
    }

    /// A string keyword, surrounding blanks removed, or `None` when it is absent.
    pub(crate) fn optional_text(&self, f: &mut FitsFile, name: &str) -> Result<Option<String>> {
        Ok(self
            .optional_key::<String>(f, name)?
            .map(|s| s.trim().to_string()))
    }

    /// A required floating-point keyword that must be finite.
    pub(crate) fn finite_key(&self, f: &mut FitsFile, name: &str) -> Result<f64> {
        let v: f64 = self.key(f, name)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.error(format!("keyword {name} = {v} is not a finite number")))
        }
    }

    /// A required integer keyword that must lie in `range`.
    pub(crate) fn int_key(
        &self,
        f: &mut FitsFile,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64> {
        let v: i64 = self.key(f, name)?;
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(self.error(format!(
                "keyword {name} = {v} is outside {}–{}",
                range.start(),
                range.end()
            )))
        }
    }
}

/// One column of a table to create: name, type, repeat count (string width for text) and unit
/// (`""` for none).
pub(crate) struct Column {
    /// TTYPEn.
    pub(crate) name: &'static str,
    /// The data type (TFORMn letter).
    pub(crate) typ: ColumnDataType,
    /// The repeat count of TFORMn (the width of a character column); 0 is written as 1.
    pub(crate) repeat: usize,
    /// TUNITn, or `""` for none.
    pub(crate) unit: &'static str,
}

impl Column {
    /// A column of `repeat` values of type `typ` per row.
    pub(crate) const fn new(
        name: &'static str,
        typ: ColumnDataType,
        repeat: usize,
        unit: &'static str,
    ) -> Self {
        Column {
            name,
            typ,
            repeat,
            unit,
        }
    }
}

/// A FITS file being written under a temporary name; see [`write_atomically`].
pub(crate) struct NewFile<'a> {
    f: FitsFile,
    /// The final path, for error messages.
    target: &'a Path,
}

impl NewFile<'_> {
    fn error(&self, what: &str, e: &FitsioError) -> Error {
        Error::fits(self.target, format!("writing {what}: {}", describe(e)))
    }

    /// Writes the primary HDU: an empty array with `ORIGIN = 'oda'` (and no DATE, so that the
    /// same input always gives the same bytes). Returns the primary HDU. The archive's files
    /// have just this, as the real archive's have no `CREATOR` naming this crate.
    pub(crate) fn empty_primary(&mut self) -> Result<FitsHdu> {
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

    /// [`NewFile::empty_primary`] plus `CREATOR = 'oda <version>'`, as the OGIP products have.
    pub(crate) fn empty_primary_with_creator(&mut self) -> Result<FitsHdu> {
        let hdu = self.empty_primary()?;
        self.key_str(
            &hdu,
            "CREATOR",
            concat!("oda ", env!("CARGO_PKG_VERSION")),
            "Software that wrote the file",
        )?;
        Ok(hdu)
    }

    /// Appends a binary table `extname` with `columns` (and their TUNITn) and no rows yet.
    pub(crate) fn table(&mut self, extname: &str, columns: &[Column]) -> Result<FitsHdu> {
        let what = format!("extension {extname}");
        let descriptions = columns
            .iter()
            .map(|c| {
                ColumnDescription::new(c.name)
                    .with_type(c.typ)
                    .that_repeats(c.repeat.max(1))
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

    /// Appends an image extension `extname` of `shape` (rows, columns) holding `data` (row
    /// major, stored as 32-bit floats: BITPIX = −32).
    pub(crate) fn image_f32(
        &mut self,
        extname: &str,
        shape: (usize, usize),
        data: &[f32],
    ) -> Result<FitsHdu> {
        let what = format!("image {extname}");
        let desc = fitsio::images::ImageDescription {
            data_type: fitsio::images::ImageType::Float,
            dimensions: &[shape.0, shape.1],
        };
        let hdu = self
            .f
            .create_image(extname, &desc)
            .map_err(|e| self.error(&what, &e))?;
        hdu.write_image(&mut self.f, data)
            .map_err(|e| self.error(&what, &e))?;
        Ok(hdu)
    }

    /// Writes a string keyword with a comment. The value must be printable ASCII that fits on
    /// one header card (cfitsio would silently truncate a longer one).
    pub(crate) fn key_str(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: &str,
        comment: &str,
    ) -> Result<()> {
        check_key_string(name, value).map_err(|m| Error::fits(self.target, m))?;
        hdu.write_key(&mut self.f, name, (value, comment))
            .map_err(|e| self.error(&format!("keyword {name}"), &e))
    }

    /// Writes an integer keyword with a comment.
    pub(crate) fn key_int(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: i64,
        comment: &str,
    ) -> Result<()> {
        hdu.write_key(&mut self.f, name, (value, comment))
            .map_err(|e| self.error(&format!("keyword {name}"), &e))
    }

    /// Prepares a keyword written with a direct cfitsio call: makes `hdu` the current HDU (as
    /// fitsio's own `write_key` does) and returns the name and comment as C strings.
    fn prepare_key(
        &mut self,
        hdu: &FitsHdu,
        what: &str,
        name: &str,
        comment: &str,
    ) -> Result<(CString, CString)> {
        self.f.hdu(hdu.number).map_err(|e| self.error(what, &e))?;
        let c_name = CString::new(name).map_err(|e| self.error(what, &FitsioError::Null(e)))?;
        let c_comment =
            CString::new(comment).map_err(|e| self.error(what, &FitsioError::Null(e)))?;
        Ok((c_name, c_comment))
    }

    /// Writes `TIMEREF = 'LOCAL'` and `TASSIGN = 'SATELLITE'`: spacecraft times, not corrected
    /// to the barycentre, as INTEGRAL's light curves carry them.
    pub(crate) fn onboard_time_keys(&mut self, hdu: &FitsHdu) -> Result<()> {
        self.key_str(
            hdu,
            "TIMEREF",
            "LOCAL",
            "Times are not corrected to the barycentre",
        )?;
        self.key_str(hdu, "TASSIGN", "SATELLITE", "Times assigned on board")
    }

    /// Writes a logical keyword (`T` or `F`) with a comment.
    pub(crate) fn key_bool(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        value: bool,
        comment: &str,
    ) -> Result<()> {
        let what = format!("keyword {name}");
        let (c_name, c_comment) = self.prepare_key(hdu, &what, name, comment)?;
        let mut status = 0;
        // SAFETY: the handle is open read-write and positioned at `hdu`; the strings are
        // NUL-terminated and outlive the call.
        unsafe {
            fitsio::sys::ffpkyl(
                self.f.as_raw(),
                c_name.as_ptr(),
                i32::from(value),
                c_comment.as_ptr(),
                &mut status,
            );
        }
        fitsio::errors::check_status(status).map_err(|e| self.error(&what, &e))
    }

    /// Writes a floating-point keyword with a comment, in the shortest decimal form that reads
    /// back exactly.
    pub(crate) fn key_f64(
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
        let (c_name, c_comment) = self.prepare_key(hdu, &what, name, comment)?;
        let mut status = 0;
        // SAFETY: the handle is open read-write and positioned at `hdu`, and the strings are
        // NUL-terminated and outlive the call. A negative `decim` asks for `%.*G` with that many
        // significant digits.
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

    /// Writes TLMINn and TLMAXn, the legal range of integer column `n` (1-based).
    pub(crate) fn legal_range(
        &mut self,
        hdu: &FitsHdu,
        n: usize,
        min: i64,
        max: i64,
    ) -> Result<()> {
        self.key_int(
            hdu,
            &format!("TLMIN{n}"),
            min,
            &format!("Lowest legal value of field {n}"),
        )?;
        self.key_int(
            hdu,
            &format!("TLMAX{n}"),
            max,
            &format!("Highest legal value of field {n}"),
        )
    }

    /// Writes a whole column with one cfitsio call: `data` holds the values of all rows, row
    /// after row (the repeat count of the column per row); the table grows to fit them.
    pub(crate) fn column<T: WritesCol>(
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

    /// Writes a character column, one value per row. The values must be printable ASCII.
    pub(crate) fn string_column(
        &mut self,
        hdu: &FitsHdu,
        name: &str,
        data: &[String],
    ) -> Result<()> {
        if let Some((i, _)) = data
            .iter()
            .enumerate()
            .find(|(_, s)| !s.bytes().all(|b| (0x20..=0x7e).contains(&b)))
        {
            return Err(Error::fits(
                self.target,
                format!(
                    "writing column {name}: the value {:?} of row {} is not printable ASCII",
                    data[i],
                    i + 1
                ),
            ));
        }
        self.column(hdu, name, data)
    }

    /// Writes `n_rows` whole rows given as raw big-endian bytes (the table's NAXIS1 bytes per
    /// row, in column order) into the empty table `hdu`: one cfitsio call instead of one strided
    /// pass per column.
    pub(crate) fn raw_rows(&mut self, hdu: &FitsHdu, bytes: &[u8], n_rows: usize) -> Result<()> {
        if n_rows == 0 {
            return Ok(());
        }
        move_to(&mut self.f, hdu).map_err(|e| self.error("the table rows", &e))?;
        let mut status = 0;
        // SAFETY: the handle is open read-write and positioned at `hdu`. ffirow appends n_rows
        // blank rows to the (empty) table, then ffptbb copies exactly `bytes.len()` bytes from a
        // live slice into them (cfitsio only reads through the pointer).
        unsafe {
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

/// Checks that `value` can be the value of string keyword `name`: printable ASCII, at most 68
/// characters with quotes doubled.
pub(crate) fn check_key_string(name: &str, value: &str) -> std::result::Result<(), String> {
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(format!(
            "keyword {name}: the value {value:?} is not printable ASCII, which FITS headers require"
        ));
    }
    let len = value.len() + value.matches('\'').count();
    if len > MAX_KEY_STRING {
        return Err(format!(
            "keyword {name}: the value {value:?} has {len} characters, more than the \
             {MAX_KEY_STRING} a FITS header card holds"
        ));
    }
    Ok(())
}

/// The fewest significant decimal digits (at most 17) that print `v` so that it parses back to
/// exactly `v`.
pub(crate) fn significant_digits(v: f64) -> i32 {
    (1..17)
        .find(|&d: &usize| format!("{:.*e}", d - 1, v).parse::<f64>() == Ok(v))
        .map_or(17, |d| d as i32)
}

/// Distinguishes the temporary files of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name beside `path` (whose file name is `name`) unique to this process and call:
/// `.<name>.tmp.<pid>.<n>`. Missing parent directories are created.
fn temp_sibling(path: &Path, name: &str) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".{name}.tmp.{}.{n}", std::process::id())))
}

/// Writes `bytes` (a JSON document, a figure) to `path` atomically, as [`write_atomically`]
/// does for FITS files: under a temporary name beside it, then renamed over it.
pub(crate) fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::io(
            path,
            std::io::Error::other("the path must end in a UTF-8 file name"),
        )
    })?;
    let temp = temp_sibling(path, name)?;
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            Error::io(path, e)
        })
}

/// Writes a FITS file to `path` atomically: `build` fills a new file created under a temporary
/// name in the same directory (`.<name>.tmp.<pid>.<n>`), which is then renamed over `path`.
/// Missing parent directories are created. On any error the temporary file is removed and an
/// existing file at `path` is left untouched.
pub(crate) fn write_atomically(
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
    let temp = temp_sibling(path, name)?;
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

/// Adds the citation of a published record to every HDU of the FITS file at `path`: `DOI`
/// (the DOI) and `REFERENC` (the citation text, folded to ASCII; a long string continued over
/// `CONTINUE` cards, as the HEASARC long-string convention allows). Existing cards of those
/// names are replaced, so stamping twice gives the same bytes as stamping once. The file is
/// edited as a copy under a temporary name and renamed over `path`: a failure leaves `path`
/// as it was.
pub(crate) fn stamp_citation(path: &Path, doi: &str, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::fits(path, "the path must end in a UTF-8 file name"))?;
    check_key_string("DOI", doi).map_err(|m| Error::fits(path, m))?;
    let temp = temp_sibling(path, name)?;
    std::fs::copy(path, &temp).map_err(|e| Error::io(path, e))?;
    let result = guard(path, || {
        let c_temp = c_path(&temp)?;
        let fail = |what: &str, status: i32| {
            let message = fitsio::errors::check_status(status)
                .err()
                .map_or_else(String::new, |e| describe(&e));
            Error::fits(path, format!("adding the citation ({what}): {message}"))
        };
        let key =
            |s: &str| CString::new(s).map_err(|_| Error::fits(path, "a NUL byte in a keyword"));
        let (k_doi, v_doi, c_doi) = (key("DOI")?, key(doi)?, key("DOI of the published record")?);
        let (k_ref, v_ref) = (key("REFERENC")?, key(&ascii_fold(text))?);
        let c_ref = key("How to cite the published record")?;
        let mut fptr = ptr::null_mut();
        let mut status = 0;
        // SAFETY: `c_temp` is NUL-terminated and outlives the call; the out-pointers are
        // valid; cfitsio leaves `fptr` null on failure (checked below). Mode 1 = READWRITE.
        unsafe {
            fitsio::sys::ffdkopn(&mut fptr, c_temp.as_ptr(), 1, &mut status);
        }
        if status != 0 || fptr.is_null() {
            return Err(fail("opening", status));
        }
        let mut n_hdu = 0;
        // SAFETY (this block and the loop): `fptr` is the open read-write handle from above;
        // every string is a live CString; status is checked after each call and the handle is
        // closed exactly once at the end, whatever happened.
        unsafe {
            fitsio::sys::ffthdu(fptr, &mut n_hdu, &mut status);
            for i in 1..=n_hdu {
                if status != 0 {
                    break;
                }
                let mut hdu_type = 0;
                fitsio::sys::ffmahd(fptr, i, &mut hdu_type, &mut status);
                fitsio::sys::ffukys(
                    fptr,
                    k_doi.as_ptr(),
                    v_doi.as_ptr(),
                    c_doi.as_ptr(),
                    &mut status,
                );
                fitsio::sys::ffukls(
                    fptr,
                    k_ref.as_ptr(),
                    v_ref.as_ptr(),
                    c_ref.as_ptr(),
                    &mut status,
                );
            }
            let written = status;
            let mut close_status = 0;
            fitsio::sys::ffclos(fptr, &mut close_status);
            if written != 0 {
                return Err(fail("writing the keywords", written));
            }
            if close_status != 0 {
                return Err(fail("closing", close_status));
            }
        }
        std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// One HDU's place and digests: its name, and the SHA-256 (hex) of its header bytes and of its
/// data bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HduDigest {
    /// `EXTNAME`, or `PRIMARY`.
    pub name: String,
    /// SHA-256 of the header (its 2880-byte blocks).
    pub header_sha256: String,
    /// SHA-256 of the data (with padding).
    pub data_sha256: String,
}

/// The digests of every HDU of the FITS file at `path` (none for a file cfitsio cannot read).
pub(crate) fn hdu_digests(path: &Path) -> Vec<HduDigest> {
    use sha2::Digest;
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(mut f) = open_readonly_no_size_check(path) else {
        return Vec::new();
    };
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut out = Vec::new();
    let mut n = 0;
    let mut status = 0;
    // SAFETY: an open handle owned by `f`; the out-pointers are valid.
    unsafe {
        fitsio::sys::ffthdu(f.as_raw(), &mut n, &mut status);
    }
    for i in 1..=n {
        let (mut head, mut data, mut end) = (0i64, 0i64, 0i64);
        let mut hdu_type = 0;
        // SAFETY: as above; `i` is within 1..=n.
        unsafe {
            fitsio::sys::ffmahd(f.as_raw(), i, &mut hdu_type, &mut status);
            fitsio::sys::ffghadll(f.as_raw(), &mut head, &mut data, &mut end, &mut status);
        }
        if status != 0 {
            break;
        }
        let name = f
            .hdu(i as usize - 1)
            .ok()
            .and_then(|h| h.read_key::<String>(&mut f, "EXTNAME").ok())
            .unwrap_or_else(|| {
                if i == 1 {
                    "PRIMARY".into()
                } else {
                    format!("HDU {i}")
                }
            });
        let slice = |a: i64, b: i64| {
            let (a, b) = (a.max(0) as usize, (b.max(0) as usize).min(bytes.len()));
            if a <= b { &bytes[a..b] } else { &[][..] }
        };
        out.push(HduDigest {
            name,
            header_sha256: hex(&sha2::Sha256::digest(slice(head, data))),
            data_sha256: hex(&sha2::Sha256::digest(slice(data, end))),
        });
    }
    out
}

/// Which HDU of `file` differs from the `expected` digests, in words ("HDU 2 (SPECTRUM): the
/// data differ"), or `None` when all agree.
pub(crate) fn describe_digest_difference(file: &Path, expected: &[HduDigest]) -> Option<String> {
    let got = hdu_digests(file);
    if got.len() != expected.len() {
        return Some(format!("{} HDUs, expected {}", got.len(), expected.len()));
    }
    got.iter()
        .zip(expected)
        .enumerate()
        .find_map(|(i, (g, e))| {
            let what = match (
                g.header_sha256 == e.header_sha256,
                g.data_sha256 == e.data_sha256,
            ) {
                (true, true) => return None,
                (false, true) => "the header differs",
                (true, false) => "the data differ",
                (false, false) => "the header and the data differ",
            };
            Some(format!("HDU {} ({}): {what}", i + 1, e.name))
        })
}

/// What differs between two FITS files: the first HDU that differs and, for data, the largest
/// relative change of its numbers (images, and the numeric columns of tables).
pub(crate) fn describe_hdu_difference(a: &Path, b: &Path) -> Option<String> {
    let (da, db) = (hdu_digests(a), hdu_digests(b));
    let where_ = describe_digest_difference(a, &db)?;
    let i = da.iter().zip(&db).position(|(x, y)| x != y).unwrap_or(0);
    let change = largest_relative_change(a, b, i)
        .map(|(r, what)| format!("; largest relative change {r:.3e} ({what})"))
        .unwrap_or_default();
    Some(format!("{where_}{change}"))
}

/// The largest relative change |a−b|/max(|a|,|b|) between the numbers of HDU `index` (0-based)
/// of two files, and where it is.
fn largest_relative_change(a: &Path, b: &Path, index: usize) -> Option<(f64, String)> {
    let mut fa = open_readonly_no_size_check(a).ok()?;
    let mut fb = open_readonly_no_size_check(b).ok()?;
    let ha = fa.hdu(index).ok()?;
    let hb = fb.hdu(index).ok()?;
    let mut best: Option<(f64, String)> = None;
    let mut consider = |xa: &[f64], xb: &[f64], what: &str| {
        for (x, y) in xa.iter().zip(xb) {
            let scale = x.abs().max(y.abs());
            let r = if x == y || scale == 0.0 {
                0.0
            } else {
                (x - y).abs() / scale
            };
            if r > best.as_ref().map_or(0.0, |b| b.0) {
                best = Some((r, what.to_string()));
            }
        }
    };
    match &ha.info {
        HduInfo::ImageInfo { .. } => {
            let xa: Vec<f64> = ha.read_image(&mut fa).ok()?;
            let xb: Vec<f64> = hb.read_image(&mut fb).ok()?;
            consider(&xa, &xb, "image");
        }
        HduInfo::TableInfo {
            column_descriptions,
            ..
        } => {
            for c in column_descriptions {
                if let (Ok(xa), Ok(xb)) = (
                    ha.read_col::<f64>(&mut fa, &c.name),
                    hb.read_col::<f64>(&mut fb, &c.name),
                ) {
                    consider(&xa, &xb, &format!("column {}", c.name));
                }
            }
        }
        _ => {}
    }
    best
}

/// `text` in printable ASCII, as FITS headers require: common accented Latin letters lose their
/// accents, typographic dashes and quotes become plain ones, anything else becomes `?`.
pub(crate) fn ascii_fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c.to_string(),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a".into(),
            'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' => "A".into(),
            'ç' | 'ć' | 'č' => "c".into(),
            'Ç' | 'Ć' | 'Č' => "C".into(),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e".into(),
            'È' | 'É' | 'Ê' | 'Ë' | 'Ē' => "E".into(),
            'ì' | 'í' | 'î' | 'ï' | 'ī' => "i".into(),
            'Ì' | 'Í' | 'Î' | 'Ï' => "I".into(),
            'ñ' | 'ń' | 'ň' => "n".into(),
            'Ñ' => "N".into(),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o".into(),
            'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O".into(),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u".into(),
            'Ù' | 'Ú' | 'Û' | 'Ü' => "U".into(),
            'ý' | 'ÿ' => "y".into(),
            'š' | 'ś' => "s".into(),
            'Š' | 'Ś' => "S".into(),
            'ž' | 'ź' | 'ż' => "z".into(),
            'Ž' | 'Ź' | 'Ż' => "Z".into(),
            'ł' => "l".into(),
            'Ł' => "L".into(),
            'ß' => "ss".into(),
            'æ' => "ae".into(),
            'œ' => "oe".into(),
            '–' | '—' | '−' => "-".into(),
            '‘' | '’' => "'".into(),
            '“' | '”' => "\"".into(),
            '…' => "...".into(),
            // Units and symbols of spectral models (OGIP writes cm**-2 as cm-2 or cm2).
            '²' => "2".into(),
            '³' => "3".into(),
            '¹' => "1".into(),
            'µ' | 'μ' => "u".into(),
            '°' => "deg".into(),
            '×' => "x".into(),
            '·' | '⋅' => ".".into(),
            '⁻' => "-".into(),
            'Γ' => "Gamma".into(),
            'σ' => "sigma".into(),
            'α' => "alpha".into(),
            'β' => "beta".into(),
            _ => "?".into(),
        })
        .collect()
}

/// Creates the new, empty FITS file `temp` (which must not exist), taking the name literally.
fn create_literal(temp: &Path, target: &Path) -> Result<FitsFile> {
    let name = c_path(temp)?;
    let mut fptr = ptr::null_mut();
    let mut status = 0;
    // SAFETY: as in `open_readonly_no_size_check`: `name` is NUL-terminated and outlives the
    // call, the out-pointers are valid, and on failure cfitsio leaves `fptr` null.
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

/// Helpers for tests that damage FITS files on purpose and check the errors.
#[cfg(test)]
pub(crate) mod testutil {
    use std::path::Path;

    use fitsio::FitsFile;
    use fitsio::hdu::FitsHdu;

    use crate::error::Error;

    /// The message of an [`Error::Fits`] (fails on any other error).
    pub(crate) fn fits_message(e: Error) -> String {
        assert!(
            matches!(e, Error::Fits { .. }),
            "expected Error::Fits, got {e:?}"
        );
        e.to_string()
    }

    /// Opens `path` for editing at extension `extname`.
    pub(crate) fn edit(path: &Path, extname: &str) -> (FitsFile, FitsHdu) {
        let mut f = FitsFile::edit(path).unwrap();
        let hdu = f.hdu(extname).unwrap();
        (f, hdu)
    }

    /// Deletes keyword `key` of extension `extname`.
    pub(crate) fn delete_key(path: &Path, extname: &str, key: &str) {
        let (mut f, _hdu) = edit(path, extname);
        let name = std::ffi::CString::new(key).unwrap();
        let mut status = 0;
        // SAFETY: an open read-write handle positioned at the extension; a valid C string.
        unsafe {
            fitsio::sys::ffdkey(f.as_raw(), name.as_ptr(), &mut status);
        }
        assert_eq!(status, 0, "deleting {key}");
    }

    /// Replaces keyword `key` of `extname` by `value`.
    pub(crate) fn set_key<T: fitsio::headers::WritesKey>(
        path: &Path,
        extname: &str,
        key: &str,
        value: T,
    ) {
        delete_key(path, extname, key);
        let (mut f, hdu) = edit(path, extname);
        hdu.write_key(&mut f, key, value).unwrap();
    }
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

    #[test]
    fn f32_values_read_back_as_their_shortest_decimal() {
        assert_eq!(f32_to_f64(0.01), 0.01);
        assert_eq!(f32_to_f64(20.0), 20.0);
        assert_eq!(f32_to_f64(1e-30), 1e-30);
        assert!(f32_to_f64(f32::NAN).is_nan());
        assert_eq!(f32_to_f64(f32::INFINITY), f64::INFINITY);
        // Idempotent: converting back to f32 gives the stored value.
        let mut state = 7u32;
        for _ in 0..10_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = f32::from_bits(state >> 1);
            if x.is_finite() {
                assert_eq!(f32_to_f64(x) as f32, x);
            }
        }
    }

    #[test]
    fn key_strings_must_fit_a_card() {
        assert!(check_key_string("OBJECT", "Crab").is_ok());
        assert!(check_key_string("OBJECT", &"x".repeat(68)).is_ok());
        assert!(check_key_string("OBJECT", &"x".repeat(69)).is_err());
        assert!(check_key_string("OBJECT", &format!("{}'", "x".repeat(67))).is_err());
        let m = check_key_string("OBJECT", "Cygnus X\u{2011}1").unwrap_err();
        assert!(m.contains("OBJECT") && m.contains("ASCII"), "{m}");
    }
}
