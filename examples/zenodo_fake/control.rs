//! The gate every request passes (request log, rate limit, fault injection, authentication)
//! and the control routes under `/_fake/` that tests use.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::store::Store;
use crate::util::{ApiError, ApiResult, json_response, now_secs};

/// Handed by the accept loop to every request of a connection: `kill` drops the connection
/// (the loop then closes the socket with SO_LINGER 0, so the peer sees a TCP RST).
#[derive(Clone)]
pub struct ConnCtl {
    pub kill: Arc<Notify>,
    pub peer: SocketAddr,
}

/// The authenticated user of a request (1-based index of its token), `None` if anonymous.
#[derive(Clone, Copy, Debug)]
pub struct Ident(pub Option<usize>);

impl Ident {
    /// The user, or 403 for an anonymous request.
    pub fn user(self) -> Result<usize, ApiError> {
        self.0.ok_or_else(ApiError::denied)
    }
}

/// One fault rule, as posted to `/_fake/faults`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path_contains: String,
    #[serde(default)]
    pub skip: u64,
    #[serde(default = "one")]
    pub times: u64,
    pub kind: String,
    #[serde(default = "one")]
    pub retry_after: u64,
}

fn one() -> u64 {
    1
}

impl Fault {
    fn valid_kind(&self) -> bool {
        matches!(self.kind.as_str(), "429" | "403" | "reset")
            || no_body_status(&self.kind).is_some()
    }
}

/// `5NN_no_body` -> NNN.
fn no_body_status(kind: &str) -> Option<u16> {
    let code = kind.strip_suffix("_no_body")?.parse::<u16>().ok()?;
    (500..600).contains(&code).then_some(code)
}

#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Faults, the request log and the rate-limit windows.
#[derive(Default)]
pub struct Control {
    pub faults: Vec<Fault>,
    pub log: Vec<LogEntry>,
    windows: HashMap<String, (u64, u32)>,
}

impl Control {
    /// Counts a request in its key's one-minute window: (remaining, reset epoch, exceeded).
    fn rate(&mut self, key: String, limit: u32, now: u64) -> (u32, u64, bool) {
        let w = self.windows.entry(key).or_insert((now, 0));
        if now >= w.0 + 60 {
            *w = (now, 0);
        }
        w.1 = w.1.saturating_add(1);
        (limit.saturating_sub(w.1), w.0 + 60, w.1 > limit)
    }

    /// The first rule matching the request, after its `skip` count (and used up after `times`).
    fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let mut hit = None;
        for (i, f) in self.faults.iter_mut().enumerate() {
            let method_ok = f
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !method_ok || !path.contains(&f.path_contains) {
                continue;
            }
            if f.skip > 0 {
                f.skip -= 1;
                continue;
            }
            f.times = f.times.saturating_sub(1);
            hit = Some((i, f.clone()));
            break;
        }
        let (i, f) = hit?;
        if self.faults[i].times == 0 {
            self.faults.remove(i);
        }
        Some(f)
    }
}

/// The shared state of the server.
pub struct App {
    pub tokens: Vec<String>,
    pub rate_limit: u32,
    pub store: Mutex<Store>,
    pub ctl: Mutex<Control>,
}

/// Locks a mutex, going on if a panicking thread poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The token of a request: `Authorization: Bearer` or `?access_token=`.
fn request_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = auth.splitn(2, ' ');
        if parts
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            return parts.next().map(|t| t.trim().to_string());
        }
    }
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

const UNAUTHORIZED: &str = "The server could not verify that you are authorized to access the URL requested. \
You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to \
supply the credentials required.";

/// Reads and drops a request body (bounded), so an early answer reaches a client still sending.
pub async fn drain(body: Body) {
    let mut body = body;
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

fn set_header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Every `/api` request passes here: rate limit, faults, authentication, then the route; each
/// answer gets the `X-RateLimit-*` headers and a line in the log (never the token).
pub async fn gate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    if path.starts_with("/_fake/") {
        let resp = next.run(req).await;
        eprintln!("{method} {path} {}", resp.status().as_u16());
        return resp;
    }
    let conn = req.extensions().get::<ConnCtl>().cloned();
    let token = request_token(req.headers(), req.uri().query());
    let user = match &token {
        None => Ok(None),
        Some(t) => app
            .tokens
            .iter()
            .position(|x| x == t)
            .map(|i| Some(i + 1))
            .ok_or(()),
    };
    let (key, limit) = match (&user, &token) {
        (Ok(Some(_)), Some(t)) => (format!("token:{t}"), app.rate_limit),
        _ => {
            let ip = conn
                .as_ref()
                .map(|c| c.peer.ip().to_string())
                .unwrap_or_default();
            (format!("guest:{ip}"), app.rate_limit.min(60))
        }
    };
    let now = now_secs();
    let (remaining, reset, exceeded, fault) = {
        let mut ctl = lock(&app.ctl);
        let (remaining, reset, exceeded) = ctl.rate(key, limit, now);
        let fault = if exceeded {
            None
        } else {
            ctl.take_fault(&method, &path)
        };
        (remaining, reset, exceeded, fault)
    };
    let mut rate_headers = true;
    let fault_kind = fault.as_ref().map(|f| f.kind.clone());
    let mut resp = if exceeded {
        drain(req.into_body()).await;
        let mut r = json_response(
            429,
            &json!({"status": 429, "message": format!("{limit} per 1 minute")}),
        );
        set_header(
            &mut r,
            "retry-after",
            reset.saturating_sub(now).max(1).to_string(),
        );
        r
    } else if let Some(f) = fault {
        match f.kind.as_str() {
            "reset" => {
                record(&app, &method, &path, 0, Some("reset"));
                return reset_connection(req, conn).await;
            }
            "429" => {
                drain(req.into_body()).await;
                rate_headers = false;
                let mut r = json_response(
                    429,
                    &json!({"status": 429, "message": format!("{limit} per 1 minute")}),
                );
                set_header(&mut r, "retry-after", f.retry_after.to_string());
                set_header(&mut r, "x-ratelimit-limit", limit.to_string());
                set_header(&mut r, "x-ratelimit-remaining", "0".into());
                set_header(
                    &mut r,
                    "x-ratelimit-reset",
                    (now + f.retry_after).to_string(),
                );
                r
            }
            "403" => {
                drain(req.into_body()).await;
                json_response(
                    403,
                    &json!({"status": 403, "message": "Permission denied."}),
                )
            }
            kind => {
                drain(req.into_body()).await;
                let code = no_body_status(kind).unwrap_or(500);
                let mut r = Response::new(Body::empty());
                *r.status_mut() =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if code != 503 {
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                }
                r
            }
        }
    } else {
        match user {
            Err(()) => {
                drain(req.into_body()).await;
                json_response(401, &json!({"message": UNAUTHORIZED, "status": 401}))
            }
            Ok(u) => {
                req.extensions_mut().insert(Ident(u));
                next.run(req).await
            }
        }
    };
    if rate_headers {
        set_header(&mut resp, "x-ratelimit-limit", limit.to_string());
        set_header(&mut resp, "x-ratelimit-remaining", remaining.to_string());
        set_header(&mut resp, "x-ratelimit-reset", reset.to_string());
    }
    record(
        &app,
        &method,
        &path,
        resp.status().as_u16(),
        fault_kind.as_deref(),
    );
    resp
}

fn record(app: &App, method: &str, path: &str, status: u16, fault: Option<&str>) {
    match status {
        0 => eprintln!("{method} {path} reset"),
        s => eprintln!("{method} {path} {s}"),
    }
    lock(&app.ctl).log.push(LogEntry {
        method: method.to_string(),
        path: path.to_string(),
        status,
        fault: fault.map(str::to_string),
    });
}

/// The `reset` fault: read part of the body (half of it, at most 64 KiB), then have the
/// accept loop drop the connection with SO_LINGER 0. Never answers; nothing is stored.
async fn reset_connection(req: Request, conn: Option<ConnCtl>) -> Response {
    let headers = req.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = headers.get(header::TRANSFER_ENCODING).is_some();
    let target = match length {
        Some(n) if n > 0 => (n / 2).clamp(1, 64 * 1024),
        _ if chunked => 64 * 1024,
        _ => 0,
    };
    let mut body = req.into_body();
    let mut read = 0usize;
    if target > 0 {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while read < target {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                    _ => break,
                }
            }
        })
        .await;
    }
    if let Some(c) = conn {
        c.kill.notify_one();
    }
    std::future::pending::<Response>().await
}

// ---------------------------------------------------------------------------------------------
// Control routes
// ---------------------------------------------------------------------------------------------

/// `POST /_fake/faults`: a list of rules (or one rule) added after the present ones.
pub async fn post_faults(State(app): State<Arc<App>>, body: Bytes) -> ApiResult {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, &format!("Invalid JSON: {e}")))?;
    let list = if value.is_array() {
        value
    } else {
        Value::Array(vec![value])
    };
    let rules: Vec<Fault> = serde_json::from_value(list)
        .map_err(|e| ApiError::new(400, &format!("Invalid fault rule: {e}")))?;
    if let Some(bad) = rules.iter().find(|f| !f.valid_kind()) {
        return Err(ApiError::new(
            400,
            &format!(
                "Unknown fault kind {:?}: use 429, 403, reset or 5NN_no_body.",
                bad.kind
            ),
        ));
    }
    if rules.iter().any(|f| f.times == 0) {
        return Err(ApiError::new(400, "A fault rule needs times >= 1."));
    }
    let mut ctl = lock(&app.ctl);
    ctl.faults.extend(rules);
    Ok(json_response(200, &json!({"faults": ctl.faults})))
}

/// `GET /_fake/faults`: the rules not used up yet (with their remaining skip/times).
pub async fn get_faults(State(app): State<Arc<App>>) -> Response {
    json_response(200, &json!({"faults": lock(&app.ctl).faults}))
}

/// `DELETE /_fake/faults`: drops every rule.
pub async fn delete_faults(State(app): State<Arc<App>>) -> Response {
    lock(&app.ctl).faults.clear();
    json_response(200, &json!({"faults": []}))
}

/// `POST /_fake/reset`: forgets records, faults, the log and the rate-limit windows.
pub async fn reset(State(app): State<Arc<App>>) -> Response {
    lock(&app.store).reset();
    *lock(&app.ctl) = Control::default();
    json_response(200, &json!({"reset": true}))
}

fn files_state(snap: &crate::store::Snapshot) -> Value {
    Value::Array(
        snap.files
            .iter()
            .map(|f| {
                json!({
                    "key": f.key,
                    "size": f.content.as_ref().map(|c| c.len()),
                    "md5": f.md5.clone().or_else(|| f.content.as_ref().map(|c| crate::util::md5_hex(c))),
                    "status": if f.completed { "completed" } else { "pending" },
                    "committed": f.completed,
                })
            })
            .collect(),
    )
}

/// `GET /_fake/state`: every record, the records created per token and the request log.
pub async fn state(State(app): State<Arc<App>>) -> Response {
    let store = lock(&app.store);
    let snap_json = |s: &crate::store::Snapshot| {
        json!({
            "metadata": s.input.metadata,
            "access": s.input.access,
            "pids": s.input.pids,
            "files": files_state(s),
            "revision_id": s.revision_id,
        })
    };
    let records: Vec<Value> = store
        .records
        .values()
        .map(|r| {
            let current = r.current();
            let (index, is_latest, _) = store.versions(r);
            json!({
                "id": r.id.to_string(),
                "parent_id": r.parent.to_string(),
                "concept_id": r.parent.to_string(),
                "owner": r.owner,
                "token": app.tokens.get(r.owner.wrapping_sub(1)),
                "version_index": index,
                "is_latest": is_latest,
                "is_published": r.published.is_some(),
                "has_draft": r.draft.is_some(),
                "doi": r.published.as_ref().and_then(|p| p.doi()),
                "reserved_doi": r.draft.as_ref().and_then(|d| d.doi()),
                "concept_doi": store.parents.get(&r.parent).and_then(|p| p.doi.clone()),
                "bucket_id": r.bucket_id,
                "metadata": current.map(|s| Value::Object(s.input.metadata.clone())),
                "files": current.map(files_state),
                "draft": r.draft.as_ref().map(snap_json),
                "published": r.published.as_ref().map(snap_json),
            })
        })
        .collect();
    let mut per_token = serde_json::Map::new();
    let mut concepts_per_token = serde_json::Map::new();
    for (user, c) in &store.created {
        let token = app
            .tokens
            .get(user.wrapping_sub(1))
            .cloned()
            .unwrap_or_default();
        per_token.insert(token.clone(), json!(c.records));
        concepts_per_token.insert(token, json!(c.concepts));
    }
    drop(store);
    let ctl = lock(&app.ctl);
    json_response(
        200,
        &json!({
            "records": records,
            "created_per_token": per_token,
            "concepts_per_token": concepts_per_token,
            "requests": ctl.log,
            "faults": ctl.faults,
        }),
    )
}
