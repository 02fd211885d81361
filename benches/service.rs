//! `oda serve` under load: 200 concurrent clients on 127.0.0.1.
//!
//! `cargo bench --bench service [-- --keep]`. The built `oda` (`CARGO_BIN_EXE_oda`, built by
//! `cargo bench`) serves a fresh data directory under `target/bench-service` (removed at the
//! end unless `--keep`). One request is run first (the Crab's 20–40 keV light curve from 4
//! pointings: it also generates the events of those pointings). Then 200 threads start
//! together, each with its own blocking reqwest client:
//! - 50 submit one of 10 new, distinct small requests (light curves, spectra, fits and one
//!   image on the same 4 pointings; 5 clients per request, at the same moment) and poll it to
//!   `done` as `oda_api` does;
//! - 50 poll those jobs (by job id, every 200 ms) until they are done;
//! - 100 send the warmed request 10 times each (answered from the finished job).
//!
//! It fails (exit 1) on any error: a status other than 200, a `failed` job, a job id that
//! differs between the clients of one request, or a distinct request computed more than once
//! (`/inspect-state`: one record per request, one attempt each). It prints the latencies of a
//! cached request and of a poll (p50/p95/max) and the time the whole load took. Not a timed
//! test: it measures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;

const CLIENTS_NEW: usize = 50;
const CLIENTS_POLL: usize = 50;
const CLIENTS_CACHED: usize = 100;
const CACHED_REPEATS: usize = 10;
const TIMEOUT: Duration = Duration::from_secs(900);

const SELECTION: [(&str, &str); 6] = [
    ("instrument", "isgri"),
    ("query_type", "Real"),
    ("src_name", "Crab"),
    ("T1", "2003-03-15"),
    ("T2", "2018-03-16"),
    ("max_pointings", "4"),
];

/// The warmed request (its answer is small: one light curve).
const WARM: &[(&str, &str)] = &[
    ("product_type", "isgri_lc"),
    ("E1_keV", "20"),
    ("E2_keV", "40"),
    ("time_bin", "86400"),
];

/// The new, distinct requests (the same 4 pointings as the warmed one).
const DISTINCT: [&[(&str, &str)]; 10] = [
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("time_bin", "3600"),
    ],
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("time_bin", "10000"),
    ],
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "30"),
        ("E2_keV", "60"),
        ("time_bin", "86400"),
    ],
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "40"),
        ("E2_keV", "80"),
        ("time_bin", "86400"),
    ],
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "25"),
        ("E2_keV", "50"),
        ("time_bin", "43200"),
    ],
    &[
        ("product_type", "isgri_spectrum"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
    ],
    &[
        ("product_type", "spectral_fit"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("xspec_model", "powerlaw"),
    ],
    &[
        ("product_type", "spectral_fit"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("xspec_model", "cutoffpl"),
    ],
    &[
        ("product_type", "isgri_image"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("detection_threshold", "6"),
    ],
    &[
        ("product_type", "isgri_lc"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("time_bin", "20000"),
    ],
];

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oda() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oda"));
    for v in [
        "ODA_ARCHIVE",
        "ODA_SIM_SEED",
        "ODA_SECRET",
        "ODA_DATA",
        "ODA_TOKEN",
    ] {
        c.env_remove(v);
    }
    c
}

fn start(data: &Path) -> Server {
    let mut child = oda()
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.join("serve.log")).expect("log file"))
        .spawn()
        .expect("oda serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let first = lines
        .next()
        .expect("oda serve says where it listens")
        .expect("a line");
    std::thread::spawn(move || for _ in lines {});
    let url = first
        .strip_prefix("oda serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .trim()
        .to_string();
    Server { child, url }
}

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("reqwest client")
}

fn query(params: &[(&str, &str)], protocol: &[(&str, &str)]) -> String {
    let mut e = form_urlencoded::Serializer::new(String::new());
    for (k, v) in SELECTION.iter().chain(params).chain(protocol) {
        e.append_pair(k, v);
    }
    e.finish()
}

/// One `/run_analysis` call: its latency and its answer (`Err` for anything but HTTP 200 with
/// JSON).
fn call(
    c: &Client,
    url: &str,
    params: &[(&str, &str)],
    protocol: &[(&str, &str)],
) -> (Duration, Result<Value, String>) {
    let t0 = Instant::now();
    let r = c
        .get(format!("{url}/run_analysis?{}", query(params, protocol)))
        .send()
        .map_err(|e| format!("request: {e}"))
        .and_then(|resp| {
            let status = resp.status().as_u16();
            let body = resp.bytes().map_err(|e| format!("body: {e}"))?;
            if status != 200 {
                return Err(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
            serde_json::from_slice::<Value>(&body).map_err(|e| format!("JSON: {e}"))
        });
    (t0.elapsed(), r)
}

#[derive(Default)]
struct Tally {
    cached: Vec<Duration>,
    polls: Vec<Duration>,
    submits: Vec<Duration>,
    errors: Vec<String>,
    job_ids: Vec<Vec<String>>,
}

fn state(v: &Value) -> &str {
    v["query_status"].as_str().unwrap_or("")
}

fn job_id(v: &Value) -> String {
    v["job_monitor"]["job_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Submits `params`, then polls to `done`; the latencies of the polls (answers that are not
/// yet done) go to `polls`.
fn submit_and_poll(
    c: &Client,
    url: &str,
    params: &[(&str, &str)],
    every: Duration,
    submits: &mut Vec<Duration>,
    polls: &mut Vec<Duration>,
) -> Result<String, String> {
    let (t, r) = call(
        c,
        url,
        params,
        &[("query_status", "new"), ("session_id", "BENCH")],
    );
    submits.push(t);
    let mut v = r?;
    let id = job_id(&v);
    let t0 = Instant::now();
    loop {
        match state(&v) {
            "done" => return Ok(id),
            "submitted" | "progress" => {}
            s => return Err(format!("job {id} {s}: {}", v["exit_status"])),
        }
        if t0.elapsed() > TIMEOUT {
            return Err(format!("job {id} not done in {TIMEOUT:?}"));
        }
        std::thread::sleep(every);
        let last = state(&v).to_string();
        let (t, r) = call(
            c,
            url,
            params,
            &[
                ("query_status", last.as_str()),
                ("job_id", id.as_str()),
                ("session_id", "BENCH"),
            ],
        );
        v = r?;
        if state(&v) != "done" {
            polls.push(t);
        }
        if job_id(&v) != id {
            return Err(format!("job id changed from {id} to {}", job_id(&v)));
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(what: &str, v: &mut [Duration]) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {what} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
        v.len(),
        ms(percentile(v, 0.5)),
        ms(percentile(v, 0.95)),
        ms(v.last().copied().unwrap_or_default())
    );
}

fn main() {
    let keep = std::env::args().any(|a| a == "--keep");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-service");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data directory");
    let server = start(&dir);
    let url = server.url.clone();
    let o = oda()
        .args(["token", "issue", "--data"])
        .arg(&dir)
        .args([
            "--sub",
            "bench@example.org",
            "--roles",
            "job manager",
            "--expires",
            "1h",
        ])
        .output()
        .expect("oda token issue");
    assert!(o.status.success(), "oda token issue failed");
    let manager = String::from_utf8(o.stdout)
        .expect("utf-8")
        .trim()
        .to_string();

    // Warm: the events of the 4 pointings and the cached request's job.
    let c = client();
    let t0 = Instant::now();
    let warm_id = submit_and_poll(
        &c,
        &url,
        WARM,
        Duration::from_millis(200),
        &mut Vec::new(),
        &mut Vec::new(),
    )
    .unwrap_or_else(|e| panic!("the warm-up request failed: {e}"));
    let warm_time = t0.elapsed();

    let tally = Arc::new(Mutex::new(Tally {
        job_ids: vec![Vec::new(); DISTINCT.len()],
        ..Tally::default()
    }));
    let known_ids: Arc<Mutex<Vec<Option<String>>>> =
        Arc::new(Mutex::new(vec![None; DISTINCT.len()]));
    let total = CLIENTS_NEW + CLIENTS_POLL + CLIENTS_CACHED;
    let barrier = Arc::new(Barrier::new(total));
    let requests = Arc::new(AtomicUsize::new(0));
    let t_load = Instant::now();
    let mut handles = Vec::new();
    for i in 0..total {
        let (tally, known_ids, barrier, requests, url, warm_id) = (
            tally.clone(),
            known_ids.clone(),
            barrier.clone(),
            requests.clone(),
            url.clone(),
            warm_id.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let c = client();
            let mut cached = Vec::new();
            let mut polls = Vec::new();
            let mut submits = Vec::new();
            let mut errors = Vec::new();
            barrier.wait();
            if i < CLIENTS_NEW {
                let k = i % DISTINCT.len();
                match submit_and_poll(
                    &c,
                    &url,
                    DISTINCT[k],
                    Duration::from_millis(500),
                    &mut submits,
                    &mut polls,
                ) {
                    Ok(id) => {
                        known_ids.lock().unwrap()[k] = Some(id.clone());
                        tally.lock().unwrap().job_ids[k].push(id);
                    }
                    Err(e) => errors.push(format!("distinct request {k}: {e}")),
                }
                requests.fetch_add(1 + polls.len(), Ordering::Relaxed);
            } else if i < CLIENTS_NEW + CLIENTS_POLL {
                // A poller: waits for the job id of its request (from a submitter), then polls.
                let k = i % DISTINCT.len();
                let t0 = Instant::now();
                let id = loop {
                    if let Some(id) = known_ids.lock().unwrap()[k].clone() {
                        break Some(id);
                    }
                    // The submitters learn the id only when done: ask the way a second
                    // session does (a new submission joins the job).
                    let (t, r) = call(&c, &url, DISTINCT[k], &[("query_status", "new")]);
                    submits.push(t);
                    match r {
                        Ok(v) => break Some(job_id(&v)),
                        Err(e) => {
                            errors.push(format!("poller of {k}: {e}"));
                            if t0.elapsed() > TIMEOUT {
                                break None;
                            }
                        }
                    }
                };
                if let Some(id) = id {
                    let t0 = Instant::now();
                    let mut last = "submitted".to_string();
                    loop {
                        let (t, r) = call(
                            &c,
                            &url,
                            DISTINCT[k],
                            &[("query_status", last.as_str()), ("job_id", id.as_str())],
                        );
                        requests.fetch_add(1, Ordering::Relaxed);
                        match r {
                            Ok(v) if state(&v) == "done" => {
                                tally.lock().unwrap().job_ids[k].push(job_id(&v));
                                break;
                            }
                            Ok(v) if matches!(state(&v), "submitted" | "progress") => {
                                polls.push(t);
                                if job_id(&v) != id {
                                    errors.push(format!(
                                        "poller of {k}: job id {} != {id}",
                                        job_id(&v)
                                    ));
                                }
                                last = state(&v).to_string();
                            }
                            Ok(v) => {
                                errors.push(format!(
                                    "poller of {k}: {} {}",
                                    state(&v),
                                    v["exit_status"]
                                ));
                                break;
                            }
                            Err(e) => {
                                errors.push(format!("poller of {k}: {e}"));
                                break;
                            }
                        }
                        if t0.elapsed() > TIMEOUT {
                            errors.push(format!("poller of {k}: not done in {TIMEOUT:?}"));
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            } else {
                for _ in 0..CACHED_REPEATS {
                    let (t, r) = call(&c, &url, WARM, &[("query_status", "new")]);
                    requests.fetch_add(1, Ordering::Relaxed);
                    match r {
                        Ok(v) if state(&v) == "done" && job_id(&v) == warm_id => cached.push(t),
                        Ok(v) => errors.push(format!(
                            "cached request: {} job {} (expected done, {warm_id})",
                            state(&v),
                            job_id(&v)
                        )),
                        Err(e) => errors.push(format!("cached request: {e}")),
                    }
                }
            }
            let mut t = tally.lock().unwrap();
            t.cached.extend(cached);
            t.polls.extend(polls);
            t.submits.extend(submits);
            t.errors.extend(errors);
        }));
    }
    for h in handles {
        if h.join().is_err() {
            tally
                .lock()
                .unwrap()
                .errors
                .push("a client thread panicked".into());
        }
    }
    let load_time = t_load.elapsed();
    let mut tally = std::mem::take(&mut *tally.lock().unwrap());

    // Each distinct request: one job id for all its clients, one record, one attempt.
    let resp = c
        .get(format!("{url}/inspect-state"))
        .bearer_auth(&manager)
        .send()
        .expect("/inspect-state");
    let status = resp.status().as_u16();
    let records: Value = resp.json().unwrap_or(Value::Null);
    if status != 200 {
        tally.errors.push(format!("/inspect-state: HTTP {status}"));
    }
    let records = records["records"].as_array().cloned().unwrap_or_default();
    for (k, ids) in tally.job_ids.iter().enumerate() {
        let mut distinct: Vec<&String> = ids.iter().collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != 1 {
            tally
                .errors
                .push(format!("distinct request {k}: job ids {distinct:?}"));
            continue;
        }
        let recs: Vec<&Value> = records
            .iter()
            .filter(|r| r["job_id"] == distinct[0].as_str())
            .collect();
        if recs.len() != 1
            || recs[0]["state"] != "done"
            || recs[0].get("attempts").is_some_and(|a| a != 1)
        {
            tally.errors.push(format!(
                "distinct request {k} (job {}): records {recs:?}, expected one done record with one attempt",
                distinct[0]
            ));
        }
    }
    if records.len() != DISTINCT.len() + 1 {
        tally.errors.push(format!(
            "{} job records, expected {} (the warm request and the 10 distinct ones)",
            records.len(),
            DISTINCT.len() + 1
        ));
    }
    let job_dirs = std::fs::read_dir(dir.join("server/jobs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .count()
        })
        .unwrap_or(0);
    if job_dirs != DISTINCT.len() + 1 {
        tally.errors.push(format!(
            "{job_dirs} job directories, expected {}",
            DISTINCT.len() + 1
        ));
    }

    println!(
        "oda serve under load: {total} concurrent clients ({CLIENTS_NEW} submitting 10 new distinct \
         requests, {CLIENTS_POLL} polling them, {CLIENTS_CACHED} × {CACHED_REPEATS} cached requests), \
         2 job workers, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| request | n | p50 | p95 | max |");
    println!("|---|---|---|---|---|");
    row(
        "cached (finished job, light curve answer)",
        &mut tally.cached,
    );
    row("poll (job submitted or in progress)", &mut tally.polls);
    row("submission (new or joining)", &mut tally.submits);
    println!();
    println!(
        "warm-up (events of 4 pointings + light curve): {:.1} s; the load: {:.1} s, {} requests, \
         {:.0} requests/s; the 10 distinct products computed once each: {}",
        warm_time.as_secs_f64(),
        load_time.as_secs_f64(),
        requests.load(Ordering::Relaxed),
        requests.load(Ordering::Relaxed) as f64 / load_time.as_secs_f64(),
        if tally.errors.iter().any(|e| e.starts_with("distinct")
            || e.contains("job records")
            || e.contains("job directories"))
        {
            "NO"
        } else {
            "yes"
        }
    );
    drop(server);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !tally.errors.is_empty() {
        eprintln!("{} error(s):", tally.errors.len());
        for e in tally.errors.iter().take(30) {
            eprintln!("  {e}");
        }
        std::process::exit(1);
    }
    println!("errors: 0");
}
