//! The API routes: InvenioRDM records (`/api/records`, `/api/user/records`) and Zenodo's legacy
//! deposit API (`/api/deposit/depositions`, `/api/files/{bucket}`).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::control::{self, App, Ident, lock};
use crate::meta;
use crate::store::{Record, Store};
use crate::util::{ApiError, ApiResult, errors_json, json_response, no_content};
use crate::views::{Ctx, Which};

/// Largest request body accepted (uploads are held in memory).
pub const MAX_BODY: usize = 4 << 30;

/// Largest upload through the old multipart API.
const MAX_MULTIPART: usize = 100 * 1000 * 1000;

/// The Accept value that selects the InvenioRDM JSON on `/api/records*`.
const RDM_JSON: &str = "application/vnd.inveniordm.v1+json";

type St = State<Arc<App>>;
type Id = Extension<Ident>;

pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        // InvenioRDM records.
        .route("/api/records", post(rdm_create).get(rdm_search))
        .route("/api/user/records", get(rdm_user_records))
        .route("/api/records/{id}", get(rdm_read))
        .route(
            "/api/records/{id}/draft",
            get(draft_read)
                .put(draft_update)
                .delete(draft_delete)
                .post(draft_edit),
        )
        .route(
            "/api/records/{id}/draft/pids/doi",
            post(doi_reserve).delete(doi_discard),
        )
        .route(
            "/api/records/{id}/draft/files",
            get(draft_files).post(files_init),
        )
        .route(
            "/api/records/{id}/draft/files/{key}",
            get(draft_file).delete(file_delete),
        )
        .route(
            "/api/records/{id}/draft/files/{key}/content",
            get(draft_file_content).put(file_content),
        )
        .route(
            "/api/records/{id}/draft/files/{key}/commit",
            post(file_commit),
        )
        .route("/api/records/{id}/draft/actions/publish", post(rdm_publish))
        .route(
            "/api/records/{id}/draft/actions/files-import",
            post(files_import),
        )
        .route(
            "/api/records/{id}/versions",
            get(versions_list).post(versions_new),
        )
        .route("/api/records/{id}/versions/latest", get(versions_latest))
        .route("/api/records/{id}/files", get(record_files))
        .route("/api/records/{id}/files/{key}", get(record_file))
        .route(
            "/api/records/{id}/files/{key}/content",
            get(record_file_content),
        )
        // Legacy deposit API.
        .route("/api/deposit/depositions", get(dep_list).post(dep_create))
        .route(
            "/api/deposit/depositions/{id}",
            get(dep_read).put(dep_update).delete(dep_delete),
        )
        .route(
            "/api/deposit/depositions/{id}/actions/{action}",
            post(dep_action),
        )
        .route(
            "/api/deposit/depositions/{id}/files",
            get(dep_files).post(dep_multipart),
        )
        .route(
            "/api/deposit/depositions/{id}/files/{file_id}",
            get(dep_file).delete(dep_file_delete),
        )
        .route("/api/files/{bucket}", get(bucket_list))
        .route(
            "/api/files/{bucket}/{*key}",
            put(bucket_put).get(bucket_get).delete(bucket_delete),
        )
        // Control routes.
        .route(
            "/_fake/faults",
            post(control::post_faults)
                .get(control::get_faults)
                .delete(control::delete_faults),
        )
        .route("/_fake/state", get(control::state))
        .route("/_fake/reset", post(control::reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    api.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        control::gate,
    ))
    .layer(DefaultBodyLimit::max(MAX_BODY))
    .with_state(app)
}

async fn not_found() -> Response {
    json_response(
        404,
        &json!({"status": 404, "message": "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."}),
    )
}

async fn method_not_allowed() -> Response {
    json_response(
        405,
        &json!({"status": 405, "message": "The method is not allowed for the requested URL."}),
    )
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn wants_rdm(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(RDM_JSON))
}

fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| ApiError::not_found())
}

/// A JSON body (an empty body reads as `{}`); 415 without a JSON content type, 400 if malformed.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().contains("json") {
        return Err(ApiError::new(
            415,
            "Invalid 'Content-Type' header: application/json is expected.",
        ));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::bad_request())
}

/// Reads a whole (possibly large) upload body, chunk by chunk.
async fn read_upload(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::new(400, "The upload was interrupted."))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::new(413, "Request Entity Too Large"));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// A record answer in the negotiated shape, with its ETag.
fn record_response(
    status: u16,
    ctx: &Ctx,
    rec: &Record,
    which: Which,
    rdm: bool,
    errors: &[(String, String)],
) -> Response {
    let mut v = if rdm {
        ctx.rdm_record(rec, which)
    } else {
        ctx.zenodo_record(rec, which)
    };
    if rdm && !errors.is_empty() {
        v["errors"] = errors_json(errors);
    }
    let revision = match which {
        Which::Draft => rec.draft.as_ref(),
        Which::Published => rec.published.as_ref(),
    }
    .map_or(0, |s| s.revision_id);
    let mut resp = json_response(status, &v);
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

/// Answers with the record `id` (after an operation) in the negotiated shape.
fn answer(
    app: &App,
    headers: &HeaderMap,
    status: u16,
    id: u64,
    which: Which,
    errors: &[(String, String)],
) -> ApiResult {
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let base = base_url(headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(record_response(
        status,
        &ctx,
        rec,
        which,
        wants_rdm(headers),
        errors,
    ))
}

/// A published record readable by `user` (anyone for public files, else the owner).
fn readable_published(store: &Store, id: u64, user: Option<usize>) -> Result<&Record, ApiError> {
    let rec = store.get(id)?;
    let published = rec.published.as_ref().ok_or_else(ApiError::not_found)?;
    let public = published.input.access.get("files").and_then(Value::as_str) == Some("public");
    if !public && Some(rec.owner) != user {
        return Err(ApiError::denied());
    }
    Ok(rec)
}

fn file_response(data: &Bytes, mimetype: &str, key: &str) -> Response {
    let mut resp = Response::new(Body::from(data.clone()));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mimetype) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let safe: String = key
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn hits(values: Vec<Value>, self_link: String) -> Value {
    let total = values.len();
    json!({
        "hits": {"hits": values, "total": total},
        "aggregations": {},
        "sortBy": "newest",
        "links": {"self": self_link},
    })
}

fn query_param(query: &Option<String>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn matches_q(rec: &Record, q: &Option<String>) -> bool {
    let Some(q) = q
        .as_ref()
        .map(|q| q.trim().trim_matches('"').to_lowercase())
        .filter(|q| !q.is_empty())
    else {
        return true;
    };
    let title = rec
        .current()
        .and_then(|s| s.input.metadata.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    title.contains(&q) || rec.id.to_string() == q
}

// ---------------------------------------------------------------------------------------------
// InvenioRDM records
// ---------------------------------------------------------------------------------------------

async fn rdm_create(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = ident.user()?;
    let value = json_body(&headers, &body)?;
    let (input, errors) = meta::rdm_input(&value).map_err(|e| ApiError::validation(&e))?;
    let id = lock(&app.store).create(user, input);
    answer(&app, &headers, 201, id, Which::Draft, &errors)
}

async fn rdm_search(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let q = query_param(&query, "q");
    let store = lock(&app.store);
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let rdm = wants_rdm(&headers);
    let mut list: Vec<&Record> = store
        .records
        .values()
        .filter(|r| readable_published(&store, r.id, ident.0).is_ok())
        .filter(|r| store.versions(r).1 && matches_q(r, &q))
        .collect();
    list.reverse();
    let values = list
        .iter()
        .map(|r| {
            if rdm {
                ctx.rdm_record(r, Which::Published)
            } else {
                ctx.zenodo_record(r, Which::Published)
            }
        })
        .collect();
    Ok(json_response(
        200,
        &hits(values, format!("{base}/api/records")),
    ))
}

async fn rdm_user_records(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let user = ident.user()?;
    let q = query_param(&query, "q");
    let store = lock(&app.store);
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let rdm = wants_rdm(&headers);
    let values = store
        .records
        .values()
        .rev()
        .filter(|r| r.owner == user && matches_q(r, &q))
        .map(|r| {
            let which = if r.draft.is_some() {
                Which::Draft
            } else {
                Which::Published
            };
            if rdm {
                ctx.rdm_record(r, which)
            } else {
                ctx.zenodo_record(r, which)
            }
        })
        .collect();
    Ok(json_response(
        200,
        &hits(values, format!("{base}/api/user/records")),
    ))
}

async fn rdm_read(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = readable_published(&store, id, ident.0)?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(record_response(
        200,
        &ctx,
        rec,
        Which::Published,
        wants_rdm(&headers),
        &[],
    ))
}

async fn draft_read(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    {
        let store = lock(&app.store);
        let rec = store.owned(id, Some(user))?;
        if rec.draft.is_none() {
            return Err(ApiError::not_found());
        }
    }
    answer(&app, &headers, 200, id, Which::Draft, &[])
}

async fn draft_update(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    let value = json_body(&headers, &body)?;
    let (input, errors) = meta::rdm_input(&value).map_err(|e| ApiError::validation(&e))?;
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => Some(
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse::<u64>()
                .map_err(|_| ApiError::new(412, "The If-Match header is not a revision id."))?,
        ),
    };
    lock(&app.store).update_draft(id, user, input, if_match)?;
    answer(&app, &headers, 200, id, Which::Draft, &errors)
}

async fn draft_delete(State(app): St, Extension(ident): Id, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).delete_draft(id, ident.user()?)?;
    Ok(no_content())
}

async fn draft_edit(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).edit(id, ident.user()?)?;
    answer(&app, &headers, 201, id, Which::Draft, &[])
}

async fn doi_reserve(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).reserve_doi(id, ident.user()?)?;
    answer(&app, &headers, 201, id, Which::Draft, &[])
}

async fn doi_discard(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).discard_doi(id, ident.user()?)?;
    answer(&app, &headers, 200, id, Which::Draft, &[])
}

fn files_answer(app: &App, headers: &HeaderMap, status: u16, id: u64, which: Which) -> ApiResult {
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let base = base_url(headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(status, &ctx.rdm_files(rec, which)))
}

async fn draft_files(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    if lock(&app.store).owned(id, Some(user))?.draft.is_none() {
        return Err(ApiError::not_found());
    }
    files_answer(&app, &headers, 200, id, Which::Draft)
}

async fn files_init(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    let value = json_body(&headers, &body)?;
    let Some(list) = value.as_array() else {
        return Err(ApiError::validation(&[(
            "_schema".into(),
            "Invalid input type: a list of {\"key\": ...} is expected.".into(),
        )]));
    };
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.get("key").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && !k.contains('/') => entries.push((
                k.to_string(),
                item.get("metadata").cloned().unwrap_or(Value::Null),
            )),
            Some(_) => errors.push((format!("{i}.key"), "Invalid file key.".to_string())),
            None => errors.push((
                format!("{i}.key"),
                "Missing data for required field.".to_string(),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    lock(&app.store).init_files(id, user, entries)?;
    files_answer(&app, &headers, 201, id, Which::Draft)
}

async fn draft_file(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = store.owned(id, ident.0)?;
    let draft = rec.draft.as_ref().ok_or_else(ApiError::not_found)?;
    let f = draft
        .file(&key)
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(200, &ctx.rdm_file(rec, Which::Draft, f)))
}

async fn file_delete(
    State(app): St,
    Extension(ident): Id,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).delete_file(id, ident.user()?, &key)?;
    Ok(no_content())
}

async fn draft_file_content(
    State(app): St,
    Extension(ident): Id,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = store.owned(id, ident.0)?;
    let draft = rec.draft.as_ref().ok_or_else(ApiError::not_found)?;
    let f = draft
        .file(&key)
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let data = f
        .content
        .as_ref()
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    Ok(file_response(data, &f.mimetype, &f.key))
}

async fn file_content(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    body: Body,
) -> ApiResult {
    let checked = parse_id(&id).and_then(|id| {
        let user = ident.user()?;
        lock(&app.store).check_content(id, user, &key)?;
        Ok((id, user))
    });
    let (id, user) = match checked {
        Ok(v) => v,
        Err(e) => {
            control::drain(body).await;
            return Err(e);
        }
    };
    let data = read_upload(body, MAX_BODY).await?;
    lock(&app.store).set_content(id, user, &key, data)?;
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let f = rec
        .draft
        .as_ref()
        .and_then(|d| d.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let mut v = ctx.rdm_file(rec, Which::Draft, f);
    v["size"] = json!(f.size());
    Ok(json_response(200, &v))
}

async fn file_commit(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).commit(id, ident.user()?, &key)?;
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let f = rec
        .draft
        .as_ref()
        .and_then(|d| d.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(200, &ctx.rdm_file(rec, Which::Draft, f)))
}

async fn rdm_publish(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).publish(id, ident.user()?)?;
    answer(&app, &headers, 202, id, Which::Published, &[])
}

async fn files_import(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).import_files(id, ident.user()?)?;
    files_answer(&app, &headers, 201, id, Which::Draft)
}

async fn versions_list(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let parent = store.get(id)?.parent;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let rdm = wants_rdm(&headers);
    let mut members: Vec<&Record> = store
        .parents
        .get(&parent)
        .map(|p| {
            p.members
                .iter()
                .filter_map(|m| readable_published(&store, *m, ident.0).ok())
                .collect()
        })
        .unwrap_or_default();
    members.sort_by_key(|r| std::cmp::Reverse(r.index));
    let values = members
        .iter()
        .map(|r| {
            if rdm {
                ctx.rdm_record(r, Which::Published)
            } else {
                ctx.zenodo_record(r, Which::Published)
            }
        })
        .collect();
    Ok(json_response(
        200,
        &hits(values, format!("{base}/api/records/{id}/versions")),
    ))
}

async fn versions_new(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let new = lock(&app.store).new_version(id, ident.user()?)?;
    answer(&app, &headers, 201, new, Which::Draft, &[])
}

async fn versions_latest(State(app): St, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let parent = store.get(id)?.parent;
    let latest = store
        .latest_published(parent)
        .ok_or_else(ApiError::not_found)?;
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(&format!("{}/api/records/{latest}", base_url(&headers))) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn record_files(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    readable_published(&lock(&app.store), id, ident.0)?;
    files_answer(&app, &headers, 200, id, Which::Published)
}

async fn record_file(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = readable_published(&store, id, ident.0)?;
    let f = rec
        .published
        .as_ref()
        .and_then(|p| p.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(200, &ctx.rdm_file(rec, Which::Published, f)))
}

async fn record_file_content(
    State(app): St,
    Extension(ident): Id,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = readable_published(&store, id, ident.0)?;
    let f = rec
        .published
        .as_ref()
        .and_then(|p| p.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let data = f
        .content
        .as_ref()
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    Ok(file_response(data, &f.mimetype, &f.key))
}

// ---------------------------------------------------------------------------------------------
// Legacy deposit API
// ---------------------------------------------------------------------------------------------

fn deposit(app: &App, headers: &HeaderMap, status: u16, id: u64) -> ApiResult {
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let base = base_url(headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(status, &ctx.legacy_deposit(rec)))
}

fn legacy_parse(
    app: &App,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<meta::DraftInput, ApiError> {
    let value = json_body(headers, body)?;
    let prefix = lock(&app.store).prefix.clone();
    meta::legacy_input(&value, &prefix).map_err(|e| ApiError::validation(&e))
}

async fn dep_create(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = ident.user()?;
    let input = legacy_parse(&app, &headers, &body)?;
    let id = lock(&app.store).create(user, input);
    deposit(&app, &headers, 201, id)
}

async fn dep_list(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let user = ident.user()?;
    let q = query_param(&query, "q");
    let status = query_param(&query, "status");
    let size = query_param(&query, "size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .max(1);
    let page = query_param(&query, "page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let store = lock(&app.store);
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let list: Vec<Value> = store
        .records
        .values()
        .rev()
        .filter(|r| r.owner == user && matches_q(r, &q))
        .filter(|r| match status.as_deref() {
            Some("draft") => r.draft.is_some(),
            Some("published") => r.published.is_some(),
            _ => true,
        })
        .skip((page - 1) * size)
        .take(size)
        .map(|r| ctx.legacy_deposit(r))
        .collect();
    Ok(json_response(200, &Value::Array(list)))
}

async fn dep_read(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).owned(id, Some(ident.user()?))?;
    deposit(&app, &headers, 200, id)
}

async fn dep_update(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    if lock(&app.store).owned(id, Some(user))?.draft.is_none() {
        return Err(ApiError::not_found());
    }
    let input = legacy_parse(&app, &headers, &body)?;
    lock(&app.store).update_draft(id, user, input, None)?;
    deposit(&app, &headers, 200, id)
}

async fn dep_delete(State(app): St, Extension(ident): Id, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    lock(&app.store).delete_draft(id, ident.user()?)?;
    Ok(no_content())
}

async fn dep_action(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    match action.as_str() {
        "publish" => {
            lock(&app.store).publish(id, user)?;
            deposit(&app, &headers, 202, id)
        }
        "edit" => {
            lock(&app.store).edit(id, user)?;
            deposit(&app, &headers, 201, id)
        }
        "discard" => {
            lock(&app.store).delete_draft(id, user)?;
            Ok(no_content())
        }
        "newversion" => {
            let new = {
                let mut store = lock(&app.store);
                let new = store.new_version(id, user)?;
                store.import_files(new, user)?;
                new
            };
            deposit(&app, &headers, 201, new)
        }
        _ => Err(ApiError::new(
            404,
            "The requested URL was not found on the server.",
        )),
    }
}

async fn dep_files(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = store.owned(id, Some(ident.user()?))?;
    let (which, snap) = match (&rec.draft, &rec.published) {
        (Some(d), _) => (Which::Draft, d),
        (None, Some(p)) => (Which::Published, p),
        (None, None) => return Err(ApiError::not_found()),
    };
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let list: Vec<Value> = snap
        .completed()
        .map(|f| ctx.legacy_file(rec, which, f))
        .collect();
    Ok(json_response(200, &Value::Array(list)))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// One part of a multipart/form-data body: (field name, file name, data).
type Part = (String, Option<String>, Bytes);

/// Parses a multipart/form-data body (`None` if malformed).
fn multipart(body: &Bytes, boundary: &str) -> Option<Vec<Part>> {
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2)? == b"--" {
            return Some(parts);
        }
        if body.get(pos..pos + 2)? != b"\r\n" {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&body[pos..head_end]).ok()?;
        let start = head_end + 4;
        let end = find(body, &next_delim, start)?;
        let mut name = String::new();
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((h, v)) = line.split_once(':') else {
                continue;
            };
            if !h.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for attr in v.split(';').map(str::trim) {
                if let Some((k, val)) = attr.split_once('=') {
                    let val = val.trim().trim_matches('"').to_string();
                    match k.trim() {
                        "name" => name = val,
                        "filename" => filename = Some(val),
                        _ => {}
                    }
                }
            }
        }
        parts.push((name, filename, body.slice(start..end)));
        pos = end + next_delim.len();
    }
}

/// werkzeug's `secure_filename`: ASCII, no path, spaces to underscores.
fn secure_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    cleaned.trim_matches(|c| c == '.' || c == '_').to_string()
}

async fn dep_multipart(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult {
    let checked = parse_id(&id).and_then(|id| {
        let user = ident.user()?;
        match lock(&app.store).owned(id, Some(user))?.draft {
            Some(_) => Ok((id, user)),
            None => Err(ApiError::not_found()),
        }
    });
    let (id, user) = match checked {
        Ok(v) => v,
        Err(e) => {
            control::drain(body).await;
            return Err(e);
        }
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .filter(|_| ct.to_ascii_lowercase().starts_with("multipart/form-data"))
        .ok_or_else(|| {
            ApiError::new(
                400,
                "A multipart/form-data body with a 'file' part is expected.",
            )
        })?;
    let data = read_upload(body, MAX_MULTIPART).await?;
    let parts = multipart(&data, &boundary).ok_or_else(ApiError::bad_request)?;
    let file = parts.iter().find(|(n, _, _)| n == "file");
    let Some((_, filename, content)) = file else {
        return Err(ApiError::validation(&[(
            "file".into(),
            "Missing data for required field.".into(),
        )]));
    };
    let name = parts
        .iter()
        .find(|(n, f, _)| n == "name" && f.is_none())
        .and_then(|(_, _, v)| std::str::from_utf8(v).ok().map(str::to_string))
        .or_else(|| filename.clone())
        .unwrap_or_default();
    let key = secure_filename(&name);
    lock(&app.store).put_file(id, user, &key, content.clone())?;
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let f = rec
        .draft
        .as_ref()
        .and_then(|d| d.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(201, &ctx.legacy_file(rec, Which::Draft, f)))
}

async fn dep_file(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&app.store);
    let rec = store.owned(id, Some(ident.user()?))?;
    let which = if rec.draft.is_some() {
        Which::Draft
    } else {
        Which::Published
    };
    let f = rec
        .current()
        .and_then(|s| s.completed().find(|f| f.file_id == file_id))
        .ok_or_else(|| ApiError::new(404, "The requested URL was not found on the server."))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(200, &ctx.legacy_file(rec, which, f)))
}

async fn dep_file_delete(
    State(app): St,
    Extension(ident): Id,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let user = ident.user()?;
    let mut store = lock(&app.store);
    let rec = store.owned(id, Some(user))?;
    let key = rec
        .current()
        .and_then(|s| s.files.iter().find(|f| f.file_id == file_id))
        .map(|f| f.key.clone())
        .ok_or_else(|| ApiError::new(404, "The requested URL was not found on the server."))?;
    if rec.draft.is_none() {
        return Err(ApiError::denied());
    }
    store.delete_file(id, user, &key)?;
    Ok(no_content())
}

async fn bucket_list(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path(bucket): Path<String>,
) -> ApiResult {
    let store = lock(&app.store);
    let id = store.bucket(&bucket)?;
    let rec = store.owned(id, Some(ident.user()?))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    let contents: Vec<Value> = rec
        .current()
        .map(|s| s.completed().map(|f| ctx.files_rest(rec, f)).collect())
        .unwrap_or_default();
    Ok(json_response(
        200,
        &json!({"id": bucket, "contents": contents, "links": {"self": format!("{base}/api/files/{bucket}")}}),
    ))
}

async fn bucket_put(
    State(app): St,
    Extension(ident): Id,
    headers: HeaderMap,
    Path((bucket, key)): Path<(String, String)>,
    body: Body,
) -> ApiResult {
    let checked = ident.user().and_then(|user| {
        let store = lock(&app.store);
        let id = store.bucket(&bucket)?;
        store.check_put(id, user, &key)?;
        Ok((user, id))
    });
    let (user, id) = match checked {
        Ok(v) => v,
        Err(e) => {
            control::drain(body).await;
            return Err(e);
        }
    };
    let data = read_upload(body, MAX_BODY).await?;
    lock(&app.store).put_file(id, user, &key, data)?;
    let store = lock(&app.store);
    let rec = store.get(id)?;
    let f = rec
        .draft
        .as_ref()
        .and_then(|d| d.file(&key))
        .ok_or_else(|| crate::store::file_not_found(id, &key))?;
    let base = base_url(&headers);
    let ctx = Ctx {
        store: &store,
        base: &base,
    };
    Ok(json_response(201, &ctx.files_rest(rec, f)))
}

async fn bucket_get(
    State(app): St,
    Extension(ident): Id,
    Path((bucket, key)): Path<(String, String)>,
) -> ApiResult {
    let store = lock(&app.store);
    let id = store.bucket(&bucket)?;
    let rec = match store.owned(id, ident.0) {
        Ok(rec) => rec,
        Err(e) => readable_published(&store, id, ident.0).map_err(|_| e)?,
    };
    let f = rec
        .current()
        .and_then(|s| s.file(&key))
        .filter(|f| f.completed)
        .ok_or_else(|| ApiError::new(404, "Object does not exist."))?;
    let data = f
        .content
        .as_ref()
        .ok_or_else(|| ApiError::new(404, "Object does not exist."))?;
    Ok(file_response(data, &f.mimetype, &f.key))
}

async fn bucket_delete(
    State(app): St,
    Extension(ident): Id,
    Path((bucket, key)): Path<(String, String)>,
) -> ApiResult {
    let mut store = lock(&app.store);
    let id = store.bucket(&bucket)?;
    store.delete_file(id, ident.user()?, &key)?;
    Ok(no_content())
}
