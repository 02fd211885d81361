//! A faithful local fake of Zenodo (InvenioRDM records API, Zenodo's content negotiation and the
//! legacy deposit API) for tests and rehearsals of publishing code. It behaves like the servers
//! do (as `shared/reference/publishing.md`, sections 1–3, records), not like their documentation.
//!
//! # Running it
//!
//! ```text
//! cargo run --release --example zenodo_fake -- --port 0 --token SECRET [--token OTHER]
//!     [--host 127.0.0.1] [--prefix 10.5072] [--rate-limit 100]
//! ```
//!
//! Once it accepts connections it prints exactly one line, `listening on http://HOST:PORT`, to
//! stdout (`--port 0` picks a free port), then one line per request to stderr: method, path
//! (without the query, so never an `access_token`) and status. State lives in memory.
//!
//! * Auth: `Authorization: Bearer TOKEN` or `?access_token=TOKEN`. A record belongs to the token
//!   that created it (another valid token gets 403 `Permission denied.`); an unknown token gets
//!   401; anonymous requests get 403 except reads of published records.
//! * Ids are Zenodo-like integers (a concept takes one, its first record the next); DOIs are
//!   `{prefix}/zenodo.{id}`, the concept DOI `{prefix}/zenodo.{concept id}`.
//! * `/api/records*` answers in Zenodo's older JSON shape unless the request sends
//!   `Accept: application/vnd.inveniordm.v1+json`.
//! * Rate limit: `--rate-limit` requests per minute per token (guests: at most 60 per IP), with
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` on every `/api` answer
//!   and 429 past the limit. At most 100 files per record. Bodies up to 4 GiB.
//!
//! # Control routes (no auth, not rate limited, not in the request log)
//!
//! * `POST /_fake/faults` — body: a JSON list of rules (or one rule), added after the present ones:
//!   `{"method": "PUT" | null, "path_contains": "/api/files/", "skip": 0, "times": 1,
//!     "kind": "429" | "403" | "500_no_body" | "503_no_body" | "5NN_no_body" | "reset",
//!     "retry_after": 1}`.
//!   For each `/api` request the rules are tried in order; a rule matches when the method (if
//!   not null, case-insensitive) and the path substring match. A matching rule with `skip > 0`
//!   lets the request through and counts `skip` down (later rules are then tried); otherwise it
//!   fires and counts `times` down (a rule is removed at 0). Kinds:
//!   - `429`: JSON 429 with `Retry-After: retry_after` and `X-RateLimit-Reset` = now + retry_after;
//!   - `403`: a spurious `{"status": 403, "message": "Permission denied."}`;
//!   - `5NN_no_body`: that status with an empty body (`text/html` content type, none for 503);
//!   - `reset`: half of the request body (at most 64 KiB) is read, then the connection is dropped
//!     with SO_LINGER 0, so the client sees a TCP RST mid-request; nothing is stored.
//!
//!   Faults fire before authentication and have no side effect. Answer: `{"faults": [...]}`.
//! * `GET /_fake/faults` — `{"faults": [...]}`, the rules left (with their remaining counts);
//!   `DELETE /_fake/faults` drops them all.
//! * `GET /_fake/state` — `{"records": [{id, parent_id, concept_id, owner, token, version_index,
//!   is_latest, is_published, has_draft, doi, reserved_doi, concept_doi, bucket_id, metadata,
//!   files: [{key, size, md5, status, committed}], draft, published}], "created_per_token":
//!   {TOKEN: n}, "concepts_per_token": {TOKEN: n}, "requests": [{method, path, status, fault?}],
//!   "faults": [...]}` (a reset request is logged with status 0).
//! * `POST /_fake/reset` — forgets records, faults, the request log and rate-limit windows.

mod control;
mod meta;
mod routes;
mod store;
mod util;
mod views;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use clap::Parser;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use control::{App, ConnCtl, Control};

/// A local Zenodo/InvenioRDM server for tests.
#[derive(Parser, Debug)]
#[command(name = "zenodo_fake")]
struct Args {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// An accepted access token (repeat for several users).
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// DOI prefix (10.5072 is the sandbox/test prefix).
    #[arg(long, default_value = "10.5072")]
    prefix: String,
    /// Requests per minute per token.
    #[arg(long = "rate-limit", default_value_t = 100)]
    rate_limit: u32,
}

/// Serves one connection; a `reset` fault makes it end with an RST.
async fn serve(stream: TcpStream, peer: SocketAddr, router: Router) {
    let _ = stream.set_nodelay(true);
    // A second descriptor of the socket: it keeps the socket open after hyper drops its
    // stream, so SO_LINGER 0 set here turns the final close into a reset.
    let dup = socket2::SockRef::from(&stream).try_clone().ok();
    let kill = Arc::new(Notify::new());
    let ctl = ConnCtl {
        kill: kill.clone(),
        peer,
    };
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ctl.clone());
            let mut router = router.clone();
            async move { tower_service::Service::call(&mut router, req.map(Body::new)).await }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {
            if let Some(s) = &dup {
                let _ = s.set_linger(Some(Duration::ZERO));
            }
        }
    }
    drop(dup);
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(args: Args) -> Result<(), String> {
    let app = Arc::new(App {
        tokens: args.tokens.clone(),
        rate_limit: args.rate_limit,
        store: Mutex::new(store::Store::new(&args.prefix)),
        ctl: Mutex::new(Control::default()),
    });
    let router = routes::router(app);
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}:{}", args.host, addr.port())
            .map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(stream, peer, router.clone()));
                }
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = &mut shutdown => return Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.tokens.is_empty() {
        eprintln!("zenodo_fake: no --token given: every authenticated request will get 401");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zenodo_fake: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zenodo_fake: {e}");
            ExitCode::FAILURE
        }
    }
}
