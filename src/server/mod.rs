//! The ODA service: `oda serve`.
//!
//! One process answers the Python `oda_api` client (the reference dispatcher's routes and
//! product encoding: `/run_analysis`, `/api/par-names`, `/api/meta-data`, `/instr-list`,
//! `/inspect-state`, `/download_products`, `/resolve_name`, `/get_revnum`) and serves a web
//! page (`/`) with the form, the plots, share links and API code. Requests run as jobs in a
//! bounded pool of workers ([`jobs`]) on the site's shared analysis cache: a job is named by its
//! request's identity, not by its user, so a product computed for one user is served at once to
//! the next. Job records are kept in SQLite under the data directory and survive a `kill -9`.
//! Tokens are ODA's JWTs ([`auth`]): anonymous users run public requests of up to 50 pointings;
//! larger ones need ODA's roles.
//!
//! ```no_run
//! use oda::config::Settings;
//! use oda::server::{ServeOptions, serve};
//! let settings = Settings::simulated("/srv/oda");
//! serve(settings, ServeOptions { port: 8000, ..ServeOptions::default() }, |addr| {
//!     println!("listening on http://{addr}");
//! })?;
//! # Ok::<(), oda::Error>(())
//! ```

pub mod auth;
pub mod encode;
pub mod jobs;
mod results;
mod routes;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use auth::{
    ANONYMOUS_MAX_POINTINGS, Authority, Claims, FULL_MAX_POINTINGS, ROLE_EXTREME, ROLE_FULL,
    ROLE_JOB_MANAGER, ROLE_REALTIME, SecretSource, User, check_roles, load_secret, parse_duration,
    parse_roles, required_roles, roles_reason,
};
pub use jobs::{JobRecord, JobState, Jobs, job_dir_intact, job_id};
pub use results::{ANSWER_FILE, FILES_FILE, VIEW_FILE};

use crate::config::Settings;
use crate::error::{Error, Result};

/// How `oda serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on (default `127.0.0.1`: put a reverse proxy in front for the world).
    pub host: String,
    /// Port (0: any free port, reported to `on_listen`).
    pub port: u16,
    /// Jobs run at once (each uses every core for its analysis).
    pub workers: usize,
    /// The HS256 secret's file (else `ODA_SECRET`, else `<data>/server/secret`).
    pub secret_file: Option<PathBuf>,
    /// PEM RSA public keys whose RS256 tokens are accepted too.
    pub public_keys: Vec<PathBuf>,
    /// The URL users reach the site at (behind a proxy), for the API code shown to them.
    pub public_url: Option<String>,
    /// Largest request body, bytes (long catalogs are posted).
    pub max_body_bytes: usize,
    /// Jobs that may wait at once; more submissions are answered 503 with `Retry-After`.
    pub max_queued: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: "127.0.0.1".into(),
            port: 8000,
            workers: 2,
            secret_file: None,
            public_keys: Vec::new(),
            public_url: None,
            max_body_bytes: 4 << 20,
            max_queued: 200,
        }
    }
}

/// The token authority of a site: its secret (made on first start when it has none) and its
/// RS256 public keys.
///
/// # Errors
/// As [`load_secret`] and [`Authority::with_rs256_public_key`].
pub fn site_authority(settings: &Settings, options: &ServeOptions) -> Result<Authority> {
    let (secret, _) = load_secret(&settings.data_dir, options.secret_file.as_deref(), true)?;
    let mut authority = Authority::hs256(&secret)?;
    for k in &options.public_keys {
        authority = authority.with_rs256_public_key(k)?;
    }
    Ok(authority)
}

/// Runs the service until SIGINT or SIGTERM; `on_listen` is called with the bound address
/// once connections are accepted.
///
/// # Errors
/// An address that cannot be bound, an unusable data directory, secret or job database.
pub fn serve(
    settings: Settings,
    options: ServeOptions,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<()> {
    let authority = site_authority(&settings, &options)?;
    let finisher: jobs::Finisher = Arc::new(results::write_job);
    let jobs = Jobs::start(settings, options.workers, options.max_queued, finisher)?;
    let app = Arc::new(routes::App {
        jobs: jobs.clone(),
        authority,
        public_url: options.public_url.clone(),
        archive: Arc::default(),
    });
    let router = routes::router(app, options.max_body_bytes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::service(format!("starting the async runtime: {e}")))?;
    let address = format!("{}:{}", options.host, options.port);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| Error::service(format!("cannot listen on {address}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::service(format!("{address}: {e}")))?;
        on_listen(local);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Error::service(format!("serving on {local}: {e}")))
    })?;
    // Jobs running on a cluster are cancelled, not waited for.
    crate::workflow::cancel_jobs_for_shutdown();
    jobs.stop();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
