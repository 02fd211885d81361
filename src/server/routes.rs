//! The routes: the dispatcher's (what `oda_api` calls), downloads, name resolution, and the
//! web page with its JSON views.

// Helpers return `Result<_, Response>`: the error is the refusal the handler answers with at
// once, so boxing it would only add an allocation on that path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, RawQuery, Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::{self, Authority, User};
use super::jobs::{self, JobRecord, JobState, Jobs};
use super::results::{ANSWER_FILE, FILES_FILE, ODA_FILE, VIEW_FILE};
use crate::error::Error;
use crate::query::{
    Instrument, ODA_DISPATCHER_URL, PROTOCOL_FIELDS, ProductType, REQUEST_PARAMETERS, Request,
};

/// The shared state of the routes.
pub struct App {
    /// The jobs.
    pub jobs: Arc<Jobs>,
    /// The token keys.
    pub authority: Authority,
    /// The URL users reach the site at, when set (`--public-url`); else from `Host`.
    pub public_url: Option<String>,
    /// The archive, opened at the first `/get_revnum`.
    pub archive: Arc<std::sync::OnceLock<Arc<crate::archive::Archive>>>,
}

type Shared = Arc<App>;

/// The site's router, with a body limit of `max_body` bytes.
pub fn router(app: Shared, max_body: usize) -> Router {
    Router::new()
        .route("/run_analysis", get(run_analysis).post(run_analysis))
        .route("/api/par-names", get(par_names))
        .route("/api/meta-data", get(meta_data))
        .route("/api/instr-list", get(instr_list))
        .route("/instr-list", get(instr_list))
        .route("/inspect-state", get(inspect_state))
        .route("/inspect-user-state", get(inspect_user_state))
        .route(
            "/download_products",
            get(download_products).post(download_products),
        )
        .route("/resolve_name", get(resolve_name))
        .route("/get_revnum", get(get_revnum))
        .route("/api/view/{job_id}", get(view))
        .route("/api/request/{job_id}", get(request_of))
        .route("/", get(page))
        .route("/r/{job_id}", get(page_for_job))
        .route("/static/{file}", get(static_file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(log_requests))
        .with_state(app)
}

/// One line per request on stderr: method, path (never the query: it may hold a token),
/// status, milliseconds.
async fn log_requests(req: HttpRequest, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} {method} {path} {} {:.1} ms",
        crate::time::unix_to_isot_utc(crate::time::unix_now()),
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    resp
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn exit_status(status: i32, message: &str, error: &str, warning: &str) -> Value {
    json!({"status": status, "message": message, "error_message": error,
           "debug_message": "", "comment": "", "warning": warning})
}

/// A refusal the client shows: `error`, and `exit_status.message` (what oda_api raises).
fn refusal(status: StatusCode, e: &Error) -> Response {
    let message = e.to_string();
    let mut v = json!({
        "error": message,
        "exit_status": exit_status(1, &message, &message, ""),
        "query_status": "failed",
    });
    match e {
        Error::InvalidParameter {
            name,
            value,
            allowed,
        } => {
            v["parameter"] = json!(name);
            v["value"] = json!(value);
            v["allowed"] = json!(allowed);
        }
        Error::UnknownSource { name, suggestions } => {
            v["parameter"] = json!("src_name");
            v["value"] = json!(name);
            v["suggestions"] = json!(suggestions);
        }
        Error::Unauthorized { missing_roles, .. } => {
            v["missing_roles"] = json!(missing_roles);
        }
        _ => {}
    }
    json_response(status, &v)
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Unauthorized { .. } => StatusCode::FORBIDDEN,
        Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Service { .. } | Error::Io { .. } | Error::Cache { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The parameters of a request: the query, then a form body.
fn pairs_of(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    pairs.extend(form_urlencoded::parse(body).into_owned());
    pairs
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The token: the `token` parameter, an `Authorization: Bearer` header, or a cookie.
fn token_of<'a>(pairs: &'a [(String, String)], headers: &'a HeaderMap) -> Option<String> {
    if let Some(t) = param(pairs, "token").filter(|t| !t.trim().is_empty()) {
        return Some(t.trim().to_string());
    }
    if let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        // Only the Bearer scheme: a proxy's Basic authentication is not a token.
        if let Some((scheme, t)) = h.trim().split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
            && !t.trim().is_empty()
        {
            return Some(t.trim().to_string());
        }
    }
    for c in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for part in c.split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && matches!(k.trim(), "_token" | "token")
                && !v.trim().is_empty()
            {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// The user of a request: `None` when anonymous; a given token must be valid.
fn user_of(
    app: &App,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Option<User>, Response> {
    match token_of(pairs, headers) {
        None => Ok(None),
        Some(t) => app
            .authority
            .verify(&t, crate::time::unix_now())
            .map(Some)
            .map_err(|e| refusal(StatusCode::FORBIDDEN, &e)),
    }
}

/// A request's `key=value` parameters, in order.
type Params = Vec<(String, String)>;

/// The parameters of a request (its query, then a form body) and its user; or the refusal of a
/// token that was given but is not valid.
fn asked(
    app: &App,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Params, Option<User>), Response> {
    let pairs = pairs_of(query, body);
    let user = user_of(app, &pairs, headers)?;
    Ok((pairs, user))
}

fn site_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(u) = &app.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::service(format!("a worker task failed: {e}")))?
}

/// `/run_analysis`: submit, join or poll a job.
async fn run_analysis(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refusal(e),
    };
    let (pairs, user) = match asked(&app, &headers, query.as_deref(), &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let session_id = param(&pairs, "session_id").unwrap_or("").to_string();
    let query_status = param(&pairs, "query_status").unwrap_or("new").to_string();
    // Unknown names are warnings (the oda_api client sends what its user typed).
    let mut warnings = Vec::new();
    let known: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| {
            let ok = REQUEST_PARAMETERS.contains(&k.as_str())
                || PROTOCOL_FIELDS.contains(&k.as_str())
                || k == "product_type";
            if !ok {
                warnings.push(format!(
                    "unknown parameter {k} ignored (parameters: /api/par-names)"
                ));
            }
            ok
        })
        .cloned()
        .collect();
    // Only public data are served here: a request for private data must not silently get
    // public ones.
    if let Some(rights) = param(&pairs, "integral_data_rights")
        && !rights.trim().eq_ignore_ascii_case("public")
    {
        let e = Error::Unauthorized {
            message: format!(
                "integral_data_rights={rights:?}: this site serves public INTEGRAL data only (private data need the role 'integral-private-qla' on a site that holds them)"
            ),
            missing_roles: vec!["integral-private-qla".into()],
        };
        return refusal(StatusCode::FORBIDDEN, &e);
    }
    if param(&pairs, "catalog_selected_objects").is_some_and(|v| !v.trim().is_empty()) {
        warnings.push(
            "catalog_selected_objects is not applied here: every source of selected_catalog is used; send the edited catalog (the rows to use) as selected_catalog".into(),
        );
    }
    let request = match Request::from_pairs(known) {
        Ok(r) => r,
        Err(e) => return refusal(status_of(&e), &e),
    };
    let required = auth::required_roles(&request);
    if let Err(e) = auth::check_roles(user.as_ref(), &required, &auth::roles_reason(&request)) {
        return refusal(StatusCode::FORBIDDEN, &e);
    }
    let job_id = jobs::job_id(&request, app.jobs.settings());
    let sub = user.map(|u| u.claims.sub).unwrap_or_default();
    let retry = query_status == "new";
    let rec = {
        let jobs = app.jobs.clone();
        let (id, req) = (job_id.clone(), request.clone());
        match blocking(move || jobs.submit(&id, &req, &sub, retry)).await {
            Ok(r) => r,
            Err(e) => {
                let mut resp = refusal(status_of(&e), &e);
                if let Error::Busy { retry_after_s, .. } = e
                    && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
                {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return resp;
            }
        }
    };
    warnings.extend(request.warnings.iter().cloned());
    job_answer(&app, &rec, &session_id, &warnings, &request, &headers).await
}

fn body_refusal(e: BytesRejection) -> Response {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is too large for this site (see oda serve --max-body)".to_string()
    } else {
        format!("the request body could not be read: {e}")
    };
    json_response(
        status,
        &json!({"error": message, "exit_status": exit_status(1, &message, &message, "")}),
    )
}

async fn job_answer(
    app: &App,
    rec: &JobRecord,
    session_id: &str,
    warnings: &[String],
    request: &Request,
    headers: &HeaderMap,
) -> Response {
    let warning = warnings.join("; ");
    let monitor = json!({
        "job_id": rec.job_id, "session_id": session_id, "status": rec.state.name(),
        "full_report_dict_list": rec.reports,
    });
    match rec.state {
        JobState::Done => {
            let path = app.jobs.job_dir(&rec.job_id).join(ANSWER_FILE);
            let products = match tokio::fs::read(&path).await {
                Ok(b) if b.first() == Some(&b'{') && b.len() > 2 => b,
                _ => {
                    let e = Error::service(format!(
                        "job {} is done but its answer is missing: submit it again with query_status=new",
                        rec.job_id
                    ));
                    return refusal(StatusCode::INTERNAL_SERVER_ERROR, &e);
                }
            };
            let dir = app.jobs.job_dir(&rec.job_id);
            let mut oda: Value = tokio::fs::read(dir.join(ODA_FILE))
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| json!({"job_id": rec.job_id}));
            // This request's own remarks (unknown names, unused parameters) before the job's.
            let mut all: Vec<Value> = warnings.iter().map(|w| json!(w)).collect();
            if let Some(Value::Array(job)) = oda.get("warnings") {
                all.extend(
                    job.iter()
                        .filter(|w| !all.contains(w))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
            oda["warnings"] = Value::Array(all);
            let api_code = python_code(request, &site_url(app, headers));
            let head = json!({
                "exit_status": exit_status(0, "", "", &warning),
                "query_status": "done",
                "job_monitor": monitor,
            })
            .to_string();
            // {"exit_status":..., "products": {"api_code": "...", <the stored products>}}
            let mut out = Vec::with_capacity(products.len() + head.len() + api_code.len() + 64);
            out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            out.extend_from_slice(b",\"products\":{\"api_code\":");
            out.extend_from_slice(json!(api_code).to_string().as_bytes());
            out.extend_from_slice(b",\"oda\":");
            out.extend_from_slice(oda.to_string().as_bytes());
            out.push(b',');
            out.extend_from_slice(&products[1..]);
            out.push(b'}');
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                out,
            )
                .into_response()
        }
        JobState::Failed => {
            let why = rec.error.clone().unwrap_or_else(|| "unknown error".into());
            json_response(
                StatusCode::OK,
                &json!({
                    "exit_status": exit_status(1, "the analysis failed", &why, &warning),
                    "query_status": "failed",
                    "job_monitor": monitor,
                    "products": {},
                }),
            )
        }
        JobState::Submitted | JobState::Progress => {
            // `return_progress`: the latest stage, as fractions a page or a script can show.
            let last = rec.reports.last().cloned().unwrap_or(Value::Null);
            let (done, total) = (
                last["progress"].as_f64().unwrap_or(0.0),
                last["progress_max"].as_f64().unwrap_or(0.0),
            );
            json_response(
                StatusCode::OK,
                &json!({
                    "exit_status": exit_status(0, "", "", &warning),
                    "query_status": rec.state.name(),
                    "job_monitor": monitor,
                    "products": {"progress": {
                        "stage": last["node"], "message": last["message"],
                        "done": done, "total": total,
                        "fraction": if total > 0.0 { json!(done / total) } else { Value::Null },
                    }},
                }),
            )
        }
    }
}

/// The request as `oda_api` code for this site.
fn python_code(request: &Request, url: &str) -> String {
    request
        .to_python_code()
        .replacen(&format!("{ODA_DISPATCHER_URL:?}"), &format!("{url:?}"), 1)
}

fn curl_code(request: &Request, url: &str) -> String {
    let mut s = format!(
        "# Submit, then repeat with job_id=<the answer's job_monitor.job_id> until query_status is done\ncurl -sG '{url}/run_analysis' \\\n"
    );
    for (k, v) in form_urlencoded::parse(request.to_url_query().as_bytes()) {
        s.push_str(&format!(
            "  --data-urlencode '{}={}' \\\n",
            k,
            v.replace('\'', "'\\''")
        ));
    }
    s.push_str("  --data-urlencode 'query_status=new'\n");
    s
}

fn product_param(pairs: &[(String, String)]) -> Result<Option<ProductType>, Response> {
    match param(pairs, "product_type").or_else(|| param(pairs, "product")) {
        None => Ok(None),
        Some(p) => p
            .parse()
            .map(Some)
            .map_err(|e: Error| refusal(StatusCode::BAD_REQUEST, &e)),
    }
}

/// The `instrument` asked about, if any (an unknown one is a 400 naming the instruments).
fn instrument_check(pairs: &[(String, String)]) -> Result<Option<Instrument>, Response> {
    match param(pairs, "instrument") {
        Some(i) if !i.trim().is_empty() => i
            .parse()
            .map(Some)
            .map_err(|e: Error| refusal(StatusCode::BAD_REQUEST, &e)),
        _ => Ok(None),
    }
}

/// The products asked about: the one named, else those of the instrument, else all.
fn products_asked(pairs: &[(String, String)]) -> Result<Vec<ProductType>, Response> {
    let instrument = instrument_check(pairs)?;
    match product_param(pairs)? {
        Some(p) => match instrument {
            Some(i) if !p.instruments().contains(&i) => Err(refusal(
                StatusCode::BAD_REQUEST,
                &Error::invalid(
                    "product_type",
                    p.name(),
                    format!(
                        "a product of instrument={i}: {}",
                        i.products()
                            .iter()
                            .map(|p| p.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            )),
            _ => Ok(vec![p]),
        },
        None => Ok(match instrument {
            Some(i) => i.products(),
            None => ProductType::all().to_vec(),
        }),
    }
}

/// The instrument a product is asked about for: the one named if it has the product, else the
/// product's own.
fn instrument_for(pairs: &[(String, String)], product: ProductType) -> Instrument {
    match instrument_check(pairs) {
        Ok(Some(i)) if product.instruments().contains(&i) => i,
        _ => product.instrument(),
    }
}

async fn par_names(RawQuery(q): RawQuery) -> Response {
    let pairs = pairs_of(q.as_deref(), b"");
    let names: BTreeSet<&str> = match products_asked(&pairs) {
        Err(r) => return r,
        Ok(products) => products
            .iter()
            .flat_map(|p| p.parameter_names_for(instrument_for(&pairs, *p)))
            .collect(),
    };
    let mut list: Vec<&str> = names.into_iter().collect();
    list.extend(["integral_data_rights", "token"]);
    json_response(StatusCode::OK, &json!(list))
}

/// The example value and units of parameter `name` in `/api/meta-data` (defaults come from
/// the request layer: see [`describe_for`]).
fn describe(name: &str) -> (Value, &'static str) {
    match name {
        "src_name" => (json!("Crab"), ""),
        "RA" | "DEC" | "radius" => (Value::Null, "deg"),
        "jemx_num" => (json!(2), "1 | 2"),
        "T1" | "T2" => (Value::Null, "T_format"),
        "T_format" => (json!("isot"), "isot | mjd | ijd"),
        "max_pointings" => (json!(50), ""),
        "scw_list" => (Value::Null, "RRRRPPPPSSSF[.VVV], comma-separated"),
        "osa_version" => (json!("OSA11.2"), "OSA10.2 | OSA11.0 | OSA11.2"),
        "E1_keV" => (json!(20), "keV"),
        "E2_keV" => (json!(40), "keV"),
        "detection_threshold" => (json!(7), "sigma"),
        "time_bin" => (json!(1000), "time_bin_format"),
        "time_bin_format" => (json!("sec"), "sec | jd"),
        "selected_catalog" => (Value::Null, "ODA catalog JSON"),
        "xspec_model" => (json!("powerlaw"), "XSPEC model name"),
        "data_level" => (json!("ordinary"), "ordinary | realtime"),
        _ => (Value::Null, ""),
    }
}

/// [`describe`] with the default of `product` of `instrument` as the value, when it has one.
fn describe_for(instrument: Instrument, product: ProductType, name: &str) -> (Value, &'static str) {
    let (value, units) = describe(name);
    match crate::query::default_parameter(instrument, product, name) {
        Some(d) => (
            d.parse::<f64>().map_or_else(|_| json!(d), |x| json!(x)),
            units,
        ),
        None => (value, units),
    }
}

async fn meta_data(RawQuery(q): RawQuery) -> Response {
    let pairs = pairs_of(q.as_deref(), b"");
    let products = match products_asked(&pairs) {
        Err(r) => return r,
        Ok(products) => products,
    };
    let out: Vec<Value> = products
        .iter()
        .map(|p| {
            let instrument = instrument_for(&pairs, *p);
            let mut items = vec![
                json!({"instrument": instrument.name(), "product_name": p.name(),
                "query_name": format!("{}_query", p.name())}),
            ];
            for n in p.parameter_names_for(instrument) {
                let (value, units) = describe_for(instrument, *p, n);
                items.push(json!({"name": n, "value": value, "units": units}));
            }
            Value::Array(items)
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(out))
}

async fn instr_list() -> Response {
    let names: Vec<&str> = Instrument::all().iter().map(|i| i.name()).collect();
    json_response(StatusCode::OK, &json!(names))
}

async fn inspect_state(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (pairs, user) = match asked(&app, &headers, q.as_deref(), b"") {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(e) = auth::check_roles(
        user.as_ref(),
        &[auth::ROLE_JOB_MANAGER],
        "inspecting every job",
    ) {
        return refusal(StatusCode::FORBIDDEN, &e);
    }
    let only = param(&pairs, "job_id").map(str::to_string);
    let jobs = app.jobs.clone();
    match blocking(move || jobs.list(None)).await {
        Ok(list) => {
            let records: Vec<Value> = list
                .iter()
                .filter(|r| only.as_deref().is_none_or(|id| r.job_id == id))
                .map(JobRecord::to_json)
                .collect();
            json_response(StatusCode::OK, &json!({"records": records}))
        }
        Err(e) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn inspect_user_state(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let user = match asked(&app, &headers, q.as_deref(), b"") {
        Ok((_, Some(u))) => u,
        Ok((_, None)) => {
            let e = Error::Unauthorized {
                message: "your jobs are listed for a token's user: give a token".into(),
                missing_roles: Vec::new(),
            };
            return refusal(StatusCode::FORBIDDEN, &e);
        }
        Err(r) => return r,
    };
    let jobs = app.jobs.clone();
    let sub = user.claims.sub.clone();
    match blocking(move || jobs.list(Some(&sub))).await {
        Ok(list) => json_response(
            StatusCode::OK,
            &json!({"user": user.claims.sub,
                    "records": list.iter().map(JobRecord::to_json).collect::<Vec<_>>()}),
        ),
        Err(e) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// Checks that `user` may see a job: the roles it took to run it (from its stored request;
/// from its pointings alone if the request no longer parses).
fn may_see(user: Option<&User>, rec: &JobRecord) -> Result<(), Response> {
    let request = Request::from_pairs(form_urlencoded::parse(rec.query.as_bytes())).ok();
    let (roles, reason) = match &request {
        Some(r) => (auth::required_roles(r), auth::roles_reason(r)),
        None => (
            auth::roles_for_pointings(rec.pointings),
            format!("a product of {} pointings", rec.pointings),
        ),
    };
    auth::check_roles(user, &roles, &reason).map_err(|e| refusal(StatusCode::FORBIDDEN, &e))
}

/// A finished job's record that `user` may see, or the response that says why not.
async fn done_job(app: &App, job_id: &str, user: Option<&User>) -> Result<JobRecord, Response> {
    if !jobs::is_job_id(job_id) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            &Error::invalid(
                "job_id",
                job_id,
                "a job id: 32 hexadecimal digits, as /run_analysis answered",
            ),
        ));
    }
    let jobs = app.jobs.clone();
    let id = job_id.to_string();
    match blocking(move || jobs.get(&id)).await {
        Ok(Some(r))
            if r.state == JobState::Done && !jobs::job_dir_intact(&app.jobs.job_dir(job_id)) =>
        {
            Err(json_response(
                StatusCode::GONE,
                &json!({"error": format!("the files of job {job_id} were removed from this site: run the request again (/r/{job_id})"),
                        "state": "removed", "job_id": job_id}),
            ))
        }
        Ok(Some(r)) if r.state == JobState::Done => may_see(user, &r).map(|()| r),
        Ok(Some(r)) => Err(json_response(
            StatusCode::CONFLICT,
            &json!({"error": format!("job {job_id} is {}, not done", r.state.name()),
                    "state": r.state.name(), "job_id": job_id}),
        )),
        Ok(None) => Err(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no job {job_id} on this site")}),
        )),
        Err(e) => Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, &e)),
    }
}

fn truthy(v: Option<&str>, default: bool) -> bool {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        None => default,
        Some(s) => matches!(s.as_str(), "true" | "1" | "yes" | "on"),
    }
}

/// `/download_products`: the job's own files, one as itself or several as a zip.
async fn download_products(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refusal(e),
    };
    let (pairs, user) = match asked(&app, &headers, query.as_deref(), &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let job_id = param(&pairs, "job_id").unwrap_or("").trim().to_string();
    let rec = match done_job(&app, &job_id, user.as_ref()).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let dir = app.jobs.job_dir(&rec.job_id);
    let listed: Vec<String> = match std::fs::read(dir.join(FILES_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<Value>>(&b).ok())
    {
        Some(v) => v
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect(),
        None => {
            let e = Error::service(format!("job {job_id}: its file list is unreadable"));
            return refusal(StatusCode::INTERNAL_SERVER_ERROR, &e);
        }
    };
    let asked: Vec<String> = match param(&pairs, "file_list").map(str::trim) {
        None | Some("") => listed.clone(),
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    if asked.is_empty() {
        let e = Error::invalid(
            "file_list",
            param(&pairs, "file_list").unwrap_or(""),
            format!("files of job {job_id}: {}", listed.join(", ")),
        );
        return refusal(StatusCode::BAD_REQUEST, &e);
    }
    // Only names from the job's own list: no paths, no other files of the directory.
    for name in &asked {
        if !listed.contains(name) {
            let e = Error::invalid(
                "file_list",
                name,
                format!("files of job {job_id}: {}", listed.join(", ")),
            );
            return refusal(StatusCode::BAD_REQUEST, &e);
        }
    }
    let archive = truthy(param(&pairs, "return_archive"), true) || asked.len() > 1;
    let stem: String = param(&pairs, "download_file_name")
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect::<String>()
        .trim_start_matches('.')
        .trim_end_matches(".zip")
        .to_string();
    let stem = if stem.is_empty() {
        format!("{}-{}", rec.product, &rec.job_id[..8])
    } else {
        stem
    };
    let built = tokio::task::spawn_blocking(move || -> crate::Result<(String, Vec<u8>)> {
        if let (false, [name]) = (archive, asked.as_slice()) {
            let bytes = std::fs::read(dir.join(name)).map_err(|e| Error::io(dir.join(name), e))?;
            return Ok((name.clone(), bytes));
        }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for name in &asked {
            let bytes = std::fs::read(dir.join(name)).map_err(|e| Error::io(dir.join(name), e))?;
            let zerr = |e: zip::result::ZipError| Error::service(format!("zip: {e}"));
            zip.start_file(format!("{stem}/{name}"), opts)
                .map_err(zerr)?;
            zip.write_all(&bytes)
                .map_err(|e| Error::io(dir.join(name), e))?;
        }
        let cursor = zip
            .finish()
            .map_err(|e| Error::service(format!("zip: {e}")))?;
        Ok((format!("{stem}.zip"), cursor.into_inner()))
    })
    .await;
    match built {
        Ok(Ok((name, bytes))) => {
            let kind = if name.ends_with(".zip") {
                "application/zip"
            } else if name.ends_with(".fits") {
                "application/fits"
            } else if name.ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, kind.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Err(e)) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Error::service(format!("download task: {e}")),
        ),
    }
}

async fn resolve_name(RawQuery(q): RawQuery) -> Response {
    let pairs = pairs_of(q.as_deref(), b"");
    let name = param(&pairs, "name").unwrap_or("").trim().to_string();
    if name.is_empty() {
        return refusal(
            StatusCode::BAD_REQUEST,
            &Error::invalid("name", "", "a source name, e.g. Crab or 3C 279"),
        );
    }
    let found = crate::sky::ReferenceCatalog::bundled().and_then(|c| c.get(&name).cloned());
    match found {
        Ok(s) => json_response(
            StatusCode::OK,
            &json!({
                "name": s.name, "RA": s.position.ra(), "DEC": s.position.dec(),
                "entity_type": s.class.code(), "aliases": s.aliases,
                "message": format!("{name} resolved by the bundled reference catalog"),
            }),
        ),
        Err(Error::UnknownSource { name, suggestions }) => json_response(
            StatusCode::NOT_FOUND,
            &json!({
                "name": name, "suggestions": suggestions,
                "error": format!("{name} is not in the bundled reference catalog{}",
                    if suggestions.is_empty() { String::new() } else { format!("; did you mean {}?", suggestions.join(", ")) }),
            }),
        ),
        Err(e) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn get_revnum(State(app): State<Shared>, RawQuery(q): RawQuery) -> Response {
    use crate::time::{Time, TimeFormat};
    let pairs = pairs_of(q.as_deref(), b"");
    let raw = param(&pairs, "time_to_convert")
        .unwrap_or("")
        .trim()
        .to_string();
    let format: Result<TimeFormat, Error> = match param(&pairs, "T_format") {
        Some(f) => f.parse(),
        None if raw.parse::<f64>().is_ok() => Ok(TimeFormat::Mjd),
        None => Ok(TimeFormat::Isot),
    };
    let t = format.and_then(|f| {
        Time::parse(&raw, f).map_err(|_| {
            Error::invalid(
                "time_to_convert",
                &raw,
                "a time in ISOT (2015-06-20T00:00:00), or MJD/IJD with T_format",
            )
        })
    });
    let t = match t {
        Ok(t) => t,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, &e),
    };
    // The revolution as the archive in use numbers it: the Science Window running at `t`, else
    // the last one before it.
    let archive = app.archive.clone();
    let settings = app.jobs.settings().clone();
    let found = blocking(move || {
        let a = match archive.get() {
            Some(a) => a.clone(),
            None => {
                let opened = Arc::new(crate::archive::Archive::open(&settings)?);
                archive.get_or_init(|| opened).clone()
            }
        };
        let ijd = t.ijd();
        Ok(a.index()
            .scws
            .iter()
            .filter(|s| s.tstart <= ijd)
            .max_by(|x, y| x.tstart.total_cmp(&y.tstart))
            .map(|s| (s.swid.revolution(), s.tstart <= ijd && ijd <= s.tstop)))
    })
    .await;
    match found {
        Ok(Some((rev, inside))) => json_response(
            StatusCode::OK,
            &json!({"revnum": rev, "time": t.to_isot(), "IJD": t.ijd(), "in_science_window": inside}),
        ),
        Ok(None) => refusal(
            StatusCode::BAD_REQUEST,
            &Error::invalid(
                "time_to_convert",
                &raw,
                "a time during the mission (after the archive's first Science Window)",
            ),
        ),
        Err(e) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn view(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    UrlPath(job_id): UrlPath<String>,
) -> Response {
    let (_, user) = match asked(&app, &headers, q.as_deref(), b"") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let rec = match done_job(&app, &job_id, user.as_ref()).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let path = app.jobs.job_dir(&rec.job_id).join(VIEW_FILE);
    let mut v: Value = match tokio::fs::read(&path)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(v) => v,
        None => {
            let e = Error::service(format!("job {job_id}: its view is unreadable"));
            return refusal(StatusCode::INTERNAL_SERVER_ERROR, &e);
        }
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(rec.query.as_bytes())
        .into_owned()
        .collect();
    if let Ok(request) = Request::from_pairs(pairs) {
        let url = site_url(&app, &headers);
        v["api_code"] = json!({
            "python": python_code(&request, &url),
            "rust": request.to_rust_code(),
            "curl": curl_code(&request, &url),
        });
    }
    json_response(StatusCode::OK, &v)
}

async fn request_of(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    UrlPath(job_id): UrlPath<String>,
) -> Response {
    let (_, user) = match asked(&app, &headers, q.as_deref(), b"") {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !jobs::is_job_id(&job_id) {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("{job_id:?} is not a job id")}),
        );
    }
    let jobs = app.jobs.clone();
    let id = job_id.clone();
    match blocking(move || jobs.get(&id)).await {
        Ok(Some(r)) => match may_see(user.as_ref(), &r) {
            Ok(()) => json_response(
                StatusCode::OK,
                &json!({"job_id": r.job_id, "state": r.state.name(),
                        "parameters": super::results::given_parameters(&r.query)}),
            ),
            Err(resp) => resp,
        },
        Ok(None) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no job {job_id} on this site")}),
        ),
        Err(e) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn asset(kind: &'static str, body: &'static [u8]) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from(body),
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", super::web::INDEX_HTML)
}

async fn page_for_job(UrlPath(_job_id): UrlPath<String>) -> Response {
    page().await
}

async fn static_file(UrlPath(file): UrlPath<String>) -> Response {
    match super::web::asset(&file) {
        Some((kind, body)) => asset(kind, body),
        None => not_found().await,
    }
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": "no such route on this site: see /api/instr-list, /run_analysis, / (the web page)"}),
    )
}
