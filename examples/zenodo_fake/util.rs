//! Small helpers: time stamps, ids, mimetypes, checksums and JSON answers.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use md5::{Digest, Md5};
use serde_json::{Value, json};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Days since 1970-01-01 to a civil (year, month, day) date.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The current time as InvenioRDM writes it: `2026-05-01T12:34:56.123456+00:00`.
pub fn now_iso() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        now.subsec_micros()
    )
}

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    now_iso()[..10].to_string()
}

/// Lower-case hex md5 of some bytes.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A mimetype guessed from a file name, as Python's `mimetypes` (used by Invenio) would.
pub fn mimetype(key: &str) -> &'static str {
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "fits" | "fit" | "fts" => "image/fits",
        "py" => "text/x-python",
        "toml" | "yaml" | "yml" | "cff" | "rs" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// An error answer: a status and a JSON body (InvenioRDM's `{"status", "message", "errors"}`).
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

/// One entry of an `errors` list.
pub type FieldError = (String, String);

impl ApiError {
    pub fn new(status: u16, message: &str) -> Self {
        ApiError {
            status,
            body: json!({"status": status, "message": message}),
        }
    }
    pub fn not_found() -> Self {
        Self::new(404, "The persistent identifier does not exist.")
    }
    pub fn denied() -> Self {
        Self::new(403, "Permission denied.")
    }
    pub fn bad_request() -> Self {
        Self::new(
            400,
            "The browser (or proxy) sent a request that this server could not understand.",
        )
    }
    /// 400 "A validation error occurred." with the field errors (one message list per field).
    pub fn validation(errors: &[FieldError]) -> Self {
        ApiError {
            status: 400,
            body: json!({
                "status": 400,
                "message": "A validation error occurred.",
                "errors": errors_json(errors),
            }),
        }
    }
}

/// `[{"field": .., "messages": [..]}]`, messages of one field grouped, in first-seen order.
pub fn errors_json(errors: &[FieldError]) -> Value {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (field, message) in errors {
        match out.iter_mut().find(|(f, _)| f == field) {
            Some((_, msgs)) => msgs.push(message.clone()),
            None => out.push((field.clone(), vec![message.clone()])),
        }
    }
    Value::Array(
        out.into_iter()
            .map(|(f, m)| json!({"field": f, "messages": m}))
            .collect(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 204 answer with no body.
pub fn no_content() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub type ApiResult = Result<Response, ApiError>;
