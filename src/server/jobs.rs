//! Jobs: requests run asynchronously in a bounded pool of workers, recorded in SQLite.
//!
//! A job is named by its request's identity ([`job_id`]: the canonical parameters, the archive
//! and the software version; not the user), so the same request from any user or session joins
//! one job and one cache entry. Its record lives in `<data>/server/jobs.sqlite` (WAL, `FULL`
//! synchronous: a record that was answered survives `kill -9` and power loss); its files in
//! `<data>/server/jobs/<job_id>/`, written under a temporary name and renamed into place before
//! the record says `done`. After a restart, jobs that were queued or running are queued again
//! (the analysis cache makes the re-run cheap), and a `done` job whose directory is missing is
//! re-run too.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::query::{ProductResult, Request, Session};
use crate::workflow::Progress;

/// A job's state, as the `oda_api` client knows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Queued.
    Submitted,
    /// Running.
    Progress,
    /// Finished with a product.
    Done,
    /// Finished with an error.
    Failed,
}

impl JobState {
    /// The protocol's name.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Submitted => "submitted",
            JobState::Progress => "progress",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            "progress" => JobState::Progress,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => JobState::Submitted,
        }
    }
}

/// A job's record.
#[derive(Clone, Debug)]
pub struct JobRecord {
    /// The job id.
    pub job_id: String,
    /// The product type (`isgri_image`, ...).
    pub product: String,
    /// The request as a URL query (`Request::to_url_query`): what re-runs it.
    pub query: String,
    /// The state.
    pub state: JobState,
    /// Progress reports, newest last (the client's `full_report_dict_list`).
    pub reports: Vec<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// The product's provenance identity, once done.
    pub identity: Option<String>,
    /// Pointings the request may use.
    pub pointings: usize,
    /// Unix seconds.
    pub created: f64,
    /// Unix seconds.
    pub updated: f64,
    /// Times it was started (more than one after a restart).
    pub attempts: u32,
}

impl JobRecord {
    /// The record as `/inspect-state` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "job_id": self.job_id, "state": self.state.name(), "product": self.product,
            "query": self.query, "error": self.error, "identity": self.identity,
            "pointings": self.pointings, "attempts": self.attempts,
            "created": crate::time::unix_to_isot_utc(self.created as i64),
            "updated": crate::time::unix_to_isot_utc(self.updated as i64),
        })
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The identity of a request: SHA-256 over the canonical parameters, the archive (seed and
/// simulation version, or the real archive's root) and this software's version; 32 hex digits.
pub fn job_id(request: &Request, settings: &Settings) -> String {
    let mut h = Sha256::new();
    h.update(b"oda-job-v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    h.update(
        serde_json::to_string(&settings.origin())
            .unwrap_or_default()
            .as_bytes(),
    );
    for (k, v) in request.parameters() {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True for a string that can be a job id (and so a directory name).
pub fn is_job_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// True when a finished job's directory is complete: the files the routes serve are there and
/// the answer is not empty (files are synced before the directory is renamed into place, so
/// this holds after a crash too; it guards against directories damaged by hand).
pub fn job_dir_intact(dir: &Path) -> bool {
    let len = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    len(super::ANSWER_FILE) > 2
        && len(super::VIEW_FILE) > 2
        && len(super::FILES_FILE) > 2
        && len(super::results::ODA_FILE) > 2
}

/// Times a job may be interrupted (the process killed while it ran) before it is failed rather
/// than run again: a job that kills the process would otherwise do so at every restart.
pub const MAX_ATTEMPTS: u32 = 3;

/// Seconds a failed job answers its failure before a new submission runs it again.
pub const FAILED_RETRY_AFTER_S: f64 = 60.0;

/// What finishing a job writes: the product's files and the encoded answers.
pub type Finisher = Arc<dyn Fn(&ProductResult, &Path, &str) -> Result<()> + Send + Sync>;

struct Queue {
    waiting: VecDeque<String>,
    stop: bool,
}

/// The job store and its workers.
pub struct Jobs {
    db: Mutex<Connection>,
    dir: PathBuf,
    settings: Settings,
    queue: Mutex<Queue>,
    wake: Condvar,
    live: Mutex<HashMap<String, Vec<Value>>>,
    finisher: Finisher,
    max_queued: usize,
    /// Held for the life of the site: one `oda serve` per data directory.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").field("dir", &self.dir).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    job_id     TEXT PRIMARY KEY,
    product    TEXT NOT NULL,
    query      TEXT NOT NULL,
    state      TEXT NOT NULL,
    reports    TEXT NOT NULL DEFAULT '[]',
    error      TEXT,
    identity   TEXT,
    pointings  INTEGER NOT NULL,
    created    REAL NOT NULL,
    updated    REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS job_users (
    job_id     TEXT NOT NULL,
    sub        TEXT NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (job_id, sub)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, created);
";

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::service(format!("job database {}: {e}", path.display()))
}

impl Jobs {
    /// Opens (or creates) the store under `<data>/server/`, queues again the jobs a previous run
    /// left unfinished, and starts `workers` worker threads (each with its analysis session,
    /// opened now so that a site that cannot analyse does not start). At most `max_queued` jobs
    /// wait at a time.
    ///
    /// # Errors
    /// An unusable directory or database; another `oda serve` on the same data directory; an
    /// analysis session that cannot be opened.
    pub fn start(
        settings: Settings,
        workers: usize,
        max_queued: usize,
        finisher: Finisher,
    ) -> Result<Arc<Jobs>> {
        let server_dir = settings.data_dir.join("server");
        let dir = server_dir.join("jobs");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // Job records name users (e-mail addresses) and their requests: not for other accounts.
        private(&server_dir, 0o700)?;
        let lock_path = server_dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(Error::service(format!(
                "another oda serve runs on the data directory {} (it holds {}): stop it, or give this one another --data",
                settings.data_dir.display(),
                lock_path.display()
            )));
        }
        let db_path = server_dir.join("jobs.sqlite");
        let conn = Connection::open(&db_path).map_err(db_err(&db_path))?;
        private(&db_path, 0o600)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(db_err(&db_path))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .map_err(db_err(&db_path))?;
        conn.execute_batch(SCHEMA).map_err(db_err(&db_path))?;
        // Left-overs of a run that was killed while writing a job's files.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().contains(".partial") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let jobs = Arc::new(Jobs {
            db: Mutex::new(conn),
            dir,
            settings,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                stop: false,
            }),
            wake: Condvar::new(),
            live: Mutex::new(HashMap::new()),
            finisher,
            max_queued: max_queued.max(1),
            _lock: lock,
        });
        let mut sessions = Vec::new();
        for _ in 0..workers.max(1) {
            let current: Current = Arc::new(Mutex::new(None));
            sessions.push((jobs.session(current.clone())?, current));
        }
        jobs.requeue_unfinished()?;
        for (i, (session, current)) in sessions.into_iter().enumerate() {
            let j = jobs.clone();
            std::thread::Builder::new()
                .name(format!("oda-worker-{i}"))
                .spawn(move || j.work(session, current))
                .map_err(|e| Error::service(format!("starting a worker thread: {e}")))?;
        }
        Ok(jobs)
    }

    /// A worker's analysis session: the archive opened once, the cache shared with every other
    /// worker and process through its file locks, progress reported to the worker's job.
    fn session(self: &Arc<Jobs>, current: Current) -> Result<Session> {
        let jobs = Arc::downgrade(self);
        Ok(
            Session::new(self.settings.clone())?.with_progress(Arc::new(move |p: &Progress| {
                let Some(jobs) = jobs.upgrade() else { return };
                let cur = current.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(id) = cur.as_ref() {
                    let mut live = jobs.live.lock().unwrap_or_else(|e| e.into_inner());
                    let list = live.entry(id.clone()).or_default();
                    let entry = report(
                        &p.stage,
                        &format!("{} {}/{}", p.stage, p.done, p.total),
                        p.done,
                        p.total,
                    );
                    // One entry per stage, updated in place: the list stays short.
                    match list
                        .iter_mut()
                        .rev()
                        .find(|r| r["node"] == p.stage.as_str())
                    {
                        Some(r) => *r = entry,
                        None => list.push(entry),
                    }
                }
            })),
        )
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn db_path(&self) -> PathBuf {
        self.dir.with_file_name("jobs.sqlite")
    }

    /// The directory of a job's files.
    pub fn job_dir(&self, job_id: &str) -> PathBuf {
        self.dir.join(job_id)
    }

    /// The settings the workers run with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn requeue_unfinished(&self) -> Result<()> {
        let path = self.db_path();
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT job_id, state, attempts FROM jobs WHERE state IN ('submitted', 'progress', 'done') ORDER BY created")
                .map_err(db_err(&path))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(db_err(&path))?;
            let mut ids = Vec::new();
            let mut give_up = Vec::new();
            for row in rows {
                let (id, state, attempts) = row.map_err(db_err(&path))?;
                if state == "progress" && attempts >= i64::from(MAX_ATTEMPTS) {
                    give_up.push((id, attempts));
                    continue;
                }
                let intact = job_dir_intact(&self.job_dir(&id));
                if state != "done" || !intact {
                    ids.push(id);
                }
            }
            drop(stmt);
            for (id, attempts) in give_up {
                let why = format!(
                    "the site stopped {attempts} times while this job ran (killed, out of memory?); it is not run again: please report job {id}"
                );
                eprintln!("job {id} failed: {why}");
                conn.execute(
                    "UPDATE jobs SET state = 'failed', error = ?2, updated = ?3 WHERE job_id = ?1",
                    params![id, why, now()],
                )
                .map_err(db_err(&path))?;
            }
            ids
        };
        if ids.is_empty() {
            return Ok(());
        }
        {
            let conn = self.conn();
            for id in &ids {
                conn.execute(
                    "UPDATE jobs SET state = 'submitted', updated = ?2, reports = ?3 WHERE job_id = ?1",
                    params![id, now(), json!([report("restart", "queued again after a restart", 0, 0)]).to_string()],
                )
                .map_err(db_err(&path))?;
            }
        }
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.waiting.extend(ids);
        self.wake.notify_all();
        Ok(())
    }

    /// Submits `request` (already authorised) as job `job_id` for user `sub` (empty when
    /// anonymous): a new job is queued; a queued, running or finished one is joined; a failed
    /// one is queued again when `retry_failed` (a client's new submission).
    ///
    /// # Errors
    /// A database error.
    pub fn submit(
        &self,
        job_id: &str,
        request: &Request,
        sub: &str,
        retry_failed: bool,
    ) -> Result<JobRecord> {
        let path = self.db_path();
        let t = now();
        let mut enqueue = false;
        {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db_err(&path))?;
            let state: Option<(String, f64)> = tx
                .query_row(
                    "SELECT state, updated FROM jobs WHERE job_id = ?1",
                    params![job_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err(&path))?;
            let queued = || self.queue.lock().map_or(0, |q| q.waiting.len());
            let full = || {
                (queued() >= self.max_queued).then(|| Error::Busy {
                    message: format!(
                        "{} jobs are waiting on this site, its limit: try again in a minute",
                        self.max_queued
                    ),
                    retry_after_s: 60,
                })
            };
            match state.as_ref().map(|(s, u)| (s.as_str(), *u)) {
                None => {
                    if let Some(e) = full() {
                        return Err(e);
                    }
                    tx.execute(
                        "INSERT INTO jobs (job_id, product, query, state, reports, pointings, created, updated)
                         VALUES (?1, ?2, ?3, 'submitted', ?4, ?5, ?6, ?6)",
                        params![
                            job_id,
                            request.product.name(),
                            request.to_url_query(),
                            json!([report("submitted", "queued", 0, 0)]).to_string(),
                            super::auth::pointings(request) as i64,
                            t
                        ],
                    )
                    .map_err(db_err(&path))?;
                    enqueue = true;
                }
                // A failure is answered for a minute before a new submission runs the job again:
                // a deterministic failure cannot be replayed in a loop.
                Some(("failed", updated))
                    if retry_failed && t - updated >= FAILED_RETRY_AFTER_S =>
                {
                    if let Some(e) = full() {
                        return Err(e);
                    }
                    tx.execute(
                        "UPDATE jobs SET state = 'submitted', error = NULL, updated = ?2, reports = ?3 WHERE job_id = ?1",
                        params![job_id, t, json!([report("submitted", "queued again", 0, 0)]).to_string()],
                    )
                    .map_err(db_err(&path))?;
                    enqueue = true;
                }
                Some(("done", _)) if !job_dir_intact(&self.job_dir(job_id)) => {
                    tx.execute(
                        "UPDATE jobs SET state = 'submitted', updated = ?2 WHERE job_id = ?1",
                        params![job_id, t],
                    )
                    .map_err(db_err(&path))?;
                    enqueue = true;
                }
                Some(_) => {}
            }
            if !sub.is_empty() {
                tx.execute(
                    "INSERT OR IGNORE INTO job_users (job_id, sub, first_seen) VALUES (?1, ?2, ?3)",
                    params![job_id, sub, t],
                )
                .map_err(db_err(&path))?;
            }
            tx.commit().map_err(db_err(&path))?;
        }
        if enqueue {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if !q.waiting.iter().any(|w| w == job_id) {
                q.waiting.push_back(job_id.to_string());
            }
            self.wake.notify_one();
        }
        self.get(job_id)?
            .ok_or_else(|| Error::service(format!("job {job_id} vanished after submission")))
    }

    /// The record of `job_id`, with live progress of a running job.
    ///
    /// # Errors
    /// A database error.
    pub fn get(&self, job_id: &str) -> Result<Option<JobRecord>> {
        let path = self.db_path();
        let rec = {
            let conn = self.conn();
            conn.query_row(
                "SELECT job_id, product, query, state, reports, error, identity, pointings, created, updated, attempts
                 FROM jobs WHERE job_id = ?1",
                params![job_id],
                row_to_record,
            )
            .optional()
            .map_err(db_err(&path))?
        };
        Ok(rec.map(|mut r| {
            if r.state == JobState::Progress
                && let Some(live) = self
                    .live
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(job_id)
            {
                r.reports = live.clone();
            }
            r
        }))
    }

    /// Every record (newest first), or those of user `sub`.
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self, sub: Option<&str>) -> Result<Vec<JobRecord>> {
        let path = self.db_path();
        let conn = self.conn();
        let cols = "j.job_id, j.product, j.query, j.state, j.reports, j.error, j.identity, j.pointings, j.created, j.updated, j.attempts";
        let (sql, args): (String, Vec<String>) = match sub {
            Some(s) => (
                format!(
                    "SELECT {cols} FROM jobs j JOIN job_users u ON u.job_id = j.job_id WHERE u.sub = ?1 ORDER BY j.created DESC"
                ),
                vec![s.to_string()],
            ),
            None => (
                format!("SELECT {cols} FROM jobs j ORDER BY j.created DESC"),
                vec![],
            ),
        };
        let mut stmt = conn.prepare(&sql).map_err(db_err(&path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), row_to_record)
            .map_err(db_err(&path))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_err(&path))
    }

    /// Stops the workers after their current job (tests, shutdown).
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        self.wake.notify_all();
    }

    fn next(&self) -> Option<String> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if q.stop {
                return None;
            }
            if let Some(id) = q.waiting.pop_front() {
                return Some(id);
            }
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn set_state(&self, job_id: &str, state: JobState, extra: Option<(&str, &str)>) -> Result<()> {
        let path = self.db_path();
        let reports = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(job_id)
            .cloned()
            .unwrap_or_default();
        let conn = self.conn();
        match extra {
            Some(("error", e)) => conn.execute(
                "UPDATE jobs SET state = ?2, error = ?3, updated = ?4, reports = ?5 WHERE job_id = ?1",
                params![job_id, state.name(), e, now(), Value::from(reports).to_string()],
            ),
            Some((_, identity)) => conn.execute(
                "UPDATE jobs SET state = ?2, identity = ?3, error = NULL, updated = ?4, reports = ?5 WHERE job_id = ?1",
                params![job_id, state.name(), identity, now(), Value::from(reports).to_string()],
            ),
            None => conn.execute(
                "UPDATE jobs SET state = ?2, updated = ?3, attempts = attempts + 1 WHERE job_id = ?1",
                params![job_id, state.name(), now()],
            ),
        }
        .map(|_| ())
        .map_err(db_err(&path))
    }

    fn work(self: Arc<Jobs>, session: Session, current: Current) {
        while let Some(job_id) = self.next() {
            let rec = match self.get(&job_id) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    // The database is busy or failing: the job goes back to the queue.
                    eprintln!("oda serve: job {job_id}: {e}; trying again in 5 s");
                    std::thread::sleep(Duration::from_secs(5));
                    self.requeue(&job_id);
                    continue;
                }
            };
            if matches!(rec.state, JobState::Done | JobState::Failed) {
                continue;
            }
            self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(
                job_id.clone(),
                vec![report("started", "analysis started", 0, 0)],
            );
            if let Err(e) = self.set_state(&job_id, JobState::Progress, None) {
                eprintln!("oda serve: job {job_id}: {e}; trying again in 5 s");
                std::thread::sleep(Duration::from_secs(5));
                self.requeue(&job_id);
                continue;
            }
            eprintln!(
                "job {job_id} {} started ({} pointings at most)",
                rec.product, rec.pointings
            );
            *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(job_id.clone());
            let t0 = Instant::now();
            // A panic in the analysis fails this job (and says so) instead of killing the worker
            // and leaving the job "in progress" for ever.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_one(&session, &rec)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown");
                Err(Error::service(format!(
                    "internal error in the analysis ({what}); please report it with the job id {job_id}"
                )))
            });
            *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
            // The service is shutting down and cancelled the job's Slurm arrays: the job stays
            // in progress and is queued again at the next start.
            if outcome.is_err() && crate::workflow::shutting_down() {
                eprintln!("job {job_id} {} interrupted by the shutdown", rec.product);
                continue;
            }
            let secs = t0.elapsed().as_secs_f64();
            let (state, extra) = match outcome {
                Ok(identity) => {
                    eprintln!("job {job_id} {} done in {secs:.1} s", rec.product);
                    self.push_report(
                        &job_id,
                        report("done", &format!("finished in {secs:.1} s"), 1, 1),
                    );
                    (JobState::Done, ("identity", identity))
                }
                Err(e) => {
                    // The user sees why, but not where the site keeps its files.
                    let data = self.settings.data_dir.display().to_string();
                    let why = e.to_string().replace(&data, "<data>");
                    eprintln!("job {job_id} {} failed after {secs:.1} s: {e}", rec.product);
                    self.push_report(&job_id, report("failed", &why, 0, 0));
                    (JobState::Failed, ("error", why))
                }
            };
            // The final state must be recorded, or clients would poll for ever.
            let mut tries = 0;
            while let Err(e) = self.set_state(&job_id, state, Some((extra.0, &extra.1))) {
                tries += 1;
                eprintln!("oda serve: job {job_id}: recording {}: {e}", state.name());
                if tries >= 60 {
                    break;
                }
                std::thread::sleep(Duration::from_secs(5));
            }
            self.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&job_id);
        }
    }

    fn requeue(&self, job_id: &str) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.waiting.push_back(job_id.to_string());
        self.wake.notify_one();
    }

    fn push_report(&self, job_id: &str, r: Value) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(job_id.to_string())
            .or_default()
            .push(r);
    }

    /// Runs a job and writes its directory; the product's identity.
    fn run_one(&self, session: &Session, rec: &JobRecord) -> Result<String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(rec.query.as_bytes())
            .into_owned()
            .collect();
        let request = Request::from_pairs(pairs)?;
        let result = session.get_product(&request)?;
        let partial = self.dir.join(format!(
            "{}.partial-{}-{}",
            rec.job_id,
            std::process::id(),
            rec.attempts
        ));
        let _ = std::fs::remove_dir_all(&partial);
        let written = (self.finisher)(&result, &partial, &rec.job_id)
            .and_then(|()| sync_dir_tree(&partial))
            .and_then(|()| {
                let dir = self.job_dir(&rec.job_id);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                }
                std::fs::rename(&partial, &dir).map_err(|e| Error::io(&dir, e))?;
                // The rename is durable before the record says done.
                sync_path(&self.dir)
            });
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        written?;
        Ok(result.identity.to_string())
    }
}

/// The job a worker runs now, for its progress reports.
type Current = Arc<Mutex<Option<String>>>;

/// Sets the permission bits of `path` (Unix).
fn private(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// `fsync` of a file or directory.
fn sync_path(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// `fsync` of every file of `dir`, then of `dir`: its content is on disk before it is renamed
/// into place and its job recorded as done.
fn sync_dir_tree(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let p = e.path();
        if p.is_dir() {
            sync_dir_tree(&p)?;
        } else {
            sync_path(&p)?;
        }
    }
    sync_path(dir)
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
    let reports: String = r.get(4)?;
    Ok(JobRecord {
        job_id: r.get(0)?,
        product: r.get(1)?,
        query: r.get(2)?,
        state: JobState::parse(&r.get::<_, String>(3)?),
        reports: serde_json::from_str(&reports).unwrap_or_default(),
        error: r.get(5)?,
        identity: r.get(6)?,
        pointings: r.get::<_, i64>(7)?.max(0) as usize,
        created: r.get(8)?,
        updated: r.get(9)?,
        attempts: r.get::<_, i64>(10)?.max(0) as u32,
    })
}

/// One entry of the client's `full_report_dict_list`.
pub fn report(node: &str, message: &str, done: usize, total: usize) -> Value {
    json!({"node": node, "message": message, "progress": done, "progress_max": total,
           "time": crate::time::unix_to_isot_utc(now() as i64)})
}
