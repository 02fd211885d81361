//! Products as the `oda_api` client decodes them.
//!
//! The client rebuilds each FITS HDU as a `NumpyDataUnit` from a JSON dictionary: `data` is a
//! Python literal of the rows (nested lists for an image, tuples for a table) that it `eval`s
//! and casts with `dt`, the numpy dtype; `header` the keywords; `units_dict` the column units.
//! With `binarys: null` no Python pickle is needed. The units are made from the very FITS files
//! the library wrote, read here byte by byte (FITS is simple and fixed: 2880-byte blocks of
//! 80-character cards, big-endian data), so what `data.write_fits_file` writes on the client
//! holds the same numbers as the library's file.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::fit::SpectralFit;

/// A header value.
#[derive(Clone, Debug, PartialEq)]
pub enum CardValue {
    /// A string (long strings already joined from their `CONTINUE` cards).
    Text(String),
    /// `T` or `F`.
    Logical(bool),
    /// An integer.
    Integer(i64),
    /// A real number.
    Real(f64),
    /// No value (commentary cards, undefined values).
    None,
}

impl CardValue {
    fn to_json(&self) -> Value {
        match self {
            CardValue::Text(s) => json!(s),
            CardValue::Logical(b) => json!(b),
            CardValue::Integer(i) => json!(i),
            CardValue::Real(x) if x.is_finite() => json!(x),
            CardValue::Real(_) | CardValue::None => Value::Null,
        }
    }
}

/// One HDU of a FITS file.
#[derive(Clone, Debug)]
pub struct RawHdu {
    /// Keywords in order, `CONTINUE` cards folded into their string.
    pub cards: Vec<(String, CardValue)>,
    /// The data bytes (without padding).
    pub data: Vec<u8>,
}

impl RawHdu {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&CardValue> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            CardValue::Integer(i) => Some(*i),
            CardValue::Real(x) if x.fract() == 0.0 => Some(*x as i64),
            _ => None,
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            CardValue::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// `EXTNAME`, or `PRIMARY` for the first HDU.
    pub fn name(&self, index: usize) -> String {
        self.text("EXTNAME")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| {
                if index == 0 {
                    "PRIMARY".into()
                } else {
                    String::new()
                }
            })
    }
}

const BLOCK: usize = 2880;

/// Reads every HDU of the FITS file at `path`.
///
/// # Errors
/// An unreadable or truncated file, or a header that is not FITS.
pub fn read_fits(path: &Path) -> Result<Vec<RawHdu>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_fits(&bytes).map_err(|message| Error::Fits {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses FITS bytes into HDUs.
pub fn parse_fits(bytes: &[u8]) -> std::result::Result<Vec<RawHdu>, String> {
    let mut hdus = Vec::new();
    let mut at = 0;
    while at + BLOCK <= bytes.len() {
        let mut cards: Vec<(String, CardValue)> = Vec::new();
        let mut ended = false;
        while !ended {
            if at + BLOCK > bytes.len() {
                return Err(format!("HDU {}: the header has no END card", hdus.len()));
            }
            for card in bytes[at..at + BLOCK].chunks(80) {
                let card = std::str::from_utf8(card)
                    .map_err(|_| format!("HDU {}: a header card is not ASCII", hdus.len()))?;
                let key = card[..8].trim_end().to_string();
                if key == "END" {
                    ended = true;
                    break;
                }
                if key == "CONTINUE" {
                    if let Some((_, CardValue::Text(prev))) = cards.last_mut()
                        && prev.ends_with('&')
                    {
                        prev.pop();
                        if let CardValue::Text(more) = parse_value(&card[8..]) {
                            prev.push_str(&more);
                        }
                    }
                    continue;
                }
                if key.is_empty() && card.trim().is_empty() {
                    continue;
                }
                let value = if card.get(8..10) == Some("= ") {
                    parse_value(&card[10..])
                } else {
                    CardValue::Text(card[8..].trim_end().to_string())
                };
                cards.push((key, value));
            }
            at += BLOCK;
        }
        let mut hdu = RawHdu {
            cards,
            data: Vec::new(),
        };
        let naxis = hdu.int("NAXIS").unwrap_or(0);
        let bitpix = hdu.int("BITPIX").unwrap_or(8);
        let mut n: i64 = if naxis > 0 { 1 } else { 0 };
        for i in 1..=naxis {
            n = n.saturating_mul(hdu.int(&format!("NAXIS{i}")).unwrap_or(0));
        }
        let size =
            (n.saturating_mul(bitpix.abs() / 8) + hdu.int("PCOUNT").unwrap_or(0)).max(0) as usize;
        if at + size > bytes.len() {
            return Err(format!(
                "HDU {}: the data are cut short ({} of {size} bytes)",
                hdus.len(),
                bytes.len() - at
            ));
        }
        hdu.data = bytes[at..at + size].to_vec();
        at += size.div_ceil(BLOCK) * BLOCK;
        hdus.push(hdu);
    }
    if hdus.is_empty() {
        return Err("not a FITS file (no header)".into());
    }
    Ok(hdus)
}

/// The value field of a card (after `= `), its comment dropped.
fn parse_value(field: &str) -> CardValue {
    let t = field.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        let mut s = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    s.push('\'');
                } else {
                    break;
                }
            } else {
                s.push(c);
            }
        }
        // Trailing blanks are not significant in FITS strings; leading ones are.
        return CardValue::Text(s.trim_end().to_string());
    }
    let v = t.split('/').next().unwrap_or("").trim();
    match v {
        "" => CardValue::None,
        "T" => CardValue::Logical(true),
        "F" => CardValue::Logical(false),
        _ => {
            if let Ok(i) = v.parse::<i64>() {
                CardValue::Integer(i)
            } else if let Ok(x) = v.replace(['D', 'd'], "E").parse::<f64>() {
                CardValue::Real(x)
            } else {
                CardValue::Text(v.to_string())
            }
        }
    }
}

/// Keywords that describe the data layout: astropy writes them again from the data, and a
/// copy in the header would fight it. CHECKSUM/DATASUM no longer hold after a rewrite.
fn structural(key: &str) -> bool {
    const EXACT: [&str; 12] = [
        "SIMPLE", "EXTEND", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "BSCALE",
        "BZERO", "CHECKSUM", "DATASUM",
    ];
    const INDEXED: [&str; 8] = [
        "NAXIS", "TTYPE", "TFORM", "TUNIT", "TDIM", "TSCAL", "TZERO", "TNULL",
    ];
    EXACT.contains(&key)
        || INDEXED.iter().any(|p| {
            key.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// A float as a Python literal (`float('nan')` for NaN: the client `eval`s the data).
fn py_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("float('nan')");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "float('inf')"
        } else {
            "-float('inf')"
        });
    } else {
        let _ = write!(out, "{x:?}");
    }
}

fn py_f32(out: &mut String, x: f32) {
    if x.is_finite() {
        // Shortest text that reads back as this f32 (numpy casts the Python float to f32).
        let _ = write!(out, "{x:?}");
    } else {
        py_float(out, x as f64);
    }
}

fn py_str(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.push('\'');
}

/// A column of a binary table.
struct Column {
    name: String,
    code: char,
    repeat: usize,
    offset: usize,
}

impl Column {
    fn width(&self) -> usize {
        self.repeat
            * match self.code {
                'L' | 'B' | 'A' => 1,
                'I' => 2,
                'J' | 'E' => 4,
                'K' | 'D' => 8,
                _ => 0,
            }
    }

    fn dtype(&self) -> String {
        let base = match self.code {
            'L' => "'?'".to_string(),
            'B' => "'u1'".to_string(),
            'I' => "'>i2'".to_string(),
            'J' => "'>i4'".to_string(),
            'K' => "'>i8'".to_string(),
            'E' => "'>f4'".to_string(),
            'D' => "'>f8'".to_string(),
            _ => format!("'S{}'", self.repeat.max(1)),
        };
        let mut name = String::new();
        py_str(&mut name, &self.name);
        if self.code != 'A' && self.repeat != 1 {
            format!("({name}, {base}, ({},))", self.repeat)
        } else {
            format!("({name}, {base})")
        }
    }

    fn value(&self, out: &mut String, row: &[u8]) {
        let b = &row[self.offset..self.offset + self.width()];
        if self.code == 'A' {
            let s: String = b
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as char)
                .collect();
            py_str(out, s.trim_end());
            return;
        }
        let one = |out: &mut String, i: usize| match self.code {
            'L' => out.push_str(if b[i] == b'T' { "True" } else { "False" }),
            'B' => {
                let _ = write!(out, "{}", b[i]);
            }
            'I' => {
                let _ = write!(out, "{}", i16::from_be_bytes([b[2 * i], b[2 * i + 1]]));
            }
            'J' => {
                let v = i32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or([0; 4]));
                let _ = write!(out, "{v}");
            }
            'K' => {
                let v = i64::from_be_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
                let _ = write!(out, "{v}");
            }
            'E' => py_f32(
                out,
                f32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or([0; 4])),
            ),
            _ => py_float(
                out,
                f64::from_be_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8])),
            ),
        };
        if self.repeat == 1 {
            one(out, 0);
        } else {
            out.push('[');
            for i in 0..self.repeat {
                if i > 0 {
                    out.push_str(", ");
                }
                one(out, i);
            }
            out.push(']');
        }
    }
}

/// The `NumpyDataUnit` dictionary (JSON text) of HDU `index` of `file` (a name for messages).
/// The header keeps the file's keyword order (the client writes it back in this order).
///
/// # Errors
/// Data layouts the library never writes (ASCII tables, variable-length or scaled columns).
pub fn data_unit(hdu: &RawHdu, index: usize, file: &str) -> Result<String> {
    let unsupported = |what: String| Error::Fits {
        path: file.into(),
        message: format!("HDU {index}: {what} cannot be sent to the oda_api client"),
    };
    let mut header: Vec<(String, Value)> = Vec::new();
    let mut commentary: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in &hdu.cards {
        if structural(k) {
            continue;
        }
        if matches!(k.as_str(), "COMMENT" | "HISTORY" | "") {
            let text = match v {
                CardValue::Text(s) => s.trim().to_string(),
                _ => String::new(),
            };
            match commentary.iter_mut().find(|(key, _)| key == k) {
                Some((_, lines)) => lines.push(text),
                None => commentary.push((k.clone(), vec![text])),
            }
            continue;
        }
        match header.iter_mut().find(|(key, _)| key == k) {
            Some((_, old)) => *old = v.to_json(),
            None => header.push((k.clone(), v.to_json())),
        }
    }
    for (k, lines) in commentary {
        if !k.is_empty() {
            header.push((k, json!(lines.join(" "))));
        }
    }
    let name = hdu.name(index);
    let xtension = hdu.text("XTENSION").map(str::trim);
    let (hdu_type, data, dt, units) = match xtension {
        None | Some("IMAGE") => {
            let hdu_type = if xtension.is_none() {
                "primary"
            } else {
                "image"
            };
            let naxis = hdu.int("NAXIS").unwrap_or(0);
            if naxis == 0 || hdu.data.is_empty() {
                (hdu_type, Value::Null, Value::Null, Value::Null)
            } else {
                if hdu.get("BSCALE").is_some() || hdu.get("BZERO").is_some() {
                    return Err(unsupported("a scaled image (BSCALE/BZERO)".into()));
                }
                if naxis < 2 {
                    return Err(unsupported(format!("an image of {naxis} axis")));
                }
                let dims: Vec<usize> = (1..=naxis)
                    .map(|i| hdu.int(&format!("NAXIS{i}")).unwrap_or(0).max(0) as usize)
                    .collect();
                let bitpix = hdu.int("BITPIX").unwrap_or(8);
                let (size, dt) = match bitpix {
                    8 => (1, "uint8"),
                    16 => (2, ">i2"),
                    32 => (4, ">i4"),
                    64 => (8, ">i8"),
                    -32 => (4, ">f4"),
                    -64 => (8, ">f8"),
                    other => return Err(unsupported(format!("BITPIX {other}"))),
                };
                let mut out = String::with_capacity(hdu.data.len() * 3);
                write_array(&mut out, &hdu.data, &dims, dims.len() - 1, 0, size, bitpix);
                (hdu_type, json!(out), json!(dt), Value::Null)
            }
        }
        Some("BINTABLE") => {
            let nfields = hdu.int("TFIELDS").unwrap_or(0).max(0) as usize;
            let row_len = hdu.int("NAXIS1").unwrap_or(0).max(0) as usize;
            let nrows = hdu.int("NAXIS2").unwrap_or(0).max(0) as usize;
            let mut columns = Vec::with_capacity(nfields);
            let mut units = Map::new();
            let mut offset = 0;
            for i in 1..=nfields {
                let name = hdu
                    .text(&format!("TTYPE{i}"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let form = hdu.text(&format!("TFORM{i}")).unwrap_or("").trim();
                let digits: String = form.chars().take_while(|c| c.is_ascii_digit()).collect();
                let code = form[digits.len()..].chars().next().unwrap_or('?');
                let repeat = if digits.is_empty() {
                    1
                } else {
                    digits.parse().unwrap_or(1)
                };
                if !"LBIJKEDA".contains(code) {
                    return Err(unsupported(format!("column {name} of format {form}")));
                }
                for key in ["TSCAL", "TZERO"] {
                    if hdu.get(&format!("{key}{i}")).is_some() {
                        return Err(unsupported(format!("column {name} with {key}{i}")));
                    }
                }
                if let Some(u) = hdu.text(&format!("TUNIT{i}"))
                    && !u.trim().is_empty()
                {
                    units.insert(name.clone(), json!(u.trim()));
                }
                let c = Column {
                    name,
                    code,
                    repeat,
                    offset,
                };
                offset += c.width();
                columns.push(c);
            }
            if offset != row_len || row_len * nrows > hdu.data.len() {
                return Err(unsupported(format!(
                    "a table whose columns ({offset} bytes) do not fill its rows ({row_len} bytes)"
                )));
            }
            let dt = format!(
                "[{}]",
                columns
                    .iter()
                    .map(Column::dtype)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut out = String::from("[");
            for r in 0..nrows {
                if r > 0 {
                    out.push_str(", ");
                }
                let row = &hdu.data[r * row_len..(r + 1) * row_len];
                out.push('(');
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    c.value(&mut out, row);
                }
                out.push_str(if columns.len() == 1 { ",)" } else { ")" });
            }
            out.push(']');
            (
                "bintable",
                json!(out),
                json!(dt),
                if units.is_empty() {
                    Value::Null
                } else {
                    Value::Object(units)
                },
            )
        }
        Some(other) => return Err(unsupported(format!("an extension of type {other}"))),
    };
    Ok(unit_json(&data, &dt, &name, &header, hdu_type, &units))
}

/// A unit's JSON text, its header as an object in the given key order.
fn unit_json(
    data: &Value,
    dt: &Value,
    name: &str,
    header: &[(String, Value)],
    hdu_type: &str,
    units: &Value,
) -> String {
    let mut h = String::from("{");
    for (i, (k, v)) in header.iter().enumerate() {
        if i > 0 {
            h.push(',');
        }
        h.push_str(&json!(k).to_string());
        h.push(':');
        h.push_str(&v.to_string());
    }
    h.push('}');
    format!(
        "{{\"data\":{},\"dt\":{},\"name\":{},\"header\":{h},\"binarys\":null,\"meta_data\":{{}},\"hdu_type\":{},\"units_dict\":{}}}",
        data,
        dt,
        json!(name),
        json!(hdu_type),
        units
    )
}

/// Nested lists of an image, slowest axis (NAXISn) outermost, as numpy holds it.
fn write_array(
    out: &mut String,
    data: &[u8],
    dims: &[usize],
    axis: usize,
    start: usize,
    size: usize,
    bitpix: i64,
) {
    out.push('[');
    let stride: usize = dims[..axis].iter().product();
    for i in 0..dims[axis] {
        if i > 0 {
            out.push_str(", ");
        }
        let at = start + i * stride;
        if axis == 0 {
            let b = &data[at * size..(at + 1) * size];
            match bitpix {
                8 => {
                    let _ = write!(out, "{}", b[0]);
                }
                16 => {
                    let _ = write!(out, "{}", i16::from_be_bytes([b[0], b[1]]));
                }
                32 => {
                    let _ = write!(out, "{}", i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                }
                64 => {
                    let _ = write!(
                        out,
                        "{}",
                        i64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
                    );
                }
                -32 => py_f32(out, f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                _ => py_float(out, f64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
            }
        } else {
            write_array(out, data, dims, axis - 1, at, size, bitpix);
        }
    }
    out.push(']');
}

/// A `NumpyDataProduct` dictionary: the units of every HDU of `path`, named `name`, with
/// `meta_data` (the client names the product `<name>_<i>_<src_name>_<product>` from it).
///
/// # Errors
/// As [`read_fits`] and [`data_unit`].
pub fn numpy_product_from_file(path: &Path, name: &str, meta: Value) -> Result<String> {
    let hdus = read_fits(path)?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let units = hdus
        .iter()
        .enumerate()
        .map(|(i, h)| data_unit(h, i, &file))
        .collect::<Result<Vec<_>>>()?;
    Ok(numpy_product(name, units, meta))
}

/// A `NumpyDataProduct` dictionary (JSON text) from its data units (JSON texts).
pub fn numpy_product(name: &str, units: Vec<String>, meta: Value) -> String {
    // The client json-decodes a string in meta_data (as the reference dispatcher sends it).
    format!(
        "{{\"data_unit_list\":[{}],\"name\":{},\"meta_data\":{}}}",
        units.join(","),
        json!(name),
        json!(meta.to_string())
    )
}

/// The fit as a `spectral_fit` product: a primary unit with χ², dof and the model in its
/// header, and the table `FIT_PARAMETERS` (NAME, VALUE, ERROR, UNIT, FROZEN).
pub fn spectral_fit_product(fit: &SpectralFit) -> String {
    // FITS strings are ASCII (the client writes 'S' columns): Γ → Gamma, cm⁻² → cm-2.
    let fold = crate::fits::ascii_fold;
    let mut rows = String::from("[");
    for (i, p) in fit.parameters.iter().enumerate() {
        if i > 0 {
            rows.push_str(", ");
        }
        rows.push('(');
        py_str(&mut rows, &fold(&p.name));
        rows.push_str(", ");
        py_float(&mut rows, p.value);
        rows.push_str(", ");
        py_float(&mut rows, p.error);
        rows.push_str(", ");
        py_str(&mut rows, &fold(&p.unit));
        rows.push_str(if p.frozen { ", True)" } else { ", False)" });
    }
    rows.push(']');
    let width = |f: &dyn Fn(&crate::fit::FitParameter) -> usize| {
        fit.parameters.iter().map(f).max().unwrap_or(1).max(1)
    };
    let dt = format!(
        "[('NAME', 'S{}'), ('VALUE', '>f8'), ('ERROR', '>f8'), ('UNIT', 'S{}'), ('FROZEN', '?')]",
        width(&|p| fold(&p.name).len()),
        width(&|p| fold(&p.unit).len())
    );
    let finite = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let model = json!(fit.kind.xspec_name());
    let primary_header: Vec<(String, Value)> = vec![
        ("ORIGIN".into(), json!("oda")),
        ("OBJECT".into(), json!(fold(&fit.source))),
        ("MODEL".into(), model.clone()),
        ("CHI2".into(), finite(fit.chi2)),
        ("DOF".into(), json!(fit.dof)),
        ("PVALUE".into(), finite(fit.p_value)),
        ("E_MIN".into(), finite(fit.energy_range.0)),
        ("E_MAX".into(), finite(fit.energy_range.1)),
        ("CONVERGE".into(), json!(fit.converged)),
    ];
    let table_header: Vec<(String, Value)> = vec![
        ("EXTNAME".into(), json!("FIT_PARAMETERS")),
        ("OBJECT".into(), json!(fold(&fit.source))),
        ("MODEL".into(), model),
        ("CHI2".into(), finite(fit.chi2)),
        ("DOF".into(), json!(fit.dof)),
    ];
    let primary = unit_json(
        &Value::Null,
        &Value::Null,
        "PRIMARY",
        &primary_header,
        "primary",
        &Value::Null,
    );
    let table = unit_json(
        &json!(rows),
        &json!(dt),
        "FIT_PARAMETERS",
        &table_header,
        "bintable",
        &Value::Null,
    );
    numpy_product(
        "spectral_fit",
        vec![primary, table],
        json!({"src_name": fit.source, "product": "spectral_fit", "model": fit.kind.xspec_name()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> String {
        format!("{s:<80}")
    }

    fn file(header: &[&str], data: &[u8]) -> Vec<u8> {
        let mut h: String = header.iter().map(|c| card(c)).collect();
        h.push_str(&card("END"));
        while !h.len().is_multiple_of(BLOCK) {
            h.push(' ');
        }
        let mut out = h.into_bytes();
        let mut d = data.to_vec();
        while !d.len().is_multiple_of(BLOCK) {
            d.push(0);
        }
        out.extend(d);
        out
    }

    #[test]
    fn images_become_nested_lists_slowest_axis_first() {
        let mut data = Vec::new();
        for v in [1.5f32, 2.0, f32::NAN, 0.1, -3.0, 7.0] {
            data.extend(v.to_be_bytes());
        }
        let bytes = file(
            &[
                "SIMPLE  =                    T",
                "BITPIX  =                  -32",
                "NAXIS   =                    2",
                "NAXIS1  =                    3",
                "NAXIS2  =                    2",
                "CTYPE1  = 'RA---TAN'           / axis",
                "LONG    = 'abc&'",
                "CONTINUE  'def'",
                "COMMENT   one",
                "COMMENT   two",
            ],
            &data,
        );
        let hdus = parse_fits(&bytes).unwrap();
        let u: Value = serde_json::from_str(&data_unit(&hdus[0], 0, "t.fits").unwrap()).unwrap();
        assert_eq!(u["data"], "[[1.5, 2.0, float('nan')], [0.1, -3.0, 7.0]]");
        assert_eq!(u["dt"], ">f4");
        assert_eq!(u["hdu_type"], "primary");
        assert_eq!(u["header"]["CTYPE1"], "RA---TAN");
        assert_eq!(u["header"]["LONG"], "abcdef");
        assert_eq!(u["header"]["COMMENT"], "one two");
        assert!(u["header"].get("NAXIS1").is_none());
    }

    #[test]
    fn tables_become_rows_with_a_structured_dtype() {
        let mut data = Vec::new();
        for (ch, rate, name) in [(1i16, 0.25f32, b"Crab    "), (2, -1.0, b"Cyg X-1 ")] {
            data.extend(ch.to_be_bytes());
            data.extend(rate.to_be_bytes());
            data.extend(rate.to_be_bytes());
            data.extend(name);
        }
        let bytes = file(
            &[
                "SIMPLE  =                    T",
                "BITPIX  =                    8",
                "NAXIS   =                    0",
            ],
            &[],
        );
        let table = file(
            &[
                "XTENSION= 'BINTABLE'",
                "BITPIX  =                    8",
                "NAXIS   =                    2",
                "NAXIS1  =                   18",
                "NAXIS2  =                    2",
                "PCOUNT  =                    0",
                "GCOUNT  =                    1",
                "TFIELDS =                    3",
                "TTYPE1  = 'CHANNEL '",
                "TFORM1  = 'I       '",
                "TTYPE2  = 'RATE    '",
                "TFORM2  = '2E      '",
                "TUNIT2  = 'count/s '",
                "TTYPE3  = 'NAME    '",
                "TFORM3  = '8A      '",
                "EXTNAME = 'SPECTRUM'",
            ],
            &data,
        );
        let mut all = bytes;
        all.extend(table);
        let hdus = parse_fits(&all).unwrap();
        assert_eq!(hdus.len(), 2);
        let u: Value = serde_json::from_str(&data_unit(&hdus[1], 1, "t.fits").unwrap()).unwrap();
        assert_eq!(
            u["data"],
            "[(1, [0.25, 0.25], 'Crab'), (2, [-1.0, -1.0], 'Cyg X-1')]"
        );
        assert_eq!(
            u["dt"],
            "[('CHANNEL', '>i2'), ('RATE', '>f4', (2,)), ('NAME', 'S8')]"
        );
        assert_eq!(u["units_dict"]["RATE"], "count/s");
        assert_eq!(u["name"], "SPECTRUM");
        assert_eq!(u["hdu_type"], "bintable");
    }

    #[test]
    fn truncated_files_are_refused() {
        assert!(parse_fits(b"SIMPLE").is_err());
        let bytes = file(
            &[
                "SIMPLE  =                    T",
                "BITPIX  =                  -32",
                "NAXIS   =                    2",
                "NAXIS1  =                  100",
                "NAXIS2  =                  100",
            ],
            &[],
        );
        assert!(
            parse_fits(&bytes[..BLOCK])
                .unwrap_err()
                .contains("cut short")
        );
    }
}
