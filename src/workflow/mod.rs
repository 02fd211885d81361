//! Analysis units identified by provenance, cached on disk and run in parallel.
//!
//! Every step of an analysis is a [`Unit`]: a pure function of its explicit inputs (other
//! units) and parameters, with a version string. Its [`Identity`] hashes all of that,
//! recursively, so it names the whole computation behind a result. [`Workflow::get`] returns a
//! unit's output from the [`Cache`] when an entry with that identity exists (verified against
//! its checksums), and otherwise computes it — once, even when several threads or processes
//! ask at the same moment — and stores it. A new request thus reuses whatever any earlier
//! request computed: the same Science Window image serves every mosaic it belongs to, and a
//! light curve with a new time bin reuses the events and the catalog.
//!
//! ```
//! use std::sync::Arc;
//! use oda::workflow::{Cache, EntryClass, Node, Unit, Workflow};
//!
//! /// The sum of the first n integers, as a unit.
//! struct Sum { n: u64, node: Arc<Node> }
//! impl Sum {
//!     fn new(n: u64) -> Sum {
//!         Sum { n, node: Node::new("Sum", "1", serde_json::json!({ "n": n }), vec![]) }
//!     }
//! }
//! impl Unit for Sum {
//!     type Output = u64;
//!     fn node(&self) -> &Arc<Node> { &self.node }
//!     fn class(&self) -> EntryClass { EntryClass::Product }
//!     fn run(&self, _: &Workflow) -> oda::Result<u64> { Ok((1..=self.n).sum()) }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let wf = Workflow::new(Cache::open(dir.path(), 1 << 30)?);
//! assert_eq!(wf.get(&Sum::new(100))?, 5050);   // computed
//! assert_eq!(wf.log().computed().count(), 1);
//! wf.clear_log();                              // a new request
//! assert_eq!(wf.get(&Sum::new(100))?, 5050);   // from the cache
//! let log = wf.log();
//! assert_eq!((log.computed().count(), log.reused().count()), (0, 1));
//! # Ok::<(), oda::Error>(())
//! ```

pub mod cache;
pub mod executor;
pub mod lock;
pub mod provenance;
pub mod units;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use cache::{Cache, CacheStats, EntryClass, GcReport, Lookup, Record, VerifyReport};
pub use provenance::{GraphNode, Identity, Node, ProvenanceGraph};

use crate::archive::EventList;
use crate::config::Executor;
use crate::error::{Error, Result};
pub use executor::{
    JobFile, TaskReport, TaskSpec, cancel_jobs_for_shutdown, cancel_submitted_jobs, shutting_down,
};

/// How a unit's output is written into, and read from, its cache entry.
pub trait Payload: Sized + Send + Sync {
    /// Writes the payload files into `dir` (an empty directory).
    ///
    /// # Errors
    /// I/O errors.
    fn save(&self, dir: &Path) -> Result<()>;
    /// Reads them back.
    ///
    /// # Errors
    /// Missing or undecodable files.
    fn load(dir: &Path) -> Result<Self>;
}

/// File name of payloads stored with postcard.
pub const PAYLOAD_FILE: &str = "payload.postcard";

/// Saves any serde value as one compact binary file (postcard).
///
/// # Errors
/// Serialisation or I/O errors.
pub fn save_serde<T: Serialize>(value: &T, dir: &Path) -> Result<()> {
    let path = dir.join(PAYLOAD_FILE);
    let bytes = postcard::to_stdvec(value)
        .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
}

/// Loads a value saved by [`save_serde`].
///
/// # Errors
/// Unreadable or undecodable file.
pub fn load_serde<T: for<'de> Deserialize<'de>>(dir: &Path) -> Result<T> {
    let path = dir.join(PAYLOAD_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    postcard::from_bytes(&bytes).map_err(|e| Error::Cache {
        path,
        message: format!("undecodable payload: {e}"),
    })
}

/// Implements [`Payload`] with [`save_serde`]/[`load_serde`] for serde types.
macro_rules! serde_payload {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::workflow::Payload for $t {
            fn save(&self, dir: &std::path::Path) -> $crate::Result<()> {
                $crate::workflow::save_serde(self, dir)
            }
            fn load(dir: &std::path::Path) -> $crate::Result<Self> {
                $crate::workflow::load_serde(dir)
            }
        }
    )*};
}
pub(crate) use serde_payload;

serde_payload!(u64, f64, String, Vec<f64>);

/// One step of an analysis: a pure function of its inputs and parameters (see the module
/// documentation).
pub trait Unit: Sync {
    /// What it computes.
    type Output: Payload;
    /// Its provenance node (name, version, parameters, inputs).
    fn node(&self) -> &Arc<Node>;
    /// Its eviction class.
    fn class(&self) -> EntryClass;
    /// Computes the output; inputs come from `wf.get(..)`.
    ///
    /// # Errors
    /// Whatever the computation reports.
    fn run(&self, wf: &Workflow) -> Result<Self::Output>;
    /// False for units whose data already live somewhere permanent (a real archive's events):
    /// they are recomputed (read) on each use instead of being copied into the cache.
    fn cached(&self) -> bool {
        true
    }
    /// True for per-Science-Window units only a batch of a request reads (a ScW's image, summed
    /// into its mosaic batch): in a streamed request they are not stored (see
    /// [`Workflow::set_streaming`]).
    fn intermediate(&self) -> bool {
        false
    }
}

/// What happened to one unit in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRun {
    /// Identity.
    pub identity: Identity,
    /// Unit name.
    pub name: String,
    /// `computed` (with its time), `reused` (a verified cache entry), or `recomputed`
    /// (the entry was damaged; why).
    pub outcome: Outcome,
}

/// See [`UnitRun`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Computed in this run, taking `seconds`.
    Computed {
        /// Compute time, s.
        seconds: f64,
    },
    /// Read from the cache.
    Reused,
    /// The cache entry was damaged and was computed again.
    Recomputed {
        /// What was wrong with the entry.
        reason: String,
        /// Compute time, s.
        seconds: f64,
    },
}

/// The units a workflow computed and reused, in the order they finished.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// One line per unit use.
    pub runs: Vec<UnitRun>,
    /// Problems met and worked around (damaged cache entries, failed Science Windows).
    pub warnings: Vec<String>,
}

impl RunLog {
    /// Units computed (or recomputed) in this run, each once.
    pub fn computed(&self) -> impl Iterator<Item = &UnitRun> {
        self.runs
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Reused))
    }

    /// Units read from the cache that this run did not compute itself.
    pub fn reused(&self) -> impl Iterator<Item = &UnitRun> {
        let computed: HashSet<Identity> = self.computed().map(|r| r.identity).collect();
        let mut seen = HashSet::new();
        self.runs.iter().filter(move |r| {
            matches!(r.outcome, Outcome::Reused)
                && !computed.contains(&r.identity)
                && seen.insert(r.identity)
        })
    }

    /// Number of computed units per unit name.
    pub fn computed_by_name(&self) -> Vec<(String, usize)> {
        count_by_name(self.computed())
    }

    /// Number of reused units per unit name.
    pub fn reused_by_name(&self) -> Vec<(String, usize)> {
        count_by_name(self.reused())
    }
}

fn count_by_name<'a>(runs: impl Iterator<Item = &'a UnitRun>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for r in runs {
        match out.iter_mut().find(|(n, _)| *n == r.name) {
            Some((_, c)) => *c += 1,
            None => out.push((r.name.clone(), 1)),
        }
    }
    out
}

/// Progress of a long stage: `done` of `total` items of `stage` (e.g. "ScW images").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub stage: String,
    /// Items finished.
    pub done: usize,
    /// Items in the stage.
    pub total: usize,
}

/// A progress callback (a terminal bar, a notebook display).
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Runs units through the cache; see the module documentation.
pub struct Workflow {
    cache: Cache,
    log: Mutex<RunLog>,
    in_flight: Mutex<HashSet<Identity>>,
    progress: Option<ProgressFn>,
    /// Incremented on every failure a result would silently depend on.
    failures: std::sync::atomic::AtomicUsize,
    /// Where [`Workflow::prepare`] computes a stage's units.
    executor: Executor,
    /// What rebuilds the current request in an `oda worker` (set by the query layer).
    recipe: Mutex<Option<serde_json::Value>>,
    /// In an `oda worker`: the units of its task, the errors of those that failed, and
    /// whether [`Workflow::prepare`] met them.
    assigned: Option<HashSet<Identity>>,
    worker_failed: Mutex<Vec<String>>,
    worker_met: std::sync::atomic::AtomicBool,
    /// Units computed by cluster tasks in this request (logged as computed, not reused) and
    /// units whose tasks failed twice, with the report.
    remote: Mutex<HashSet<Identity>>,
    failed_remotely: Mutex<HashMap<Identity, String>>,
    /// The counts to make from a Science Window's events while another unit reads them, by
    /// the identity of the events (see [`Workflow::count_alongside`]).
    alongside: Mutex<HashMap<Identity, Vec<units::ScwCountsUnit>>>,
    /// A request whose events do not fit the cache (see [`Workflow::set_streaming`]).
    streaming: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Workflow {
    /// A workflow storing its units in `cache`.
    pub fn new(cache: Cache) -> Workflow {
        Workflow {
            cache,
            log: Mutex::new(RunLog::default()),
            in_flight: Mutex::new(HashSet::new()),
            progress: None,
            failures: std::sync::atomic::AtomicUsize::new(0),
            executor: Executor::Local,
            recipe: Mutex::new(None),
            assigned: None,
            worker_failed: Mutex::new(Vec::new()),
            worker_met: std::sync::atomic::AtomicBool::new(false),
            remote: Mutex::new(HashSet::new()),
            failed_remotely: Mutex::new(HashMap::new()),
            alongside: Mutex::new(HashMap::new()),
            streaming: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Streams the current request (set by the query layer when its events would not fit the
    /// cache): events are generated or read once and never stored, nor are the ScW images that
    /// only a mosaic batch reads (on Slurm a task computes whole batches). What later stages
    /// need of the events is counted in the same pass ([`Workflow::count_alongside`]).
    pub fn set_streaming(&self, on: bool) {
        self.streaming
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the current request streams (see [`Workflow::set_streaming`]).
    pub fn streaming(&self) -> bool {
        self.streaming.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Registers `units` to be computed from their Science Window's events whenever another
    /// unit of the request has them in memory (the ScW images do: see
    /// [`Workflow::provide_alongside`]), so that the events of a ScW are generated or read once
    /// per request. Cleared with the log at the start of the next request.
    pub fn count_alongside(&self, units: impl IntoIterator<Item = units::ScwCountsUnit>) {
        if let Ok(mut a) = self.alongside.lock() {
            for u in units {
                let list = a.entry(u.events_identity()).or_default();
                if !list.iter().any(|x| x.node().identity == u.node().identity) {
                    list.push(u);
                }
            }
        }
    }

    /// Computes and stores the units registered with [`Workflow::count_alongside`] for the
    /// events `events_id`, from `events` already in memory; those in the cache are left alone.
    /// A failure is only reported: the unit is computed again when it is asked for.
    pub fn provide_alongside(&self, events_id: &Identity, events: &EventList) {
        let units = self
            .alongside
            .lock()
            .ok()
            .and_then(|a| a.get(events_id).cloned())
            .unwrap_or_default();
        for u in units {
            if self.cache.contains(&u.node().identity) {
                continue;
            }
            if let Err(e) = self.get_with(&u, |_| Ok(u.count(events))) {
                self.warn(
                    format!("{}: counting alongside the image: {e}", u.swid()),
                    false,
                );
            }
        }
    }

    /// Computes the independent units of each stage with `executor` (see
    /// [`Workflow::prepare`]).
    pub fn with_executor(mut self, executor: Executor) -> Workflow {
        self.executor = executor;
        self
    }

    /// The workflow of an `oda worker` task: [`Workflow::prepare`] computes the units of
    /// `assigned` it is given, then ends the request with an internal error (the rest of the
    /// analysis is the coordinator's).
    pub fn for_worker(mut self, assigned: HashSet<Identity>) -> Workflow {
        self.assigned = Some(assigned);
        self.executor = Executor::Local;
        self
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Sets what rebuilds the current request in a worker (the query layer's settings and
    /// request); without one, the Slurm executor computes in this process.
    pub fn set_recipe(&self, recipe: Option<serde_json::Value>) {
        if let Ok(mut r) = self.recipe.lock() {
            *r = recipe;
        }
    }

    /// Makes sure the independent `units` of `stage` are in the cache before they are asked
    /// for one by one, using the executor: nothing to do in-process (they are computed when
    /// asked for); on Slurm the missing ones are computed by one job array (see
    /// [`executor`]), those whose task failed twice are then answered with its report. In an
    /// `oda worker`, the task's units among them are computed here and the request ends.
    ///
    /// # Errors
    /// The cluster could not be used (`sbatch` or `squeue` failed); in a worker, always
    /// (an internal error ending the request once the task's units are done).
    pub fn prepare<U: Unit>(
        &self,
        stage: &str,
        units: &[U],
        label: impl Fn(&U) -> String + Sync,
    ) -> Result<()> {
        self.prepare_grouped(stage, units, 1.0, label)
    }

    /// [`Workflow::prepare`] for units that each take about `work` times the work of imaging one
    /// Science Window: on Slurm a task computes `units_per_task / work` of them (at least one),
    /// so that a mosaic batch of 50 ScWs (`work` 50) is a task of its own and fits reading
    /// stored counts (`work` 0.1) share a task a hundred at a time, the worker's start-up
    /// (rebuilding the request, ~2 s of CPU for 3000 ScWs) outweighing their own work.
    ///
    /// # Errors
    /// As [`Workflow::prepare`].
    pub fn prepare_grouped<U: Unit>(
        &self,
        stage: &str,
        units: &[U],
        work: f64,
        label: impl Fn(&U) -> String + Sync,
    ) -> Result<()> {
        if let Some(assigned) = &self.assigned {
            let mine: Vec<&U> = units
                .iter()
                .filter(|u| assigned.contains(&u.node().identity))
                .collect();
            if mine.is_empty() {
                return Ok(());
            }
            self.worker_met
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let errors: Vec<String> = mine
                .par_iter()
                .filter_map(|u| self.get(*u).err().map(|e| format!("{}: {e}", label(u))))
                .collect();
            if let Ok(mut f) = self.worker_failed.lock() {
                f.extend(errors);
            }
            return Err(Error::WorkerUnitsDone);
        }
        let Executor::Slurm(settings) = &self.executor else {
            return Ok(());
        };
        // Units whose tasks already failed twice in this request are not submitted again.
        let missing: Vec<(Identity, String)> = {
            let failed = self
                .failed_remotely
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            units
                .iter()
                .filter(|u| {
                    let id = u.node().identity;
                    u.cached() && !self.cache.contains(&id) && !failed.contains_key(&id)
                })
                .map(|u| (u.node().identity, label(u)))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let recipe = self.recipe.lock().ok().and_then(|r| r.clone());
        let Some(recipe) = recipe else {
            self.warn(
                format!(
                    "{stage}: computed in this process, not on Slurm (the request cannot be \
                     rebuilt by a worker)"
                ),
                false,
            );
            return Ok(());
        };
        let stage_name = format!("{stage} on Slurm");
        let outcome = executor::run_stage(
            &self.cache,
            settings,
            &recipe,
            stage,
            &missing,
            work,
            &|done, total| self.progress(&stage_name, done, total),
        )?;
        if let Ok(mut r) = self.remote.lock() {
            r.extend(outcome.computed.iter().map(|run| run.identity));
        }
        if let Ok(mut l) = self.log.lock() {
            l.runs.extend(outcome.computed);
        }
        for w in outcome.warnings {
            self.warn(w, false);
        }
        if let Ok(mut f) = self.failed_remotely.lock() {
            f.extend(outcome.failed);
        }
        Ok(())
    }

    /// In an `oda worker`: whether its units were met, and its report (what it computed,
    /// the warnings, the units that failed).
    pub fn worker_report(&self) -> (bool, TaskReport) {
        let log = self.log();
        let report = TaskReport {
            computed: log.computed().cloned().collect(),
            warnings: log.warnings.clone(),
            failed: self
                .worker_failed
                .lock()
                .map(|f| f.clone())
                .unwrap_or_default(),
        };
        (
            self.worker_met.load(std::sync::atomic::Ordering::SeqCst),
            report,
        )
    }

    /// Reports progress of long stages to `f`.
    pub fn with_progress(mut self, f: ProgressFn) -> Workflow {
        self.progress = Some(f);
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// What this workflow computed and reused so far.
    pub fn log(&self) -> RunLog {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Clears the log (at the start of a request).
    pub fn clear_log(&self) {
        if let Ok(mut l) = self.log.lock() {
            *l = RunLog::default();
        }
        if let Ok(mut r) = self.remote.lock() {
            r.clear();
        }
        if let Ok(mut f) = self.failed_remotely.lock() {
            f.clear();
        }
        if let Ok(mut a) = self.alongside.lock() {
            a.clear();
        }
        self.set_streaming(false);
    }

    /// Reports progress to the callback, if any.
    pub fn progress(&self, stage: &str, done: usize, total: usize) {
        if let Some(f) = &self.progress {
            f(&Progress {
                stage: stage.to_string(),
                done,
                total,
            });
        }
    }

    /// Records a problem that was worked around. With `taints` set, results computed while it
    /// was reported are not cached (they lack something a later run may supply, such as a
    /// Science Window that failed to read).
    pub fn warn(&self, message: String, taints: bool) {
        if taints {
            self.failures
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        // A unit asked for twice in a request (an uncached mosaic: once for the catalog,
        // once for the image) meets the same problem twice: it is reported once.
        if let Ok(mut l) = self.log.lock()
            && !l.warnings.contains(&message)
        {
            l.warnings.push(message);
        }
    }

    fn record(&self, node: &Node, outcome: Outcome) {
        // A unit a cluster task computed for this request is logged once, as computed.
        if outcome == Outcome::Reused
            && self.remote.lock().is_ok_and(|r| r.contains(&node.identity))
        {
            return;
        }
        if let Ok(mut l) = self.log.lock() {
            l.runs.push(UnitRun {
                identity: node.identity,
                name: node.name.clone(),
                outcome,
            });
        }
    }

    /// A verified output from the cache, or `None` (a damaged entry is reported and removed).
    fn try_load<U: Unit + ?Sized>(
        &self,
        unit: &U,
        damaged: &mut Option<String>,
    ) -> Option<U::Output> {
        let node = unit.node();
        match self.cache.lookup(&node.identity) {
            Lookup::Missing => None,
            Lookup::Valid(_, dir) => match U::Output::load(&dir) {
                Ok(out) => {
                    self.cache.touch(&node.identity);
                    Some(out)
                }
                Err(e) => {
                    self.damaged(node, e.to_string(), damaged);
                    None
                }
            },
            Lookup::Corrupt(why) => {
                self.damaged(node, why, damaged);
                None
            }
        }
    }

    fn damaged(&self, node: &Node, why: String, damaged: &mut Option<String>) {
        self.warn(
            format!(
                "damaged cache entry {} ({}): {why}; recomputed",
                node.identity.short(),
                node.name
            ),
            false,
        );
        let _ = self.cache.remove(&node.identity);
        *damaged = Some(why);
    }

    /// The output of `unit`: from the cache when a verified entry exists, else computed (once
    /// across threads and processes: the computation holds the entry's lock) and stored.
    ///
    /// # Errors
    /// Errors of the unit or of its inputs; a cache that cannot store the result.
    pub fn get<U: Unit + ?Sized>(&self, unit: &U) -> Result<U::Output> {
        self.get_with(unit, |wf| unit.run(wf))
    }

    /// As [`Workflow::get`], computing with `run` instead of the unit's own `run` (the same
    /// output, from inputs the caller already holds).
    fn get_with<U: Unit + ?Sized>(
        &self,
        unit: &U,
        run: impl FnOnce(&Workflow) -> Result<U::Output>,
    ) -> Result<U::Output> {
        let node = unit.node().clone();
        if !unit.cached() {
            return run(self);
        }
        if let Some(report) = self
            .failed_remotely
            .lock()
            .ok()
            .and_then(|f| f.get(&node.identity).cloned())
        {
            return Err(Error::cluster(report));
        }
        let mut damaged = None;
        if let Some(out) = self.try_load(unit, &mut damaged) {
            self.record(&node, Outcome::Reused);
            return Ok(out);
        }
        if !self.stores(unit) {
            // Streamed: computed where it is needed, once per request by construction.
            let t0 = Instant::now();
            let out = run(self)?;
            self.record(
                &node,
                Outcome::Computed {
                    seconds: t0.elapsed().as_secs_f64(),
                },
            );
            return Ok(out);
        }
        // Another thread of this process computing the same unit may be waiting for us inside
        // a parallel loop: never block on it, compute alongside (the first store wins).
        let first_here = self
            .in_flight
            .lock()
            .map(|mut s| s.insert(node.identity))
            .unwrap_or(false);
        // A worker passes through the request-level units (mosaic, catalog, extraction) only
        // to reach its task's units, and never computes them: their locks are held by its
        // coordinator, which waits for the worker.
        let coordinators = self.assigned.is_some() && unit.class() == EntryClass::Product;
        let _lock = if first_here && !coordinators {
            match self.cache.lock(&node.identity) {
                Ok(l) => Some(l),
                Err(e) => {
                    self.leave(&node.identity);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let result = self.compute(unit, &node, damaged, run);
        if first_here {
            self.leave(&node.identity);
        }
        result
    }

    /// Whether a computed output of `unit` is stored: always, except in a streamed request the
    /// events and the intermediate units (they are used where they are computed: on Slurm a
    /// task computes whole mosaic batches, see `MosaicUnit`).
    fn stores<U: Unit + ?Sized>(&self, unit: &U) -> bool {
        !self.streaming() || (unit.class() != EntryClass::Events && !unit.intermediate())
    }

    fn leave(&self, id: &Identity) {
        if let Ok(mut s) = self.in_flight.lock() {
            s.remove(id);
        }
    }

    fn compute<U: Unit + ?Sized>(
        &self,
        unit: &U,
        node: &Arc<Node>,
        mut damaged: Option<String>,
        run: impl FnOnce(&Workflow) -> Result<U::Output>,
    ) -> Result<U::Output> {
        // Another process may have stored it while we waited for the lock.
        if let Some(out) = self.try_load(unit, &mut damaged) {
            self.record(node, Outcome::Reused);
            return Ok(out);
        }
        let failures_before = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        let t0 = Instant::now();
        let out = run(self)?;
        let seconds = t0.elapsed().as_secs_f64();
        if self.failures.load(std::sync::atomic::Ordering::SeqCst) == failures_before {
            self.cache
                .store(node, unit.class(), seconds, |dir| out.save(dir))?;
        }
        self.record(
            node,
            match damaged {
                Some(reason) => Outcome::Recomputed { reason, seconds },
                None => Outcome::Computed { seconds },
            },
        );
        Ok(out)
    }
}
