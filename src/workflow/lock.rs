//! The computation lock of a cache entry, safe between processes on different hosts sharing the
//! cache over NFS or Lustre ("one computes, the others wait").
//!
//! File locks (`flock`, `fcntl`) are not reliable on every shared filesystem, so a lock is a
//! file created with `O_EXCL` (`create_new`), which NFSv3+ and Lustre make atomic, holding the
//! holder's token (host, process, time). Its holder renews a *lease* by touching the file's
//! modification time every [`LeaseLocks::heartbeat`] from one background thread per cache; a lock
//! whose modification time is older than the lease belongs to a process that died (a worker
//! killed mid-unit, a node lost) and is broken by the next process that wants it. Waiters poll.
//!
//! Assumptions (docs/cluster.md): the hosts' clocks agree within a fraction of the lease (NTP);
//! the filesystem makes `create_new` and `rename` atomic. Breaking a stale lock renames it aside
//! first and checks that the renamed file is the stale one; in the rare race where a fresh lock
//! was renamed instead, it is put back with a `hard_link` that cannot overwrite. The worst case
//! left is two processes computing the same unit at once, which is harmless: entries are staged
//! and renamed into place, the first store wins and both are identical.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Default lease of a computation lock: a lock not renewed for this long is stale.
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(60);
/// How often a waiter looks at a held lock.
const POLL: Duration = Duration::from_millis(100);

/// The locks of one cache: their lease, and the files this process holds, renewed by a
/// heartbeat thread while any is held.
#[derive(Debug)]
pub struct LeaseLocks {
    dir: PathBuf,
    lease: Duration,
    held: Arc<Mutex<HashSet<PathBuf>>>,
    heartbeat_running: Arc<Mutex<bool>>,
    counter: AtomicU64,
}

/// A held computation lock; released (its file removed) when dropped.
#[derive(Debug)]
pub struct LeaseLock {
    path: PathBuf,
    token: String,
    held: Weak<Mutex<HashSet<PathBuf>>>,
}

impl LeaseLocks {
    /// Locks in `dir` with `lease`.
    pub fn new(dir: PathBuf, lease: Duration) -> LeaseLocks {
        LeaseLocks {
            dir,
            lease,
            held: Arc::new(Mutex::new(HashSet::new())),
            heartbeat_running: Arc::new(Mutex::new(false)),
            counter: AtomicU64::new(0),
        }
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How often held locks are renewed: a sixth of the lease, so that a busy machine can miss
    /// several beats before a lock goes stale.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 6
    }

    /// The lock file of `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// Blocks until this process holds the lock `name`, breaking it if its holder stopped
    /// renewing it for longer than the lease.
    ///
    /// # Errors
    /// The lock file cannot be created or written (not "exists": that is waited on).
    pub fn acquire(&self, name: &str) -> Result<LeaseLock> {
        let path = self.path(name);
        let fail = |e: std::io::Error| Error::Cache {
            path: path.clone(),
            message: format!("cannot create the lock file: {e}"),
        };
        let token = format!(
            "{} {} {} {}",
            host_name(),
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        loop {
            match File::options().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(token.as_bytes()).map_err(fail)?;
                    if let Ok(mut held) = self.held.lock() {
                        held.insert(path.clone());
                    }
                    self.start_heartbeat();
                    return Ok(LeaseLock {
                        path,
                        token,
                        held: Arc::downgrade(&self.held),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if self.is_stale(&path) {
                        break_stale(&path);
                        continue;
                    }
                    // A live holder computing a long unit renews its lease: keep waiting.
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(fail(e)),
            }
        }
    }

    /// True when the lock file at `path` was last renewed longer than the lease ago.
    pub fn is_stale(&self, path: &Path) -> bool {
        age(path).is_some_and(|a| a > self.lease)
    }

    /// Starts the heartbeat thread unless it runs; it stops when no lock is held.
    fn start_heartbeat(&self) {
        let Ok(mut running) = self.heartbeat_running.lock() else {
            return;
        };
        if *running {
            return;
        }
        *running = true;
        let held = Arc::downgrade(&self.held);
        let flag = self.heartbeat_running.clone();
        let beat = self.heartbeat();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(beat);
                let Some(held) = held.upgrade() else {
                    break;
                };
                let paths: Vec<PathBuf> = match held.lock() {
                    Ok(h) => h.iter().cloned().collect(),
                    Err(_) => break,
                };
                if paths.is_empty() {
                    // Stop under the flag's lock so that a new lock restarts the thread.
                    if let Ok(mut running) = flag.lock() {
                        let still_empty = held.lock().map(|h| h.is_empty()).unwrap_or(true);
                        if still_empty {
                            *running = false;
                            break;
                        }
                    }
                    continue;
                }
                for p in paths {
                    touch(&p);
                }
            }
        });
    }
}

impl LeaseLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        if let Some(held) = self.held.upgrade()
            && let Ok(mut h) = held.lock()
        {
            h.remove(&self.path);
        }
        // Only our own lock: if it was broken as stale and taken by another process meanwhile,
        // the file is theirs.
        if fs::read_to_string(&self.path).is_ok_and(|t| t == self.token) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// How long ago the file at `path` was modified (`None` when it is gone; zero when its time is
/// in the future, a clock ahead of ours).
fn age(path: &Path) -> Option<Duration> {
    let modified = fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default(),
    )
}

/// Renews the lease of the lock at `path`.
fn touch(path: &Path) {
    if let Ok(f) = File::options().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Removes the stale lock at `path` (see the module documentation for the race it handles).
fn break_stale(path: &Path) {
    let Ok(stale_token) = fs::read_to_string(path) else {
        return;
    };
    let aside = path.with_extension(format!(
        "broken-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    if fs::rename(path, &aside).is_err() {
        return;
    }
    let taken = fs::read_to_string(&aside).unwrap_or_default();
    if taken != stale_token {
        // A fresh lock replaced the stale one between the read and the rename: put it back,
        // unless yet another lock exists by now.
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
}

/// This host's name (for the lock's token: who holds it).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Lock files left by dead processes in `dir`: not renewed for longer than `lease`.
pub(super) fn stale_locks(dir: &Path, lease: Duration) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| age(p).is_some_and(|a| a > lease))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn locks(lease_ms: u64) -> (tempfile::TempDir, LeaseLocks) {
        let dir = tempfile::tempdir().unwrap();
        let l = LeaseLocks::new(dir.path().to_path_buf(), Duration::from_millis(lease_ms));
        (dir, l)
    }

    #[test]
    fn a_second_taker_waits_until_the_first_releases() {
        let (_d, locks) = locks(60_000);
        let locks = Arc::new(locks);
        let first = locks.acquire("x").unwrap();
        assert!(first.path().is_file());
        let t0 = Instant::now();
        let other = locks.clone();
        let waiter = std::thread::spawn(move || {
            let l = other.acquire("x").unwrap();
            (t0.elapsed(), l.path().to_path_buf())
        });
        std::thread::sleep(Duration::from_millis(400));
        drop(first);
        let (waited, path) = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
        // Released again when the waiter's lock was dropped at the end of its thread.
        assert!(!path.exists());
    }

    #[test]
    fn a_held_lock_is_renewed_and_a_dead_holders_lock_is_broken() {
        let (_d, locks) = locks(600);
        let held = locks.acquire("live").unwrap();
        // Three leases later the live lock is still fresh: the heartbeat renews it.
        std::thread::sleep(Duration::from_millis(1800));
        assert!(!locks.is_stale(held.path()), "the heartbeat did not renew");
        // A lock file nobody renews (its holder was killed) goes stale and is taken over.
        let dead = locks.path("dead");
        fs::write(&dead, "deadhost 1 0 0").unwrap();
        let old = SystemTime::now() - Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&dead)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let t0 = Instant::now();
        let taken = locks.acquire("dead").unwrap();
        assert!(t0.elapsed() < Duration::from_millis(500));
        assert_ne!(fs::read_to_string(taken.path()).unwrap(), "deadhost 1 0 0");
        drop(taken);
        assert!(!dead.exists());
        assert!(stale_locks(&locks.dir, locks.lease()).is_empty());
    }

    #[test]
    fn dropping_a_broken_lock_leaves_the_new_holders_file() {
        let (_d, locks) = locks(60_000);
        let mine = locks.acquire("y").unwrap();
        // Someone broke it as stale and holds it now.
        fs::write(mine.path(), "otherhost 7 1 0").unwrap();
        let path = mine.path().to_path_buf();
        drop(mine);
        assert_eq!(fs::read_to_string(&path).unwrap(), "otherhost 7 1 0");
    }
}
