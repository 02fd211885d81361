//! `oda serve` end to end: the built binary is started for real on 127.0.0.1 (`--port 0`, the
//! address read from its "listening on" line) with a temporary data directory, and talked to
//! as its users do: the reference Python client (PyPI `oda-api` 1.3.5, unmodified:
//! `tests/python/oda_api_flow.py`), a real browser (headless Chromium through Selenium:
//! `tests/python/browser_flow.py`) and plain HTTP for the route-level checks (reqwest,
//! blocking; raw `TcpStream` where the client must misbehave). One server is shared by the
//! tests that can share it; `restart_after_kill_9` runs its own two.
//!
//! The Python clients live in their own venv (`ODA_SERVICE_VENV`, default
//! `~/.local/share/oda/service-venv`), made by `./setup.sh` from
//! `tests/python/requirements-service.txt`; a missing venv fails the tests that need it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

const ODA: &str = env!("CARGO_BIN_EXE_oda");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The selection every small request uses: the Crab over the mission, few pointings.
const CRAB: [(&str, &str); 6] = [
    ("instrument", "isgri"),
    ("query_type", "Real"),
    ("src_name", "Crab"),
    ("T1", "2003-03-15"),
    ("T2", "2018-03-16"),
    ("E2_keV", "40"),
];

// ---------------------------------------------------------------------------------------------
// Secrets: the site's secret and every token issued; no answer and no log line may hold one.

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn remember_secret(s: &str) {
    SECRETS.lock().unwrap().push(s.to_string());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_no_secret(what: &str, text: &[u8]) {
    for s in SECRETS.lock().unwrap().iter() {
        assert!(
            !contains(text, s.as_bytes()),
            "{what} holds the site's secret or a token ({}…)",
            &s[..s.len().min(12)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

/// `oda` with none of the environment that would change which data, archive, seed or secret
/// it uses.
fn oda() -> Command {
    let mut c = Command::new(ODA);
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

/// A running `oda serve`. Dropping it kills it. A watchdog shell, whose stdin is a pipe from
/// this process, kills it too (and removes `cleanup`, when given) once this process ends
/// without dropping it: the shared server lives in a static, which is never dropped.
struct Server {
    child: Child,
    watchdog: Child,
    url: String,
    addr: String,
    data: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `oda serve --host 127.0.0.1 --port 0 --data DATA`, its stderr in `DATA/NAME.log`,
    /// and waits for its "listening on" line.
    fn start(data: &Path, name: &str, cleanup: Option<&Path>) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let log = data.join(format!("{name}.log"));
        let mut child = oda()
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("oda serve starts");
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                r#"read -r _ || true
kill -9 "$1" 2>/dev/null
if [ -n "$2" ]; then
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    rm -rf -- "$2"
fi"#,
            )
            .arg("sh")
            .arg(child.id().to_string())
            .arg(
                cleanup
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {} // keep the pipe drained
        });
        let first = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "oda serve printed no \"listening on\" line ({e}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let url = first
            .strip_prefix("oda serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line of oda serve: {first:?}"))
            .trim()
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "listening on {url}");
        let addr = url.trim_start_matches("http://").to_string();
        Server {
            child,
            watchdog,
            url,
            addr,
            data: data.to_path_buf(),
            log,
        }
    }

    /// SIGKILL, as `kill -9`.
    fn kill9(&mut self) {
        self.child.kill().expect("kill -9 oda serve");
        self.child.wait().unwrap();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// `oda token issue --data DATA --sub SUB --roles ROLES` with `expiry` (e.g. `--expires 1d`).
fn issue_token(data: &Path, sub: &str, roles: &str, expiry: &[&str]) -> String {
    let o = oda()
        .args(["token", "issue", "--data"])
        .arg(data)
        .args(["--sub", sub, "--roles", roles])
        .args(expiry)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "oda token issue failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let t = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert_eq!(t.split('.').count(), 3, "not a JWT: {t:?}");
    remember_secret(&t);
    t
}

fn read_secret(data: &Path) -> String {
    let s = std::fs::read_to_string(data.join("server/secret"))
        .expect("the server made DATA/server/secret")
        .trim()
        .to_string();
    assert!(s.len() >= 32, "a short secret: {} characters", s.len());
    remember_secret(&s);
    s
}

/// The server shared by the tests: one data directory (removed when the test process ends).
struct Site {
    server: Server,
    secret: String,
    manager: String,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let data = tempfile::Builder::new()
            .prefix("oda-service-")
            .tempdir()
            .unwrap()
            .keep();
        let server = Server::start(&data, "serve", Some(&data));
        let secret = read_secret(&data);
        let manager = issue_token(
            &data,
            "admin@example.org",
            "job manager",
            &["--expires", "1d"],
        );
        Site {
            server,
            secret,
            manager,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP.

fn client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client::builder()
            .timeout(Duration::from_secs(300))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    })
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    content_type: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), HTTP {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request; every answer is checked for the secret and the tokens.
fn send(rb: RequestBuilder) -> Answer {
    let resp = rb.send().expect("the server answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.bytes().expect("a body").to_vec();
    assert_no_secret(&format!("an answer (HTTP {status})"), &body);
    Answer {
        status,
        body,
        content_type,
    }
}

/// `pairs` URL-encoded (`application/x-www-form-urlencoded`, as a query or a form body).
fn encode(pairs: &[(&str, &str)]) -> String {
    let mut e = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        e.append_pair(k, v);
    }
    e.finish()
}

/// `url?pairs`.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    format!("{url}?{}", encode(pairs))
}

/// A POSTed form, as `oda_api` sends a long request.
fn post_form(url: &str, pairs: &[(&str, &str)]) -> RequestBuilder {
    client()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(pairs))
}

fn get(url: &str, query: &[(&str, &str)]) -> Answer {
    send(client().get(with_query(url, query)))
}

fn pairs<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

/// The request `more` on the Crab selection.
fn crab<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pairs(&CRAB, more)
}

/// `/run_analysis` as `oda_api` calls it: the parameters, then the protocol fields.
fn run_analysis(url: &str, params: &[(&str, &str)], protocol: &[(&str, &str)]) -> Answer {
    send(client().get(with_query(
        &format!("{url}/run_analysis"),
        &pairs(params, protocol),
    )))
}

/// Submits `params` and polls (as `oda_api` does: the parameters again with `job_id` and the
/// last `query_status`) until `done`; panics on anything else.
fn run_job(url: &str, params: &[(&str, &str)], timeout: Duration) -> Value {
    let t0 = Instant::now();
    let a = run_analysis(
        url,
        params,
        &[("query_status", "new"), ("session_id", "RUSTTEST")],
    );
    assert_eq!(a.status, 200, "submitting {params:?}: {}", a.text());
    let mut v = a.json();
    let job_id = v["job_monitor"]["job_id"].as_str().unwrap().to_string();
    loop {
        let state = v["query_status"].as_str().unwrap_or("").to_string();
        match state.as_str() {
            "done" => return v,
            "submitted" | "progress" => {}
            _ => panic!("job {job_id} ({params:?}) is {state}: {v}"),
        }
        assert!(
            t0.elapsed() < timeout,
            "job {job_id} ({params:?}) not done in {timeout:?}: {v}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let a = run_analysis(
            url,
            params,
            &[
                ("query_status", state.as_str()),
                ("job_id", job_id.as_str()),
                ("session_id", "RUSTTEST"),
            ],
        );
        assert_eq!(a.status, 200, "polling {job_id}: {}", a.text());
        v = a.json();
        assert_eq!(v["job_monitor"]["job_id"], job_id.as_str(), "{v}");
    }
}

/// A small finished image on the shared site (4 pointings): its job id and done answer.
fn small_image() -> &'static (String, Value) {
    static JOB: OnceLock<(String, Value)> = OnceLock::new();
    JOB.get_or_init(|| {
        let params = crab(&[
            ("product_type", "isgri_image"),
            ("E1_keV", "20"),
            ("max_pointings", "4"),
            ("detection_threshold", "7.5"),
        ]);
        let v = run_job(&site().server.url, &params, Duration::from_secs(300));
        let id = v["job_monitor"]["job_id"].as_str().unwrap().to_string();
        (id, v)
    })
}

/// A raw HTTP/1.1 exchange: `head` (without the final blank line), then `body_len` bytes of
/// `a` (as `Content-Length` or in 64 KiB chunks), as far as the server lets it be written;
/// then whatever it answered.
fn raw_post(addr: &str, path: &str, body_len: usize, chunked: bool) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {body_len}")
    };
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n{framing}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b'a'; 1 << 16];
    let mut sent = 0;
    while sent < body_len {
        let n = chunk.len().min(body_len - sent);
        let r = if chunked {
            s.write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|_| s.write_all(&chunk[..n]))
                .and_then(|_| s.write_all(b"\r\n"))
        } else {
            s.write_all(&chunk[..n])
        };
        if r.is_err() {
            break; // the server stopped reading: its answer is what counts
        }
        sent += n;
    }
    if chunked && sent == body_len {
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    assert_no_secret("a raw answer", &resp);
    String::from_utf8_lossy(&resp).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Python clients.

/// The service venv's python; a missing venv fails the test (it is not skipped).
fn venv_python() -> PathBuf {
    let dir = std::env::var_os("ODA_SERVICE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".local/share/oda/service-venv")
        });
    let python = dir.join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: the clients of oda serve (oda-api, selenium) are not installed; run \
         ./setup.sh (it makes the venv {} from tests/python/requirements-service.txt; set \
         ODA_SERVICE_VENV to use another)",
        python.display(),
        dir.display()
    );
    python
}

/// Runs `cmd` with its output in files under `dir`, killed after `timeout`; returns whether it
/// succeeded and its output.
fn run_logged(mut cmd: Command, dir: &Path, timeout: Duration) -> (bool, String) {
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = format!(
        "{shown}\nexit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
        status.map(|s| s.code()),
        t0.elapsed().as_secs_f64(),
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    (status.is_some_and(|s| s.success()), text)
}

fn python_flow(script: &str, args: &[&std::ffi::OsStr], timeout: Duration) {
    let python = venv_python();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(ROOT).join("tests/python").join(script))
        .args(args)
        .current_dir(work.path())
        .env_remove("ODA_TOKEN")
        .env("PYTHONUNBUFFERED", "1");
    let (ok, mut text) = run_logged(cmd, work.path(), timeout);
    for s in SECRETS.lock().unwrap().iter() {
        text = text.replace(s.as_str(), "<token>");
    }
    println!("{text}");
    assert!(ok, "{script} failed:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The reference client, unmodified, gets every product type; its files equal the library's.
#[test]
fn oda_api_client_gets_every_product() {
    let site = site();
    let data = &site.server.data;
    let full = issue_token(
        data,
        "astronomer@example.org",
        "unige-hpc-full",
        &["--expires", "1d"],
    );
    let expired = issue_token(
        data,
        "former@example.org",
        "unige-hpc-full",
        &["--expires-at", "1000000000"],
    );
    let out = tempfile::tempdir().unwrap();
    python_flow(
        "oda_api_flow.py",
        &[
            "--url".as_ref(),
            site.server.url.as_ref(),
            "--oda".as_ref(),
            ODA.as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--token-full".as_ref(),
            full.as_ref(),
            "--token-expired".as_ref(),
            expired.as_ref(),
            "--out".as_ref(),
            out.path().as_os_str(),
        ],
        Duration::from_secs(900),
    );
}

/// The web page in headless Chromium: image, edited catalog, spectrum, share link, short link.
#[test]
fn browser_runs_image_then_spectrum_and_share_link() {
    let site = site();
    let out = tempfile::tempdir().unwrap();
    python_flow(
        "browser_flow.py",
        &[
            "--url".as_ref(),
            site.server.url.as_ref(),
            "--out".as_ref(),
            out.path().as_os_str(),
            "--timeout".as_ref(),
            "600".as_ref(),
        ],
        Duration::from_secs(900),
    );
}

/// `PRAGMA integrity_check` of the job database: the `sqlite3` command when present, else
/// Python's sqlite3 module.
fn integrity_check(data: &Path) {
    let db = data.join("server/jobs.sqlite");
    assert!(db.is_file(), "{} is missing", db.display());
    let o = match Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA integrity_check;")
        .output()
    {
        Ok(o) => o,
        Err(_) => Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
            ])
            .arg(&db)
            .output()
            .expect("python3 runs"),
    };
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.trim() == "ok",
        "integrity_check of {}: exit {:?}, {text} {}",
        db.display(),
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn inspect(url: &str, token: &str, job_id: &str) -> Value {
    let a = send(
        client()
            .get(with_query(
                &format!("{url}/inspect-state"),
                &[("job_id", job_id)],
            ))
            .bearer_auth(token),
    );
    assert_eq!(a.status, 200, "/inspect-state: {}", a.text());
    let v = a.json();
    let records = v["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "/inspect-state?job_id={job_id}: {v}");
    records[0].clone()
}

/// A server killed with SIGKILL while a job runs: the next one on the same data directory
/// answers the finished job at once with the same products, and runs the interrupted one again.
#[test]
fn restart_after_kill_9() {
    let dir = tempfile::Builder::new()
        .prefix("oda-restart-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let mut first = Server::start(&data, "serve-1", None);
    read_secret(&data);
    let manager = issue_token(
        &data,
        "admin@example.org",
        "job manager",
        &["--expires", "1d"],
    );

    let small = crab(&[
        ("product_type", "isgri_image"),
        ("E1_keV", "20"),
        ("max_pointings", "4"),
        ("detection_threshold", "7.5"),
    ]);
    let done = run_job(&first.url, &small, Duration::from_secs(300));
    let small_id = done["job_monitor"]["job_id"].as_str().unwrap().to_string();

    // A bigger request, killed while it runs.
    let big = crab(&[
        ("product_type", "isgri_lc"),
        ("E1_keV", "20"),
        ("max_pointings", "20"),
        ("time_bin", "86400"),
    ]);
    let a = run_analysis(&first.url, &big, &[("query_status", "new")]);
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    let big_id = v["job_monitor"]["job_id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    let mut state = v["query_status"].as_str().unwrap().to_string();
    while state != "progress" {
        assert_eq!(state, "submitted", "the big job before the kill: {state}");
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the big job was not in progress after 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
        let a = run_analysis(
            &first.url,
            &big,
            &[
                ("query_status", state.as_str()),
                ("job_id", big_id.as_str()),
            ],
        );
        state = a.json()["query_status"].as_str().unwrap().to_string();
    }
    let before = inspect(&first.url, &manager, &big_id);
    assert_eq!(
        before["state"], "progress",
        "the big job must still run when the server is killed (make it bigger): {before}"
    );
    first.kill9();
    integrity_check(&data);

    let second = Server::start(&data, "serve-2", None);
    // The finished job: done on the first call, same job, same numbers.
    let t = Instant::now();
    let a = run_analysis(&second.url, &small, &[("query_status", "new")]);
    let again = a.json();
    assert_eq!(
        again["query_status"],
        "done",
        "the finished job after the restart: {}",
        a.text().chars().take(600).collect::<String>()
    );
    let answered_in = t.elapsed();
    assert!(
        answered_in < Duration::from_secs(10),
        "the finished job took {answered_in:?} to answer after the restart"
    );
    assert_eq!(again["job_monitor"]["job_id"], small_id.as_str());
    assert_eq!(
        again["products"]["numpy_data_product_list"], done["products"]["numpy_data_product_list"],
        "the finished job's products changed across the restart"
    );
    assert_eq!(again["products"]["catalog"], done["products"]["catalog"]);
    assert_eq!(
        again["products"]["oda"]["identity"],
        done["products"]["oda"]["identity"]
    );

    // The interrupted job is queued again by itself: polled (never re-submitted) to done.
    let rec = inspect(&second.url, &manager, &big_id);
    assert!(
        rec["state"] == "submitted" || rec["state"] == "progress" || rec["state"] == "done",
        "the interrupted job after the restart: {rec}"
    );
    let t0 = Instant::now();
    let mut state = "progress".to_string();
    let finished = loop {
        let a = run_analysis(
            &second.url,
            &big,
            &[
                ("query_status", state.as_str()),
                ("job_id", big_id.as_str()),
            ],
        );
        assert_eq!(a.status, 200, "{}", a.text());
        let v = a.json();
        assert_eq!(v["job_monitor"]["job_id"], big_id.as_str());
        state = v["query_status"].as_str().unwrap().to_string();
        match state.as_str() {
            "done" => break v,
            "submitted" | "progress" => {}
            _ => panic!("the interrupted job ended {state}: {v}"),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "the interrupted job was not done 600 s after the restart"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let lcs = finished["products"]["numpy_data_product_list"]
        .as_array()
        .expect("products");
    assert!(!lcs.is_empty(), "no light curve: {finished}");
    let rec = inspect(&second.url, &manager, &big_id);
    assert_eq!(rec["state"], "done", "{rec}");
    if let Some(attempts) = rec.get("attempts") {
        // (not in the contract's record; when given: one run killed, one run after the restart)
        assert_eq!(attempts, 2, "the interrupted job's record: {rec}");
    }
    integrity_check(&data);
    println!(
        "restart: the finished job answered in {:.3} s; the interrupted one done {:.1} s after the restart",
        answered_in.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    drop(second);
}

/// Small routes of the dispatcher: instruments, parameter names, metadata, names, revolutions.
#[test]
fn dispatcher_routes_answer_as_the_contract_says() {
    let url = &site().server.url;
    for route in ["/api/instr-list", "/instr-list"] {
        let a = get(&format!("{url}{route}"), &[]);
        assert_eq!(a.status, 200, "{route}");
        assert_eq!(
            a.json(),
            serde_json::json!(["isgri", "jemx", "spi_acs"]),
            "{route}"
        );
    }
    // SPI-ACS: the whole shield's rate, so only a time span, a bin and the data level.
    let a = get(
        &format!("{url}/api/par-names"),
        &[("instrument", "spi_acs"), ("product_type", "spi_acs_lc")],
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let names: Vec<String> = serde_json::from_value(a.json()).unwrap();
    for n in ["T1", "T2", "T_format", "time_bin", "data_level"] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }
    for n in ["src_name", "E1_keV", "max_pointings"] {
        assert!(!names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let a = get(
        &format!("{url}/api/meta-data"),
        &[("instrument", "spi_acs")],
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()[0][0]["product_name"], "spi_acs_lc", "{}", a.text());
    let a = get(
        &format!("{url}/api/par-names"),
        &[("instrument", "spi_acs"), ("product_type", "isgri_image")],
    );
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("spi_acs_lc"), "{}", a.text());
    // Near-real-time data need their role, and the refusal names it.
    let a = run_analysis(
        url,
        &[
            ("instrument", "spi_acs"),
            ("product_type", "spi_acs_lc"),
            ("T1", "2017-08-17T12:40:00"),
            ("T2", "2017-08-17T12:42:00"),
            ("data_level", "realtime"),
        ],
        &[("query_status", "new")],
    );
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("integral-realtime"), "{}", a.text());
    let a = get(
        &format!("{url}/api/par-names"),
        &[("instrument", "isgri"), ("product_type", "isgri_image")],
    );
    assert_eq!(a.status, 200);
    let names: Vec<String> = serde_json::from_value(a.json()).unwrap();
    for n in [
        "src_name",
        "T1",
        "T2",
        "E1_keV",
        "E2_keV",
        "max_pointings",
        "detection_threshold",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }
    let a = get(&format!("{url}/api/meta-data"), &[("instrument", "isgri")]);
    assert_eq!(a.status, 200, "{}", a.text());
    let a = get(&format!("{url}/resolve_name"), &[("name", "Crab")]);
    assert_eq!(a.status, 200);
    let v = a.json();
    assert!((v["RA"].as_f64().unwrap() - 83.63).abs() < 0.01, "{v}");
    assert!((v["DEC"].as_f64().unwrap() - 22.01).abs() < 0.01, "{v}");
    let a = get(&format!("{url}/resolve_name"), &[("name", "Crab Nebulaxx")]);
    assert_eq!(a.status, 404, "{}", a.text());
    assert!(a.json()["suggestions"].is_array(), "{}", a.text());
    // The revolution as the archive numbers it: ScW 154400070010 of the simulated archive runs
    // 2015-06-20T12:03–12:50 (`oda scw list src_name="V404 Cyg" T1=2015-06-20 T2=2015-06-21`).
    let a = get(
        &format!("{url}/get_revnum"),
        &[("time_to_convert", "2015-06-20T12:10:00")],
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["revnum"].as_u64(), Some(1544), "{}", a.text());
    assert_eq!(a.json()["in_science_window"], true, "{}", a.text());
    let a = get(
        &format!("{url}/get_revnum"),
        &[("time_to_convert", "1999-01-01T00:00:00")],
    );
    assert_eq!(a.status, 400, "{}", a.text());
}

/// A bad parameter is HTTP 400 with JSON naming the parameter, the value and what is allowed.
#[test]
fn bad_parameter_is_400_naming_parameter_value_and_allowed() {
    let url = &site().server.url;
    for (name, value, allowed_holds) in [
        ("E1_keV", "5", &["15", "800"][..]),
        ("E1_keV", "twenty", &[][..]),
        ("max_pointings", "-3", &[][..]),
        ("T_format", "fortnights", &["isot", "mjd"][..]),
    ] {
        let mut params = crab(&[("product_type", "isgri_image"), ("max_pointings", "4")]);
        params.retain(|(k, _)| *k != name);
        if name != "E1_keV" {
            params.push(("E1_keV", "20"));
        }
        params.push((name, value));
        let a = run_analysis(url, &params, &[("query_status", "new")]);
        assert_eq!(a.status, 400, "{name}={value}: {}", a.text());
        assert!(
            a.content_type.starts_with("application/json"),
            "{}",
            a.content_type
        );
        let v = a.json();
        assert_eq!(v["parameter"], name, "{v}");
        assert_eq!(v["value"], value, "{v}");
        let allowed = v["allowed"]
            .as_str()
            .unwrap_or_else(|| panic!("no allowed: {v}"));
        assert!(!allowed.is_empty(), "{v}");
        for s in allowed_holds {
            assert!(
                allowed.contains(s),
                "{name}={value}: allowed {allowed:?} lacks {s}"
            );
        }
        assert!(v["error"].as_str().unwrap().contains(name), "{v}");
        assert_eq!(v["exit_status"]["status"], 1, "{v}");
    }
    // An unknown product, an unknown source.
    let a = run_analysis(
        url,
        &crab(&[("product_type", "isgri_movie")]),
        &[("query_status", "new")],
    );
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.json()["parameter"], "product_type", "{}", a.text());
    let mut params = crab(&[("product_type", "isgri_image")]);
    params.retain(|(k, _)| *k != "src_name");
    params.push(("src_name", "Crabb Nebulaxx"));
    let a = run_analysis(url, &params, &[("query_status", "new")]);
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.json()["parameter"], "src_name", "{}", a.text());
}

/// A selected_catalog that is not an ODA catalog is HTTP 400 naming selected_catalog.
#[test]
fn malformed_selected_catalog_is_400_naming_it() {
    let url = &site().server.url;
    for bad in [
        "{bad",
        "[1, 2, 3]",
        r#"{"cat_column_names": ["src_names"]}"#,
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["Crab"], [83.6], ["north"]]}"#,
    ] {
        let params = crab(&[
            ("product_type", "isgri_spectrum"),
            ("E1_keV", "20"),
            ("max_pointings", "4"),
            ("selected_catalog", bad),
        ]);
        // As oda_api sends a long request: a POSTed form.
        let a = send(post_form(
            &format!("{url}/run_analysis"),
            &pairs(&params, &[("query_status", "new")]),
        ));
        assert_eq!(a.status, 400, "selected_catalog={bad}: {}", a.text());
        let v = a.json();
        assert_eq!(v["parameter"], "selected_catalog", "{v}");
        assert!(
            v["error"].as_str().unwrap().contains("selected_catalog"),
            "{v}"
        );
    }
}

/// `/download_products` serves the job's listed files, and nothing else.
#[test]
fn download_products_serves_only_the_jobs_files() {
    let site = site();
    let url = &site.server.url;
    let (job_id, done) = small_image();
    let files: Vec<String> = done["products"]["oda"]["files"]
        .as_array()
        .expect("products.oda.files")
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert!(files.iter().any(|f| f == "isgri_image.fits"), "{files:?}");
    let dl = |query: &[(&str, &str)]| get(&format!("{url}/download_products"), query);

    // What may be had: one file as itself, several as a zip.
    let a = dl(&[
        ("job_id", job_id),
        ("file_list", "isgri_image.fits"),
        ("return_archive", "False"),
    ]);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.starts_with(b"SIMPLE  ="), "not a FITS file");
    let on_disk = std::fs::read(
        site.server
            .data
            .join("server/jobs")
            .join(job_id)
            .join("isgri_image.fits"),
    )
    .unwrap();
    assert!(
        a.body == on_disk,
        "the downloaded image differs from the job's file"
    );
    let a = dl(&[
        ("job_id", job_id),
        ("file_list", &files.join(",")),
        ("download_file_name", "crab"),
    ]);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.starts_with(b"PK\x03\x04"), "not a zip");
    assert_eq!(a.content_type, "application/zip");
    let secret_path = site.server.data.join("server/secret");
    let secret_abs = secret_path.to_str().unwrap();
    let job_dir = site.server.data.join("server/jobs").join(job_id);
    let answer_abs = job_dir.join("answer.json");
    let answer_abs = answer_abs.to_str().unwrap();

    // What may not: paths, encoded paths, absolute paths, the job directory's other files.
    for bad in [
        "../../server/secret",
        "..%2F..%2Fserver%2Fsecret",
        "..%252F..%252Fserver%252Fsecret",
        "../../../../../../etc/passwd",
        "..\\..\\server\\secret",
        "/etc/passwd",
        secret_abs,
        answer_abs,
        "answer.json",
        "files.json",
        "view.json",
        "./isgri_image.fits",
        "isgri_image.fits/",
        "isgri_image.fits,../../server/secret",
        "no_such_file.fits",
        ",",
        " , ",
    ] {
        for archive in ["False", "True"] {
            let a = dl(&[
                ("job_id", job_id),
                ("file_list", bad),
                ("return_archive", archive),
            ]);
            assert_eq!(
                a.status,
                400,
                "file_list={bad:?}: HTTP {} {}",
                a.status,
                a.text()
            );
            assert_eq!(a.json()["parameter"], "file_list", "{}", a.text());
            assert!(
                !contains(&a.body, b"root:"),
                "file_list={bad:?} leaked a file"
            );
        }
    }
    // The same through a raw request line (no client-side encoding).
    for raw in [
        "/download_products?job_id=JOB&file_list=../../server/secret&return_archive=False",
        "/download_products?job_id=JOB&file_list=..%2F..%2Fserver%2Fsecret&return_archive=False",
        "/download_products?job_id=JOB&file_list=%2Fetc%2Fpasswd&return_archive=False",
        "/download_products/../../server/secret",
        "/static/..%2F..%2F..%2Fserver%2Fsecret",
        "/static/../../server/secret",
    ] {
        let path = raw.replace("JOB", job_id);
        let mut s = TcpStream::connect(&site.server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            site.server.addr
        )
        .unwrap();
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp);
        let text = String::from_utf8_lossy(&resp);
        let status = text.split(' ').nth(1).unwrap_or("");
        assert!(
            status.starts_with('4'),
            "GET {path}: {}",
            text.chars().take(300).collect::<String>()
        );
        assert_no_secret(&format!("GET {path}"), &resp);
    }
    // Jobs that do not exist, and ids that are not job ids.
    let a = dl(&[
        ("job_id", "0123456789abcdef0123456789abcdef"),
        ("file_list", "isgri_image.fits"),
    ]);
    assert_eq!(a.status, 404, "{}", a.text());
    for bad_id in ["../../server", "", "x", "0123456789ABCDEF0123456789ABCDEF"] {
        let a = dl(&[("job_id", bad_id), ("file_list", "isgri_image.fits")]);
        assert_eq!(a.status, 400, "job_id={bad_id:?}: {}", a.text());
    }
    // POST works as GET.
    let a = send(post_form(
        &format!("{url}/download_products"),
        &[
            ("job_id", job_id.as_str()),
            ("file_list", "../../server/secret"),
        ],
    ));
    assert_eq!(a.status, 400, "{}", a.text());
}

/// A 20 MB body is refused with 413 (announced or chunked) and the server goes on serving.
#[test]
fn oversized_body_is_413_and_the_server_stays_up() {
    let site = site();
    for (path, chunked) in [
        ("/run_analysis", false),
        ("/run_analysis", true),
        ("/download_products", false),
    ] {
        let resp = raw_post(&site.server.addr, path, 20 << 20, chunked);
        assert!(
            resp.starts_with("HTTP/1.1 413"),
            "POST {path} with 20 MB ({}): {}",
            if chunked { "chunked" } else { "Content-Length" },
            resp.chars().take(300).collect::<String>()
        );
        let a = get(&format!("{}/api/instr-list", site.server.url), &[]);
        assert_eq!(a.status, 200, "the server after a 20 MB POST to {path}");
    }
    // A long but allowed form (a big catalog is posted) is read: 1 MB of an unknown parameter.
    let filler = "x".repeat(1 << 20);
    let params = crab(&[
        ("product_type", "isgri_image"),
        ("E1_keV", "20"),
        ("max_pointings", "4"),
        ("detection_threshold", "7.5"),
        ("filler", filler.as_str()),
    ]);
    let a = send(post_form(
        &format!("{}/run_analysis", site.server.url),
        &pairs(&params, &[("query_status", "new")]),
    ));
    assert_eq!(
        a.status,
        200,
        "{}",
        a.text().chars().take(400).collect::<String>()
    );
}

/// `/inspect-state` needs the role `job manager`, from the token parameter, a Bearer header or
/// a cookie.
#[test]
fn inspect_state_needs_job_manager() {
    let site = site();
    let url = format!("{}/inspect-state", site.server.url);
    let (job_id, _) = small_image();
    let data = &site.server.data;

    let a = get(&url, &[]);
    assert_eq!(a.status, 403, "{}", a.text());
    let v = a.json();
    assert!(
        v["exit_status"]["message"]
            .as_str()
            .unwrap()
            .contains("job manager"),
        "{v}"
    );
    let user = issue_token(
        data,
        "user@example.org",
        "unige-hpc-full",
        &["--expires", "1h"],
    );
    let a = send(client().get(&url).bearer_auth(&user));
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("job manager"), "{}", a.text());
    let old = issue_token(
        data,
        "old-admin@example.org",
        "job manager",
        &["--expires-at", "1000000000"],
    );
    let a = send(client().get(&url).bearer_auth(&old));
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("expired"), "{}", a.text());
    let forged = format!("{}x", &site.manager[..site.manager.len() - 1]);
    remember_secret(&forged);
    let a = send(client().get(&url).bearer_auth(&forged));
    assert_eq!(a.status, 403, "a forged token: {}", a.text());

    for how in ["parameter", "header", "cookie"] {
        let rb = match how {
            "parameter" => client().get(with_query(&url, &[("token", site.manager.as_str())])),
            "header" => client().get(&url).bearer_auth(&site.manager),
            _ => client()
                .get(&url)
                .header("Cookie", format!("_token={}", site.manager)),
        };
        let a = send(rb);
        assert_eq!(a.status, 200, "token as a {how}: {}", a.text());
        let v = a.json();
        let rec = v["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["job_id"] == job_id.as_str())
            .unwrap_or_else(|| panic!("job {job_id} not in {v}"))
            .clone();
        assert_eq!(rec["state"], "done", "{rec}");
        for k in ["job_id", "state", "product", "created", "updated", "error"] {
            assert!(rec.get(k).is_some(), "record without {k}: {rec}");
        }
    }
    let a = send(
        client()
            .get(with_query(&url, &[("job_id", job_id.as_str())]))
            .bearer_auth(&site.manager),
    );
    assert_eq!(a.json()["records"].as_array().unwrap().len(), 1);
}

/// The site's secret and the tokens appear in no answer (every answer of these tests is
/// checked) and in no line of the server's log.
#[test]
fn secret_and_tokens_never_leak() {
    let site = site();
    let data = &site.server.data;
    let secret_file = data.join("server/secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "DATA/server/secret has mode {mode:o}");
    }
    assert_eq!(read_secret(data), site.secret);
    let token = issue_token(
        data,
        "leak@example.org",
        "unige-hpc-full",
        &["--expires", "1h"],
    );
    let expired = issue_token(
        data,
        "leak@example.org",
        "",
        &["--expires-at", "1000000000"],
    );
    let (job_id, _) = small_image();
    let image = crab(&[
        ("product_type", "isgri_image"),
        ("E1_keV", "20"),
        ("max_pointings", "4"),
        ("detection_threshold", "7.5"),
    ]);
    // A token everywhere it may come from, valid and expired, in answers that are done,
    // refused and failed; downloads and views too.
    for t in [&token, &expired] {
        let a = run_analysis(
            &site.server.url,
            &image,
            &[("query_status", "new"), ("token", t)],
        );
        assert!(a.status == 200 || a.status == 403, "{}", a.text());
        let a = send(
            post_form(
                &format!("{}/run_analysis", site.server.url),
                &pairs(&image, &[("query_status", "new")]),
            )
            .header("Cookie", format!("_token={t}")),
        );
        assert!(a.status == 200 || a.status == 403, "{}", a.text());
        let a = get(
            &format!("{}/download_products", site.server.url),
            &[
                ("job_id", job_id.as_str()),
                ("file_list", "result.json"),
                ("return_archive", "False"),
                ("token", t.as_str()),
            ],
        );
        assert!(a.status == 200 || a.status == 403, "{}", a.text());
    }
    for route in [
        format!("/api/view/{job_id}"),
        format!("/api/request/{job_id}"),
        format!("/r/{job_id}"),
        "/".to_string(),
    ] {
        let a = send(
            client()
                .get(format!("{}{route}", site.server.url))
                .bearer_auth(&token),
        );
        assert_eq!(a.status, 200, "{route}: {}", a.text());
    }
    std::thread::sleep(Duration::from_millis(200));
    let log = site.server.log_text();
    assert!(
        log.contains("/run_analysis"),
        "the server's log has no request line:\n{log}"
    );
    assert_no_secret("the server's log", log.as_bytes());
}

/// Requests past 50 pointings need `unige-hpc-full`, past 500 `unige-hpc-extreme` too: HTTP 403
/// with `missing_roles` and a message naming them; 50 pointings need no token.
#[test]
fn roles_gate_the_number_of_pointings() {
    let site = site();
    let data = &site.server.data;
    let url = &site.server.url;
    let full = issue_token(
        data,
        "full@example.org",
        "unige-hpc-full",
        &["--expires", "1h"],
    );
    let extreme = issue_token(
        data,
        "extreme@example.org",
        "unige-hpc-full,unige-hpc-extreme",
        &["--expires", "1h"],
    );
    let scw_list: String = (1..=51)
        .map(|i| format!("0043{i:04}0010"))
        .collect::<Vec<_>>()
        .join(",");
    let image = |more: &[(&'static str, &str)]| -> Vec<(String, String)> {
        crab(&[("product_type", "isgri_image"), ("E1_keV", "20")])
            .into_iter()
            .chain(more.iter().copied())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ask = |params: Vec<(String, String)>, token: Option<&str>| -> Answer {
        let p: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("query_status", "new")])
            .collect();
        let rb = client().get(with_query(&format!("{url}/run_analysis"), &p));
        send(match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        })
    };
    let only_scws = |list: &str| -> Vec<(String, String)> {
        [
            ("instrument", "isgri"),
            ("product_type", "isgri_image"),
            ("scw_list", list),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    for (params, token, missing) in [
        (
            image(&[("max_pointings", "51")]),
            None,
            vec!["unige-hpc-full"],
        ),
        (only_scws(&scw_list), None, vec!["unige-hpc-full"]),
        (
            image(&[("max_pointings", "501")]),
            None,
            vec!["unige-hpc-full", "unige-hpc-extreme"],
        ),
        (
            image(&[("max_pointings", "600")]),
            Some(full.as_str()),
            vec!["unige-hpc-extreme"],
        ),
    ] {
        let a = ask(params.clone(), token);
        assert_eq!(a.status, 403, "{params:?}: {}", a.text());
        let v = a.json();
        let got: Vec<&str> = v["missing_roles"]
            .as_array()
            .unwrap_or_else(|| panic!("no missing_roles: {v}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let (mut got_sorted, mut want) = (got.clone(), missing.clone());
        got_sorted.sort();
        want.sort();
        assert_eq!(got_sorted, want, "{v}");
        let message = v["exit_status"]["message"].as_str().unwrap();
        for role in &missing {
            assert!(
                message.contains(role),
                "the message does not name {role}: {message}"
            );
        }
        assert_eq!(v["exit_status"]["status"], 1, "{v}");
    }
    // Allowed (on a day without Crab pointings, so that nothing heavy runs): not refused.
    let empty_day = |n: &'static str| -> Vec<(String, String)> {
        image(&[("max_pointings", n)])
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "T1" => (k, "2003-03-15".to_string()),
                "T2" => (k, "2003-03-16".to_string()),
                _ => (k, v),
            })
            .collect()
    };
    for (n, token) in [
        ("50", None),
        ("500", Some(full.as_str())),
        ("600", Some(&extreme)),
    ] {
        let a = ask(empty_day(n), token);
        assert!(
            a.status == 200 || a.status == 400,
            "{n} pointings with {}: HTTP {} {}",
            if token.is_some() {
                "a token"
            } else {
                "no token"
            },
            a.status,
            a.text()
        );
        assert!(a.json().get("missing_roles").is_none(), "{}", a.text());
    }
    // Reading a job needs the roles it took to run it, whoever ran it.
    let a = ask(empty_day("500"), Some(&full));
    assert_eq!(a.status, 200, "{}", a.text());
    let job = a.json()["job_monitor"]["job_id"]
        .as_str()
        .expect("a job id")
        .to_string();
    let anonymous = get(&format!("{url}/api/request/{job}"), &[]);
    assert_eq!(anonymous.status, 403, "{}", anonymous.text());
    assert!(
        anonymous.text().contains("unige-hpc-full"),
        "{}",
        anonymous.text()
    );
    let with = send(
        client()
            .get(format!("{url}/api/request/{job}"))
            .bearer_auth(&full),
    );
    assert_eq!(with.status, 200, "{}", with.text());
    // A proxy's Basic authentication is not taken for a token.
    let p: Vec<(String, String)> = empty_day("50");
    let p: Vec<(&str, &str)> = p
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("query_status", "new")])
        .collect();
    let basic = send(
        client()
            .get(with_query(&format!("{url}/run_analysis"), &p))
            .header("Authorization", "Basic dXNlcjpwYXNz"),
    );
    assert_eq!(basic.status, 200, "{}", basic.text());
    // Private data are not served here, and say so.
    let mut private = empty_day("50");
    private.push(("integral_data_rights".into(), "all-private".into()));
    let a = ask(private, None);
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("integral-private-qla"), "{}", a.text());
}

/// A done answer: the numpy products as the client decodes them (no pickle), the catalog, the
/// site's block (`products.oda`: job id, identity, short link, files with their sizes) and the
/// API code for this site; the view and the request of the job for the web page.
#[test]
fn done_answer_carries_products_files_and_code() {
    let site = site();
    let url = &site.server.url;
    let (job_id, done) = small_image();
    let products = &done["products"];
    let list = products["numpy_data_product_list"]
        .as_array()
        .expect("numpy_data_product_list");
    assert_eq!(list.len(), 1, "one mosaic product: {}", list.len());
    let units = list[0]["data_unit_list"]
        .as_array()
        .expect("data_unit_list");
    let names: Vec<&str> = units.iter().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "PRIMARY",
            "INTENSITY",
            "VARIANCE",
            "SIGNIFICANCE",
            "EXPOSURE",
            "CATALOG"
        ],
        "the mosaic's units"
    );
    for u in units {
        assert!(u["binarys"].is_null(), "a pickled unit: {}", u["name"]);
        for k in ["data", "dt", "header", "meta_data", "hdu_type"] {
            assert!(u.get(k).is_some(), "unit {} without {k}", u["name"]);
        }
    }
    let catalog = &products["catalog"];
    let columns: Vec<&str> = catalog["cat_column_names"]
        .as_array()
        .expect("catalog")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in [
        "meta_ID",
        "src_names",
        "significance",
        "ra",
        "dec",
        "NEW_SOURCE",
        "ISGRI_FLAG",
        "FLAG",
        "ERR_RAD",
    ] {
        assert!(
            columns.contains(&c),
            "catalog column {c} missing: {columns:?}"
        );
    }
    let oda = &products["oda"];
    assert_eq!(oda["job_id"], job_id.as_str());
    assert_eq!(oda["short_link"], format!("/r/{job_id}").as_str());
    assert!(
        oda["identity"].as_str().is_some_and(|s| s.len() >= 32),
        "{oda}"
    );
    assert!(oda["warnings"].is_array(), "{oda}");
    let job_dir = site.server.data.join("server/jobs").join(job_id);
    for f in oda["files"].as_array().expect("files") {
        let name = f["name"].as_str().unwrap();
        for k in ["kind", "source", "bytes"] {
            assert!(f.get(k).is_some(), "file {name} without {k}: {f}");
        }
        let on_disk = std::fs::metadata(job_dir.join(name)).map(|m| m.len());
        assert_eq!(
            on_disk.ok(),
            f["bytes"].as_u64(),
            "{name}: listed size vs on disk"
        );
    }
    let code = products["api_code"].as_str().expect("api_code");
    assert!(
        code.contains("DispatcherAPI") && code.contains(url.as_str()),
        "the API code does not call this site ({url}):\n{code}"
    );
    assert!(
        products["analysis_parameters"].is_object(),
        "{}",
        products["analysis_parameters"]
    );

    let a = get(&format!("{url}/api/view/{job_id}"), &[]);
    assert_eq!(a.status, 200, "{}", a.text());
    let view = a.json();
    assert_eq!(view["job_id"], job_id.as_str());
    assert_eq!(view["product_type"], "isgri_image");
    assert_eq!(view["short_link"], format!("/r/{job_id}").as_str());
    assert!(
        !view["figures"].as_array().expect("figures").is_empty(),
        "no figure"
    );
    assert!(view["catalog"].is_object(), "no catalog in the view");
    for k in ["python", "rust", "curl"] {
        assert!(
            view["api_code"][k].as_str().is_some_and(|s| !s.is_empty()),
            "no {k} code"
        );
    }
    let a = get(&format!("{url}/api/request/{job_id}"), &[]);
    assert_eq!(a.status, 200, "{}", a.text());
    let req = a.json();
    assert_eq!(req["parameters"]["product_type"], "isgri_image", "{req}");
    assert_eq!(req["parameters"]["src_name"], "Crab", "{req}");
    assert_eq!(req["parameters"]["max_pointings"], "4", "{req}");
    let a = get(
        &format!("{url}/api/view/0123456789abcdef0123456789abcdef"),
        &[],
    );
    assert_eq!(a.status, 404, "{}", a.text());
}
