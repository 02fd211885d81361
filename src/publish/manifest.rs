//! The manifest of a bundle (`manifest.json`): every file of the record with its checksums, and
//! every product with the request and the archive that make it again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::fits::HduDigest;

/// What a file of the record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// An executed notebook (with its outputs).
    Notebook,
    /// A product file written by `get_product` (FITS, catalog JSON, `result.json`).
    Product,
    /// A saved figure (SVG, PNG, HTML).
    Figure,
    /// The record's README.
    Readme,
    /// `CITATION.cff`.
    Citation,
    /// `ro-crate-metadata.json`.
    RoCrate,
    /// The zip of everything needed to re-run on Binder.
    RunnableZip,
}

/// One file of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// The file's key (name) in the record: flat, no `/` (repositories do not keep folders).
    pub key: String,
    /// Where it comes from, relative to the publication directory (`products/crab/isgri_image.fits`).
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Size, bytes.
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// md5 of the bytes, hex (what Zenodo reports).
    pub md5: String,
    /// Media type (`application/fits`, `application/json`, `application/x-ipynb+json`, ...).
    pub encoding_format: String,
}

/// The archive a product was made from (the simulation's seed and model version, or a real
/// archive's root).
pub type ArchiveRecord = crate::config::DataOrigin;

/// One unit of a product's provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceUnit {
    /// The unit's name (`Mosaic`, `ScwImage`, ...).
    pub name: String,
    /// Its code version.
    pub version: String,
    /// Its identity (SHA-256 of its provenance), hex.
    pub identity: String,
}

/// One product of the record: the request that makes it again and its files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// The product's directory, relative to the publication directory (`products/crab-image`).
    pub dir: String,
    /// The product type (`isgri_image`, ...).
    pub product: String,
    /// The request's canonical parameters.
    pub parameters: BTreeMap<String, String>,
    /// The product's identity (the hash of its whole provenance), hex.
    pub identity: String,
    /// The units behind it.
    pub provenance: Vec<ProvenanceUnit>,
    /// The Science Windows used.
    pub scws: Vec<String>,
    /// The archive it was made from.
    pub archive: ArchiveRecord,
    /// The keys of its files in the record.
    pub files: Vec<String>,
}

/// The software that made the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareInfo {
    /// `oda` version.
    pub oda_version: String,
    /// The Rust toolchain the bundle pins (`rust-toolchain.toml`).
    pub rust_toolchain: String,
    /// The Jupyter kernel the notebooks ran in (`Rust (oda)`, evcxr version).
    pub kernel: String,
}

/// The manifest of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format marker, `oda-manifest/1`.
    pub format: String,
    /// The record's DOI.
    pub doi: String,
    /// How to cite it.
    pub citation: String,
    /// Every file of the record except the manifest itself, by key.
    pub files: Vec<BundleFile>,
    /// Every product, with its request.
    pub products: Vec<ProductRecord>,
    /// The software.
    pub software: SoftwareInfo,
    /// The notebooks (keys), in the order they should be run.
    pub notebooks: Vec<String>,
    /// The UTC date the bundle was made (`YYYY-MM-DD`).
    pub date: String,
    /// The digests of every HDU of each FITS file, by key: which HDU a damaged file differs in.
    #[serde(default)]
    pub hdus: BTreeMap<String, Vec<HduDigest>>,
}

/// The format marker of manifests written by this version.
pub const MANIFEST_FORMAT: &str = "oda-manifest/1";

impl Manifest {
    /// The file of `key`, if any.
    pub fn file(&self, key: &str) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.key == key)
    }
}
