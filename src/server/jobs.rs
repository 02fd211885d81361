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
    /// left unfinished, and starts `workers` worker threads.
    ///
    /// # Errors
    /// An unusable directory or database.
    pub fn start(settings: Settings, workers: usize, finisher: Finisher) -> Result<Arc<Jobs>> {
        let server_dir = settings.data_dir.join("server");
        let dir = server_dir.join("jobs");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let db_path = server_dir.join("jobs.sqlite");
        let conn = Connection::open(&db_path).map_err(db_err(&db_path))?;
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
        });
        jobs.requeue_unfinished()?;
        for i in 0..workers.max(1) {
            let j = jobs.clone();
            std::thread::Builder::new()
                .name(format!("oda-worker-{i}"))
                .spawn(move || j.work())
                .map_err(|e| Error::service(format!("starting a worker thread: {e}")))?;
        }
        Ok(jobs)
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
                .prepare("SELECT job_id, state FROM jobs WHERE state IN ('submitted', 'progress', 'done') ORDER BY created")
                .map_err(db_err(&path))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(db_err(&path))?;
            let mut ids = Vec::new();
            for row in rows {
                let (id, state) = row.map_err(db_err(&path))?;
                let intact = self.job_dir(&id).join("answer.json").is_file();
                if state != "done" || !intact {
                    ids.push(id);
                }
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
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM jobs WHERE job_id = ?1",
                    params![job_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err(&path))?;
            match state.as_deref() {
                None => {
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
                Some("failed") if retry_failed => {
                    tx.execute(
                        "UPDATE jobs SET state = 'submitted', error = NULL, updated = ?2, reports = ?3 WHERE job_id = ?1",
                        params![job_id, t, json!([report("submitted", "queued again", 0, 0)]).to_string()],
                    )
                    .map_err(db_err(&path))?;
                    enqueue = true;
                }
                Some("done") if !self.job_dir(job_id).join("answer.json").is_file() => {
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

    fn set_state(&self, job_id: &str, state: JobState, extra: Option<(&str, &str)>) {
        let path = self.db_path();
        let reports = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(job_id)
            .cloned()
            .unwrap_or_default();
        let conn = self.conn();
        let r = match extra {
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
        };
        if let Err(e) = r {
            eprintln!("oda serve: {}", db_err(&path)(e));
        }
    }

    fn work(self: Arc<Jobs>) {
        // One session per worker: the archive opened once, the cache shared with every other
        // worker and process through its file locks.
        let current: Arc<Mutex<Option<(String, Instant)>>> = Arc::new(Mutex::new(None));
        let session = {
            let jobs = self.clone();
            let current = current.clone();
            Session::new(self.settings.clone()).map(|s| {
                s.with_progress(Arc::new(move |p: &Progress| {
                    let mut cur = current.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some((id, last)) = cur.as_mut() {
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
                        *last = Instant::now();
                    }
                }))
            })
        };
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                eprintln!("oda serve: a worker could not open the analysis session: {e}");
                return;
            }
        };
        while let Some(job_id) = self.next() {
            let Ok(Some(rec)) = self.get(&job_id) else {
                continue;
            };
            if matches!(rec.state, JobState::Done | JobState::Failed) {
                continue;
            }
            self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(
                job_id.clone(),
                vec![report("started", "analysis started", 0, 0)],
            );
            self.set_state(&job_id, JobState::Progress, None);
            eprintln!(
                "job {job_id} {} started ({} pointings at most)",
                rec.product, rec.pointings
            );
            *current.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((job_id.clone(), Instant::now()));
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
            let secs = t0.elapsed().as_secs_f64();
            match &outcome {
                Ok(_) => eprintln!("job {job_id} {} done in {secs:.1} s", rec.product),
                Err(e) => eprintln!("job {job_id} {} failed after {secs:.1} s: {e}", rec.product),
            }
            match outcome {
                Ok(identity) => {
                    self.push_report(
                        &job_id,
                        report(
                            "done",
                            &format!("finished in {:.1} s", t0.elapsed().as_secs_f64()),
                            1,
                            1,
                        ),
                    );
                    self.set_state(&job_id, JobState::Done, Some(("identity", &identity)));
                }
                Err(e) => {
                    self.push_report(&job_id, report("failed", &e.to_string(), 0, 0));
                    self.set_state(&job_id, JobState::Failed, Some(("error", &e.to_string())));
                }
            }
            self.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&job_id);
        }
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
        (self.finisher)(&result, &partial, &rec.job_id)?;
        let dir = self.job_dir(&rec.job_id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::rename(&partial, &dir).map_err(|e| Error::io(&dir, e))?;
        Ok(result.identity.to_string())
    }
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
