//! The files that describe a record: `CITATION.cff` (Citation File Format 1.2.0),
//! `ro-crate-metadata.json` (RO-Crate 1.1, with one `CreateAction` per product as the Process
//! Run Crate profile describes) and the record's `README.md` (badges, how to cite, what is in
//! it, how to re-run and verify it).
//!
//! Everything is made from the journal (the record's metadata, DOI, landing page) and the
//! manifest (files, products, software), so the same inputs give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::journal::Journal;
use super::manifest::{ArchiveRecord, BundleFile, FileKind, Manifest, ProductRecord};
use super::metadata::{Creator, RelatedIdentifier, Relation};

/// Where `oda` lives (the `SoftwareApplication` of every `CreateAction`).
const ODA_URL: &str = "https://github.com/oda-rs/oda";
/// The Jupyter kernel the notebooks run in.
const EVCXR_URL: &str = "https://github.com/evcxr/evcxr";
/// The RO-Crate version the crate conforms to.
const RO_CRATE_1_1: &str = "https://w3id.org/ro/crate/1.1";
/// The Process Run Crate profile (how each product was made).
const PROCESS_RUN_CRATE: &str = "https://w3id.org/ro/wfrun/process/0.5";
/// The key of the manifest, which is written after the other describing files.
const MANIFEST_KEY: &str = "manifest.json";
const README_KEY: &str = "README.md";
const CITATION_KEY: &str = "CITATION.cff";
const RO_CRATE_KEY: &str = "ro-crate-metadata.json";

/// The describing files of a record, made by [`describing_files`].
#[derive(Clone, Debug, PartialEq)]
pub struct DescribingFiles {
    /// `CITATION.cff` (Citation File Format 1.2.0).
    pub citation_cff: String,
    /// `ro-crate-metadata.json` (RO-Crate 1.1 with the Process Run Crate profile).
    pub ro_crate: Value,
    /// The record's `README.md`.
    pub readme: String,
}

/// The describing files of the record of `journal` with the files and products of `manifest`:
/// `CITATION.cff`, the RO-Crate metadata and the README.
///
/// The RO-Crate lists every file of the manifest with its SHA-256 (the README and
/// `CITATION.cff` too, with the checksums of the texts returned here when the manifest does not
/// list them yet) and `manifest.json` without a checksum, since it is written last.
pub fn describing_files(journal: &Journal, manifest: &Manifest) -> DescribingFiles {
    DescribingFiles {
        citation_cff: citation_cff(journal, manifest),
        ro_crate: ro_crate(journal, manifest),
        readme: readme(journal, manifest),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared facts of the record

/// The record's DOI: the journal's, else the manifest's.
fn record_doi(journal: &Journal, manifest: &Manifest) -> Option<String> {
    journal
        .doi
        .clone()
        .filter(|d| !d.trim().is_empty())
        .or_else(|| (!manifest.doi.trim().is_empty()).then(|| manifest.doi.clone()))
}

/// The record's landing page: the journal's, else `{server}/records/{id}` once the record exists.
fn record_url(journal: &Journal) -> Option<String> {
    journal
        .record_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            journal
                .record_id
                .as_ref()
                .filter(|id| !id.trim().is_empty())
                .map(|id| format!("{}/records/{id}", journal.target.base_url()))
        })
}

/// The publication date: the one sent to the server, else the metadata's, else the bundle's.
fn release_date(journal: &Journal, manifest: &Manifest) -> String {
    [
        journal.publication_date.as_str(),
        journal
            .metadata
            .publication_date
            .as_deref()
            .unwrap_or_default(),
        manifest.date.as_str(),
    ]
    .into_iter()
    .find(|d| !d.trim().is_empty())
    .unwrap_or_default()
    .to_string()
}

/// How to cite the record: the journal's text, else the manifest's, else made from the metadata.
fn citation_text(journal: &Journal, manifest: &Manifest) -> String {
    if !journal.citation.trim().is_empty() {
        return journal.citation.clone();
    }
    if !manifest.citation.trim().is_empty() {
        return manifest.citation.clone();
    }
    let date = release_date(journal, manifest);
    let year = date.get(..4).unwrap_or("n.d.");
    let doi = record_doi(journal, manifest).unwrap_or_default();
    journal
        .metadata
        .citation_text(year, &journal.target.publisher(), &doi)
}

/// A licence known by its SPDX id.
#[derive(Debug, PartialEq, Eq)]
struct License {
    /// The SPDX id, in SPDX's spelling (`CC-BY-4.0`).
    spdx: &'static str,
    /// Its full name.
    name: &'static str,
    /// Its canonical URL.
    url: String,
}

/// The licences a record commonly has: (SPDX id, name, URL or "" for the SPDX page).
const LICENSES: &[(&str, &str, &str)] = &[
    (
        "CC-BY-4.0",
        "Creative Commons Attribution 4.0 International",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    (
        "CC-BY-SA-4.0",
        "Creative Commons Attribution Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
    (
        "CC-BY-NC-4.0",
        "Creative Commons Attribution Non Commercial 4.0 International",
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ),
    (
        "CC-BY-ND-4.0",
        "Creative Commons Attribution No Derivatives 4.0 International",
        "https://creativecommons.org/licenses/by-nd/4.0/",
    ),
    (
        "CC-BY-NC-SA-4.0",
        "Creative Commons Attribution Non Commercial Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    ),
    (
        "CC-BY-NC-ND-4.0",
        "Creative Commons Attribution Non Commercial No Derivatives 4.0 International",
        "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    ),
    (
        "CC-BY-3.0",
        "Creative Commons Attribution 3.0 Unported",
        "https://creativecommons.org/licenses/by/3.0/",
    ),
    (
        "CC-BY-SA-3.0",
        "Creative Commons Attribution Share Alike 3.0 Unported",
        "https://creativecommons.org/licenses/by-sa/3.0/",
    ),
    (
        "CC0-1.0",
        "Creative Commons Zero v1.0 Universal",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    ("MIT", "MIT License", ""),
    ("Apache-2.0", "Apache License 2.0", ""),
    ("BSD-2-Clause", "BSD 2-Clause \"Simplified\" License", ""),
    (
        "BSD-3-Clause",
        "BSD 3-Clause \"New\" or \"Revised\" License",
        "",
    ),
    ("ISC", "ISC License", ""),
    ("MPL-2.0", "Mozilla Public License 2.0", ""),
    ("GPL-2.0-only", "GNU General Public License v2.0 only", ""),
    (
        "GPL-2.0-or-later",
        "GNU General Public License v2.0 or later",
        "",
    ),
    ("GPL-3.0-only", "GNU General Public License v3.0 only", ""),
    (
        "GPL-3.0-or-later",
        "GNU General Public License v3.0 or later",
        "",
    ),
    (
        "LGPL-2.1-only",
        "GNU Lesser General Public License v2.1 only",
        "",
    ),
    (
        "LGPL-2.1-or-later",
        "GNU Lesser General Public License v2.1 or later",
        "",
    ),
    (
        "LGPL-3.0-only",
        "GNU Lesser General Public License v3.0 only",
        "",
    ),
    (
        "LGPL-3.0-or-later",
        "GNU Lesser General Public License v3.0 or later",
        "",
    ),
    (
        "AGPL-3.0-only",
        "GNU Affero General Public License v3.0 only",
        "",
    ),
    (
        "AGPL-3.0-or-later",
        "GNU Affero General Public License v3.0 or later",
        "",
    ),
    ("EUPL-1.2", "European Union Public License 1.2", ""),
    ("Artistic-2.0", "Artistic License 2.0", ""),
    ("BSL-1.0", "Boost Software License 1.0", ""),
    ("EPL-2.0", "Eclipse Public License 2.0", ""),
    ("Zlib", "zlib License", ""),
    ("Unlicense", "The Unlicense", ""),
    (
        "CECILL-2.1",
        "CeCILL Free Software License Agreement v2.1",
        "",
    ),
    (
        "ODbL-1.0",
        "Open Data Commons Open Database License v1.0",
        "",
    ),
    (
        "ODC-By-1.0",
        "Open Data Commons Attribution License v1.0",
        "",
    ),
    (
        "PDDL-1.0",
        "Open Data Commons Public Domain Dedication & License 1.0",
        "",
    ),
];

/// Other spellings of licence ids (Zenodo's older ids, SPDX's deprecated ones) → SPDX id.
const LICENSE_ALIASES: &[(&str, &str)] = &[
    ("cc-zero", "CC0-1.0"),
    ("cc0", "CC0-1.0"),
    ("gpl-2.0", "GPL-2.0-only"),
    ("gpl-3.0", "GPL-3.0-only"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("lgpl-3.0", "LGPL-3.0-only"),
    ("agpl-3.0", "AGPL-3.0-only"),
    ("apache2", "Apache-2.0"),
];

/// The licence of a Zenodo/InvenioRDM licence id (`cc-by-4.0`, any case), or `None` for an id
/// that is not one of the common SPDX licences (the describing files then give the id as it is).
fn license(id: &str) -> Option<License> {
    let id = id.trim();
    let spdx = LICENSE_ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(id))
        .map_or(id, |(_, spdx)| spdx);
    LICENSES
        .iter()
        .find(|(s, _, _)| s.eq_ignore_ascii_case(spdx))
        .map(|&(spdx, name, url)| License {
            spdx,
            name,
            url: if url.is_empty() {
                format!("https://spdx.org/licenses/{spdx}.html")
            } else {
                url.to_string()
            },
        })
}

/// "is a supplement to", ... — how a related work is named in texts.
fn relation_phrase(relation: Relation) -> &'static str {
    match relation {
        Relation::IsSupplementTo => "is a supplement to",
        Relation::IsCitedBy => "is cited by",
        Relation::Cites => "cites",
        Relation::IsDerivedFrom => "is derived from",
        Relation::Documents => "documents",
        Relation::References => "references",
    }
}

/// `doi:10.1051/...`, `arXiv:2002.12895` or the URL.
fn related_label(r: &RelatedIdentifier) -> String {
    match r.scheme.as_str() {
        "doi" => format!("doi:{}", r.identifier),
        _ => r.identifier.clone(),
    }
}

/// A resolvable URL of a related work.
fn related_url(r: &RelatedIdentifier) -> String {
    match r.scheme.as_str() {
        "doi" => format!("https://doi.org/{}", r.identifier),
        "arxiv" => format!(
            "https://arxiv.org/abs/{}",
            r.identifier
                .get(6..)
                .filter(|_| r.identifier.to_ascii_lowercase().starts_with("arxiv:"))
                .unwrap_or(&r.identifier)
        ),
        _ => r.identifier.clone(),
    }
}

/// The ORCID iD as a URL.
fn orcid_url(c: &Creator) -> Option<String> {
    c.orcid_id().map(|o| format!("https://orcid.org/{o}"))
}

/// "Jane Doe".
fn display_name(c: &Creator) -> String {
    format!("{} {}", c.given, c.family)
}

// ---------------------------------------------------------------------------------------------
// CITATION.cff

/// A YAML double-quoted scalar: safe for any text (colons, quotes, `#`, leading spaces,
/// non-ASCII, control characters).
fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Not printable in YAML, or line breaks in YAML 1.1 (U+0085, U+2028, U+2029), or
            // a byte-order mark: escaped.
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The record's `CITATION.cff` (Citation File Format 1.2.0).
pub(crate) fn citation_cff(journal: &Journal, manifest: &Manifest) -> String {
    let m = &journal.metadata;
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# How to cite this record (Citation File Format 1.2.0, https://citation-file-format.github.io),\n\
         # written by oda {}. Check it with `cffconvert --validate`.",
        manifest.software.oda_version
    );
    y.push_str("cff-version: 1.2.0\n");
    let _ = writeln!(
        y,
        "message: {}",
        yaml_str("If you use these data, please cite them as below.")
    );
    let kind = if m.resource_type == "software" {
        "software"
    } else {
        "dataset"
    };
    let _ = writeln!(y, "type: {kind}");
    let _ = writeln!(y, "title: {}", yaml_str(&m.title));
    if !m.description.trim().is_empty() {
        let _ = writeln!(y, "abstract: {}", yaml_str(m.description.trim()));
    }
    y.push_str("authors:\n");
    for c in &m.creators {
        let _ = writeln!(y, "  - family-names: {}", yaml_str(&c.family));
        let _ = writeln!(y, "    given-names: {}", yaml_str(&c.given));
        if let Some(o) = orcid_url(c) {
            let _ = writeln!(y, "    orcid: {}", yaml_str(&o));
        }
        if let Some(a) = c.affiliation.as_deref().filter(|a| !a.trim().is_empty()) {
            let _ = writeln!(y, "    affiliation: {}", yaml_str(a));
        }
    }
    let doi = record_doi(journal, manifest);
    if let Some(d) = &doi {
        let _ = writeln!(y, "doi: {}", yaml_str(d));
    }
    if let Some(v) = m.version.as_deref().filter(|v| !v.trim().is_empty()) {
        let _ = writeln!(y, "version: {}", yaml_str(v));
    }
    let date = release_date(journal, manifest);
    if !date.is_empty() {
        let _ = writeln!(y, "date-released: {}", yaml_str(&date));
    }
    match license(&m.license) {
        Some(l) => {
            let _ = writeln!(y, "license: {}", yaml_str(l.spdx));
        }
        None if !m.license.trim().is_empty() => {
            // CFF accepts only SPDX ids: an unknown id is left out rather than made invalid.
            let _ = writeln!(
                y,
                "# license: {} (not an SPDX licence id; see the record)",
                yaml_str(m.license.trim())
            );
        }
        None => {}
    }
    let keywords: Vec<&String> = m.keywords.iter().filter(|k| !k.trim().is_empty()).collect();
    if !keywords.is_empty() {
        y.push_str("keywords:\n");
        for k in keywords {
            let _ = writeln!(y, "  - {}", yaml_str(k));
        }
    }
    let url = record_url(journal);
    let mut identifiers = Vec::new();
    if let Some(d) = &doi {
        identifiers.push(("doi", d.clone(), "The DOI of this version of the record."));
    }
    if let Some(c) = journal
        .concept_doi
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        && Some(c) != doi.as_deref()
    {
        identifiers.push((
            "doi",
            c.to_string(),
            "The concept DOI of the record: all its versions.",
        ));
    }
    if let Some(u) = &url {
        identifiers.push(("url", u.clone(), "The record's landing page."));
    }
    if !identifiers.is_empty() {
        y.push_str("identifiers:\n");
        for (kind, value, description) in identifiers {
            let _ = writeln!(y, "  - type: {kind}");
            let _ = writeln!(y, "    value: {}", yaml_str(&value));
            let _ = writeln!(y, "    description: {}", yaml_str(description));
        }
    }
    if let Some(u) = &url {
        let _ = writeln!(y, "repository: {}", yaml_str(u));
        let _ = writeln!(y, "url: {}", yaml_str(u));
    }
    if !m.related.is_empty() {
        y.push_str("references:\n");
        for r in &m.related {
            let label = related_label(r);
            let kind = match (r.scheme.as_str(), r.relation) {
                (_, Relation::IsDerivedFrom) => "data",
                ("doi" | "arxiv", _) => "article",
                _ => "generic",
            };
            let _ = writeln!(y, "  - type: {kind}");
            let _ = writeln!(
                y,
                "    title: {}",
                yaml_str(&format!(
                    "The work this record {} ({label})",
                    relation_phrase(r.relation)
                ))
            );
            // oda knows the work only by its identifier: its authors are named by it.
            y.push_str("    authors:\n");
            let _ = writeln!(
                y,
                "      - name: {}",
                yaml_str(&format!("The authors of {label}"))
            );
            match r.scheme.as_str() {
                "doi" => {
                    let _ = writeln!(y, "    doi: {}", yaml_str(&r.identifier));
                }
                "arxiv" => {
                    let _ = writeln!(y, "    url: {}", yaml_str(&related_url(r)));
                    y.push_str("    identifiers:\n      - type: other\n");
                    let _ = writeln!(y, "        value: {}", yaml_str(&r.identifier));
                }
                _ => {
                    let _ = writeln!(y, "    url: {}", yaml_str(&r.identifier));
                }
            }
        }
    }
    y
}

// ---------------------------------------------------------------------------------------------
// ro-crate-metadata.json

/// `{"@id": id}`.
fn id_ref(id: &str) -> Value {
    json!({ "@id": id })
}

/// One value as itself, several as an array (RO-Crate 1.1 prefers no singleton arrays).
fn one_or_many(mut values: Vec<Value>) -> Value {
    if values.len() == 1 {
        values.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(values)
    }
}

/// A fragment id safe in an IRI: `#product-1-parameter-E1_keV`.
fn fragment(parts: &[&str]) -> String {
    let mut id = String::from("#");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            id.push('-');
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                id.push(b as char);
            } else {
                let _ = write!(id, "%{b:02X}");
            }
        }
    }
    id
}

/// SHA-256 (hex) of bytes.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a file of the record is, in a sentence.
fn kind_description(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Notebook => {
            "An executed Jupyter notebook (Rust, the \"Rust (oda)\" kernel), with its outputs."
        }
        FileKind::Product => "A product file written by oda's get_product.",
        FileKind::Figure => "A figure saved by a notebook.",
        FileKind::Readme => "The record's README: how to cite, re-run and verify it.",
        FileKind::Citation => "How to cite the record (Citation File Format 1.2.0).",
        FileKind::RoCrate => "The RO-Crate metadata of the record.",
        FileKind::RunnableZip => {
            "Everything needed to re-run the notebooks (oda's source with Cargo.lock, binder/, the notebooks, every product's request): Binder unpacks it."
        }
    }
}

/// The describing file `key` of `kind` as the manifest lists it, or as made now from `text`.
fn describing_file(
    manifest: &Manifest,
    key: &str,
    kind: FileKind,
    text: impl FnOnce() -> String,
) -> BundleFile {
    manifest.file(key).cloned().unwrap_or_else(|| {
        let text = text();
        BundleFile {
            key: key.into(),
            path: key.into(),
            kind,
            size: text.len() as u64,
            sha256: sha256_hex(text.as_bytes()),
            md5: String::new(),
            encoding_format: if kind == FileKind::Readme {
                "text/markdown".into()
            } else {
                "application/x-yaml".into()
            },
        }
    })
}

/// The files the crate lists: the manifest's (not the crate itself), the README and
/// `CITATION.cff` if the manifest does not list them yet.
fn crate_files(journal: &Journal, manifest: &Manifest) -> Vec<BundleFile> {
    let mut files: Vec<BundleFile> = manifest
        .files
        .iter()
        .filter(|f| f.kind != FileKind::RoCrate && f.key != RO_CRATE_KEY && f.key != MANIFEST_KEY)
        .cloned()
        .collect();
    if !files.iter().any(|f| f.key == README_KEY) {
        files.push(describing_file(
            manifest,
            README_KEY,
            FileKind::Readme,
            || readme(journal, manifest),
        ));
    }
    if !files.iter().any(|f| f.key == CITATION_KEY) {
        files.push(describing_file(
            manifest,
            CITATION_KEY,
            FileKind::Citation,
            || citation_cff(journal, manifest),
        ));
    }
    files
}

/// The version of the kernel (`Rust (oda): evcxr_jupyter 0.22.0` → `0.22.0`).
fn kernel_version(kernel: &str) -> Option<&str> {
    kernel
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .map(|w| w.trim_start_matches('v'))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
}

/// A description of the archive a product was made from.
fn archive_entity(archive: &ArchiveRecord, id: &str) -> Value {
    match archive {
        ArchiveRecord::Simulated {
            seed,
            model_version,
            ..
        } => json!({
            "@id": id,
            "@type": "Dataset",
            "name": format!("Simulated INTEGRAL archive (seed {seed}, model version {model_version})"),
            "description": format!(
                "The deterministic simulation of the INTEGRAL mission embedded in oda, which writes the \
                 files of the real archive: made again identically from seed {seed} with simulation \
                 model version {model_version} (ODA_SIM_SEED={seed} with an oda whose MODEL_VERSION \
                 is {model_version})."
            ),
            "version": model_version.to_string(),
            "identifier": format!("oda-simulated-archive:seed={seed}:model={model_version}"),
        }),
        ArchiveRecord::Real { root } => {
            let mut v = json!({
                "@id": id,
                "@type": "Dataset",
                "name": "INTEGRAL archive",
                "description": format!(
                    "The INTEGRAL data archive (Science Windows in the archive's file layout), read by \
                     oda from {root} (ODA_ARCHIVE) on the machine that made the products."
                ),
                "identifier": root,
            });
            if root.starts_with("https://") || root.starts_with("http://") {
                v["url"] = json!(root);
            }
            v
        }
    }
}

/// A product's request and provenance in words.
fn product_description(p: &ProductRecord, oda_version: &str) -> String {
    let params: Vec<String> = p
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut d = format!(
        "Made by oda {oda_version} (get_product) from the request product={}{}{}",
        p.product,
        if params.is_empty() { "" } else { ", " },
        params.join(", ")
    );
    if !p.scws.is_empty() {
        let _ = write!(d, ", on {} Science Window(s)", p.scws.len());
    }
    let _ = write!(
        d,
        ". Its identity (SHA-256 of its whole provenance) is {}",
        p.identity
    );
    if !p.provenance.is_empty() {
        let units: Vec<String> = p
            .provenance
            .iter()
            .map(|u| format!("{} {} ({})", u.name, u.version, u.identity))
            .collect();
        let _ = write!(d, "; its units: {}", units.join(", "));
    }
    d.push('.');
    d
}

/// The record's `ro-crate-metadata.json`: RO-Crate 1.1, and the Process Run Crate profile for
/// how each product was made.
pub(crate) fn ro_crate(journal: &Journal, manifest: &Manifest) -> Value {
    let m = &journal.metadata;
    let mut graph: Vec<Value> = Vec::new();
    let mut contextual: Vec<Value> = Vec::new();

    // The descriptor.
    graph.push(json!({
        "@id": RO_CRATE_KEY,
        "@type": "CreativeWork",
        "conformsTo": id_ref(RO_CRATE_1_1),
        "about": id_ref("./"),
    }));

    // The root.
    let mut root = Map::new();
    root.insert("@id".into(), json!("./"));
    root.insert("@type".into(), json!("Dataset"));
    root.insert("name".into(), json!(m.title));
    let description = if m.description.trim().is_empty() {
        m.title.clone()
    } else {
        m.description.trim().to_string()
    };
    root.insert("description".into(), json!(description));
    let date = release_date(journal, manifest);
    if !date.is_empty() {
        root.insert("datePublished".into(), json!(date));
    }
    // The licence.
    let license_id = match license(&m.license) {
        Some(l) => {
            contextual.push(json!({
                "@id": l.url, "@type": "CreativeWork", "name": l.name, "identifier": l.spdx,
            }));
            l.url
        }
        None => {
            contextual.push(json!({
                "@id": "#license", "@type": "CreativeWork", "name": m.license.trim(),
                "identifier": m.license.trim(),
                "description": "The record's licence, as the repository names it.",
            }));
            "#license".to_string()
        }
    };
    root.insert("license".into(), id_ref(&license_id));
    if let Some(doi) = record_doi(journal, manifest) {
        root.insert("identifier".into(), json!(format!("https://doi.org/{doi}")));
    }
    if let Some(u) = record_url(journal) {
        root.insert("url".into(), json!(u));
    }
    // Authors and their affiliations.
    let mut authors = Vec::new();
    let mut organizations: Vec<String> = Vec::new();
    for (i, c) in m.creators.iter().enumerate() {
        let id = orcid_url(c).unwrap_or_else(|| format!("#creator-{}", i + 1));
        let mut person = json!({
            "@id": id, "@type": "Person", "name": display_name(c),
            "givenName": c.given, "familyName": c.family,
        });
        if let Some(a) = c.affiliation.as_deref().filter(|a| !a.trim().is_empty()) {
            let n = match organizations.iter().position(|o| o == a) {
                Some(n) => n,
                None => {
                    organizations.push(a.to_string());
                    organizations.len() - 1
                }
            };
            person["affiliation"] = id_ref(&format!("#organization-{}", n + 1));
        }
        if !authors.iter().any(|a: &Value| a["@id"] == json!(id)) {
            authors.push(id_ref(&id));
            contextual.push(person);
        }
    }
    for (n, name) in organizations.iter().enumerate() {
        contextual.push(json!({
            "@id": format!("#organization-{}", n + 1), "@type": "Organization", "name": name,
        }));
    }
    if !authors.is_empty() {
        root.insert("author".into(), one_or_many(authors.clone()));
    }
    // The publisher: the repository.
    let base = journal.target.base_url();
    root.insert("publisher".into(), id_ref(&base));
    contextual.push(json!({
        "@id": base, "@type": "Organization", "name": journal.target.publisher(), "url": base,
    }));
    if !m.keywords.is_empty() {
        root.insert(
            "keywords".into(),
            one_or_many(m.keywords.iter().map(|k| json!(k)).collect()),
        );
    }
    if let Some(v) = m.version.as_deref().filter(|v| !v.trim().is_empty()) {
        root.insert("version".into(), json!(v));
    }
    // Related works.
    let mut related: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for r in &m.related {
        let url = related_url(r);
        let property = match r.relation {
            Relation::IsSupplementTo => "isPartOf",
            Relation::IsDerivedFrom => "isBasedOn",
            Relation::Cites | Relation::References => "citation",
            Relation::IsCitedBy => "subjectOf",
            Relation::Documents => "about",
        };
        related.entry(property).or_default().push(id_ref(&url));
        if !contextual.iter().any(|e| e["@id"] == json!(url)) {
            let kind = match (r.scheme.as_str(), r.relation) {
                (_, Relation::IsDerivedFrom) => "CreativeWork",
                ("doi" | "arxiv", _) => "ScholarlyArticle",
                _ => "CreativeWork",
            };
            contextual.push(json!({
                "@id": url, "@type": kind, "name": related_label(r), "identifier": url,
                "description": format!("The work this record {} ({}).", relation_phrase(r.relation), related_label(r)),
            }));
        }
    }
    for (property, values) in related {
        root.insert(property.into(), one_or_many(values));
    }
    root.insert("conformsTo".into(), id_ref(PROCESS_RUN_CRATE));

    // The software.
    let sw = &manifest.software;
    let kernel_version = kernel_version(&sw.kernel);
    let kernel_id = match kernel_version {
        Some(v) if sw.kernel.contains("evcxr_jupyter") => {
            format!("https://crates.io/crates/evcxr_jupyter/{v}")
        }
        _ => "#kernel".to_string(),
    };

    // The files, with their download links once the record exists.
    let files = crate_files(journal, manifest);
    let download_base = journal
        .record_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .map(|id| format!("{}/records/{id}/files/", journal.target.base_url()));
    let version = m.version.as_deref().filter(|v| !v.trim().is_empty());
    let mut has_part = Vec::new();
    let mut file_entities = Vec::new();
    for f in &files {
        has_part.push(id_ref(&f.key));
        let notebook = f.kind == FileKind::Notebook || manifest.notebooks.contains(&f.key);
        let mut e = json!({
            "@id": f.key,
            "@type": if notebook { json!(["File", "SoftwareSourceCode"]) } else { json!("File") },
            "name": f.key,
            "description": kind_description(f.kind),
            "encodingFormat": f.encoding_format,
            "contentSize": f.size.to_string(),
            "sha256": f.sha256,
        });
        if let Some(base) = &download_base {
            e["url"] = json!(format!("{base}{}?download=1", url_path(&f.key)));
        }
        if notebook {
            e["programmingLanguage"] = id_ref("#rust");
            e["targetProduct"] = id_ref(&kernel_id);
            if let Some(v) = version {
                e["version"] = json!(v);
            }
        }
        file_entities.push(e);
    }
    has_part.push(id_ref(MANIFEST_KEY));
    file_entities.push(json!({
        "@id": MANIFEST_KEY,
        "@type": "File",
        "name": MANIFEST_KEY,
        "description": "Every file of the record with its SHA-256 and md5, and every product with the \
                        request and archive that make it again (`oda publish verify`). Written after \
                        this crate, so listed here without a checksum.",
        "encodingFormat": "application/json",
    }));
    if let (Some(base), Some(e)) = (&download_base, file_entities.last_mut()) {
        e["url"] = json!(format!("{base}{MANIFEST_KEY}?download=1"));
    }
    root.insert("hasPart".into(), one_or_many(has_part));

    let mut oda = json!({
        "@id": ODA_URL,
        "@type": "SoftwareApplication",
        "name": "oda",
        "description": "INTEGRAL Online Data Analysis, notebook-first: ISGRI coded-mask imaging, spectra and light curves in Rust.",
        "url": ODA_URL,
        "version": sw.oda_version,
        "programmingLanguage": id_ref("#rust"),
    });
    if sw.oda_version.trim().is_empty()
        && let Some(o) = oda.as_object_mut()
    {
        o.remove("version");
    }
    let mut rust = json!({
        "@id": "#rust", "@type": "ComputerLanguage", "name": "Rust",
        "url": "https://www.rust-lang.org/",
    });
    if !sw.rust_toolchain.trim().is_empty() {
        rust["version"] = json!(sw.rust_toolchain);
    }
    let mut kernel = json!({
        "@id": kernel_id,
        "@type": "SoftwareApplication",
        "name": if sw.kernel.trim().is_empty() { "Rust (oda) Jupyter kernel" } else { sw.kernel.as_str() },
        "description": "The Jupyter kernel the notebooks ran in.",
        "url": EVCXR_URL,
    });
    if let Some(v) = kernel_version {
        kernel["version"] = json!(v);
    }

    // One CreateAction per product.
    let mut actions = Vec::new();
    let mut action_entities = Vec::new();
    let mut archives: Vec<(ArchiveRecord, String)> = Vec::new();
    let mut inputs = Vec::new();
    let agent = authors.first().cloned();
    for (i, p) in manifest.products.iter().enumerate() {
        let n = (i + 1).to_string();
        let action_id = fragment(&["product", &n]);
        let archive_id = match archives.iter().find(|(a, _)| a == &p.archive) {
            Some((_, id)) => id.clone(),
            None => {
                let id = match &p.archive {
                    ArchiveRecord::Simulated {
                        seed,
                        model_version,
                        ..
                    } => fragment(&[
                        "archive-simulated",
                        &format!("seed{seed}"),
                        &format!("model{model_version}"),
                    ]),
                    ArchiveRecord::Real { .. } => {
                        fragment(&["archive", &(archives.len() + 1).to_string()])
                    }
                };
                archives.push((p.archive.clone(), id.clone()));
                id
            }
        };
        let mut object = vec![id_ref(&archive_id)];
        for (name, value) in &p.parameters {
            let id = fragment(&["product", &n, "parameter", name]);
            object.push(id_ref(&id));
            inputs.push(json!({"@id": id, "@type": "PropertyValue", "name": name, "value": value}));
        }
        if !p.scws.is_empty() {
            let id = fragment(&["product", &n, "scws"]);
            object.push(id_ref(&id));
            inputs.push(json!({
                "@id": id, "@type": "PropertyValue", "name": "Science Windows",
                "value": p.scws.join(" "),
                "description": "The Science Windows the product was made from.",
            }));
        }
        let mut identifiers = Vec::new();
        let identity_id = fragment(&["product", &n, "identity"]);
        identifiers.push(id_ref(&identity_id));
        inputs.push(json!({
            "@id": identity_id, "@type": "PropertyValue", "propertyID": "oda-identity",
            "name": "oda identity", "value": p.identity,
            "description": "SHA-256 of the product's whole provenance: the same request on the same archive with the same code gives the same identity.",
        }));
        for (u, unit) in p.provenance.iter().enumerate() {
            let id = fragment(&["product", &n, "unit", &(u + 1).to_string()]);
            identifiers.push(id_ref(&id));
            inputs.push(json!({
                "@id": id, "@type": "PropertyValue", "propertyID": "oda-unit-identity",
                "name": unit.name, "value": unit.identity,
                "description": format!("The identity of the analysis unit {} (code version {}).", unit.name, unit.version),
            }));
        }
        let result: Vec<Value> = p
            .files
            .iter()
            .filter(|k| files.iter().any(|f| &f.key == *k))
            .map(|k| id_ref(k))
            .collect();
        let mut action = json!({
            "@id": action_id,
            "@type": "CreateAction",
            "name": format!("Make {} ({})", p.product, p.dir),
            "description": product_description(p, &sw.oda_version),
            "instrument": id_ref(ODA_URL),
            "object": one_or_many(object),
            "identifier": one_or_many(identifiers),
            // A plain string, as the Process Run Crate profile (and its validator) writes it.
            "actionStatus": "http://schema.org/CompletedActionStatus",
        });
        if !result.is_empty() {
            action["result"] = one_or_many(result);
        }
        if let Some(a) = &agent {
            action["agent"] = a.clone();
        }
        actions.push(id_ref(&action_id));
        action_entities.push(action);
    }
    if !actions.is_empty() {
        root.insert("mentions".into(), one_or_many(actions));
    }

    graph.push(Value::Object(root));
    graph.extend(file_entities);
    graph.extend(action_entities);
    graph.push(oda);
    graph.push(kernel);
    graph.push(rust);
    graph.extend(archives.iter().map(|(a, id)| archive_entity(a, id)));
    graph.extend(inputs);
    graph.extend(contextual);
    graph.push(json!({
        "@id": PROCESS_RUN_CRATE, "@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5",
    }));
    json!({
        // `sha256` is a schema.org term newer than the RO-Crate 1.1 context: declared here.
        "@context": [
            "https://w3id.org/ro/crate/1.1/context",
            {"sha256": "http://schema.org/sha256"},
        ],
        "@graph": graph,
    })
}

// ---------------------------------------------------------------------------------------------
// README.md

/// The DOI badge in Markdown: `[![DOI](https://zenodo.org/badge/DOI/{doi}.svg)](https://doi.org/{doi})`.
pub fn doi_badge_markdown(doi: &str) -> String {
    format!("[![DOI](https://zenodo.org/badge/DOI/{doi}.svg)](https://doi.org/{doi})")
}

/// Percent-encodes a path for a URL query (keeps `/`).
fn url_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The Binder link of a published Zenodo record (which must hold exactly one zip, the one
/// Binder unpacks), opening `notebook` (a path inside that zip) in JupyterLab.
pub fn binder_url(doi: &str, notebook: Option<&str>) -> String {
    let mut url = format!("https://mybinder.org/v2/zenodo/{doi}/");
    if let Some(nb) = notebook.filter(|n| !n.is_empty()) {
        let _ = write!(url, "?labpath={}", url_path(nb));
    }
    url
}

/// Text with Markdown's special characters escaped.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Inline code (a file key, a parameter value), safe whatever backticks it holds.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A size for people: `532 B`, `12.3 kB`, `4.1 MB`, `1.20 GB`.
fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{bytes} B")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Notebook => "notebook",
        FileKind::Product => "product",
        FileKind::Figure => "figure",
        FileKind::Readme => "README",
        FileKind::Citation => "citation (CFF)",
        FileKind::RoCrate => "RO-Crate metadata",
        FileKind::RunnableZip => "runnable zip (Binder)",
    }
}

/// The record's `README.md`.
pub(crate) fn readme(journal: &Journal, manifest: &Manifest) -> String {
    let m = &journal.metadata;
    let doi = record_doi(journal, manifest);
    let zip = manifest
        .files
        .iter()
        .find(|f| f.kind == FileKind::RunnableZip);
    let first_notebook = manifest.notebooks.first().map(|n| format!("notebooks/{n}"));
    let mut r = String::new();
    let title = if m.title.trim().is_empty() {
        "Untitled record"
    } else {
        m.title.trim()
    };
    let _ = writeln!(r, "# {}\n", md(title));
    let mut badges = Vec::new();
    if let Some(d) = &doi {
        badges.push(doi_badge_markdown(d));
        if zip.is_some() {
            badges.push(format!(
                "[![Binder](https://mybinder.org/badge_logo.svg)]({})",
                binder_url(d, first_notebook.as_deref())
            ));
        }
    }
    if !badges.is_empty() {
        let _ = writeln!(r, "{}\n", badges.join(" "));
    }
    if !m.description.trim().is_empty() {
        for para in m.description.split("\n\n").filter(|p| !p.trim().is_empty()) {
            let _ = writeln!(r, "{}\n", md(para.trim()));
        }
    }
    if !m.creators.is_empty() {
        let names: Vec<String> = m
            .creators
            .iter()
            .map(|c| {
                let mut s = md(&display_name(c));
                if let Some(o) = orcid_url(c) {
                    let _ = write!(s, " ([ORCID]({o}))");
                }
                if let Some(a) = c.affiliation.as_deref().filter(|a| !a.trim().is_empty()) {
                    let _ = write!(s, ", {}", md(a));
                }
                s
            })
            .collect();
        let _ = writeln!(r, "**Authors:** {}\n", names.join("; "));
    }
    let mut facts = Vec::new();
    if let Some(d) = &doi {
        facts.push(format!("**DOI:** [{d}](https://doi.org/{d})"));
    }
    if let Some(c) = journal
        .concept_doi
        .as_deref()
        .filter(|c| Some(*c) != doi.as_deref())
    {
        facts.push(format!("**All versions:** [{c}](https://doi.org/{c})"));
    }
    if let Some(v) = m.version.as_deref().filter(|v| !v.trim().is_empty()) {
        facts.push(format!("**Version:** {}", md(v)));
    }
    let date = release_date(journal, manifest);
    if !date.is_empty() {
        facts.push(format!("**Published:** {date}"));
    }
    let licence = match license(&m.license) {
        Some(l) => format!("**Licence:** [{}]({}) ({})", l.name, l.url, l.spdx),
        None => format!("**Licence:** {}", md(m.license.trim())),
    };
    facts.push(licence);
    if let Some(u) = record_url(journal) {
        facts.push(format!("**Record:** <{u}>"));
    }
    if !m.keywords.is_empty() {
        let k: Vec<String> = m.keywords.iter().map(|k| md(k)).collect();
        facts.push(format!("**Keywords:** {}", k.join(", ")));
    }
    for f in facts {
        let _ = writeln!(r, "- {f}");
    }
    r.push('\n');

    // How to cite.
    r.push_str("## How to cite\n\n");
    let _ = writeln!(r, "> {}\n", md(&citation_text(journal, manifest)));
    r.push_str(
        "`CITATION.cff` holds the same in the Citation File Format (`cffconvert -f bibtex` gives BibTeX).\n",
    );
    if !m.related.is_empty() {
        r.push('\n');
        for rel in &m.related {
            let _ = writeln!(
                r,
                "This record {} [{}]({}).",
                relation_phrase(rel.relation),
                md(&related_label(rel)),
                related_url(rel)
            );
        }
    }
    r.push('\n');

    // What is in the record.
    r.push_str("## What is in this record\n\n| File | What | Size |\n|---|---|---:|\n");
    let order = [
        FileKind::Notebook,
        FileKind::Product,
        FileKind::Figure,
        FileKind::RunnableZip,
        FileKind::Readme,
        FileKind::Citation,
        FileKind::RoCrate,
    ];
    let mut listed: Vec<&str> = Vec::new();
    for kind in order {
        for f in manifest.files.iter().filter(|f| f.kind == kind) {
            let _ = writeln!(
                r,
                "| {} | {} | {} |",
                code(&f.key),
                kind_name(kind),
                human_size(f.size)
            );
            listed.push(&f.key);
        }
    }
    for (key, kind) in [
        (README_KEY, "README"),
        (CITATION_KEY, "citation (CFF)"),
        (RO_CRATE_KEY, "RO-Crate metadata"),
        (MANIFEST_KEY, "manifest"),
    ] {
        if !listed.contains(&key) {
            let _ = writeln!(r, "| {} | {kind} | |", code(key));
        }
    }
    r.push_str(
        "\n`manifest.json` lists every file with its SHA-256 and md5, and every product with the \
         request and the archive that make it again. `ro-crate-metadata.json` describes the record \
         as an [RO-Crate](https://w3id.org/ro/crate/1.1), with how each product was made \
         (one `CreateAction` per product).\n\n",
    );

    // How to re-run.
    r.push_str("## How to re-run\n\n");
    match (zip, &doi) {
        (Some(z), Some(d)) => {
            let _ = writeln!(
                r,
                "**On Binder:** [open the notebooks]({}) — Binder unpacks {} (the record's only zip) \
                 and starts JupyterLab{}.\n",
                binder_url(d, first_notebook.as_deref()),
                code(&z.key),
                first_notebook
                    .as_deref()
                    .map(|n| format!(" on {}", code(n)))
                    .unwrap_or_default()
            );
        }
        (Some(z), None) => {
            let _ = writeln!(
                r,
                "**On Binder:** once the record has a DOI, Binder can unpack {} (the record's only zip).\n",
                code(&z.key)
            );
        }
        _ => {}
    }
    // The archive the notebooks must read to make the same products: the simulation's seed
    // when it is not the default one; a real archive is the reader's own copy.
    let mut seeds: Vec<u64> = Vec::new();
    let mut real = 0;
    for p in &manifest.products {
        match &p.archive {
            ArchiveRecord::Simulated { seed, .. } if !seeds.contains(seed) => seeds.push(*seed),
            ArchiveRecord::Simulated { .. } => {}
            ArchiveRecord::Real { .. } => real += 1,
        }
    }
    let archive_env = match seeds.as_slice() {
        [seed] if *seed != crate::config::DEFAULT_SEED => Some(format!("ODA_SIM_SEED={seed} ")),
        _ => None,
    };
    let mut notes = Vec::new();
    if seeds.len() > 1 {
        let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
        notes.push(format!(
            "The products were made from simulated archives with seeds {}: set `ODA_SIM_SEED` to \
             the one of each product (see below).",
            list.join(", ")
        ));
    }
    if real > 0 {
        notes.push(format!(
            "{real} product(s) were made from a real INTEGRAL archive: set `ODA_ARCHIVE` to your \
             copy of it."
        ));
    }
    let archive_note = (!notes.is_empty()).then(|| notes.join(" "));
    if let Some(z) = zip {
        let dir = z.key.trim_end_matches(".zip");
        let _ = writeln!(
            r,
            "**Locally** (Linux or macOS with Python 3 and [rustup](https://rustup.rs)):\n\n```sh\n\
             unzip {key} -d {dir}\ncd {dir}\n./setup.sh          # Python packages and the \"Rust (oda)\" Jupyter kernel\n\
             {env}jupyter lab{nb}\n```\n",
            key = z.key,
            env = archive_env.as_deref().unwrap_or_default(),
            nb = first_notebook
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default()
        );
        if let Some(note) = &archive_note {
            let _ = writeln!(r, "{note}\n");
        }
        let _ = writeln!(
            r,
            "**Verify every product:** in the directory where this record was downloaded,\n\n```sh\n\
             cargo install --locked --path {dir}   # the oda of this record\n\
             oda publish verify .\n```\n\n\
             re-makes every product from its request on the archive it was made from and compares \
             the checksums with `manifest.json`.\n"
        );
    } else {
        r.push_str(
            "**Verify every product:** `oda publish verify .` in the directory where this record was \
             downloaded re-makes every product from its request on the archive it was made from and \
             compares the checksums with `manifest.json`.\n\n",
        );
    }

    // Software.
    let sw = &manifest.software;
    r.push_str("## Software\n\n");
    let _ = writeln!(r, "- [oda]({ODA_URL}) {}", md(&sw.oda_version));
    if !sw.rust_toolchain.trim().is_empty() {
        let _ = writeln!(
            r,
            "- Rust toolchain {} (pinned in the zip's `rust-toolchain.toml`)",
            md(&sw.rust_toolchain)
        );
    }
    if !sw.kernel.trim().is_empty() {
        let _ = writeln!(r, "- Jupyter kernel: {}", md(&sw.kernel));
    }
    r.push('\n');

    // Products.
    if !manifest.products.is_empty() {
        r.push_str("## Products\n\n");
        for (i, p) in manifest.products.iter().enumerate() {
            let _ = writeln!(r, "### {}. {} — {}\n", i + 1, md(&p.product), code(&p.dir));
            if !p.parameters.is_empty() {
                r.push_str("| Parameter | Value |\n|---|---|\n");
                for (k, v) in &p.parameters {
                    let _ = writeln!(r, "| {} | {} |", code(k), code(v));
                }
                r.push('\n');
            }
            let archive = match &p.archive {
                ArchiveRecord::Simulated {
                    seed,
                    model_version,
                    extra_sky_sha256,
                    perturbation,
                } => {
                    let mut a = format!(
                        "the simulated archive (seed {seed}, model version {model_version})"
                    );
                    if let Some(d) = extra_sky_sha256 {
                        let _ = write!(a, " with extra sources from a sky file (SHA-256 {d})");
                    }
                    if let Some(q) = perturbation {
                        let _ = write!(
                            a,
                            " with the instrument perturbed from its calibration ({})",
                            code(&q.to_string())
                        );
                    }
                    a
                }
                ArchiveRecord::Real { root } => format!("the INTEGRAL archive at {}", code(root)),
            };
            let _ = writeln!(
                r,
                "- Made from {archive}{}",
                if p.scws.is_empty() {
                    String::new()
                } else {
                    format!(", {} Science Window(s)", p.scws.len())
                }
            );
            if !p.identity.is_empty() {
                let _ = writeln!(r, "- Identity: {}", code(&p.identity));
            }
            if !p.files.is_empty() {
                let keys: Vec<String> = p.files.iter().map(|k| code(k)).collect();
                let _ = writeln!(r, "- Files: {}", keys.join(", "));
            }
            r.push('\n');
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::manifest::{MANIFEST_FORMAT, ProvenanceUnit, SoftwareInfo};
    use crate::publish::metadata::Metadata;
    use crate::publish::target::{Api, Target};

    fn file(key: &str, kind: FileKind, bytes: &[u8], format: &str) -> BundleFile {
        BundleFile {
            key: key.into(),
            path: key.into(),
            kind,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            md5: "0".repeat(32),
            encoding_format: format.into(),
        }
    }

    fn example() -> (Journal, Manifest) {
        let mut metadata = Metadata::from_toml(
            r#"
            title = "The Crab: \"a standard candle\" seen by ISGRI, Genève"
            description = "Images and spectra.\n\nMade with oda."
            creators = ["Doe, Jane, 0000-0002-1825-0097, Université de Genève", "Roe, Richard, , Université de Genève", "Poe, Edgar"]
            keywords = ["INTEGRAL", "Crab"]
            license = "cc-by-4.0"
            version = "1.0"
            related_dois = ["10.1051/0004-6361/202037850"]
            related = [{identifier = "arXiv:2002.12895", relation = "cites"}]
            "#,
        )
        .unwrap();
        metadata.publication_date = None;
        let mut journal = Journal::new(Target::ZenodoSandbox, Api::Rdm, metadata);
        journal.doi = Some("10.5072/zenodo.42".into());
        journal.record_id = Some("42".into());
        journal.concept_doi = Some("10.5072/zenodo.41".into());
        journal.publication_date = "2026-11-30".into();
        journal.citation = "Doe, J., Roe, R., & Poe, E. (2026). The Crab [Data set]. Zenodo. https://doi.org/10.5072/zenodo.42".into();
        let files = vec![
            file(
                "crab.ipynb",
                FileKind::Notebook,
                b"nb",
                "application/x-ipynb+json",
            ),
            file(
                "crab-image__isgri_image.fits",
                FileKind::Product,
                b"fits",
                "application/fits",
            ),
            file(
                "crab-image__result.json",
                FileKind::Product,
                b"{}",
                "application/json",
            ),
            file(
                "crab-spectrum__spectrum.fits",
                FileKind::Product,
                b"spec",
                "application/fits",
            ),
            file(
                "crab-image.svg",
                FileKind::Figure,
                b"<svg/>",
                "image/svg+xml",
            ),
            file(
                "rerun-on-binder.zip",
                FileKind::RunnableZip,
                b"PK",
                "application/zip",
            ),
        ];
        let product = |dir: &str, product: &str, files: &[&str], archive| ProductRecord {
            dir: dir.into(),
            product: product.into(),
            parameters: [("src_name", "Crab"), ("T1", "2003-03-15"), ("E1_keV", "20")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            identity: "ab".repeat(32),
            provenance: vec![ProvenanceUnit {
                name: "ScwImage".into(),
                version: "3".into(),
                identity: "cd".repeat(32),
            }],
            scws: vec!["004400730010".into(), "004400740010".into()],
            archive,
            files: files.iter().map(|s| s.to_string()).collect(),
        };
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            doi: "10.5072/zenodo.42".into(),
            citation: String::new(),
            files,
            products: vec![
                product(
                    "products/crab-image",
                    "isgri_image",
                    &["crab-image__isgri_image.fits", "crab-image__result.json"],
                    ArchiveRecord::Simulated {
                        seed: 7,
                        model_version: 1,
                        extra_sky_sha256: None,
                        perturbation: None,
                    },
                ),
                product(
                    "products/crab-spectrum",
                    "isgri_spectrum",
                    &["crab-spectrum__spectrum.fits"],
                    ArchiveRecord::Real {
                        root: "/data/integral".into(),
                    },
                ),
            ],
            software: SoftwareInfo {
                oda_version: "0.1.0".into(),
                rust_toolchain: "1.95.0".into(),
                kernel: "Rust (oda): evcxr_jupyter 0.22.0".into(),
            },
            notebooks: vec!["crab.ipynb".into()],
            date: "2026-11-29".into(),
            hdus: BTreeMap::new(),
        };
        (journal, manifest)
    }

    fn entity<'a>(crate_: &'a Value, id: &str) -> &'a Value {
        crate_["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["@id"] == id)
            .unwrap_or_else(|| panic!("no entity {id}"))
    }

    fn ids(v: &Value) -> Vec<String> {
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x["@id"].as_str().unwrap().to_string())
                .collect(),
            Value::Null => Vec::new(),
            x => vec![x["@id"].as_str().unwrap().to_string()],
        }
    }

    #[test]
    fn spdx_ids_of_zenodo_licences() {
        assert_eq!(license("cc-by-4.0").unwrap().spdx, "CC-BY-4.0");
        assert_eq!(
            license("cc-by-4.0").unwrap().url,
            "https://creativecommons.org/licenses/by/4.0/"
        );
        assert_eq!(license("CC-BY-SA-4.0").unwrap().spdx, "CC-BY-SA-4.0");
        assert_eq!(license("mit").unwrap().spdx, "MIT");
        assert_eq!(
            license("mit").unwrap().url,
            "https://spdx.org/licenses/MIT.html"
        );
        assert_eq!(license("apache-2.0").unwrap().spdx, "Apache-2.0");
        assert_eq!(license("cc0-1.0").unwrap().spdx, "CC0-1.0");
        assert_eq!(license("cc-zero").unwrap().spdx, "CC0-1.0");
        assert_eq!(license("bsd-3-clause").unwrap().spdx, "BSD-3-Clause");
        assert_eq!(license("gpl-3.0").unwrap().spdx, "GPL-3.0-only");
        assert_eq!(
            license("gpl-3.0-or-later").unwrap().spdx,
            "GPL-3.0-or-later"
        );
        assert_eq!(license("odbl-1.0").unwrap().spdx, "ODbL-1.0");
        assert_eq!(license(" CC-BY-NC-4.0 ").unwrap().spdx, "CC-BY-NC-4.0");
        assert_eq!(license("my-own-licence"), None);
        assert_eq!(license(""), None);
    }

    #[test]
    fn unknown_licence_is_left_out_of_the_cff_and_named_in_the_crate() {
        let (mut j, m) = example();
        j.metadata.license = "other-open".into();
        let cff = citation_cff(&j, &m);
        assert!(!cff.lines().any(|l| l.starts_with("license:")), "{cff}");
        assert!(
            cff.contains("# license: \"other-open\" (not an SPDX licence id"),
            "{cff}"
        );
        let c = ro_crate(&j, &m);
        assert_eq!(entity(&c, "./")["license"]["@id"], "#license");
        assert_eq!(entity(&c, "#license")["name"], "other-open");
    }

    #[test]
    fn yaml_strings_are_quoted_and_escaped() {
        assert_eq!(yaml_str("plain"), "\"plain\"");
        assert_eq!(yaml_str("a: \"b\" é"), "\"a: \\\"b\\\" é\"");
        assert_eq!(
            yaml_str("back\\slash # not a comment"),
            "\"back\\\\slash # not a comment\""
        );
        assert_eq!(yaml_str("two\nlines\ttab"), "\"two\\nlines\\ttab\"");
        assert_eq!(
            yaml_str("bell\u{7}nel\u{85}ls\u{2028}"),
            "\"bell\\u0007nel\\u0085ls\\u2028\""
        );
        assert_eq!(
            yaml_str("- [x]: {y} & *z !t %u @v `w"),
            "\"- [x]: {y} & *z !t %u @v `w\""
        );
    }

    #[test]
    fn citation_cff_fields() {
        let (j, m) = example();
        let cff = citation_cff(&j, &m);
        let lines: Vec<&str> = cff.lines().collect();
        for want in [
            "cff-version: 1.2.0",
            "message: \"If you use these data, please cite them as below.\"",
            "type: dataset",
            "title: \"The Crab: \\\"a standard candle\\\" seen by ISGRI, Genève\"",
            "abstract: \"Images and spectra.\\n\\nMade with oda.\"",
            "authors:",
            "  - family-names: \"Doe\"",
            "    given-names: \"Jane\"",
            "    orcid: \"https://orcid.org/0000-0002-1825-0097\"",
            "    affiliation: \"Université de Genève\"",
            "  - family-names: \"Poe\"",
            "doi: \"10.5072/zenodo.42\"",
            "version: \"1.0\"",
            "date-released: \"2026-11-30\"",
            "license: \"CC-BY-4.0\"",
            "  - \"INTEGRAL\"",
            "    value: \"10.5072/zenodo.41\"",
            "    description: \"The concept DOI of the record: all its versions.\"",
            "repository: \"https://sandbox.zenodo.org/records/42\"",
            "url: \"https://sandbox.zenodo.org/records/42\"",
            "references:",
            "  - type: article",
            "    doi: \"10.1051/0004-6361/202037850\"",
            "    title: \"The work this record is a supplement to (doi:10.1051/0004-6361/202037850)\"",
            "    url: \"https://arxiv.org/abs/2002.12895\"",
        ] {
            assert!(lines.contains(&want), "no line {want:?} in\n{cff}");
        }
        // Poe has no ORCID and no affiliation: his entry has only names.
        let poe = cff.find("\"Poe\"").unwrap();
        assert!(
            cff[poe..].lines().nth(2).unwrap().starts_with("doi:"),
            "{cff}"
        );
        // The record's date wins over the bundle's.
        assert!(!cff.contains("2026-11-29"));
        // Every value line is a key, a list item, a comment or a continuation.
        for l in &lines {
            assert!(
                l.starts_with('#')
                    || l.contains(": ")
                    || l.ends_with(':')
                    || l.trim_start().starts_with("- "),
                "{l}"
            );
        }
    }

    #[test]
    fn cff_without_record_or_related_works() {
        let (mut j, mut m) = example();
        j.metadata.related.clear();
        j.metadata.version = None;
        j.record_id = None;
        j.concept_doi = None;
        j.publication_date.clear();
        m.date = "2026-11-29".into();
        let cff = citation_cff(&j, &m);
        assert!(
            !cff.contains("references:")
                && !cff.contains("repository:")
                && !cff.contains("\nversion:")
        );
        assert!(cff.contains("date-released: \"2026-11-29\""));
        assert!(cff.contains("identifiers:\n  - type: doi\n    value: \"10.5072/zenodo.42\""));
    }

    #[test]
    fn crate_structure() {
        let (j, m) = example();
        let c = ro_crate(&j, &m);
        assert_eq!(c["@context"][0], "https://w3id.org/ro/crate/1.1/context");
        let d = entity(&c, "ro-crate-metadata.json");
        assert_eq!(d["conformsTo"]["@id"], "https://w3id.org/ro/crate/1.1");
        assert_eq!(d["about"]["@id"], "./");
        let root = entity(&c, "./");
        assert_eq!(root["@type"], "Dataset");
        assert_eq!(root["datePublished"], "2026-11-30");
        assert_eq!(root["identifier"], "https://doi.org/10.5072/zenodo.42");
        assert_eq!(
            root["license"]["@id"],
            "https://creativecommons.org/licenses/by/4.0/"
        );
        assert_eq!(root["conformsTo"]["@id"], PROCESS_RUN_CRATE);
        assert_eq!(root["publisher"]["@id"], "https://sandbox.zenodo.org");
        assert_eq!(
            entity(&c, "https://sandbox.zenodo.org")["url"],
            "https://sandbox.zenodo.org"
        );
        assert_eq!(
            root["isPartOf"]["@id"],
            "https://doi.org/10.1051/0004-6361/202037850"
        );
        assert_eq!(root["citation"]["@id"], "https://arxiv.org/abs/2002.12895");
        // Authors: ORCID URL or a local id; one shared affiliation.
        assert_eq!(
            ids(&root["author"]),
            [
                "https://orcid.org/0000-0002-1825-0097",
                "#creator-2",
                "#creator-3"
            ]
        );
        let doe = entity(&c, "https://orcid.org/0000-0002-1825-0097");
        assert_eq!(doe["affiliation"]["@id"], "#organization-1");
        assert_eq!(
            entity(&c, "#creator-2")["affiliation"]["@id"],
            "#organization-1"
        );
        assert_eq!(
            entity(&c, "#organization-1")["name"],
            "Université de Genève"
        );
        assert!(entity(&c, "#creator-3").get("affiliation").is_none());
    }

    #[test]
    fn every_part_has_its_checksum_except_the_manifest() {
        let (j, m) = example();
        let c = ro_crate(&j, &m);
        let parts = ids(&entity(&c, "./")["hasPart"]);
        for f in &m.files {
            assert!(parts.contains(&f.key), "{} not in hasPart", f.key);
            assert_eq!(entity(&c, &f.key)["sha256"], f.sha256);
            assert_eq!(entity(&c, &f.key)["contentSize"], f.size.to_string());
        }
        // README and CITATION.cff are made here: their checksums are of these texts.
        assert_eq!(
            entity(&c, "README.md")["sha256"],
            sha256_hex(readme(&j, &m).as_bytes())
        );
        assert_eq!(
            entity(&c, "CITATION.cff")["sha256"],
            sha256_hex(citation_cff(&j, &m).as_bytes())
        );
        assert!(parts.contains(&"manifest.json".to_string()));
        assert!(!parts.contains(&"ro-crate-metadata.json".to_string()));
        for p in &parts {
            let e = entity(&c, p);
            if p == "manifest.json" {
                assert!(e.get("sha256").is_none());
            } else {
                assert_eq!(e["sha256"].as_str().unwrap().len(), 64, "{p}");
            }
        }
        assert_eq!(parts.len(), m.files.len() + 3);
        // The notebook is code in Rust.
        let nb = entity(&c, "crab.ipynb");
        assert_eq!(nb["@type"], json!(["File", "SoftwareSourceCode"]));
        assert_eq!(nb["programmingLanguage"]["@id"], "#rust");
        assert_eq!(entity(&c, "#rust")["version"], "1.95.0");
    }

    #[test]
    fn the_manifests_describing_files_are_used_as_listed() {
        let (j, mut m) = example();
        m.files.push(file(
            "README.md",
            FileKind::Readme,
            b"readme",
            "text/markdown",
        ));
        m.files.push(file(
            "CITATION.cff",
            FileKind::Citation,
            b"cff",
            "application/x-yaml",
        ));
        m.files.push(file(
            "ro-crate-metadata.json",
            FileKind::RoCrate,
            b"{}",
            "application/ld+json",
        ));
        let c = ro_crate(&j, &m);
        assert_eq!(entity(&c, "README.md")["sha256"], sha256_hex(b"readme"));
        assert_eq!(entity(&c, "CITATION.cff")["sha256"], sha256_hex(b"cff"));
        let parts = ids(&entity(&c, "./")["hasPart"]);
        assert_eq!(parts.len(), m.files.len());
        assert!(!parts.contains(&"ro-crate-metadata.json".to_string()));
        // The descriptor is the only entity with that id.
        let n = c["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["@id"] == "ro-crate-metadata.json")
            .count();
        assert_eq!(n, 1);
    }

    #[test]
    fn one_create_action_per_product() {
        let (j, m) = example();
        let c = ro_crate(&j, &m);
        let graph = c["@graph"].as_array().unwrap();
        let actions: Vec<&Value> = graph
            .iter()
            .filter(|e| e["@type"] == "CreateAction")
            .collect();
        assert_eq!(actions.len(), m.products.len());
        assert_eq!(
            ids(&entity(&c, "./")["mentions"]),
            ["#product-1", "#product-2"]
        );
        let oda = entity(&c, ODA_URL);
        assert_eq!(oda["@type"], "SoftwareApplication");
        assert_eq!(oda["version"], "0.1.0");
        let kernel = entity(&c, "https://crates.io/crates/evcxr_jupyter/0.22.0");
        assert_eq!(kernel["version"], "0.22.0");
        assert_eq!(
            entity(&c, "crab.ipynb")["targetProduct"]["@id"],
            "https://crates.io/crates/evcxr_jupyter/0.22.0"
        );
        assert_eq!(
            entity(&c, "crab.ipynb")["url"],
            "https://sandbox.zenodo.org/records/42/files/crab.ipynb?download=1"
        );
        for (a, p) in actions.iter().zip(&m.products) {
            assert_eq!(a["instrument"]["@id"], ODA_URL);
            assert_eq!(ids(&a["result"]), p.files);
            assert_eq!(a["agent"]["@id"], "https://orcid.org/0000-0002-1825-0097");
            let object = ids(&a["object"]);
            let archive = entity(&c, &object[0]);
            assert_eq!(archive["@type"], "Dataset");
            // One PropertyValue per request parameter, name and value.
            let params: BTreeMap<String, String> = object
                .iter()
                .map(|id| entity(&c, id))
                .filter(|e| {
                    e["@type"] == "PropertyValue"
                        && e.get("propertyID").is_none()
                        && e["name"] != "Science Windows"
                })
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().into(),
                        e["value"].as_str().unwrap().into(),
                    )
                })
                .collect();
            assert_eq!(params, p.parameters);
            let identity = ids(&a["identifier"]);
            let id0 = entity(&c, &identity[0]);
            assert_eq!(id0["propertyID"], "oda-identity");
            assert_eq!(id0["value"], p.identity);
            let unit = entity(&c, &identity[1]);
            assert_eq!(unit["propertyID"], "oda-unit-identity");
            assert_eq!(unit["name"], "ScwImage");
            assert!(a["description"].as_str().unwrap().contains(&p.identity));
        }
        let sim = entity(&c, "#archive-simulated-seed7-model1");
        assert!(sim["name"].as_str().unwrap().contains("seed 7"));
        assert_eq!(sim["version"], "1");
        assert_eq!(entity(&c, "#archive-2")["identifier"], "/data/integral");
        // Every reference in the graph resolves to an entity, except external vocabulary.
        let known: Vec<&str> = graph.iter().map(|e| e["@id"].as_str().unwrap()).collect();
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(o) => {
                    if o.len() == 1
                        && let Some(Value::String(id)) = o.get("@id")
                    {
                        out.push(id);
                    }
                    o.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&c["@graph"], &mut all);
        for r in all {
            assert!(
                known.contains(&r) || r.starts_with("http://schema.org/") || r == RO_CRATE_1_1,
                "dangling reference {r}"
            );
        }
        // Entity ids are unique.
        let mut sorted = known.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), known.len());
    }

    #[test]
    fn single_values_are_not_arrays() {
        let (mut j, mut m) = example();
        j.metadata.creators.truncate(1);
        j.metadata.keywords.truncate(1);
        m.products.truncate(1);
        m.products[0].files.truncate(1);
        m.products[0].provenance.clear();
        let c = ro_crate(&j, &m);
        let root = entity(&c, "./");
        assert!(root["author"].is_object() && root["mentions"].is_object());
        assert_eq!(root["keywords"], "INTEGRAL");
        let a = entity(&c, "#product-1");
        assert!(a["result"].is_object() && a["identifier"].is_object());
    }

    #[test]
    fn badges_and_binder() {
        assert_eq!(
            doi_badge_markdown("10.5281/zenodo.42"),
            "[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.42.svg)](https://doi.org/10.5281/zenodo.42)"
        );
        assert_eq!(
            binder_url("10.5281/zenodo.42", Some("notebooks/crab image.ipynb")),
            "https://mybinder.org/v2/zenodo/10.5281/zenodo.42/?labpath=notebooks/crab%20image.ipynb"
        );
        assert_eq!(
            binder_url("10.5281/zenodo.42", None),
            "https://mybinder.org/v2/zenodo/10.5281/zenodo.42/"
        );
    }

    #[test]
    fn readme_contents() {
        let (j, m) = example();
        let r = readme(&j, &m);
        assert!(
            r.starts_with("# The Crab: \"a standard candle\" seen by ISGRI, Genève\n"),
            "{r}"
        );
        assert!(r.contains(&doi_badge_markdown("10.5072/zenodo.42")));
        assert!(r.contains(
            "(https://mybinder.org/v2/zenodo/10.5072/zenodo.42/?labpath=notebooks/crab.ipynb)"
        ));
        assert!(r.contains(&format!("> {}", md(&j.citation))));
        assert!(
            r.contains("| `crab-image__isgri_image.fits` | product | 4 B |"),
            "{r}"
        );
        assert!(r.contains("| `rerun-on-binder.zip` | runnable zip (Binder) | 2 B |"));
        assert!(r.contains("| `manifest.json` | manifest | |"));
        assert!(r.contains(
            "unzip rerun-on-binder.zip -d rerun-on-binder\ncd rerun-on-binder\n./setup.sh"
        ));
        assert!(
            r.contains("\nODA_SIM_SEED=7 jupyter lab notebooks/crab.ipynb\n"),
            "{r}"
        );
        assert!(
            r.contains("1 product(s) were made from a real INTEGRAL archive: set `ODA_ARCHIVE`")
        );
        assert!(r.contains("oda publish verify ."));
        assert!(r.contains("- [oda](https://github.com/oda-rs/oda) 0.1.0"));
        assert!(r.contains("Rust toolchain 1.95.0"));
        assert!(r.contains("evcxr\\_jupyter 0.22.0"));
        assert!(r.contains("### 2. isgri\\_spectrum — `products/crab-spectrum`"));
        assert!(r.contains("| `E1_keV` | `20` |"));
        assert!(r.contains("the simulated archive (seed 7, model version 1), 2 Science Window(s)"));
        assert!(r.contains("[Creative Commons Attribution 4.0 International](https://creativecommons.org/licenses/by/4.0/) (CC-BY-4.0)"));
        assert!(r.contains("This record is a supplement to [doi:10.1051/0004-6361/202037850](https://doi.org/10.1051/0004-6361/202037850)."));
    }

    #[test]
    fn markdown_escapes() {
        assert_eq!(
            md("a_b *c* [d](e) <f> | #g"),
            "a\\_b \\*c\\* \\[d\\](e) \\<f\\> \\| \\#g"
        );
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x|y"), "`x\\|y`");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_345), "12.3 kB");
        assert_eq!(human_size(4_100_000), "4.1 MB");
    }

    #[test]
    fn public_entry_point_is_consistent() {
        let (j, m) = example();
        let d = describing_files(&j, &m);
        assert_eq!(d.citation_cff, citation_cff(&j, &m));
        assert_eq!(d.readme, readme(&j, &m));
        assert_eq!(d.ro_crate, ro_crate(&j, &m));
        // Deterministic.
        assert_eq!(describing_files(&j, &m), d);
    }
}
