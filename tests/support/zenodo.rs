//! A running `examples/zenodo_fake` for integration tests (std + serde_json only).
//!
//! ```ignore
//! #[path = "support/zenodo.rs"]
//! mod zenodo;
//! let fake = zenodo::FakeZenodo::start(&["TOKEN"]);
//! // point the client at fake.url() ...
//! fake.faults(serde_json::json!([{"method": "PUT", "path_contains": "/api/files/", "kind": "reset"}]));
//! let state = fake.state();
//! ```
//!
//! The first `start` builds the example (`cargo build --release --example zenodo_fake`); the
//! server is killed when the `FakeZenodo` is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

/// The fake server, started for real on 127.0.0.1.
pub struct FakeZenodo {
    child: Child,
    url: String,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// Builds the example once per test process and returns its executable.
fn executable() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--quiet",
                "--example",
                "zenodo_fake",
                "--message-format=json",
            ])
            .args(["--manifest-path", manifest])
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo to build examples/zenodo_fake");
        assert!(
            out.status.success(),
            "cargo build --example zenodo_fake failed"
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "zenodo_fake")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo did not report the zenodo_fake executable")
    })
    .clone()
}

impl FakeZenodo {
    /// Starts the fake accepting `tokens` (each one a user).
    pub fn start(tokens: &[&str]) -> FakeZenodo {
        Self::start_with(tokens, &[])
    }

    /// Starts the fake with extra arguments (e.g. `["--rate-limit", "5"]`, `["--prefix", "10.5281"]`).
    pub fn start_with(tokens: &[&str], extra: &[&str]) -> FakeZenodo {
        let mut cmd = Command::new(executable());
        cmd.args(["--port", "0"]);
        for t in tokens {
            cmd.args(["--token", t]);
        }
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot start zenodo_fake");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("zenodo_fake did not print its address");
            }
        };
        let url = line
            .strip_prefix("listening on ")
            .expect("unexpected first line of zenodo_fake")
            .to_string();
        let hostport = url.trim_start_matches("http://");
        let addr = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .expect("bad address");
        FakeZenodo {
            child,
            url,
            addr,
            log,
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The lines the server wrote to stderr so far (one per request).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds fault rules (a JSON list, see the example's docs); returns the rules now active.
    pub fn faults(&self, rules: Value) -> Value {
        self.control("POST", "/_fake/faults", Some(&rules))
    }

    /// The rules not used up yet.
    pub fn remaining_faults(&self) -> Value {
        self.control("GET", "/_fake/faults", None)["faults"].clone()
    }

    /// Drops every fault rule.
    pub fn clear_faults(&self) {
        self.control("DELETE", "/_fake/faults", None);
    }

    /// Everything the fake holds: records, records created per token, the request log.
    pub fn state(&self) -> Value {
        self.control("GET", "/_fake/state", None)
    }

    /// Forgets all records, faults, the log and the rate-limit windows.
    pub fn reset(&self) {
        self.control("POST", "/_fake/reset", None);
    }

    /// A small HTTP/1.1 exchange with a control route; panics on a non-200 answer.
    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10))
            .expect("connect to zenodo_fake");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("send to zenodo_fake");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read from zenodo_fake");
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text.split_once("\r\n\r\n").expect("malformed answer");
        let status = head.split_whitespace().nth(1).unwrap_or("");
        assert_eq!(status, "200", "{method} {path}: {head}\n{payload}");
        serde_json::from_str(payload).expect("control answer is not JSON")
    }
}

impl Drop for FakeZenodo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
