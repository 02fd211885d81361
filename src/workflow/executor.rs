//! Computing a stage's independent units on a Slurm cluster.
//!
//! A request's per-Science-Window units (the images of a mosaic, the spectral or light-curve
//! fits of an extraction) depend on nothing but their ScW's events and, for fits, the
//! catalog. With the Slurm executor ([`crate::config::Executor::Slurm`]) the coordinating
//! process writes the units missing from the cache into a job directory and submits them as
//! one job array (`sbatch --array`): each array task runs `oda worker --job FILE --task N`,
//! which rebuilds the request's analysis from the job file's recipe, computes the task's units
//! into the shared cache (under the cache's lease locks, so a unit another process is
//! computing is waited for, never computed twice) and writes a report of what it computed.
//! The coordinator polls `squeue` until the array has left the queue, reads the reports into
//! its log, submits the tasks whose units are still missing once more, and then carries on as
//! the local executor does: it reads the units from the cache, so the products are the same
//! bytes. Units whose task failed twice are reported with their Science Windows, the job id and
//! the log, and the request goes on without them (as for an unreadable Science Window).
//!
//! The job directory (`<cache>/slurm/<stamp>-<stage>/`) holds `job.json`, the task script
//! `task.sh`, one log per task and attempt (`task-N-A.log`) and one report (`task-N-A.json`);
//! `oda cache gc` removes job directories older than a week.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Cache, Identity, UnitRun};
use crate::config::SlurmSettings;
use crate::error::{Error, Result};

/// The job file of a stage in its job directory.
pub const JOB_FILE: &str = "job.json";

/// Largest job array submitted (Slurm's default `MaxArraySize` is 1001): larger stages put
/// more units in each task.
pub const MAX_ARRAY_TASKS: usize = 1000;

/// Job directories older than this are removed by `oda cache gc`.
pub const JOB_DIR_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What every array task of a stage needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobFile {
    /// What rebuilds the request's analysis in a worker (written and read by
    /// [`crate::query`]: the settings and the request).
    pub recipe: serde_json::Value,
    /// The stage (`ScW images`, `ScW spectral fits`, …).
    pub stage: String,
    /// The tasks, by array index.
    pub tasks: Vec<TaskSpec>,
}

/// The units of one array task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Identities of the units to compute.
    pub units: Vec<Identity>,
    /// What each unit is about (its Science Window), for reports.
    pub labels: Vec<String>,
}

impl JobFile {
    /// Reads a job file.
    ///
    /// # Errors
    /// An unreadable or malformed file.
    pub fn read(path: &Path) -> Result<JobFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid("job", path.display(), format!("an oda job file ({e})")))
    }

    /// Task `index`.
    ///
    /// # Errors
    /// An index outside the array.
    pub fn task(&self, index: usize) -> Result<&TaskSpec> {
        self.tasks.get(index).ok_or_else(|| {
            Error::invalid(
                "task",
                index,
                format!(
                    "0 to {} (the job's array)",
                    self.tasks.len().saturating_sub(1)
                ),
            )
        })
    }
}

/// What one array task reports back (written by `oda worker` beside its log).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TaskReport {
    /// Units it computed, with their times.
    pub computed: Vec<UnitRun>,
    /// Warnings of its computations.
    pub warnings: Vec<String>,
    /// Units that failed, each with its error.
    pub failed: Vec<String>,
}

impl TaskReport {
    /// The report of task `task`, attempt `attempt`, in job directory `dir`.
    pub fn path(dir: &Path, task: usize, attempt: u32) -> PathBuf {
        dir.join(format!("task-{task}-{attempt}.json"))
    }

    /// Writes the report (temporary file, then rename: the coordinator never reads half).
    ///
    /// # Errors
    /// I/O errors.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    fn read(path: &Path) -> Option<TaskReport> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// Slurm jobs submitted by this process that have not left the queue yet.
static SUBMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Set once the process cancelled its jobs for a shutdown: nothing more is submitted.
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Cancels (`scancel`) every Slurm job this process submitted that is still queued or
/// running, and returns their ids (in a notebook, after interrupting a cell).
pub fn cancel_submitted_jobs() -> Vec<String> {
    let ids: Vec<String> = SUBMITTED
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    if !ids.is_empty() {
        let _ = Command::new("scancel").args(&ids).status();
    }
    ids
}

/// What a coordinator does when it is interrupted (Ctrl-C, SIGTERM) or shut down: submits
/// nothing more (no retry of the cancelled tasks) and cancels its jobs, so that no task goes on
/// computing for nobody. Returns the ids cancelled.
pub fn cancel_jobs_for_shutdown() -> Vec<String> {
    CANCELLED.store(true, Ordering::SeqCst);
    cancel_submitted_jobs()
}

/// True once this process cancelled its jobs for a shutdown ([`cancel_jobs_for_shutdown`]): a
/// request that failed since is not the user's failure (the service requeues it).
pub fn shutting_down() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

fn forget(job: &str) {
    if let Ok(mut s) = SUBMITTED.lock() {
        s.retain(|j| j != job);
    }
}

/// What a stage's job arrays gave.
#[derive(Debug, Default)]
pub(crate) struct StageOutcome {
    /// Units the tasks computed.
    pub computed: Vec<UnitRun>,
    /// The tasks' warnings.
    pub warnings: Vec<String>,
    /// Units still missing after the retry, with the report of their task.
    pub failed: Vec<(Identity, String)>,
}

/// Computes `units` (identity, label) of stage `stage` on Slurm into `cache`: one array, then
/// one more for the tasks whose units are still missing. Each unit takes about `work` times the
/// work of imaging one ScW: a task gets `units_per_task / work` of them (at least one; see
/// `Workflow::prepare_grouped`). `progress(done, total)` is called at each poll.
///
/// # Errors
/// `sbatch` or `squeue` missing or refusing; an unwritable job directory.
pub(crate) fn run_stage(
    cache: &Cache,
    settings: &SlurmSettings,
    recipe: &serde_json::Value,
    stage: &str,
    units: &[(Identity, String)],
    work: f64,
    progress: &dyn Fn(usize, usize),
) -> Result<StageOutcome> {
    let by_work = if work > 0.0 && work.is_finite() {
        (settings.units_per_task as f64 / work).round() as usize
    } else {
        settings.units_per_task
    };
    let per_task = by_work.max(units.len().div_ceil(MAX_ARRAY_TASKS)).max(1);
    let tasks: Vec<TaskSpec> = units
        .chunks(per_task)
        .map(|c| TaskSpec {
            units: c.iter().map(|(id, _)| *id).collect(),
            labels: c.iter().map(|(_, l)| l.clone()).collect(),
        })
        .collect();
    let dir = job_dir(cache, stage)?;
    let job = JobFile {
        recipe: recipe.clone(),
        stage: stage.to_string(),
        tasks,
    };
    write_atomically(
        &dir.join(JOB_FILE),
        &serde_json::to_vec_pretty(&job).map_err(|e| Error::io(&dir, std::io::Error::other(e)))?,
    )?;
    let script = dir.join("task.sh");
    write_atomically(&script, task_script(settings, &dir).as_bytes())?;

    let total = units.len();
    let done = || units.iter().filter(|(id, _)| cache.contains(id)).count();
    let missing_tasks = |among: &[usize]| -> Vec<usize> {
        among
            .iter()
            .copied()
            .filter(|&t| job.tasks[t].units.iter().any(|id| !cache.contains(id)))
            .collect()
    };
    let mut outcome = StageOutcome::default();
    let mut pending: Vec<usize> = (0..job.tasks.len()).collect();
    let mut last_job = String::new();
    for attempt in 1..=2u32 {
        last_job = submit(settings, &dir, stage, &pending, attempt)?;
        let waited = wait_for(&last_job, &mut || progress(done(), total));
        forget(&last_job);
        if waited.is_err() {
            // The request fails: its tasks must not go on computing for nobody.
            let _ = Command::new("scancel").arg(&last_job).status();
        }
        waited?;
        for &t in &pending {
            if let Some(r) = TaskReport::read(&TaskReport::path(&dir, t, attempt)) {
                outcome.computed.extend(r.computed);
                outcome.warnings.extend(r.warnings);
            }
        }
        progress(done(), total);
        pending = missing_tasks(&pending);
        if pending.is_empty() {
            break;
        }
    }
    for t in pending {
        let spec = &job.tasks[t];
        let log = dir.join(format!("task-{t}-2.log"));
        let why = TaskReport::read(&TaskReport::path(&dir, t, 2))
            .and_then(|r| r.failed.first().cloned())
            .or_else(|| last_line(&log))
            .unwrap_or_else(|| "no output".into());
        let message = format!(
            "Slurm task {last_job}_{t} failed twice (Science Windows {}): {why}; log {}",
            spec.labels.join(", "),
            log.display()
        );
        for id in &spec.units {
            if !cache.contains(id) {
                outcome.failed.push((*id, message.clone()));
            }
        }
    }
    Ok(outcome)
}

/// A new job directory for `stage` under `<cache>/slurm/`.
fn job_dir(cache: &Cache, stage: &str) -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let slug: String = stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let dir = cache
        .root()
        .join("slurm")
        .join(format!("{nanos}-{}-{slug}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// `'…'` quoting for the POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script of every task: the worker, its job file, the array index and the attempt
/// (the script's first argument).
fn task_script(settings: &SlurmSettings, dir: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by oda: one task of a job array computes its share of a stage's units into\n\
         # the shared cache (see docs/cluster.md).\n\
         exec {} worker --job {} --task \"$SLURM_ARRAY_TASK_ID\" --attempt \"$1\"\n",
        shell_quote(&settings.worker_program.display().to_string()),
        shell_quote(&dir.join(JOB_FILE).display().to_string()),
    )
}

/// Submits tasks `tasks` of the job in `dir` as one array; returns the job id.
fn submit(
    settings: &SlurmSettings,
    dir: &Path,
    stage: &str,
    tasks: &[usize],
    attempt: u32,
) -> Result<String> {
    if CANCELLED.load(Ordering::SeqCst) {
        return Err(Error::cluster(format!(
            "the {stage} array was not submitted: this process is shutting down"
        )));
    }
    let array = array_spec(tasks);
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--job-name=oda {stage}"))
        .arg(format!("--array={array}"))
        .arg(format!(
            "--output={}",
            dir.join(format!("task-%a-{attempt}.log")).display()
        ))
        .arg(format!("--time={}", settings.time_limit))
        .arg(format!("--cpus-per-task={}", settings.cpus_per_task));
    if let Some(p) = &settings.partition {
        cmd.arg(format!("--partition={p}"));
    }
    cmd.args(&settings.sbatch_args)
        .arg(dir.join("task.sh"))
        .arg(attempt.to_string());
    let out = cmd.output().map_err(|e| {
        Error::cluster(format!(
            "cannot run sbatch ({e}): is Slurm's client installed (and SLURM_CONF set)?"
        ))
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::cluster(format!(
            "sbatch refused the {stage} array ({} tasks): {}",
            tasks.len(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // --parsable prints "id" or "id;cluster".
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::cluster(format!(
            "sbatch printed no job id for the {stage} array: {stdout:?}"
        )));
    }
    if let Ok(mut s) = SUBMITTED.lock() {
        s.push(id.clone());
    }
    Ok(id)
}

/// Slurm's `--array` list: ranges of consecutive indices (`0-9`, `2,5-7`).
fn array_spec(tasks: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < tasks.len() {
        let start = tasks[i];
        let mut end = start;
        while i + 1 < tasks.len() && tasks[i + 1] == end + 1 {
            i += 1;
            end = tasks[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Polls `squeue` until job `job` has left the queue (every 0.1 s at first, then less often,
/// at most every 2 s), calling `on_poll` each time.
fn wait_for(job: &str, on_poll: &mut dyn FnMut()) -> Result<()> {
    let mut delay = Duration::from_millis(100);
    let mut failures = 0;
    loop {
        let out = Command::new("squeue")
            .args(["--noheader", "--jobs", job, "--format=%T"])
            .output()
            .map_err(|e| Error::cluster(format!("cannot run squeue ({e})")))?;
        if out.status.success() {
            if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return Ok(());
            }
            failures = 0;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            // A job purged from the controller's memory is finished.
            if err.contains("Invalid job id") {
                return Ok(());
            }
            failures += 1;
            if failures >= 30 {
                return Err(Error::cluster(format!(
                    "squeue cannot tell the state of job {job}: {}",
                    err.trim()
                )));
            }
        }
        on_poll();
        std::thread::sleep(delay);
        delay = (delay * 3 / 2).min(Duration::from_secs(2));
    }
}

/// The last non-empty line of a log (at most 400 characters).
fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(line.chars().take(400).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_join_consecutive_tasks() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[2, 5, 6, 7, 9]), "2,5-7,9");
        assert_eq!(array_spec(&[4]), "4");
    }

    #[test]
    fn the_task_script_quotes_its_paths() {
        let s = SlurmSettings {
            worker_program: PathBuf::from("/opt/o'da/bin/oda"),
            ..SlurmSettings::default()
        };
        let text = task_script(&s, Path::new("/data/cache/slurm/1-x"));
        assert!(text.contains(
            r"exec '/opt/o'\''da/bin/oda' worker --job '/data/cache/slurm/1-x/job.json'"
        ));
        assert!(text.contains("--task \"$SLURM_ARRAY_TASK_ID\" --attempt \"$1\""));
    }
}
