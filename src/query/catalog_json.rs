//! ODA's catalog JSON: the `selected_catalog` request parameter and the `catalog` product
//! field. The format is documented on [`catalog_to_oda_json`] (this module is re-exported by
//! `oda::query`).

use serde_json::{Value, json};

use crate::analysis::catalog::{Catalog, CatalogEntry, Origin};
use crate::error::{Error, Result};
use crate::sky::SkyCoord;

/// The parameter name every catalog JSON error carries.
const PARAMETER: &str = "selected_catalog";
/// The column names ODA writes, in order.
const ODA_COLUMNS: [&str; 9] = [
    "meta_ID",
    "src_names",
    "significance",
    "ra",
    "dec",
    "NEW_SOURCE",
    "ISGRI_FLAG",
    "FLAG",
    "ERR_RAD",
];
/// At most this many characters of the JSON text are quoted in an error.
const EXCERPT_CHARS: usize = 200;

/// The catalog as ODA's catalog JSON: the column-oriented object of the `selected_catalog`
/// request parameter and of the `catalog` product field.
///
/// ```json
/// {"cat_frame": "fk5", "cat_coord_units": "deg",
///  "cat_column_names": ["meta_ID", "src_names", "significance", "ra", "dec",
///                       "NEW_SOURCE", "ISGRI_FLAG", "FLAG", "ERR_RAD"],
///  "cat_column_list": [[0, 1], ["Crab", "NEW_1"], [935.2, 8.1], [83.63, 84.1],
///                      [22.01, 21.5], [0, 1], [2, 2], [0, 0], [0.0002, 0.03]],
///  "cat_lon_name": "ra", "cat_lat_name": "dec"}
/// ```
///
/// Conventions:
/// - `ra`/`dec` (or whatever `cat_lon_name`/`cat_lat_name` name) are degrees in FK5/ICRS (the
///   two are treated as the same frame); `ERR_RAD` is the position error radius in **degrees**
///   ([`CatalogEntry::error_radius_arcmin`] is arcmin).
/// - Writing (this function) produces exactly ODA's nine columns, with `ISGRI_FLAG` = 2 and
///   `FLAG` = 0 for every row, and numbers rounded to 15 significant digits so that they read
///   back exactly (the rates of [`CatalogEntry`] have no ODA column and are not written).
/// - Reading ([`catalog_from_oda_json`]) is lenient: extra columns are ignored; `significance`,
///   `ERR_RAD` and `NEW_SOURCE` are optional (0, 0, false); `cat_frame`, `cat_coord_units`,
///   `cat_lon_name` and `cat_lat_name` default to `fk5`, `deg`, `ra` and `dec`. Entries become
///   [`Origin::User`] entries, except those with a true `NEW_SOURCE`, which are `NEW_n`
///   detections (`is_new`, [`Origin::Mosaic`]). A JSON string holding the catalog JSON (a
///   doubly encoded parameter) is accepted too.
///
/// Every error is an [`Error::InvalidParameter`] for `selected_catalog` saying what is wrong.
///
/// ```
/// use oda::analysis::catalog::Catalog;
/// use oda::query::{catalog_from_oda_json, catalog_to_oda_json};
/// let mut cat = Catalog::default();
/// cat.add_named("Crab")?;
/// let json = catalog_to_oda_json(&cat).to_string();
/// let back = catalog_from_oda_json(&json)?;
/// assert_eq!(back.names(), vec!["Crab"]);
/// let err = catalog_from_oda_json(r#"{"cat_column_names": ["src_names", "ra"], "cat_column_list": [["X"], [1.0]]}"#)
///     .unwrap_err();
/// assert_eq!(err.parameter(), Some("selected_catalog"));
/// assert!(err.to_string().contains("\"dec\""));
/// # Ok::<(), oda::Error>(())
/// ```
pub fn catalog_to_oda_json(cat: &Catalog) -> Value {
    let entries = cat.entries();
    let column = |f: &dyn Fn(usize, &CatalogEntry) -> Value| -> Value {
        Value::Array(entries.iter().enumerate().map(|(i, e)| f(i, e)).collect())
    };
    let columns = vec![
        column(&|i, _| json!(i)),
        column(&|_, e| json!(e.name)),
        column(&|_, e| json!(round15(e.significance))),
        column(&|_, e| json!(round15(e.position.ra()))),
        column(&|_, e| json!(round15(e.position.dec()))),
        column(&|_, e| json!(u8::from(e.is_new))),
        column(&|_, _| json!(2)),
        column(&|_, _| json!(0)),
        column(&|_, e| json!(round15(e.error_radius_arcmin / 60.0))),
    ];
    json!({
        "cat_frame": "fk5",
        "cat_coord_units": "deg",
        "cat_column_list": columns,
        "cat_column_names": ODA_COLUMNS,
        "cat_lon_name": "ra",
        "cat_lat_name": "dec",
    })
}

/// A catalog from ODA's catalog JSON text (the format of [`catalog_to_oda_json`]).
///
/// # Errors
/// An [`Error::InvalidParameter`] for `selected_catalog` when the text is not JSON, not an
/// object, has a frame other than fk5/icrs or units other than degrees, lacks
/// `cat_column_names`/`cat_column_list` or the `src_names`, longitude or latitude column, has
/// columns of different lengths, or has a row with an empty, duplicate, non-ASCII or over-long
/// (> 24 characters) name, a coordinate out
/// of range, or a non-numeric value — the message names the column and row.
pub fn catalog_from_oda_json(text: &str) -> Result<Catalog> {
    let bad = |what: String| Error::invalid(PARAMETER, excerpt(text), what);
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "ODA catalog JSON (an object with cat_column_names and cat_column_list); it is not valid JSON: {e}"
        ))
    })?;
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner).map_err(|e| {
            bad(format!(
                "ODA catalog JSON; the JSON string it holds is not valid JSON: {e}"
            ))
        })?;
    }
    let Value::Object(obj) = &value else {
        return Err(bad(format!(
            "ODA catalog JSON must be an object with cat_column_names and cat_column_list, not {}",
            kind(&value)
        )));
    };
    let text_field = |key: &str, default: &'static str| -> Result<String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(other) => Err(bad(format!("{key} must be a string, not {}", kind(other)))),
        }
    };
    let frame = text_field("cat_frame", "fk5")?;
    if !["fk5", "icrs"].contains(&frame.to_ascii_lowercase().as_str()) {
        return Err(bad(format!(
            "cat_frame must be fk5 or icrs (equatorial J2000), not {frame:?}"
        )));
    }
    let units = text_field("cat_coord_units", "deg")?;
    if !["deg", "degree", "degrees"].contains(&units.to_ascii_lowercase().as_str()) {
        return Err(bad(format!(
            "cat_coord_units must be deg (degrees), not {units:?}"
        )));
    }
    let lon_name = text_field("cat_lon_name", "ra")?;
    let lat_name = text_field("cat_lat_name", "dec")?;

    let names: Vec<&str> = match obj.get("cat_column_names") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    bad(format!(
                        "cat_column_names must list strings, found {}",
                        kind(v)
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(bad(format!(
                "cat_column_names must be a list of column names, not {}",
                kind(other)
            )));
        }
        None => return Err(bad("a cat_column_names list (it is missing)".into())),
    };
    let columns: Vec<&Vec<Value>> = match obj.get("cat_column_list") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(k, v)| {
                v.as_array().ok_or_else(|| {
                    bad(format!(
                        "cat_column_list must hold one list per column; column {k} ({}) is {}",
                        names.get(k).copied().unwrap_or("?"),
                        kind(v)
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(bad(format!(
                "cat_column_list must be a list of columns, not {}",
                kind(other)
            )));
        }
        None => return Err(bad("a cat_column_list (it is missing)".into())),
    };
    if names.len() != columns.len() {
        return Err(bad(format!(
            "as many columns in cat_column_list as names in cat_column_names ({} names: {}; {} columns)",
            names.len(),
            names.join(", "),
            columns.len()
        )));
    }
    let n_rows = columns.first().map_or(0, |c| c.len());
    if let Some(k) = columns.iter().position(|c| c.len() != n_rows) {
        return Err(bad(format!(
            "columns of equal length: column {} has {} rows, column {} has {}",
            names[0],
            n_rows,
            names[k],
            columns[k].len()
        )));
    }
    let find = |wanted: &str| -> Option<&Vec<Value>> {
        names
            .iter()
            .position(|n| *n == wanted)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(wanted)))
            .map(|k| columns[k])
    };
    let missing = |wanted: &str, role: &str| {
        bad(format!(
            "a column named {wanted:?} ({role}); the columns are: {}",
            names.join(", ")
        ))
    };
    let name_col = find("src_names").ok_or_else(|| missing("src_names", "the source names"))?;
    let lon_col = find(&lon_name).ok_or_else(|| missing(&lon_name, "cat_lon_name"))?;
    let lat_col = find(&lat_name).ok_or_else(|| missing(&lat_name, "cat_lat_name"))?;
    let sig_col = find("significance");
    let new_col = find("NEW_SOURCE");
    let err_col = find("ERR_RAD");

    let mut entries: Vec<CatalogEntry> = Vec::with_capacity(n_rows);
    for row in 0..n_rows {
        let name = match &name_col[row] {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            other => {
                return Err(bad(format!(
                    "row {row}: src_names must be a non-empty source name, not {}",
                    kind(other)
                )));
            }
        };
        // Names go into FITS tables (ASCII), file names and figure titles (where plotly would
        // read `<...>` as markup).
        if let Some(c) = name
            .chars()
            .find(|c| !(' '..='~').contains(c) || matches!(c, '<' | '>'))
        {
            return Err(bad(format!(
                "row {row}: source names are printable ASCII without < or > (as FITS tables hold them); {name:?} has {c:?}"
            )));
        }
        if name.len() > 24 {
            return Err(bad(format!(
                "row {row}: source names have at most 24 characters (the FITS NAME column); {name:?} has {}",
                name.len()
            )));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(bad(format!(
                "row {row}: source names must be unique, and {name:?} appears twice"
            )));
        }
        let number = |col: &str, v: &Value| -> Result<Option<f64>> {
            let x = match v {
                Value::Null => return Ok(None),
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match x {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(bad(format!(
                    "row {row} ({name:?}): {col} must be a finite number, not {v}"
                ))),
            }
        };
        let coordinate = |col: &str, v: &Value| -> Result<f64> {
            number(col, v)?.ok_or_else(|| {
                bad(format!(
                    "row {row} ({name:?}): {col} must be a number of degrees, not null"
                ))
            })
        };
        let ra = coordinate(&lon_name, &lon_col[row])?;
        let dec = coordinate(&lat_name, &lat_col[row])?;
        if !(0.0..360.0).contains(&ra) {
            return Err(bad(format!(
                "row {row} ({name:?}): {lon_name} = {ra} is outside [0, 360) degrees"
            )));
        }
        if !(-90.0..=90.0).contains(&dec) {
            return Err(bad(format!(
                "row {row} ({name:?}): {lat_name} = {dec} is outside [-90, 90] degrees"
            )));
        }
        let position = SkyCoord::new(ra, dec)
            .map_err(|e| bad(format!("row {row} ({name:?}): invalid position: {e}")))?;
        let significance = match sig_col {
            Some(c) => number("significance", &c[row])?.unwrap_or(0.0),
            None => 0.0,
        };
        let err_deg = match err_col {
            Some(c) => number("ERR_RAD", &c[row])?.unwrap_or(0.0),
            None => 0.0,
        };
        if err_deg < 0.0 {
            return Err(bad(format!(
                "row {row} ({name:?}): ERR_RAD = {err_deg} must be ≥ 0 (degrees)"
            )));
        }
        let is_new = match new_col.map(|c| &c[row]) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                _ => {
                    return Err(bad(format!(
                        "row {row} ({name:?}): NEW_SOURCE must be 0/1 or true/false, not {s:?}"
                    )));
                }
            },
            Some(other) => {
                return Err(bad(format!(
                    "row {row} ({name:?}): NEW_SOURCE must be 0/1 or true/false, not {}",
                    kind(other)
                )));
            }
        };
        entries.push(CatalogEntry {
            name,
            position,
            error_radius_arcmin: err_deg * 60.0,
            significance,
            rate: 0.0,
            rate_err: 0.0,
            is_new,
            origin: if is_new { Origin::Mosaic } else { Origin::User },
        });
    }
    Ok(Catalog::from_entries(entries))
}

/// `x` rounded to 15 significant digits: written by serde_json in at most 15 digits, which its
/// parser reads back exactly.
fn round15(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// The start of `text`, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A JSON value's kind and, when short, the value itself.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", excerpt(s)),
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}
