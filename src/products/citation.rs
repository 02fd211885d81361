//! The citation that products carry while a publication is active.
//!
//! When an analysis is published with a DOI (see `oda::publish`), the DOI is reserved first and
//! the final run writes it into every product: FITS headers (keyword `DOI`, `REFERENC` and
//! `COMMENT` cards with the citation), `result.json`, the figures' footer and the notebook's
//! metadata. A publication is *active* for a product when the product is written into the
//! publication's directory (a directory holding `publication.json`, or any directory below it)
//! or when `ODA_PUBLICATION` names that directory.
//!
//! The journal `publication.json` is written by `oda::publish`; this module reads only its top
//! level fields `doi` and `citation`, so that products stay below publishing in the layers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The name of a publication's journal file.
pub const PUBLICATION_FILE: &str = "publication.json";

/// A DOI and the text to cite it by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// The DOI, without a resolver prefix (`10.5072/zenodo.1234`).
    pub doi: String,
    /// How to cite the record: "Family, G. (2026). Title (Version 1). Zenodo. doi:…".
    pub text: String,
}

impl Citation {
    /// A citation of `doi` by `text`.
    ///
    /// # Errors
    /// A DOI that is not `10.<registrant>/<suffix>` in printable ASCII.
    ///
    /// ```
    /// use oda::products::Citation;
    /// let c = Citation::new("10.5072/zenodo.1234", "Doe, J. (2026). Crab. Zenodo.")?;
    /// assert_eq!(c.url(), "https://doi.org/10.5072/zenodo.1234");
    /// assert!(Citation::new("zenodo.1234", "x").is_err());
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn new(doi: impl Into<String>, text: impl Into<String>) -> Result<Citation> {
        let doi = doi.into();
        check_doi(&doi)?;
        Ok(Citation {
            doi,
            text: text.into(),
        })
    }

    /// The DOI's resolver URL, `https://doi.org/<doi>`.
    pub fn url(&self) -> String {
        format!("https://doi.org/{}", self.doi)
    }

    /// One line for figure footers and displays: "Published as doi:… — cite: …".
    pub fn footer(&self) -> String {
        format!("Published as doi:{} — cite: {}", self.doi, self.text)
    }

    /// The citation of the publication in `dir` (its `publication.json`), or `None` when `dir`
    /// holds no journal or the journal has no DOI yet.
    ///
    /// # Errors
    /// A journal that cannot be read or parsed, or whose DOI is malformed.
    pub fn of_publication(dir: &Path) -> Result<Option<Citation>> {
        let path = dir.join(PUBLICATION_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        #[derive(Deserialize)]
        struct Top {
            doi: Option<String>,
            #[serde(default)]
            citation: String,
        }
        let top: Top = serde_json::from_str(&text).map_err(|e| {
            Error::io(
                &path,
                std::io::Error::other(format!("not a publication journal: {e}")),
            )
        })?;
        match top.doi {
            Some(doi) if !doi.is_empty() => Citation::new(doi, top.citation).map(Some),
            _ => Ok(None),
        }
    }

    /// The publication a product written to `out_dir` belongs to: the nearest directory at or
    /// above `out_dir` that holds `publication.json`, else the one `ODA_PUBLICATION` names (or a
    /// notebook activated), else none.
    pub fn publication_dir_for(out_dir: &Path) -> Option<PathBuf> {
        let absolute = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
        absolute
            .ancestors()
            .find(|d| d.join(PUBLICATION_FILE).is_file())
            .map(Path::to_path_buf)
            .or_else(active_publication_dir)
    }

    /// The citation for a product written to `out_dir` (see [`Citation::publication_dir_for`]).
    ///
    /// # Errors
    /// A journal that cannot be read.
    pub fn for_output(out_dir: &Path) -> Result<Option<Citation>> {
        match Citation::publication_dir_for(out_dir) {
            Some(dir) => Citation::of_publication(&dir),
            None => Ok(None),
        }
    }

    /// The citation of the active publication (`ODA_PUBLICATION`, or one a notebook cell
    /// activated in this process), if any.
    ///
    /// # Errors
    /// A journal that cannot be read.
    pub fn active() -> Result<Option<Citation>> {
        match active_publication_dir() {
            Some(dir) => Citation::of_publication(&dir),
            None => Ok(None),
        }
    }
}

/// Checks the shape of a DOI: `10.` registrant `/` suffix, printable ASCII without spaces.
fn check_doi(doi: &str) -> Result<()> {
    let ok = doi.starts_with("10.")
        && doi.split_once('/').is_some_and(|(prefix, suffix)| {
            prefix.len() > 3
                && prefix[3..].chars().all(|c| c.is_ascii_digit() || c == '.')
                && !suffix.is_empty()
        })
        && doi.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "doi",
            doi,
            "a DOI such as 10.5281/zenodo.1234 (prefix 10.<digits>, a slash, a suffix; no spaces)",
        ))
    }
}

/// The per-process file that remembers a publication activated by a notebook cell (cells are
/// separate shared libraries with their own statics; the process id and start time name it).
fn activation_mark() -> PathBuf {
    crate::config::process_mark("oda-publication")
}

/// The publication directory named by `ODA_PUBLICATION`, or activated in this process.
pub fn active_publication_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ODA_PUBLICATION").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::fs::read_to_string(activation_mark())
        .ok()
        .map(|s| PathBuf::from(s.trim_end_matches('\n')))
        .filter(|p| p.join(PUBLICATION_FILE).is_file())
}

/// Makes `dir` the active publication of this process (what a notebook cell does), or ends the
/// activation with `None`. `ODA_PUBLICATION`, when set, still wins.
///
/// # Errors
/// `dir` without a `publication.json`, or the mark cannot be written.
pub fn activate_publication(dir: Option<&Path>) -> Result<()> {
    let mark = activation_mark();
    match dir {
        Some(dir) => {
            let dir = std::path::absolute(dir).map_err(|e| Error::io(dir, e))?;
            if !dir.join(PUBLICATION_FILE).is_file() {
                return Err(Error::invalid(
                    "publication",
                    dir.display(),
                    "a publication directory (one holding publication.json: run `oda publish reserve DIR` first)",
                ));
            }
            crate::fits::write_bytes_atomically(&mark, dir.display().to_string().as_bytes())
        }
        None => match std::fs::remove_file(&mark) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&mark, e)),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dois_are_checked() {
        for good in [
            "10.5072/zenodo.1",
            "10.5281/zenodo.17349",
            "10.1000.10/abc(1)",
        ] {
            assert!(check_doi(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "10.5072",
            "10./x",
            "11.5072/zenodo.1",
            "10.5072/ zen",
            "10.ab/x",
        ] {
            let e = check_doi(bad).unwrap_err().to_string();
            assert!(
                e.contains("doi") && e.contains("10.5281/zenodo.1234"),
                "{e}"
            );
        }
    }

    #[test]
    fn journal_found_from_below() {
        let dir = tempfile::tempdir().unwrap();
        let products = dir.path().join("products/crab");
        std::fs::create_dir_all(&products).unwrap();
        assert_eq!(Citation::of_publication(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join(PUBLICATION_FILE),
            r#"{"doi": "10.5072/zenodo.42", "record_id": "42", "citation": "Doe, J. (2026). X. Zenodo."}"#,
        )
        .unwrap();
        let c = Citation::for_output(&products).unwrap().unwrap();
        assert_eq!(c.doi, "10.5072/zenodo.42");
        assert!(c.footer().contains("doi:10.5072/zenodo.42"));
        // A journal without a DOI yet gives no citation.
        std::fs::write(dir.path().join(PUBLICATION_FILE), r#"{"doi": null}"#).unwrap();
        assert_eq!(Citation::for_output(&products).unwrap(), None);
        std::fs::write(dir.path().join(PUBLICATION_FILE), "not json").unwrap();
        assert!(Citation::for_output(&products).is_err());
    }
}
