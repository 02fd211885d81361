//! `oda publish bundle DIR`: the record as files in `DIR/bundle/`, ready to upload.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::Digest as _;
use serde_json::Value;

use super::journal::Journal;
use super::manifest::{
    BundleFile, FileKind, MANIFEST_FORMAT, Manifest, ProductRecord, ProvenanceUnit, SoftwareInfo,
};
use crate::error::{Error, PublishErrorKind, Result};

/// The key of the runnable zip in the record.
pub const RUNNABLE_ZIP: &str = "rerun-on-binder.zip";

/// Options of [`bundle`].
#[derive(Clone, Debug, Default)]
pub struct BundleOptions {
    /// Executed notebooks to include (copied into `DIR/notebooks/`); those already there are
    /// included too.
    pub notebooks: Vec<PathBuf>,
    /// The `oda` source tree to put in the runnable zip; `None`: the one this `oda` was built
    /// from.
    pub source_dir: Option<PathBuf>,
}

/// What [`bundle`] made.
#[derive(Clone, Debug)]
pub struct BundleReport {
    /// The bundle directory (`DIR/bundle`).
    pub dir: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
    /// Total bytes of the record's files.
    pub bytes: u64,
}

impl std::fmt::Display for BundleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bundle {}: {} files + manifest.json, {:.1} MB, {} product(s), {} notebook(s), for doi:{}",
            self.dir.display(),
            self.manifest.files.len(),
            self.bytes as f64 / 1e6,
            self.manifest.products.len(),
            self.manifest.notebooks.len(),
            self.manifest.doi
        )
    }
}

/// SHA-256 and md5 (hex) and size of a file.
pub(crate) fn checksums(path: &Path) -> Result<(String, String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut sha = sha2::Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        sha2::Digest::update(&mut sha, &buf[..n]);
        md5.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        hex(&sha2::Digest::finalize(sha)),
        hex(&md5.finalize()),
        size,
    ))
}

/// md5 (hex) and size of a file.
pub(crate) fn md5_and_size(path: &Path) -> Result<(String, u64)> {
    checksums(path).map(|(_, md5, size)| (md5, size))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The media type of a file, by extension.
pub(crate) fn media_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "fits" | "pha" | "rmf" | "arf" => "application/fits",
        "json" => "application/json",
        "ipynb" => "application/x-ipynb+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "html" => "text/html",
        "md" => "text/markdown",
        "cff" => "application/x-yaml",
        "zip" => "application/zip",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Files below `dir` (relative paths, `/`-separated, sorted), skipping hidden ones and
/// temporary files of interrupted writes.
fn walk(dir: &Path) -> Result<Vec<String>> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            if path.is_dir() {
                go(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if dir.is_dir() {
        go(dir, dir, &mut out)?;
    }
    Ok(out)
}

/// A record key for a file at `rel` (a path relative to the publication directory): flat,
/// the folders joined by `__` (`products/crab/isgri_image.fits` → `crab__isgri_image.fits`).
fn key_for(rel: &str) -> String {
    let rel = rel
        .strip_prefix("products/")
        .or_else(|| rel.strip_prefix("notebooks/"))
        .unwrap_or(rel);
    rel.replace('/', "__")
}

/// Reads a JSON file.
fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::io(path, std::io::Error::other(format!("not JSON: {e}"))))
}

/// The product of one `result.json`.
fn product_record(
    dir: &Path,
    rel_dir: &str,
    doc: &Value,
    doi: &str,
    journal_citation: &str,
) -> Result<ProductRecord> {
    let where_ = format!("{}/result.json", dir.join(rel_dir).display());
    if doc.get("doi").and_then(Value::as_str) != Some(doi) {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{where_} does not carry doi:{doi} (it has {}): make the product again with \
                 `oda get-product ... --out {}` now that the DOI is reserved",
                doc.get("doi")
                    .map_or_else(|| "none".to_string(), |d| d.to_string()),
                dir.join(rel_dir).display()
            ),
        ));
    }
    // The parameters as the request was given (its reproduction query): re-running from them
    // gives back an equal request, including its URL, Rust and Python forms.
    if doc.get("citation").and_then(Value::as_str) != Some(journal_citation) {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{where_} carries an older citation of doi:{doi} (the metadata changed since): make \
                 the product again with `oda get-product ... --out {}`",
                dir.join(rel_dir).display()
            ),
        ));
    }
    let parameters: BTreeMap<String, String> = doc
        .pointer("/request/url_query")
        .and_then(Value::as_str)
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if parameters.is_empty() {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{where_} has no request (request.url_query): is it a result.json written by oda get-product?"
            ),
        ));
    }
    let archive = doc
        .get("archive")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .ok_or_else(|| {
            Error::publish(
                PublishErrorKind::Journal,
                format!("{where_} does not say which archive it was made from: make it again with this oda"),
            )
        })?;
    let provenance = doc
        .get("provenance")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|n| ProvenanceUnit {
                    name: n
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    version: n
                        .get("version")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    identity: n
                        .get("identity")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ProductRecord {
        dir: rel_dir.to_string(),
        product: doc
            .get("product")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        parameters,
        identity: doc
            .get("identity")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        provenance,
        scws: doc
            .get("scws")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        archive,
        files: Vec::new(),
    })
}

/// The notebook with the publication in its metadata (`metadata.oda.publication`), checked to
/// be executed (every code cell with an execution count).
fn stamp_notebook(path: &Path, journal: &Journal) -> Result<Vec<u8>> {
    let mut nb = read_json(path)?;
    let unexecuted = nb
        .get("cells")
        .and_then(Value::as_array)
        .map(|cells| {
            cells
                .iter()
                .filter(|c| c.get("cell_type").and_then(Value::as_str) == Some("code"))
                .filter(|c| {
                    let src = c.get("source").map(|s| match s {
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<String>(),
                        other => other.as_str().unwrap_or_default().to_string(),
                    });
                    !src.unwrap_or_default().trim().is_empty()
                })
                .filter(|c| c.get("execution_count").is_none_or(Value::is_null))
                .count()
        })
        .unwrap_or(0);
    if unexecuted > 0 {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} has {unexecuted} code cell(s) that were not run: publish the executed notebook \
                 (run it all, save, then bundle)",
                path.display()
            ),
        ));
    }
    if let Some(meta) = nb.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "oda".into(),
            serde_json::json!({"publication": {
                "doi": journal.doi, "doi_url": journal.doi.as_ref().map(|d| format!("https://doi.org/{d}")),
                "citation": journal.citation, "record_id": journal.record_id,
                "server": journal.target.name(),
            }}),
        );
    }
    let mut bytes =
        serde_json::to_vec_pretty(&nb).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The files of the `oda` source tree a re-run needs (relative paths).
fn source_files(src: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for top in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "setup.sh",
        "requirements.txt",
        "rust-toolchain.toml",
    ] {
        if src.join(top).is_file() {
            out.push(top.to_string());
        }
    }
    for dir in [
        "src",
        "kernel",
        "binder",
        "benches",
        "examples",
        "tests/python",
        "docs",
    ] {
        out.extend(
            walk(&src.join(dir))?
                .into_iter()
                .map(|f| format!("{dir}/{f}")),
        );
    }
    if !out.iter().any(|f| f == "Cargo.toml") {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} is not the oda source tree (no Cargo.toml): give the checkout with --source",
                src.display()
            ),
        ));
    }
    Ok(out)
}

/// Writes the runnable zip: the notebooks, the `oda` source with `Cargo.lock`, `binder/`, a
/// `rust-toolchain.toml` pinning the compiler, and every product's `result.json` (the
/// requests). Entries are sorted and dated 1980-01-01, so the same inputs give the same bytes.
fn write_zip(
    path: &Path,
    src: &Path,
    notebooks: &[(String, Vec<u8>)],
    requests: &[(String, PathBuf)],
    toolchain: &str,
) -> Result<()> {
    let temp = path.with_extension("zip.partial");
    let file = std::fs::File::create(&temp).map_err(|e| Error::io(&temp, e))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let zerr = |e: zip::result::ZipError| Error::io(path, std::io::Error::other(e));
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for rel in source_files(src)? {
        if rel == "rust-toolchain.toml" {
            continue;
        }
        let p = src.join(&rel);
        entries.push((rel, std::fs::read(&p).map_err(|e| Error::io(&p, e))?));
    }
    entries.push((
        "rust-toolchain.toml".into(),
        format!("# The compiler that made the published products.\n[toolchain]\nchannel = \"{toolchain}\"\ncomponents = [\"rust-src\"]\n").into_bytes(),
    ));
    for (name, bytes) in notebooks {
        entries.push((format!("notebooks/{name}"), bytes.clone()));
    }
    for (rel, p) in requests {
        entries.push((rel.clone(), std::fs::read(p).map_err(|e| Error::io(p, e))?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    for (name, bytes) in &entries {
        let mode = if name.ends_with(".sh")
            || name == "binder/postBuild"
            || name == "binder/start"
            || name == "kernel/launch"
        {
            0o755
        } else {
            0o644
        };
        zip.start_file(name.as_str(), options.unix_permissions(mode))
            .map_err(zerr)?;
        zip.write_all(bytes).map_err(|e| Error::io(path, e))?;
    }
    zip.finish().map_err(zerr)?;
    std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
}

/// The Rust toolchain this `oda` was built with (`rustc --version` of the build), as a
/// `rust-toolchain.toml` channel.
fn toolchain() -> String {
    option_env!("ODA_RUSTC_VERSION")
        .unwrap_or("1.95.0")
        .to_string()
}

/// Assembles the record of the publication in `dir` into `dir/bundle/`: the executed notebooks
/// (with the DOI in their metadata), every product under `dir/products/` (which must carry the
/// publication's DOI), figures under `dir/figures/`, the runnable zip, README, `CITATION.cff`,
/// the RO-Crate and `manifest.json`. The bundle is rebuilt from scratch each time.
///
/// # Errors
/// No journal or no reserved DOI, products made without the DOI, unexecuted notebooks, more
/// than 100 files, I/O errors.
pub fn bundle(dir: &Path, options: &BundleOptions) -> Result<BundleReport> {
    let journal = Journal::require(dir)?;
    let doi = journal.doi.clone().ok_or_else(|| {
        Error::publish(
            PublishErrorKind::Journal,
            "the publication has no DOI yet: run `oda publish reserve` first",
        )
    })?;
    let out = dir.join("bundle");
    let staging = dir.join(".bundle.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let nb_dir = dir.join("notebooks");
    for nb in &options.notebooks {
        let name = nb.file_name().ok_or_else(|| {
            Error::invalid("--notebook", nb.display(), "a notebook file (.ipynb)")
        })?;
        std::fs::create_dir_all(&nb_dir).map_err(|e| Error::io(&nb_dir, e))?;
        if std::path::absolute(nb).ok() != std::path::absolute(nb_dir.join(name)).ok() {
            std::fs::copy(nb, nb_dir.join(name)).map_err(|e| Error::io(nb, e))?;
        }
    }
    let mut files: Vec<BundleFile> = Vec::new();
    let mut add = |key: String, rel: String, kind: FileKind, path: &Path| -> Result<()> {
        if files.iter().any(|f| f.key == key) {
            return Err(Error::publish(
                PublishErrorKind::Journal,
                format!("two files would have the record key {key}: rename one of them"),
            ));
        }
        let (sha256, md5, size) = checksums(path)?;
        let encoding_format = media_type(&key).to_string();
        files.push(BundleFile {
            key,
            path: rel,
            kind,
            size,
            sha256,
            md5,
            encoding_format,
        });
        Ok(())
    };
    // Notebooks.
    let mut notebooks = Vec::new();
    let mut notebook_bytes = Vec::new();
    for rel in walk(&nb_dir)?.into_iter().filter(|f| f.ends_with(".ipynb")) {
        let bytes = stamp_notebook(&nb_dir.join(&rel), &journal)?;
        let key = key_for(&format!("notebooks/{rel}"));
        let p = staging.join(&key);
        std::fs::write(&p, &bytes).map_err(|e| Error::io(&p, e))?;
        add(
            key.clone(),
            format!("notebooks/{rel}"),
            FileKind::Notebook,
            &p,
        )?;
        notebooks.push(key.clone());
        notebook_bytes.push((rel.replace('/', "__"), bytes));
    }
    // Products.
    let products_dir = dir.join("products");
    let mut products = Vec::new();
    let mut requests = Vec::new();
    let all = walk(&products_dir)?;
    for result in all.iter().filter(|f| f.ends_with("result.json")) {
        let rel_dir = result.trim_end_matches("result.json").trim_end_matches('/');
        let doc = read_json(&products_dir.join(result))?;
        let mut record = product_record(
            dir,
            &format!("products/{rel_dir}"),
            &doc,
            &doi,
            &journal.citation,
        )?;
        let prefix = if rel_dir.is_empty() {
            String::new()
        } else {
            format!("{rel_dir}/")
        };
        for f in all
            .iter()
            .filter(|f| f.starts_with(&prefix) && !f[prefix.len()..].contains('/'))
        {
            let rel = format!("products/{f}");
            let key = key_for(&rel);
            let p = staging.join(&key);
            std::fs::copy(products_dir.join(f), &p)
                .map_err(|e| Error::io(products_dir.join(f), e))?;
            add(key.clone(), rel, FileKind::Product, &p)?;
            record.files.push(key);
        }
        requests.push((format!("products/{result}"), products_dir.join(result)));
        products.push(record);
    }
    // Figures.
    for rel in walk(&dir.join("figures"))? {
        let key = key_for(&rel.replace('/', "__"));
        let p = staging.join(&key);
        std::fs::copy(dir.join("figures").join(&rel), &p)
            .map_err(|e| Error::io(dir.join("figures").join(&rel), e))?;
        add(key, format!("figures/{rel}"), FileKind::Figure, &p)?;
    }
    if notebooks.is_empty() && products.is_empty() {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} has neither notebooks (notebooks/*.ipynb or --notebook) nor products \
                 (products/*/result.json): nothing to publish",
                dir.display()
            ),
        ));
    }
    // The runnable zip.
    let src = options
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let zip_path = staging.join(RUNNABLE_ZIP);
    write_zip(&zip_path, &src, &notebook_bytes, &requests, &toolchain())?;
    add(
        RUNNABLE_ZIP.into(),
        RUNNABLE_ZIP.into(),
        FileKind::RunnableZip,
        &zip_path,
    )?;
    let mut manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        doi: doi.clone(),
        citation: journal.citation.clone(),
        files,
        products,
        software: SoftwareInfo {
            oda_version: env!("CARGO_PKG_VERSION").into(),
            rust_toolchain: toolchain(),
            kernel: "Rust (oda): evcxr_jupyter 0.22.0".into(),
        },
        notebooks,
        date: journal.publication_date.clone(),
        hdus: BTreeMap::new(),
    };
    for f in manifest.files.iter().filter(|f| f.key.ends_with(".fits")) {
        manifest.hdus.insert(
            f.key.clone(),
            crate::fits::hdu_digests(&staging.join(&f.key)),
        );
    }
    // The describing files: README and CITATION.cff first, the RO-Crate (which lists them),
    // then the manifest, which lists everything but itself.
    let described = super::describe::describing_files(&journal, &manifest);
    for (key, kind, bytes) in [
        ("README.md", FileKind::Readme, described.readme.into_bytes()),
        (
            "CITATION.cff",
            FileKind::Citation,
            described.citation_cff.into_bytes(),
        ),
    ] {
        let p = staging.join(key);
        std::fs::write(&p, &bytes).map_err(|e| Error::io(&p, e))?;
        let (sha256, md5, size) = checksums(&p)?;
        manifest.files.push(BundleFile {
            key: key.into(),
            path: key.into(),
            kind,
            size,
            sha256,
            md5,
            encoding_format: media_type(key).into(),
        });
    }
    let crate_json = super::describe::describing_files(&journal, &manifest).ro_crate;
    let p = staging.join("ro-crate-metadata.json");
    let text = serde_json::to_string_pretty(&crate_json)
        .map_err(|e| Error::io(&p, std::io::Error::other(e)))?;
    std::fs::write(&p, format!("{text}\n")).map_err(|e| Error::io(&p, e))?;
    let (sha256, md5, size) = checksums(&p)?;
    manifest.files.push(BundleFile {
        key: "ro-crate-metadata.json".into(),
        path: "ro-crate-metadata.json".into(),
        kind: FileKind::RoCrate,
        size,
        sha256,
        md5,
        encoding_format: "application/ld+json".into(),
    });
    if manifest.files.len() + 1 > super::workflow::MAX_FILES {
        return Err(Error::publish(
            PublishErrorKind::Limit,
            format!(
                "the record would hold {} files; Zenodo allows {}: publish fewer products (each product directory's files count)",
                manifest.files.len() + 1,
                super::workflow::MAX_FILES
            ),
        ));
    }
    let p = staging.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::io(&p, std::io::Error::other(e)))?;
    std::fs::write(&p, format!("{text}\n")).map_err(|e| Error::io(&p, e))?;
    // Replace the old bundle by the new one.
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    }
    std::fs::rename(&staging, &out).map_err(|e| Error::io(&out, e))?;
    let bytes = manifest.files.iter().map(|f| f.size).sum();
    Ok(BundleReport {
        dir: out,
        manifest,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_flat() {
        assert_eq!(
            key_for("products/crab-image/isgri_image.fits"),
            "crab-image__isgri_image.fits"
        );
        assert_eq!(key_for("notebooks/crab.ipynb"), "crab.ipynb");
        assert_eq!(media_type("a.fits"), "application/fits");
    }

    #[test]
    fn checksums_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, "abc").unwrap();
        let (sha, md5, size) = checksums(&p).unwrap();
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(size, 3);
    }
}
