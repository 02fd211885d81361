//! `oda worker`: one array task of the Slurm executor (see [`crate::workflow::executor`]).

use std::path::Path;

use serde::Deserialize;

use super::{Request, Session};
use crate::config::{Executor, Settings};
use crate::error::{Error, Result};
use crate::workflow::{JobFile, TaskReport};

/// What a coordinator's [`Session`] writes into a job file to rebuild a request's analysis.
#[derive(Deserialize)]
struct Recipe {
    settings: Settings,
    request: String,
    mosaic_batch: usize,
}

/// Runs task `task` (attempt `attempt`) of the job file at `job`: rebuilds the request's
/// analysis from the recipe, computes the task's units into the shared cache and writes the
/// task's report beside the job file. Returns the report; a unit that failed is in its
/// `failed` list (the caller exits with an error status, so Slurm records the task as failed).
///
/// # Errors
/// An unreadable job file or an index outside its array; a recipe this version of `oda`
/// cannot rebuild, or whose analysis does not contain the task's units (another `oda` or
/// another archive than the coordinator's).
pub fn run_worker_task(job: &Path, task: usize, attempt: u32) -> Result<TaskReport> {
    let file = JobFile::read(job)?;
    let spec = file.task(task)?;
    let recipe: Recipe = serde_json::from_value(file.recipe.clone()).map_err(|e| {
        Error::invalid(
            "job",
            job.display(),
            format!("a job file written by this version of oda ({e})"),
        )
    })?;
    // The lease and the executor are this process's (the environment's) own.
    let settings = Settings {
        executor: Executor::Local,
        lock_lease: crate::config::lock_lease_from_env()?,
        ..recipe.settings
    };
    let request = Request::from_pairs(form_urlencoded::parse(recipe.request.as_bytes()))?;
    let session = Session::new(settings)?
        .with_mosaic_batch(recipe.mosaic_batch)
        .for_worker(spec.units.iter().copied().collect());
    let outcome = session.get_product(&request);
    let (met, report) = session.workflow().worker_report();
    if !met {
        return Err(match outcome {
            Err(e) => e,
            Ok(_) => Error::cluster(format!(
                "task {task} of {}: its units are not part of the request's analysis here \
                 (another oda version or archive than the coordinator's?)",
                job.display()
            )),
        });
    }
    let dir = job.parent().unwrap_or(Path::new("."));
    report.write(&TaskReport::path(dir, task, attempt))?;
    Ok(report)
}
