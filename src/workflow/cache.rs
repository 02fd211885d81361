//! The content-addressed product cache on disk.
//!
//! ```text
//! <data>/cache/entries/ab/ab12…ef/record.json   provenance record: name, version, parameters,
//!                                               inputs, timings, and size + SHA-256 per file
//! <data>/cache/entries/ab/ab12…ef/<payload>     the product (postcard, or FITS for events)
//! <data>/cache/tmp/                             entries being written (renamed into place)
//! <data>/cache/locks/ab12…ef.lock               held while a process computes the entry (a
//!                                               lease lock: see [`super::lock`])
//! ```
//!
//! An entry appears atomically (its directory is staged under `tmp/` and renamed into place),
//! is verified against its checksums on every read (a damaged entry is reported, removed and
//! recomputed, never returned), and the cache stays under its size limit by evicting least
//! recently used entries — event lists first, since they regenerate bit-identically and are
//! the largest, then per-ScW intermediates, then products.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lock::{DEFAULT_LOCK_LEASE, LeaseLock, LeaseLocks, stale_locks};
use super::provenance::{GraphNode, Identity, Node, ProvenanceGraph};
use crate::error::{Error, Result};

/// Name of the provenance record in an entry.
pub const RECORD_FILE: &str = "record.json";
/// Staging directories older than this are left-overs of a crashed process.
const STALE_STAGING: Duration = Duration::from_secs(3600);
/// After exceeding its limit the cache is trimmed to this fraction of it (so that eviction
/// does not run after every store).
const TRIM_TO: f64 = 0.9;

/// What kind of data an entry holds; the order is the eviction order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryClass {
    /// Raw event lists: large, and regenerated bit-identically (evicted first).
    Events,
    /// Per-Science-Window intermediates (images, spectral and light-curve fits).
    ScwProduct,
    /// Combined products (mosaics, catalogs, spectra, light curves, fits).
    Product,
}

/// One payload file of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// File name inside the entry.
    pub name: String,
    /// Size, bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// The provenance record of a cache entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The entry's identity.
    pub identity: Identity,
    /// Unit name.
    pub name: String,
    /// Unit version.
    pub version: String,
    /// Unit parameters.
    pub params: serde_json::Value,
    /// Identities of the inputs.
    pub inputs: Vec<Identity>,
    /// Eviction class.
    pub class: EntryClass,
    /// Payload files.
    pub files: Vec<FileRecord>,
    /// Total payload size, bytes.
    pub bytes: u64,
    /// When the entry was stored (Unix seconds).
    pub created_unix: f64,
    /// Time the unit took to compute, s.
    pub compute_s: f64,
    /// Version of `oda` that computed it.
    pub oda_version: String,
}

/// The outcome of looking an entry up.
#[derive(Debug)]
pub enum Lookup {
    /// No such entry.
    Missing,
    /// The entry is complete and its checksums match.
    Valid(Box<Record>, PathBuf),
    /// The entry exists but is damaged: why.
    Corrupt(String),
}

/// Entries and bytes of one kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Number of entries.
    pub entries: usize,
    /// Payload bytes.
    pub bytes: u64,
}

/// What the cache holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Cache directory.
    pub root: PathBuf,
    /// Size limit, bytes.
    pub limit: u64,
    /// All entries.
    pub total: Usage,
    /// Per eviction class.
    pub by_class: Vec<(EntryClass, Usage)>,
    /// Per unit name.
    pub by_unit: Vec<(String, Usage)>,
}

/// What a clean-up did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GcReport {
    /// Entries evicted.
    pub evicted: usize,
    /// Bytes freed by eviction.
    pub freed: u64,
    /// Left-over staging directories, unused lock files and Slurm job directories older than
    /// a week removed.
    pub leftovers: usize,
    /// Bytes in the cache afterwards.
    pub remaining: u64,
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Entries checked.
    pub checked: usize,
    /// Damaged entries (identity, unit name if known, what was wrong); they were removed.
    pub corrupt: Vec<(String, String, String)>,
}

/// An entry found on disk.
#[derive(Clone, Debug)]
struct OnDisk {
    dir: PathBuf,
    record: Option<Record>,
    bytes: u64,
    last_access: SystemTime,
}

/// The product cache: see the module documentation.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    limit: u64,
    /// Bytes in the cache as far as this process knows (scanned at the first store).
    used: Mutex<Option<u64>>,
    staging: AtomicU64,
    locks: LeaseLocks,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Removes the entries of `dir` last modified longer than `age` ago; returns how many.
fn remove_dirs_older_than(dir: &Path, age: Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a > age)
        })
        .filter(|e| fs::remove_dir_all(e.path()).is_ok())
        .count()
}

/// SHA-256 of a file, hex.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Cache {
    /// Opens (creating if needed) the cache at `root` with a size limit of `limit` bytes.
    ///
    /// # Errors
    /// [`Error::Cache`] when the directory cannot be created or written.
    pub fn open(root: impl Into<PathBuf>, limit: u64) -> Result<Cache> {
        let root = root.into();
        for sub in ["entries", "tmp", "locks"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| Error::Cache {
                path: dir.clone(),
                message: format!(
                    "cannot create the cache directory ({e}); set ODA_DATA or --data to a writable directory"
                ),
            })?;
        }
        let probe = root
            .join("tmp")
            .join(format!(".probe-{}", std::process::id()));
        fs::write(&probe, b"")
            .and_then(|()| fs::remove_file(&probe))
            .map_err(|e| Error::Cache {
                path: root.clone(),
                message: format!(
                    "the cache directory is not writable ({e}); set ODA_DATA or --data to a writable directory"
                ),
            })?;
        Ok(Cache {
            locks: LeaseLocks::new(root.join("locks"), DEFAULT_LOCK_LEASE),
            root,
            limit,
            used: Mutex::new(None),
            staging: AtomicU64::new(0),
        })
    }

    /// The same cache with computation locks of `lease` (default [`DEFAULT_LOCK_LEASE`]): a
    /// lock whose holder stopped renewing it for that long is broken by the next process.
    pub fn with_lock_lease(mut self, lease: Duration) -> Cache {
        self.locks = LeaseLocks::new(self.root.join("locks"), lease);
        self
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The size limit, bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The directory of entry `id`.
    pub fn entry_dir(&self, id: &Identity) -> PathBuf {
        let hex = id.hex();
        self.root.join("entries").join(&hex[..2]).join(hex)
    }

    /// Reads an entry's record, without checking its files.
    ///
    /// # Errors
    /// An unreadable or unparsable record.
    pub fn record(&self, id: &Identity) -> Result<Option<Record>> {
        let path = self.entry_dir(id).join(RECORD_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Cache {
                    path,
                    message: format!("unreadable provenance record: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// True when an entry with a record exists (files not verified).
    pub fn contains(&self, id: &Identity) -> bool {
        self.entry_dir(id).join(RECORD_FILE).exists()
    }

    /// Looks entry `id` up and verifies every file against its record.
    pub fn lookup(&self, id: &Identity) -> Lookup {
        let dir = self.entry_dir(id);
        let record = match self.record(id) {
            Ok(Some(r)) => r,
            Ok(None) => return Lookup::Missing,
            Err(e) => return Lookup::Corrupt(e.to_string()),
        };
        if record.identity != *id {
            return Lookup::Corrupt(format!("record names identity {}", record.identity));
        }
        for f in &record.files {
            let path = dir.join(&f.name);
            match fs::metadata(&path) {
                Ok(m) if m.len() == f.size => {}
                Ok(m) => {
                    return Lookup::Corrupt(format!(
                        "{} has {} bytes, the record says {}",
                        f.name,
                        m.len(),
                        f.size
                    ));
                }
                Err(e) => return Lookup::Corrupt(format!("{}: {e}", f.name)),
            }
            match file_sha256(&path) {
                Ok(sum) if sum == f.sha256 => {}
                Ok(_) => return Lookup::Corrupt(format!("{}: checksum mismatch", f.name)),
                Err(e) => return Lookup::Corrupt(format!("{}: {e}", f.name)),
            }
        }
        Lookup::Valid(Box::new(record), dir)
    }

    /// Marks entry `id` as just used (its record's modification time is its last access).
    pub fn touch(&self, id: &Identity) {
        let path = self.entry_dir(id).join(RECORD_FILE);
        if let Ok(f) = File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Removes entry `id` (it disappears atomically: renamed away, then deleted).
    ///
    /// # Errors
    /// I/O errors other than the entry being already gone.
    pub fn remove(&self, id: &Identity) -> Result<()> {
        let dir = self.entry_dir(id);
        let bytes = dir_bytes(&dir);
        let trash = self.staging_dir(&format!("trash-{}", id.short()));
        match fs::rename(&dir, &trash) {
            Ok(()) => {
                let _ = fs::remove_dir_all(&trash);
                if let Ok(mut used) = self.used.lock()
                    && let Some(u) = used.as_mut()
                {
                    *u = u.saturating_sub(bytes);
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dir, e)),
        }
    }

    /// Blocks until this process holds the computation lock of entry `id` (released when the
    /// returned lock is dropped): a lease lock that holds between hosts sharing the cache (see
    /// [`super::lock`]).
    ///
    /// # Errors
    /// The lock file cannot be created.
    pub fn lock(&self, id: &Identity) -> Result<LeaseLock> {
        self.locks.acquire(&id.hex())
    }

    fn staging_dir(&self, tag: &str) -> PathBuf {
        let n = self.staging.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.root
            .join("tmp")
            .join(format!("{tag}.{}.{n}.{nanos}", std::process::id()))
    }

    /// Stores the entry of `node`: `write` puts the payload files into a fresh directory,
    /// which is checksummed, given its record and renamed into place. If another process
    /// stored the same entry meanwhile, its entry is kept. On any failure (a full disk, say)
    /// the staging directory is removed and the cache is as it was.
    ///
    /// # Errors
    /// [`Error::Cache`] naming the unit and the cause; errors of `write`.
    pub fn store(
        &self,
        node: &Node,
        class: EntryClass,
        compute_s: f64,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Record> {
        let stage = self.staging_dir(&node.identity.short());
        let fail = |e: &dyn std::fmt::Display| Error::Cache {
            path: self.root.clone(),
            message: format!(
                "could not store {} ({}): {e}; entries already in the cache are unchanged",
                node.name,
                node.identity.short()
            ),
        };
        let result = (|| -> Result<Record> {
            fs::create_dir(&stage).map_err(|e| fail(&e))?;
            write(&stage).map_err(|e| fail(&e))?;
            let mut files = Vec::new();
            let mut names: Vec<_> = fs::read_dir(&stage)
                .map_err(|e| fail(&e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let path = stage.join(&name);
                let size = fs::metadata(&path).map_err(|e| fail(&e))?.len();
                let sha256 = file_sha256(&path).map_err(|e| fail(&e))?;
                files.push(FileRecord { name, size, sha256 });
            }
            let record = Record {
                identity: node.identity,
                name: node.name.clone(),
                version: node.version.clone(),
                params: node.params.clone(),
                inputs: node.inputs.iter().map(|n| n.identity).collect(),
                class,
                bytes: files.iter().map(|f| f.size).sum(),
                files,
                created_unix: now_unix(),
                compute_s,
                oda_version: env!("CARGO_PKG_VERSION").to_string(),
            };
            let text = serde_json::to_vec_pretty(&record).map_err(|e| fail(&e))?;
            fs::write(stage.join(RECORD_FILE), text).map_err(|e| fail(&e))?;
            let dest = self.entry_dir(&node.identity);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| fail(&e))?;
            }
            if fs::rename(&stage, &dest).is_err() {
                // Another process stored it first (the destination is not empty), or an old
                // damaged entry is in the way: replace the latter, keep the former.
                if matches!(self.lookup(&node.identity), Lookup::Valid(..)) {
                    let _ = fs::remove_dir_all(&stage);
                    return Ok(record);
                }
                self.remove(&node.identity)?;
                fs::rename(&stage, &dest).map_err(|e| fail(&e))?;
            }
            Ok(record)
        })();
        match result {
            Ok(record) => {
                self.account(record.bytes + 1024);
                Ok(record)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&stage);
                Err(e)
            }
        }
    }

    /// Adds `bytes` to the running total and evicts when over the limit.
    fn account(&self, bytes: u64) {
        let over = {
            let Ok(mut used) = self.used.lock() else {
                return;
            };
            let total = match *used {
                Some(u) => u + bytes,
                None => self.scan().iter().map(|e| e.bytes).sum(),
            };
            *used = Some(total);
            total > self.limit
        };
        if over {
            let _ = self.evict((self.limit as f64 * TRIM_TO) as u64);
        }
    }

    /// All entries on disk.
    fn scan(&self) -> Vec<OnDisk> {
        let mut out = Vec::new();
        let Ok(shards) = fs::read_dir(self.root.join("entries")) else {
            return out;
        };
        for shard in shards.filter_map(|s| s.ok()) {
            let Ok(entries) = fs::read_dir(shard.path()) else {
                continue;
            };
            for e in entries.filter_map(|e| e.ok()) {
                let dir = e.path();
                let record_path = dir.join(RECORD_FILE);
                let record = fs::read(&record_path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Record>(&b).ok());
                let last_access = fs::metadata(&record_path)
                    .and_then(|m| m.modified())
                    .unwrap_or(UNIX_EPOCH);
                out.push(OnDisk {
                    bytes: dir_bytes(&dir) + 1024,
                    dir,
                    record,
                    last_access,
                });
            }
        }
        out
    }

    /// Evicts least recently used entries, events first, until at most `target` bytes remain.
    ///
    /// # Errors
    /// I/O errors removing entries.
    pub fn evict(&self, target: u64) -> Result<GcReport> {
        let mut entries = self.scan();
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        // Entries without a readable record go first: they cannot be used anyway.
        entries.sort_by_key(|e| (e.record.as_ref().map(|r| r.class), e.last_access));
        let mut report = GcReport::default();
        for e in entries {
            if total <= target {
                break;
            }
            let trash = self.staging_dir("evicted");
            if fs::rename(&e.dir, &trash).is_ok() {
                let _ = fs::remove_dir_all(&trash);
                total = total.saturating_sub(e.bytes);
                report.evicted += 1;
                report.freed += e.bytes;
            }
        }
        report.remaining = total;
        if let Ok(mut used) = self.used.lock() {
            *used = Some(total);
        }
        Ok(report)
    }

    /// Trims the cache to its limit and removes left-overs of crashed processes (staging
    /// directories older than an hour, lock files not renewed for longer than their lease).
    ///
    /// # Errors
    /// I/O errors removing entries.
    pub fn gc(&self) -> Result<GcReport> {
        let mut report = self.evict(self.limit)?;
        report.leftovers += remove_dirs_older_than(&self.root.join("tmp"), STALE_STAGING);
        for l in stale_locks(&self.root.join("locks"), self.locks.lease()) {
            if fs::remove_file(l).is_ok() {
                report.leftovers += 1;
            }
        }
        report.leftovers +=
            remove_dirs_older_than(&self.root.join("slurm"), super::executor::JOB_DIR_AGE);
        Ok(report)
    }

    /// Checks every entry against its checksums; damaged ones are removed.
    ///
    /// # Errors
    /// I/O errors removing entries.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for e in self.scan() {
            report.checked += 1;
            let name = e
                .record
                .as_ref()
                .map_or("?".to_string(), |r| r.name.clone());
            let id = e
                .dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<Identity>().ok());
            let problem = match &id {
                None => Some("not an entry directory".to_string()),
                Some(id) => match self.lookup(id) {
                    Lookup::Valid(..) => None,
                    Lookup::Missing => Some(format!("no {RECORD_FILE}")),
                    Lookup::Corrupt(why) => Some(why),
                },
            };
            if let Some(why) = problem {
                let shown = id.map_or_else(|| e.dir.display().to_string(), |i| i.hex());
                let trash = self.staging_dir("corrupt");
                if fs::rename(&e.dir, &trash).is_ok() {
                    let _ = fs::remove_dir_all(&trash);
                }
                report.corrupt.push((shown, name, why));
            }
        }
        if let Ok(mut used) = self.used.lock() {
            *used = None;
        }
        Ok(report)
    }

    /// Entries and bytes, in total, per class and per unit.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            root: self.root.clone(),
            limit: self.limit,
            ..CacheStats::default()
        };
        let mut by_class: std::collections::BTreeMap<EntryClass, Usage> = Default::default();
        let mut by_unit: std::collections::BTreeMap<String, Usage> = Default::default();
        for e in self.scan() {
            stats.total.entries += 1;
            stats.total.bytes += e.bytes;
            if let Some(r) = &e.record {
                let c = by_class.entry(r.class).or_default();
                c.entries += 1;
                c.bytes += e.bytes;
                let u = by_unit.entry(r.name.clone()).or_default();
                u.entries += 1;
                u.bytes += e.bytes;
            }
        }
        stats.by_class = by_class.into_iter().collect();
        stats.by_unit = by_unit.into_iter().collect();
        stats
    }

    /// The provenance graph of entry `id`, from the records in the cache; inputs whose records
    /// were evicted appear by identity only.
    ///
    /// # Errors
    /// No entry `id`; unreadable records.
    pub fn provenance(&self, id: &Identity) -> Result<ProvenanceGraph> {
        if self.record(id)?.is_none() {
            return Err(Error::invalid(
                "identity",
                id.hex(),
                format!(
                    "the identity of an entry in the cache at {} (see `oda cache stats`, or the \
                     provenance printed by get-product)",
                    self.root.display()
                ),
            ));
        }
        let mut nodes: Vec<GraphNode> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        // Iterative post-order: inputs before users.
        let mut stack: Vec<(Identity, bool)> = vec![(*id, false)];
        while let Some((cur, expanded)) = stack.pop() {
            if expanded {
                let node = match self.record(&cur)? {
                    Some(r) => GraphNode {
                        identity: cur,
                        name: r.name,
                        version: r.version,
                        params: r.params,
                        inputs: r.inputs,
                        available: true,
                    },
                    None => GraphNode {
                        identity: cur,
                        name: "?".into(),
                        version: "?".into(),
                        params: serde_json::Value::Null,
                        inputs: Vec::new(),
                        available: false,
                    },
                };
                nodes.push(node);
                continue;
            }
            if !seen.insert(cur) {
                continue;
            }
            stack.push((cur, true));
            if let Some(r) = self.record(&cur)? {
                for i in r.inputs.iter().rev() {
                    if !seen.contains(i) {
                        stack.push((*i, false));
                    }
                }
            }
        }
        Ok(ProvenanceGraph { root: *id, nodes })
    }
}

/// Total size of the files in a directory (not recursive: entries are flat).
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(k: u32) -> std::sync::Arc<Node> {
        Node::new("Test", "1", json!({ "k": k }), vec![])
    }

    #[test]
    fn store_lookup_corrupt_and_evict() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c"), 10_000).unwrap();
        let n = node(1);
        assert!(matches!(cache.lookup(&n.identity), Lookup::Missing));
        let rec = cache
            .store(&n, EntryClass::Product, 0.1, |d| {
                fs::write(d.join("a.bin"), vec![7u8; 2000]).map_err(|e| Error::io(d, e))
            })
            .unwrap();
        assert_eq!(rec.bytes, 2000);
        let Lookup::Valid(r, path) = cache.lookup(&n.identity) else {
            panic!("stored entry not valid")
        };
        assert_eq!(*r, rec);
        // Damage one byte: detected.
        let mut bytes = fs::read(path.join("a.bin")).unwrap();
        bytes[10] ^= 1;
        fs::write(path.join("a.bin"), bytes).unwrap();
        assert!(matches!(cache.lookup(&n.identity), Lookup::Corrupt(m) if m.contains("checksum")));
        let report = cache.verify().unwrap();
        assert_eq!(report.corrupt.len(), 1);
        assert!(matches!(cache.lookup(&n.identity), Lookup::Missing));
        // A failing writer leaves nothing behind.
        let bad = node(2);
        let err = cache
            .store(&bad, EntryClass::Product, 0.0, |d| {
                fs::write(d.join("x"), b"partial").map_err(|e| Error::io(d, e))?;
                Err(Error::io(d, std::io::Error::other("disk full")))
            })
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(!cache.contains(&bad.identity));
        assert_eq!(fs::read_dir(dir.path().join("c/tmp")).unwrap().count(), 0);
        // Five 3 kB entries under a 10 kB limit: events go first, then the oldest.
        for k in 10..15 {
            let class = if k == 14 {
                EntryClass::Events
            } else {
                EntryClass::Product
            };
            cache
                .store(&node(k), class, 0.0, |d| {
                    fs::write(d.join("p"), vec![0u8; 3000]).map_err(|e| Error::io(d, e))
                })
                .unwrap();
        }
        let stats = cache.stats();
        assert!(stats.total.bytes <= 10_000, "{stats:?}");
        assert!(!cache.contains(&node(14).identity), "events evicted first");
        assert!(cache.contains(&node(13).identity), "newest product kept");
        assert!(
            !cache.contains(&node(10).identity),
            "oldest product evicted"
        );
    }
}
