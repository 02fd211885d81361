//! Settings: where data live, which archive to read, and the simulation seed.
//!
//! | setting | command line | environment | default |
//! |---|---|---|---|
//! | data directory (cache, simulated archive) | `--data DIR` | `ODA_DATA` | `$XDG_DATA_HOME/oda` (`~/.local/share/oda`) |
//! | real archive root | `--archive DIR` | `ODA_ARCHIVE` | none: the simulated archive |
//! | simulation seed | `--seed N` | `ODA_SIM_SEED` | [`DEFAULT_SEED`] |
//! | extra simulated sources (JSON) | `--sky FILE` | `ODA_SIM_SKY` | none |
//! | simulated instrument off its calibration | `--perturb SPEC` | `ODA_SIM_PERTURB` | none |
//! | where per-ScW units run: `local` or `slurm` ([`Executor`]) | `--executor` | `ODA_EXECUTOR` | `local` |
//! | Slurm partition, task time limit, units per task, CPUs per task, extra `sbatch` options ([`SlurmSettings`]) | `--slurm-partition`, `--slurm-time`, `--slurm-units-per-task`, `--slurm-cpus-per-task`, `--slurm-sbatch-args` | `ODA_SLURM_PARTITION`, `ODA_SLURM_TIME`, `ODA_SLURM_UNITS_PER_TASK`, `ODA_SLURM_CPUS_PER_TASK`, `ODA_SLURM_SBATCH_ARGS` | the cluster's default partition, `1:00:00`, 10, 1, none |
//! | the `oda` program Slurm tasks run | | `ODA_WORKER` | this program when it is `oda`, else `oda` on the `PATH` |
//! | lease of the cache's computation locks, seconds | | `ODA_LOCK_LEASE` | 60 |
//!
//! The command line wins over the environment, which wins over the default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The default simulation seed (INTEGRAL's launch date).
pub const DEFAULT_SEED: u64 = 20_021_017;

/// Version of the simulated mission (sky, observing plan, instrument model, event generator,
/// calibration files). Materialised files live under a directory named after it, so files
/// written by an older model are never mixed with a newer one: bump it with any change that
/// alters an index row, an event or a calibration file. Defined with the settings because it
/// names the simulated archive's directory; `oda::simulate::MODEL_VERSION` is the same.
pub const SIMULATION_MODEL_VERSION: u32 = 3;

/// Where the Science Window data come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveSource {
    /// The embedded simulated mission, materialised under the data directory.
    Simulated,
    /// A real archive tree (`scw/`, `idx/scw/`) at this root.
    Real(PathBuf),
}

/// Where a product's data came from: what `oda publish verify` needs to make it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataOrigin {
    /// The embedded simulated mission.
    Simulated {
        /// The simulation seed.
        seed: u64,
        /// The simulation's model version ([`SIMULATION_MODEL_VERSION`]).
        model_version: u32,
        /// SHA-256 of the file of extra sources added to the sky (`ODA_SIM_SKY`), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra_sky_sha256: Option<String>,
        /// How the simulated instrument differed from its calibration (`ODA_SIM_PERTURB`), if
        /// it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        perturbation: Option<Perturbation>,
    },
    /// A real archive (its root on the machine that made the product).
    Real {
        /// The archive root.
        root: String,
    },
}

/// The settings of one session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Data directory: simulated archive, cache.
    pub data_dir: PathBuf,
    /// The archive to read.
    pub archive: ArchiveSource,
    /// Simulation seed (used only with the simulated archive).
    pub seed: u64,
    /// Size limit of the product cache, bytes (`ODA_CACHE_LIMIT`, e.g. `6G`).
    pub cache_limit: u64,
    /// Sources added to the simulated sky (`ODA_SIM_SKY`; used only with the simulated archive).
    #[serde(default)]
    pub sky_file: Option<SkyFile>,
    /// The simulated instrument made to differ from its calibration (`ODA_SIM_PERTURB`; used
    /// only with the simulated archive).
    #[serde(default)]
    pub perturbation: Option<Perturbation>,
    /// Where per-Science-Window units run (`ODA_EXECUTOR`). Not serialised: how a product
    /// was computed is not part of what it is (both executors give identical bytes).
    #[serde(skip)]
    pub executor: Executor,
    /// Lease of the cache's computation locks (`ODA_LOCK_LEASE`; default 60 s).
    #[serde(skip)]
    pub lock_lease: Option<std::time::Duration>,
}

/// Where the workflow computes the independent per-Science-Window units of a request (images,
/// spectral and light-curve fits); everything else runs in the requesting process.
///
/// ```
/// use oda::config::Executor;
/// assert_eq!("local".parse::<Executor>()?, Executor::Local);
/// assert!(matches!("slurm".parse::<Executor>()?, Executor::Slurm(_)));
/// assert!("pbs".parse::<Executor>().is_err());
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Executor {
    /// In this process, on every core.
    #[default]
    Local,
    /// On a Slurm cluster: one job array of `oda worker` tasks per stage, computing into the
    /// cache of a data directory every node shares.
    Slurm(SlurmSettings),
}

impl std::str::FromStr for Executor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Executor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Executor::Local),
            "slurm" => Ok(Executor::Slurm(SlurmSettings::default())),
            _ => Err(Error::invalid("executor", s, "local or slurm")),
        }
    }
}

impl Executor {
    /// The executor of the environment: `ODA_EXECUTOR` (`local`, `slurm`), with Slurm's
    /// settings from `ODA_SLURM_*` and `ODA_WORKER` (see [`SlurmSettings::from_env`]).
    ///
    /// # Errors
    /// A value outside those allowed, naming the variable.
    pub fn from_env() -> Result<Executor> {
        match std::env::var("ODA_EXECUTOR") {
            Ok(v) if !v.trim().is_empty() => match v.parse::<Executor>() {
                Ok(Executor::Slurm(_)) => Ok(Executor::Slurm(SlurmSettings::from_env()?)),
                Ok(e) => Ok(e),
                Err(_) => Err(Error::Setting {
                    name: "ODA_EXECUTOR".into(),
                    message: format!("{v:?} is not an executor: give local or slurm"),
                }),
            },
            _ => Ok(Executor::Local),
        }
    }
}

/// How the Slurm executor submits its job arrays.
///
/// ```
/// use oda::config::SlurmSettings;
/// let s = SlurmSettings::default().with_time_limit("0:30:00")?.with_units_per_task(5)?;
/// assert_eq!((s.time_limit.as_str(), s.units_per_task, s.cpus_per_task), ("0:30:00", 5, 1));
/// assert!(SlurmSettings::default().with_time_limit("half an hour").is_err());
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmSettings {
    /// Partition (`--partition`); none: the cluster's default.
    pub partition: Option<String>,
    /// Time limit of each array task (`--time`), in one of Slurm's formats (`minutes`,
    /// `H:MM:SS`, `D-HH:MM`, …).
    pub time_limit: String,
    /// Units (Science Windows of one stage) computed by each array task.
    pub units_per_task: usize,
    /// CPUs of each task (`--cpus-per-task`): the worker computes that many units at once.
    pub cpus_per_task: usize,
    /// Further `sbatch` options, e.g. `--account=…`, `--qos=…`, `--constraint=…`.
    pub sbatch_args: Vec<String>,
    /// The `oda` program the tasks run (on the compute nodes: a path every node sees).
    pub worker_program: PathBuf,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        SlurmSettings {
            partition: None,
            time_limit: "1:00:00".into(),
            units_per_task: 10,
            cpus_per_task: 1,
            sbatch_args: Vec::new(),
            worker_program: default_worker_program(),
        }
    }
}

/// This program when it is `oda` (the command line, `oda serve`), else `oda` on the `PATH` (a
/// notebook kernel, a test binary).
fn default_worker_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .filter(|p| p.file_name().is_some_and(|n| n == "oda"))
        .unwrap_or_else(|| PathBuf::from("oda"))
}

impl SlurmSettings {
    /// The settings of the environment: `ODA_SLURM_PARTITION`, `ODA_SLURM_TIME`,
    /// `ODA_SLURM_UNITS_PER_TASK`, `ODA_SLURM_CPUS_PER_TASK`, `ODA_SLURM_SBATCH_ARGS` (split
    /// at white space) and `ODA_WORKER`; defaults for those unset.
    ///
    /// # Errors
    /// A value outside those allowed, naming the variable.
    pub fn from_env() -> Result<SlurmSettings> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        fn named<T>(name: &str, r: Result<T>) -> Result<T> {
            r.map_err(|e| match e {
                Error::InvalidParameter { value, allowed, .. } => Error::Setting {
                    name: name.into(),
                    message: format!("{value:?}: {allowed}"),
                },
                e => e,
            })
        }
        let mut s = SlurmSettings::default();
        if let Some(p) = var("ODA_SLURM_PARTITION") {
            s = s.with_partition(&p);
        }
        if let Some(t) = var("ODA_SLURM_TIME") {
            s = named("ODA_SLURM_TIME", s.with_time_limit(&t))?;
        }
        if let Some(n) = var("ODA_SLURM_UNITS_PER_TASK") {
            let v = named(
                "ODA_SLURM_UNITS_PER_TASK",
                parse_count("units per task", &n),
            )?;
            s = named("ODA_SLURM_UNITS_PER_TASK", s.with_units_per_task(v))?;
        }
        if let Some(n) = var("ODA_SLURM_CPUS_PER_TASK") {
            let v = named("ODA_SLURM_CPUS_PER_TASK", parse_count("CPUs per task", &n))?;
            s = named("ODA_SLURM_CPUS_PER_TASK", s.with_cpus_per_task(v))?;
        }
        if let Some(a) = var("ODA_SLURM_SBATCH_ARGS") {
            s = s.with_sbatch_args(&a);
        }
        if let Some(w) = var("ODA_WORKER") {
            s.worker_program = PathBuf::from(w);
        }
        Ok(s)
    }

    /// With partition `name` (empty: the cluster's default).
    pub fn with_partition(mut self, name: &str) -> SlurmSettings {
        self.partition = Some(name.trim().to_string()).filter(|p| !p.is_empty());
        self
    }

    /// With a time limit per task in one of Slurm's formats.
    ///
    /// # Errors
    /// Anything but digits separated by `:` and `-`.
    pub fn with_time_limit(mut self, limit: &str) -> Result<SlurmSettings> {
        let t = limit.trim();
        let ok = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '-')
            && t.split([':', '-']).all(|part| !part.is_empty())
            || t == "UNLIMITED";
        if !ok {
            return Err(Error::invalid(
                "slurm time limit",
                limit,
                "Slurm's formats: minutes, M:SS, H:MM:SS, D-H, D-H:MM, D-H:MM:SS or UNLIMITED",
            ));
        }
        self.time_limit = t.to_string();
        Ok(self)
    }

    /// With `n` units per array task.
    ///
    /// # Errors
    /// `n` outside 1–10 000.
    pub fn with_units_per_task(mut self, n: usize) -> Result<SlurmSettings> {
        if !(1..=10_000).contains(&n) {
            return Err(Error::invalid("units per task", n, "1 to 10000"));
        }
        self.units_per_task = n;
        Ok(self)
    }

    /// With `n` CPUs per task.
    ///
    /// # Errors
    /// `n` outside 1–1024.
    pub fn with_cpus_per_task(mut self, n: usize) -> Result<SlurmSettings> {
        if !(1..=1024).contains(&n) {
            return Err(Error::invalid("CPUs per task", n, "1 to 1024"));
        }
        self.cpus_per_task = n;
        Ok(self)
    }

    /// With further `sbatch` options, given as one string split at white space.
    pub fn with_sbatch_args(mut self, args: &str) -> SlurmSettings {
        self.sbatch_args = args.split_whitespace().map(str::to_string).collect();
        self
    }
}

fn parse_count(name: &str, value: &str) -> Result<usize> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::invalid(name, value, "a positive integer"))
}

/// The lease of the cache's computation locks from `ODA_LOCK_LEASE` (seconds), if set.
///
/// # Errors
/// Not a number of seconds between 1 and 3600.
pub fn lock_lease_from_env() -> Result<Option<std::time::Duration>> {
    match std::env::var("ODA_LOCK_LEASE") {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<f64>() {
            Ok(s) if (1.0..=3600.0).contains(&s) => Ok(Some(std::time::Duration::from_secs_f64(s))),
            _ => Err(Error::Setting {
                name: "ODA_LOCK_LEASE".into(),
                message: format!("{v:?} is not a lease: give seconds from 1 to 3600"),
            }),
        },
        _ => Ok(None),
    }
}

/// Deliberate differences between the simulated instrument and its calibration files: what-ifs
/// that show how results degrade when the calibration is wrong (`--perturb SPEC`,
/// `ODA_SIM_PERTURB`). The calibration files stay those of the nominal instrument; only the
/// events change.
///
/// A spec is a comma-separated list of `name=value`; names left out keep their nominal value:
///
/// | name | meaning | nominal | allowed |
/// |---|---|---|---|
/// | `area` | effective area of the instrument over the calibrated one (1.05: 5 % more source photons at every energy) | 1 | 0.5–2 |
/// | `gain` | gain over the instrument's gain history (1.01: pulse heights 1 % above what the calibration's gain estimate assumes) | 1 | 0.9–1.1 |
/// | `background_ramp` | extra background, as a fraction of the nominal, rising linearly across the detector from nothing at DETY = 0 (the background's shape no longer matches the calibration's maps) | 0 | 0–1 |
/// | `mask_shift_mm` | displacement of the mask relative to the detector along DETY:DETZ, mm (the analysis's PIF is off by as much; 1 mm is 1.07′ on the sky) | 0:0 | ±5 each |
///
/// ```
/// use oda::config::Perturbation;
/// let p: Perturbation = "area=1.05, mask_shift_mm=0.5:-1".parse()?;
/// assert_eq!(p.area_scale, 1.05);
/// assert_eq!(p.mask_shift_mm, [0.5, -1.0]);
/// assert_eq!(p.gain_scale, 1.0);
/// assert_eq!(p.to_string(), "area=1.05,gain=1,background_ramp=0,mask_shift_mm=0.5:-1");
/// assert!("area=3".parse::<Perturbation>().is_err());
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Perturbation {
    /// Effective area over the calibrated one.
    pub area_scale: f64,
    /// Gain over the gain history.
    pub gain_scale: f64,
    /// Extra background as a fraction of the nominal, as a ramp across the detector.
    pub background_ramp: f64,
    /// Mask displacement relative to the detector, mm, along DETY and DETZ.
    pub mask_shift_mm: [f64; 2],
}

// Values are checked finite when parsed: equality is an equivalence.
impl Eq for Perturbation {}

impl Default for Perturbation {
    fn default() -> Perturbation {
        Perturbation::NOMINAL
    }
}

impl Perturbation {
    /// The instrument as calibrated.
    pub const NOMINAL: Perturbation = Perturbation {
        area_scale: 1.0,
        gain_scale: 1.0,
        background_ramp: 0.0,
        mask_shift_mm: [0.0, 0.0],
    };

    /// True when nothing differs from the calibration.
    pub fn is_nominal(&self) -> bool {
        *self == Perturbation::NOMINAL
    }

    /// SHA-256 of the canonical spec ([`Perturbation`]'s `Display`), hex: names the archive.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Display for Perturbation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "area={},gain={},background_ramp={},mask_shift_mm={}:{}",
            self.area_scale,
            self.gain_scale,
            self.background_ramp,
            self.mask_shift_mm[0],
            self.mask_shift_mm[1]
        )
    }
}

impl std::str::FromStr for Perturbation {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Perturbation> {
        const ALLOWED: &str = "comma-separated name=value of area (0.5–2), gain (0.9–1.1), \
                               background_ramp (0–1), mask_shift_mm (DETY:DETZ, each ±5)";
        let bad = |value: &str, allowed: &str| Error::invalid("perturbation", value, allowed);
        let number = |item: &str, v: &str, lo: f64, hi: f64, what: &str| -> Result<f64> {
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
                _ => Err(bad(item, what)),
            }
        };
        let mut p = Perturbation::NOMINAL;
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((name, value)) = item.split_once('=') else {
                return Err(bad(item, ALLOWED));
            };
            match name.trim() {
                "area" => p.area_scale = number(item, value, 0.5, 2.0, "area between 0.5 and 2")?,
                "gain" => p.gain_scale = number(item, value, 0.9, 1.1, "gain between 0.9 and 1.1")?,
                "background_ramp" => {
                    p.background_ramp =
                        number(item, value, 0.0, 1.0, "background_ramp between 0 and 1")?;
                }
                "mask_shift_mm" => {
                    let what = "mask_shift_mm=DETY:DETZ in mm, each between -5 and 5";
                    let Some((y, z)) = value.split_once(':') else {
                        return Err(bad(item, what));
                    };
                    p.mask_shift_mm = [
                        number(item, y, -5.0, 5.0, what)?,
                        number(item, z, -5.0, 5.0, what)?,
                    ];
                }
                _ => return Err(bad(item, ALLOWED)),
            }
        }
        // -0 and 0 are one value (one spec, one archive).
        p.mask_shift_mm = p.mask_shift_mm.map(|x| x + 0.0);
        p.background_ramp += 0.0;
        Ok(p)
    }
}

/// A file of extra sources for the simulated sky (see `oda::simulate::ExtraSky`) and the
/// SHA-256 of its content when the settings were made: the simulated archive with these
/// sources lives in its own directory, named after the digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkyFile {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

impl SkyFile {
    /// Reads `path` and digests it.
    ///
    /// # Errors
    /// An unreadable file, named as the setting `ODA_SIM_SKY`.
    pub fn new(path: impl Into<PathBuf>) -> Result<SkyFile> {
        use sha2::{Digest, Sha256};
        let path = path.into();
        let bytes = std::fs::read(&path).map_err(|e| Error::Setting {
            name: "ODA_SIM_SKY".into(),
            message: format!("cannot read the sky file {}: {e}", path.display()),
        })?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(SkyFile { path, sha256 })
    }
}

/// Default size limit of the product cache: 6 GiB, room for the events of a 50-ScW request
/// next to everything derived from them.
pub const DEFAULT_CACHE_LIMIT: u64 = 6 << 30;

/// Parses a size such as `6G`, `500M`, `64k` or a plain number of bytes (binary units).
///
/// # Errors
/// Anything else, naming `name`.
pub fn parse_size(name: &str, value: &str) -> Result<u64> {
    let v = value.trim();
    let (digits, unit) = match v.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&v[..i], v[i..].to_ascii_lowercase()),
        None => (v, String::new()),
    };
    let scale: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => 0,
    };
    match digits.trim().parse::<f64>() {
        Ok(x) if scale > 0 && x.is_finite() && x > 0.0 => Ok((x * scale as f64) as u64),
        _ => Err(Error::Setting {
            name: name.into(),
            message: format!(
                "{value:?} is not a size: give bytes or a number with K, M, G or T (e.g. 6G)"
            ),
        }),
    }
}

impl Settings {
    /// Settings from the environment (`ODA_DATA`, `ODA_ARCHIVE`, `ODA_SIM_SEED`) and defaults.
    ///
    /// # Errors
    /// An unparsable `ODA_SIM_SEED`, or no data directory when neither `ODA_DATA` nor a home
    /// directory is known.
    pub fn from_env() -> Result<Settings> {
        let data_dir = match std::env::var_os("ODA_DATA").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => dirs::data_dir()
                .map(|d| d.join("oda"))
                .ok_or_else(|| Error::Setting {
                    name: "ODA_DATA".into(),
                    message:
                        "no data directory: set ODA_DATA or --data (no home directory is known)"
                            .into(),
                })?,
        };
        let archive = match std::env::var_os("ODA_ARCHIVE").filter(|v| !v.is_empty()) {
            Some(root) => ArchiveSource::Real(PathBuf::from(root)),
            None => ArchiveSource::Simulated,
        };
        let seed = match std::env::var("ODA_SIM_SEED") {
            Ok(s) if !s.trim().is_empty() => parse_seed("ODA_SIM_SEED", &s)?,
            _ => DEFAULT_SEED,
        };
        let cache_limit = match std::env::var("ODA_CACHE_LIMIT") {
            Ok(s) if !s.trim().is_empty() => parse_size("ODA_CACHE_LIMIT", &s)?,
            _ => DEFAULT_CACHE_LIMIT,
        };
        let sky_file = match std::env::var_os("ODA_SIM_SKY").filter(|v| !v.is_empty()) {
            Some(path) => Some(SkyFile::new(PathBuf::from(path))?),
            None => None,
        };
        let perturbation = match std::env::var("ODA_SIM_PERTURB") {
            Ok(s) if !s.trim().is_empty() => Some(parse_perturbation("ODA_SIM_PERTURB", &s)?),
            _ => None,
        };
        Ok(Settings {
            data_dir,
            archive,
            seed,
            cache_limit,
            sky_file,
            perturbation,
            executor: Executor::from_env()?,
            lock_lease: lock_lease_from_env()?,
        })
    }

    /// These settings with the simulated instrument perturbed from its calibration (a nominal
    /// perturbation is none).
    pub fn with_perturbation(mut self, perturbation: Perturbation) -> Settings {
        self.perturbation = Some(perturbation).filter(|p| !p.is_nominal());
        self
    }

    /// These settings adding the sources of the JSON file at `path` to the simulated sky.
    ///
    /// # Errors
    /// An unreadable file (its content is checked when the archive is opened).
    pub fn with_sky_file(mut self, path: impl Into<PathBuf>) -> Result<Settings> {
        self.sky_file = Some(SkyFile::new(path)?);
        Ok(self)
    }

    /// These settings with another data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Settings {
        self.data_dir = dir.into();
        self
    }

    /// These settings reading the real archive at `root`.
    pub fn with_archive(mut self, root: impl Into<PathBuf>) -> Settings {
        self.archive = ArchiveSource::Real(root.into());
        self
    }

    /// These settings with simulation seed `seed`.
    pub fn with_seed(mut self, seed: u64) -> Settings {
        self.seed = seed;
        self
    }

    /// Settings for the simulated archive under `data_dir` with the default seed (for tests and examples).
    pub fn simulated(data_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            data_dir: data_dir.into(),
            archive: ArchiveSource::Simulated,
            seed: DEFAULT_SEED,
            cache_limit: DEFAULT_CACHE_LIMIT,
            sky_file: None,
            perturbation: None,
            executor: Executor::Local,
            lock_lease: None,
        }
    }

    /// These settings computing per-Science-Window units with `executor`.
    pub fn with_executor(mut self, executor: Executor) -> Settings {
        self.executor = executor;
        self
    }

    /// These settings with a cache size limit of `bytes`.
    pub fn with_cache_limit(mut self, bytes: u64) -> Settings {
        self.cache_limit = bytes;
        self
    }

    /// Where products made with these settings come from.
    pub fn origin(&self) -> DataOrigin {
        match &self.archive {
            ArchiveSource::Simulated => DataOrigin::Simulated {
                seed: self.seed,
                model_version: SIMULATION_MODEL_VERSION,
                extra_sky_sha256: self.sky_file.as_ref().map(|f| f.sha256.clone()),
                perturbation: self.perturbation,
            },
            ArchiveSource::Real(root) => DataOrigin::Real {
                root: root.display().to_string(),
            },
        }
    }

    /// The product cache directory: `cache/` in the data directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }

    /// The root of the archive tree: the real root, or the simulated archive of this seed.
    pub fn archive_root(&self) -> PathBuf {
        match &self.archive {
            ArchiveSource::Real(root) => root.clone(),
            ArchiveSource::Simulated => {
                // Extra sources and a perturbed instrument change events: their archive is
                // another directory.
                let mut name = format!("seed-{}", self.seed);
                if let Some(f) = &self.sky_file {
                    name.push_str(&format!("-sky-{}", &f.sha256[..16]));
                }
                if let Some(p) = self.perturbation.filter(|p| !p.is_nominal()) {
                    name.push_str(&format!("-perturbed-{}", &p.digest()[..16]));
                }
                simulated_root(&self.data_dir, self.seed).with_file_name(name)
            }
        }
    }
}

/// Where the simulated archive of `seed` lives under `data_dir`: one tree per
/// [`SIMULATION_MODEL_VERSION`] of the simulation.
pub fn simulated_root(data_dir: &Path, seed: u64) -> PathBuf {
    data_dir
        .join("simulated-archive")
        .join(format!("v{}", SIMULATION_MODEL_VERSION))
        .join(format!("seed-{seed}"))
}

/// A file in the temporary directory that belongs to this process only: `<name>-<pid>-<start>`,
/// where `<start>` is the process's start time (so a later process reusing the id does not see
/// it). Notebook cells are separate shared libraries with their own statics; state that must
/// last for the kernel process (an activated publication, plotly.js already inlined) lives in
/// such a file instead.
pub(crate) fn process_mark(name: &str) -> PathBuf {
    let start = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(19).map(str::to_string))
        })
        .unwrap_or_default();
    std::env::temp_dir().join(format!("{name}-{}-{start}", std::process::id()))
}

/// Parses a perturbation spec given as setting `name` (see [`Perturbation`]).
///
/// # Errors
/// A spec that does not parse, named as the setting.
pub fn parse_perturbation(name: &str, value: &str) -> Result<Perturbation> {
    value.parse().map_err(|e: Error| match e {
        Error::InvalidParameter { value, allowed, .. } => Error::Setting {
            name: name.into(),
            message: format!("{value:?} is not a perturbation: give {allowed}"),
        },
        other => other,
    })
}

/// Parses a seed given as setting `name`.
///
/// # Errors
/// Anything but a non-negative integer below 2⁶⁴.
pub fn parse_seed(name: &str, value: &str) -> Result<u64> {
    value.trim().parse().map_err(|_| Error::Setting {
        name: name.into(),
        message: format!("{value:?} is not a seed: give a non-negative integer below 2^64"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_or_explain() {
        assert_eq!(parse_seed("--seed", " 42 ").unwrap(), 42);
        let e = parse_seed("ODA_SIM_SEED", "-3").unwrap_err().to_string();
        assert!(e.contains("ODA_SIM_SEED") && e.contains("-3"), "{e}");
    }

    #[test]
    fn roots() {
        let s = Settings::simulated("/tmp/x").with_seed(7);
        assert_eq!(
            s.archive_root(),
            PathBuf::from(format!(
                "/tmp/x/simulated-archive/v{}/seed-7",
                SIMULATION_MODEL_VERSION
            ))
        );
        let perturbed = s
            .clone()
            .with_perturbation("gain=1.01".parse().unwrap())
            .archive_root();
        assert_ne!(perturbed, s.archive_root());
        assert!(
            perturbed.to_string_lossy().contains("/seed-7-perturbed-"),
            "{perturbed:?}"
        );
        // A nominal perturbation is none: the nominal archive.
        assert_eq!(
            s.clone()
                .with_perturbation(Perturbation::NOMINAL)
                .archive_root(),
            s.archive_root()
        );
        assert_eq!(
            s.with_archive("/data/integral").archive_root(),
            PathBuf::from("/data/integral")
        );
    }

    #[test]
    fn perturbations_parse_round_trip_or_explain() {
        let p: Perturbation = " gain=0.99 ,background_ramp=0.2,mask_shift_mm=-0:1.5"
            .parse()
            .unwrap();
        assert_eq!(p.to_string().parse::<Perturbation>().unwrap(), p);
        assert_eq!(p.mask_shift_mm, [0.0, 1.5]);
        assert!("".parse::<Perturbation>().unwrap().is_nominal());
        for bad in [
            "gain=1.2",
            "area=nan",
            "mask_shift_mm=1",
            "colour=red",
            "area",
        ] {
            let e = parse_perturbation("ODA_SIM_PERTURB", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("ODA_SIM_PERTURB") && e.contains(bad), "{e}");
        }
    }
}
