//! HTTP to the repository: authentication, content negotiation, retries.
//!
//! Zenodo in the wild answers 429 with `Retry-After` / `X-RateLimit-Reset`, 5xx without a JSON
//! body, resets connections during large uploads and sometimes a spurious 403. Requests that
//! are safe to repeat (reads, uploads of a file's content, deletions, DOI reservation, publish
//! — each checked against the server's state by the caller) are retried here; a request that
//! could create a second record on a lost answer is sent once and its failure is reported as
//! ambiguous, for the caller to look the record up before sending it again.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::token::Token;
use crate::error::{Error, PublishErrorKind, Result};

/// The media type of InvenioRDM's record JSON (Zenodo answers its older JSON without it).
pub(crate) const RDM_JSON: &str = "application/vnd.inveniordm.v1+json";

/// How patiently to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request (the first included).
    pub attempts: u32,
    /// The first back-off delay; doubled after each failure.
    pub base_delay: Duration,
    /// The longest back-off delay, and the longest wait a 429 may ask for.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(120),
        }
    }
}

/// Whether a request may be sent again after a lost or failed answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Repeating it cannot create anything twice.
    Safe,
    /// It creates something: sent once; a lost answer is reported as ambiguous.
    Once,
}

/// A request body.
pub(crate) enum Body<'a> {
    None,
    Json(&'a Value),
    File(&'a Path),
}

/// A server answer with a status the caller handles itself (2xx, 400, 404, 412, ...).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) json: Value,
}

impl Answer {
    /// The answer's error for `step`, with the server's validation errors field by field.
    pub(crate) fn error(&self, step: &str) -> Error {
        let kind = match self.status {
            400 | 412 | 413 | 422 => PublishErrorKind::Validation,
            401 | 403 => PublishErrorKind::Token,
            _ => PublishErrorKind::Server,
        };
        Error::publish(
            kind,
            format!("{step}: {}", describe_answer(self.status, &self.json)),
        )
    }

    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The server's message and its field errors, one per line.
pub(crate) fn describe_answer(status: u16, json: &Value) -> String {
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("(no message)");
    let mut text = format!("the server answered {status}: {message}");
    text.push_str(&field_errors(json));
    text
}

/// Field errors of an InvenioRDM (`errors: [{field, messages}]`) or legacy Zenodo
/// (`errors: [{field, message}]`, `messages`) body, one indented line each.
pub(crate) fn field_errors(json: &Value) -> String {
    let mut text = String::new();
    for e in json
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = e.get("field").and_then(Value::as_str).unwrap_or("(record)");
        let messages: Vec<String> = match (e.get("messages"), e.get("message")) {
            (Some(Value::Array(m)), _) => m
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect(),
            (Some(Value::Object(m)), _) => m.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
            (_, Some(Value::String(m))) => vec![m.clone()],
            _ => vec![],
        };
        text.push_str(&format!("\n  {field}: {}", messages.join("; ")));
    }
    text
}

/// The HTTP client of one publication step.
pub(crate) struct Client {
    http: reqwest::blocking::Client,
    token: Token,
    policy: RetryPolicy,
    /// Whether to ask for InvenioRDM's JSON (switched off when falling back to the legacy API).
    rdm: std::cell::Cell<bool>,
    /// `scheme://host[:port]` of the server: the token goes nowhere else, whatever a link or a
    /// journal says.
    origin: String,
    log: super::workflow::LogFn,
}

impl Client {
    /// A client with `token`, asking for InvenioRDM JSON when `rdm`.
    pub(crate) fn new(
        base_url: &str,
        token: Token,
        policy: RetryPolicy,
        rdm: bool,
        log: super::workflow::LogFn,
    ) -> Result<Client> {
        // rustls needs a process-wide crypto provider; a second install is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!(
                "oda/",
                env!("CARGO_PKG_VERSION"),
                " (oda::publish)"
            ))
            .connect_timeout(Duration::from_secs(30))
            .timeout(None::<Duration>)
            .build()
            .map_err(|e| {
                Error::publish(
                    PublishErrorKind::Network,
                    format!("cannot make an HTTP client: {e}"),
                )
            })?;
        Ok(Client {
            http,
            token,
            policy,
            rdm: std::cell::Cell::new(rdm),
            origin: origin_of(base_url).to_string(),
            log,
        })
    }

    /// Speaks Zenodo's legacy API from now on (its answers without InvenioRDM's media type).
    pub(crate) fn use_legacy(&self) {
        self.rdm.set(false);
    }

    /// Logs a line (never with the token: nothing here has it).
    pub(crate) fn log(&self, line: &str) {
        (self.log)(line);
    }

    /// Sends `method url` with `body`, retrying what may be retried, and returns the answer
    /// for the caller to judge (any status but 401, 403, 429 and 5xx comes back as it is).
    ///
    /// # Errors
    /// [`PublishErrorKind::Token`] for 401 and a 403 that persists; `Server` for 5xx and
    /// `Network` for lost connections once the retries are spent (or at once for
    /// [`Repeat::Once`], saying that the outcome is unknown).
    pub(crate) fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Body<'_>,
        repeat: Repeat,
    ) -> Result<Answer> {
        let what = format!("{method} {}", strip_query(url));
        let mut delay = self.policy.base_delay;
        let mut forbidden = 0;
        let attempts = self.policy.attempts.max(1);
        for attempt in 1..=attempts {
            let last = attempt == attempts;
            let request = self.request(&method, url, &body)?;
            let wait = match request.send() {
                Err(e) => {
                    let reason = network_reason(&e);
                    if repeat == Repeat::Once || last {
                        return Err(Error::publish(
                            PublishErrorKind::Network,
                            format!(
                                "{what}: {reason}{}",
                                if repeat == Repeat::Once {
                                    "; whether the server acted on it is unknown"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    self.log(&format!(
                        "{what}: {reason}; retrying in {:.1} s",
                        delay.as_secs_f64()
                    ));
                    delay
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let bytes = match response.bytes() {
                        Ok(b) => b,
                        Err(e) => {
                            // The answer was cut off: what the server did is unknown.
                            return Err(Error::publish(
                                PublishErrorKind::Network,
                                format!(
                                    "{what}: the answer ({status}) broke off: {}; whether the server acted on it is unknown",
                                    network_reason(&e)
                                ),
                            ));
                        }
                    };
                    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    match status {
                        401 => {
                            return Err(Error::publish(
                                PublishErrorKind::Token,
                                format!(
                                    "{what}: the server refused the access token (401: {}); check \
                                     that the token is for this server ({}) and not revoked",
                                    json.get("message")
                                        .and_then(Value::as_str)
                                        .unwrap_or("unauthorized"),
                                    host_of(url)
                                ),
                            ));
                        }
                        403 => {
                            // Zenodo sometimes answers a spurious 403; one that persists is real.
                            forbidden += 1;
                            if forbidden > 2 || last {
                                return Err(Error::publish(
                                    PublishErrorKind::Token,
                                    format!(
                                        "{what}: permission denied (403, {forbidden} times): the token \
                                         lacks the scopes deposit:write and deposit:actions, or the \
                                         record belongs to another account"
                                    ),
                                ));
                            }
                            self.log(&format!(
                                "{what}: 403 (Zenodo gives spurious ones); retrying"
                            ));
                            delay
                        }
                        429 => {
                            let wait = rate_limit_wait(&headers)
                                .unwrap_or(delay)
                                .min(self.policy.max_delay);
                            if last {
                                return Err(Error::publish(
                                    PublishErrorKind::Server,
                                    format!(
                                        "{what}: still rate-limited (429) after {attempts} attempts; try again later"
                                    ),
                                ));
                            }
                            self.log(&format!(
                                "{what}: rate-limited (429); waiting {:.1} s as the server asks",
                                wait.as_secs_f64()
                            ));
                            wait
                        }
                        500..=599 => {
                            let text = if json.is_null() {
                                "no JSON body".to_string()
                            } else {
                                describe_answer(status, &json)
                            };
                            if repeat == Repeat::Once || last {
                                return Err(Error::publish(
                                    PublishErrorKind::Server,
                                    format!(
                                        "{what}: server error {status} ({text}){}",
                                        if repeat == Repeat::Once {
                                            "; whether the server acted on it is unknown"
                                        } else {
                                            ""
                                        }
                                    ),
                                ));
                            }
                            self.log(&format!(
                                "{what}: server error {status} ({text}); retrying in {:.1} s",
                                delay.as_secs_f64()
                            ));
                            delay
                        }
                        _ => return Ok(Answer { status, json }),
                    }
                }
            };
            std::thread::sleep(wait);
            delay = delay.saturating_mul(2).min(self.policy.max_delay);
        }
        Err(Error::publish(
            PublishErrorKind::Server,
            format!("{what}: no answer"),
        ))
    }

    fn request(
        &self,
        method: &reqwest::Method,
        url: &str,
        body: &Body<'_>,
    ) -> Result<reqwest::blocking::RequestBuilder> {
        if origin_of(url) != self.origin {
            return Err(Error::publish(
                PublishErrorKind::Server,
                format!(
                    "refusing to send the token to {} (a link or the journal points away from the server {})",
                    origin_of(url),
                    self.origin
                ),
            ));
        }
        let accept = if self.rdm.get() {
            RDM_JSON
        } else {
            "application/json"
        };
        let r = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token.secret())
            .header(reqwest::header::ACCEPT, accept);
        Ok(match body {
            Body::None => r,
            Body::Json(v) => r
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| Error::io(*path, e))?;
                let len = file.metadata().map_err(|e| Error::io(*path, e))?.len();
                r.header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(reqwest::blocking::Body::sized(file, len))
            }
        })
    }

    /// `call` for a JSON answer that must be 2xx.
    pub(crate) fn expect(
        &self,
        step: &str,
        method: reqwest::Method,
        url: &str,
        body: Body<'_>,
        repeat: Repeat,
    ) -> Result<Value> {
        let a = self.call(method, url, body, repeat)?;
        if a.ok() {
            Ok(a.json)
        } else {
            Err(a.error(step))
        }
    }
}

/// The wait a 429 asks for: `Retry-After` (seconds), else `X-RateLimit-Reset` (epoch seconds).
fn rate_limit_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite())
    };
    if let Some(s) = get("retry-after") {
        return Some(Duration::from_secs_f64(s.clamp(0.0, 86400.0)));
    }
    let reset = get("x-ratelimit-reset")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(Duration::from_secs_f64(
        (reset - now).clamp(0.0, 86400.0) + 0.1,
    ))
}

/// Why a request failed, in words (reqwest's text, without the URL's query).
fn network_reason(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "the connection broke".to_string()
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// `scheme://host[:port]` of a URL (everything before the path).
pub(crate) fn origin_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find(['/', '?', '#']).map_or(url.len(), |j| i + 3 + j);
            &url[..end]
        }
        None => url,
    }
}

/// `url` without its query (which could carry an `access_token`).
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn host_of(url: &str) -> &str {
    url.split("//")
        .nth(1)
        .and_then(|h| h.split('/').next())
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_errors_of_both_apis() {
        let rdm = json!({"status": 400, "message": "A validation error occurred.",
            "errors": [{"field": "metadata.title", "messages": ["Missing data for required field."]},
                       {"field": "metadata.creators", "messages": ["Missing data for required field.", "x"]}]});
        let t = describe_answer(400, &rdm);
        assert!(
            t.contains("\n  metadata.title: Missing data for required field."),
            "{t}"
        );
        assert!(
            t.contains("\n  metadata.creators: Missing data for required field.; x"),
            "{t}"
        );
        let legacy = json!({"status": 400, "message": "Validation error.",
            "errors": [{"field": "metadata.upload_type", "message": "Invalid value."}]});
        assert!(describe_answer(400, &legacy).contains("metadata.upload_type: Invalid value."));
    }

    #[test]
    fn rate_limit_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(3)));
        let mut h = reqwest::header::HeaderMap::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        h.insert("x-ratelimit-reset", (now + 2).to_string().parse().unwrap());
        let w = rate_limit_wait(&h).unwrap();
        assert!(
            w > Duration::from_millis(500) && w <= Duration::from_millis(2100),
            "{w:?}"
        );
        assert_eq!(
            strip_query("http://h/api?access_token=s3cr3t"),
            "http://h/api"
        );
        assert_eq!(
            origin_of("https://zenodo.org:443/api/records?x"),
            "https://zenodo.org:443"
        );
        assert_eq!(origin_of("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "nan".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), None);
    }
}
