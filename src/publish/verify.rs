//! `oda publish verify`: are the published files the ones the manifest lists, and does running
//! every product's request again give them bit for bit?

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bundle::checksums;
use super::manifest::{ArchiveRecord, Manifest, ProductRecord};
use crate::config::Settings;
use crate::error::{Error, PublishErrorKind, Result};
use crate::products::Citation;
use crate::query::{Request, Session};

/// Options of [`verify`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Settings for the re-runs (data directory, cache); the archive and seed are the
    /// recorded ones, whatever these say.
    pub settings: Settings,
    /// Re-run the products' requests (the default); `false` checks checksums only.
    pub rerun: bool,
    /// Also execute the notebooks (in the "Rust (oda)" kernel) and compare the products they
    /// write with the published ones.
    pub notebooks: bool,
}

/// The outcome for one file.
#[derive(Clone, Debug, PartialEq)]
pub enum FileCheck {
    /// Bytes as the manifest says.
    Identical,
    /// Not there.
    Missing,
    /// Different bytes: what differs (the HDU of a FITS file, the largest relative change).
    Different(String),
}

/// The outcome for one product's re-run.
#[derive(Clone, Debug, PartialEq)]
pub enum ProductCheck {
    /// Every file made again equals the published one.
    Identical,
    /// Some files differ: (key, what differs).
    Different(Vec<(String, String)>),
    /// It could not be re-run here (the archive is not available, another simulation model).
    NotRerun(String),
}

/// The report of [`verify`].
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// The directory holding the manifest.
    pub dir: PathBuf,
    /// The DOI.
    pub doi: String,
    /// Every file: (key, outcome).
    pub files: Vec<(String, FileCheck)>,
    /// Every product: (product directory, outcome).
    pub products: Vec<(String, ProductCheck)>,
}

impl VerifyReport {
    /// True when every file and every re-run product is identical.
    pub fn all_identical(&self) -> bool {
        self.files.iter().all(|(_, c)| *c == FileCheck::Identical)
            && self
                .products
                .iter()
                .all(|(_, c)| *c == ProductCheck::Identical)
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "doi:{} — {}", self.doi, self.dir.display())?;
        for (key, c) in &self.files {
            match c {
                FileCheck::Identical => writeln!(f, "  identical  {key}")?,
                FileCheck::Missing => writeln!(f, "  MISSING    {key}")?,
                FileCheck::Different(d) => writeln!(f, "  DIFFERENT  {key}: {d}")?,
            }
        }
        for (dir, c) in &self.products {
            match c {
                ProductCheck::Identical => writeln!(f, "  re-run identical  {dir}")?,
                ProductCheck::NotRerun(why) => writeln!(f, "  NOT RE-RUN  {dir}: {why}")?,
                ProductCheck::Different(list) => {
                    for (key, d) in list {
                        writeln!(f, "  re-run DIFFERENT  {dir}: {key}: {d}")?;
                    }
                }
            }
        }
        let bad = self
            .files
            .iter()
            .filter(|(_, c)| *c != FileCheck::Identical)
            .count()
            + self
                .products
                .iter()
                .filter(|(_, c)| *c != ProductCheck::Identical)
                .count();
        if bad == 0 {
            write!(
                f,
                "identical: {} files, {} products re-run",
                self.files.len(),
                self.products.len()
            )
        } else {
            write!(f, "NOT identical: {bad} problem(s)")
        }
    }
}

/// Finds the manifest: `dir/manifest.json` (a bundle or a downloaded record) or
/// `dir/bundle/manifest.json` (a publication).
fn find_manifest(dir: &Path) -> Result<(PathBuf, Manifest)> {
    for base in [dir.to_path_buf(), dir.join("bundle")] {
        let p = base.join("manifest.json");
        if p.is_file() {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            let m: Manifest = serde_json::from_str(&text).map_err(|e| {
                Error::publish(
                    PublishErrorKind::Verification,
                    format!("{}: not an oda manifest ({e})", p.display()),
                )
            })?;
            let bad_key = m
                .files
                .iter()
                .map(|f| f.key.as_str())
                .chain(m.notebooks.iter().map(String::as_str))
                .find(|k| k.is_empty() || k.contains(['/', '\\']) || *k == ".." || *k == ".");
            if let Some(bad) = bad_key {
                return Err(Error::publish(
                    PublishErrorKind::Verification,
                    format!(
                        "{}: the file key {bad:?} is not a plain file name",
                        p.display()
                    ),
                ));
            }
            return Ok((base, m));
        }
    }
    Err(Error::publish(
        PublishErrorKind::Verification,
        format!(
            "{} has no manifest.json (nor bundle/manifest.json): give a publication, a bundle or a downloaded record",
            dir.display()
        ),
    ))
}

/// Checks the files in `dir` (a publication, a bundle or a directory downloaded from a record)
/// against the manifest, then re-runs every product's request on the archive it was made from
/// and compares the new files with the published ones.
///
/// # Errors
/// No or a malformed manifest; errors of a re-run other than the archive being unavailable.
pub fn verify(dir: &Path, options: &VerifyOptions) -> Result<VerifyReport> {
    let (base, manifest) = find_manifest(dir)?;
    let mut files = Vec::new();
    for f in &manifest.files {
        let p = base.join(&f.key);
        let check = if !p.is_file() {
            FileCheck::Missing
        } else {
            let (sha, _, size) = checksums(&p)?;
            if sha == f.sha256 && size == f.size {
                FileCheck::Identical
            } else {
                FileCheck::Different(describe_difference(
                    &f.key,
                    &p,
                    manifest.hdus.get(&f.key),
                    size,
                    f.size,
                ))
            }
        };
        files.push((f.key.clone(), check));
    }
    let mut products = Vec::new();
    if options.rerun {
        for p in &manifest.products {
            products.push((p.dir.clone(), rerun(&base, &manifest, p, options)?));
        }
    }
    if options.notebooks {
        products.extend(rerun_notebooks(&base, &manifest, options)?);
    }
    Ok(VerifyReport {
        dir: base,
        doi: manifest.doi.clone(),
        files,
        products,
    })
}

/// Executes the record's notebooks in the "Rust (oda)" kernel, in a scratch publication
/// directory that holds only the journal (so the notebooks reopen the publication offline and
/// write their products under it), and compares the products they write with the published
/// files of the same product directory and name.
fn rerun_notebooks(
    base: &Path,
    manifest: &Manifest,
    options: &VerifyOptions,
) -> Result<Vec<(String, ProductCheck)>> {
    let scratch = tempdir_in_data(&options.settings)?;
    let journal = super::journal::Journal {
        doi: Some(manifest.doi.clone()),
        citation: manifest.citation.clone(),
        ..super::journal::Journal::new(
            super::target::Target::ZenodoSandbox,
            super::target::Api::Rdm,
            super::metadata::Metadata::default(),
        )
    };
    journal.save(&scratch.0)?;
    let nb_dir = scratch.0.join("notebooks");
    std::fs::create_dir_all(&nb_dir).map_err(|e| Error::io(&nb_dir, e))?;
    // The notebooks read the seed from the environment: give them the products' recorded one.
    let seed = manifest.products.iter().find_map(|p| match p.archive {
        ArchiveRecord::Simulated { seed, .. } => Some(seed),
        ArchiveRecord::Real { .. } => None,
    });
    let mut out = Vec::new();
    for key in &manifest.notebooks {
        std::fs::copy(base.join(key), nb_dir.join(key))
            .map_err(|e| Error::io(base.join(key), e))?;
        let status = std::process::Command::new("jupyter")
            .args([
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--ExecutePreprocessor.kernel_name=oda",
                "--ExecutePreprocessor.timeout=3600",
                // The kernel compiles oda when it starts on a fresh machine or after an
                // update (minutes, not nbconvert's default 60 s).
                "--ExecutePreprocessor.startup_timeout=1800",
                "--output-dir",
            ])
            .arg(scratch.0.join("executed"))
            .arg(nb_dir.join(key))
            .current_dir(&nb_dir)
            .env("ODA_PUBLICATION", &scratch.0)
            .env("ODA_DATA", &options.settings.data_dir)
            .env_remove("ODA_PUBLISH_TARGET")
            // A downloaded record's notebooks are code from elsewhere: no token for them.
            .env_remove("ODA_PUBLISH_TOKEN")
            .envs(seed.map(|s| ("ODA_SIM_SEED", s.to_string())))
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                out.push((
                    format!("notebook {key}"),
                    ProductCheck::Different(vec![(
                        key.clone(),
                        format!("the notebook failed ({s})"),
                    )]),
                ));
                continue;
            }
            Err(e) => {
                out.push((
                    format!("notebook {key}"),
                    ProductCheck::NotRerun(format!(
                        "cannot run jupyter ({e}): install the kernel with ./setup.sh"
                    )),
                ));
                continue;
            }
        }
    }
    // Every product the notebooks wrote, against the manifest's file of the same path.
    for p in &manifest.products {
        let made_dir = scratch.0.join(&p.dir);
        if !made_dir.is_dir() {
            out.push((
                format!("{} (from the notebooks)", p.dir),
                ProductCheck::Different(vec![(
                    p.dir.clone(),
                    "the notebooks did not make this product".into(),
                )]),
            ));
            continue;
        }
        out.push((
            format!("{} (from the notebooks)", p.dir),
            compare_made(base, manifest, p, &made_dir, "the notebooks")?,
        ));
    }
    Ok(out)
}

/// Re-runs one product and compares its files with the published ones.
fn rerun(
    base: &Path,
    manifest: &Manifest,
    p: &ProductRecord,
    options: &VerifyOptions,
) -> Result<ProductCheck> {
    let settings = match &p.archive {
        ArchiveRecord::Simulated {
            seed,
            model_version,
            extra_sky_sha256,
            perturbation,
        } => {
            if *model_version != crate::config::SIMULATION_MODEL_VERSION {
                return Ok(ProductCheck::NotRerun(format!(
                    "made from simulation model v{model_version}; this oda simulates v{} (use the oda in the record's zip)",
                    crate::config::SIMULATION_MODEL_VERSION
                )));
            }
            let have = options.settings.sky_file.as_ref().map(|f| &f.sha256);
            if have != extra_sky_sha256.as_ref() {
                return Ok(ProductCheck::NotRerun(match extra_sky_sha256 {
                    Some(d) => format!(
                        "made with extra simulated sources (a sky file with SHA-256 {d}): set \
                         ODA_SIM_SKY to that file"
                    ),
                    None => "made without extra simulated sources: unset ODA_SIM_SKY".into(),
                }));
            }
            let mut s = options.settings.clone().with_seed(*seed);
            s.archive = crate::config::ArchiveSource::Simulated;
            // The record says all of a perturbation: it is re-made as recorded.
            s.perturbation = *perturbation;
            s
        }
        ArchiveRecord::Real { root } => {
            if !Path::new(root).is_dir() {
                return Ok(ProductCheck::NotRerun(format!(
                    "made from the real archive at {root}, which is not available here (set --archive to a copy)"
                )));
            }
            options.settings.clone().with_archive(root)
        }
    };
    let request = Request::from_pairs(p.parameters.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let result = Session::new(settings)?.get_product(&request)?;
    let citation = Citation::new(manifest.doi.clone(), manifest.citation.clone())?;
    let scratch = tempdir_in_data(&options.settings)?;
    result.write_cited(&scratch.0, Some(&citation))?;
    compare_made(base, manifest, p, &scratch.0, "the re-run")
}

/// Compares the files of product `p` made again in `made_dir` (by `maker`: the re-run, the
/// notebooks) with the published ones in `base`: bytes for every file (a FITS file described by
/// the HDU that differs and its largest relative change), the science content for `result.json`.
fn compare_made(
    base: &Path,
    manifest: &Manifest,
    p: &ProductRecord,
    made_dir: &Path,
    maker: &str,
) -> Result<ProductCheck> {
    let mut differences = Vec::new();
    for key in &p.files {
        let Some(entry) = manifest.file(key) else {
            continue;
        };
        // The name the product wrote: the last part of the file's path in the publication.
        let name = Path::new(&entry.path)
            .file_name()
            .map_or_else(|| key.clone(), |n| n.to_string_lossy().into_owned());
        let published = base.join(key);
        let made = made_dir.join(&name);
        if !made.is_file() {
            differences.push((key.clone(), format!("{maker} did not make this file")));
            continue;
        }
        let (sha, _, size) = checksums(&made)?;
        if name == "result.json" {
            if let Some(d) = result_json_difference(&published, &made)? {
                differences.push((key.clone(), d));
            }
        } else if sha != entry.sha256 {
            let d = crate::fits::describe_hdu_difference(&made, &published).unwrap_or_else(|| {
                describe_difference(key, &made, manifest.hdus.get(key), size, entry.size)
            });
            differences.push((key.clone(), d));
        }
    }
    Ok(if differences.is_empty() {
        ProductCheck::Identical
    } else {
        ProductCheck::Different(differences)
    })
}

/// A scratch directory under the data directory, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir_in_data(settings: &Settings) -> Result<Scratch> {
    let p = settings.data_dir.join("tmp").join(format!(
        "verify-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    Ok(Scratch(p))
}

/// `result.json` documents agree except for what describes the run rather than the product
/// (see [`RUN_FIELDS`]): `None`, or the top-level fields that differ.
fn result_json_difference(a: &Path, b: &Path) -> Result<Option<String>> {
    let read = |p: &Path| -> Result<serde_json::Map<String, Value>> {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| Error::io(p, std::io::Error::other(e)))?;
        let mut o = v.as_object().cloned().unwrap_or_default();
        for k in RUN_FIELDS {
            o.remove(*k);
        }
        // How the request was written (remarks on unused or defaulted parameters) is not part
        // of the product: the re-run is made from the canonical parameters.
        if let Some(r) = o.get_mut("request").and_then(Value::as_object_mut) {
            r.remove("warnings");
        }
        Ok(o)
    };
    let (x, y) = (read(a)?, read(b)?);
    let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
    keys.sort();
    keys.dedup();
    let differ: Vec<&str> = keys
        .into_iter()
        .filter(|k| x.get(*k) != y.get(*k))
        .map(String::as_str)
        .collect();
    Ok((!differ.is_empty()).then(|| format!("result.json differs in {}", differ.join(", "))))
}

/// The fields of `result.json` that describe one run, not the product (besides
/// `request.warnings`, remarks on how the request was written).
pub const RUN_FIELDS: &[&str] = &["elapsed_s", "units", "warnings"];

/// What differs between the file at `path` and the manifest's entry: for a FITS file, the
/// first HDU that differs (from the manifest's per-HDU digests); otherwise the sizes.
fn describe_difference(
    key: &str,
    path: &Path,
    hdus: Option<&Vec<crate::fits::HduDigest>>,
    size: u64,
    expected_size: u64,
) -> String {
    if let Some(h) = hdus
        && let Some(d) = crate::fits::describe_digest_difference(path, h)
    {
        return format!("SHA-256 differs from the manifest; {d}");
    }
    if size != expected_size {
        format!("{size} bytes, the manifest says {expected_size}")
    } else if key.ends_with(".fits") {
        "SHA-256 differs from the manifest (same size; no HDU differs: the bytes after the last HDU)".into()
    } else {
        "SHA-256 differs from the manifest (same size)".into()
    }
}
