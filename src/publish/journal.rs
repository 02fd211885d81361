//! The journal of a publication, `DIR/publication.json`: what has been done on the server, so
//! that every step can be resumed and repeated without creating a second record.
//!
//! The journal is replaced whole (temporary file + rename) after every step that changed
//! something on the server, so a crash leaves either the old or the new journal, never a torn
//! one. It never holds the access token.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::metadata::Metadata;
use super::target::{Api, Target};
use crate::error::{Error, PublishErrorKind, Result};
use crate::products::PUBLICATION_FILE;

/// Where a publication stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A draft exists and its DOI is reserved; products can be made with the DOI.
    Reserved,
    /// Files are being uploaded (some may be on the server).
    Uploading,
    /// Every file of the bundle is on the server with the right md5.
    Uploaded,
    /// Published: the DOI is registered.
    Published,
}

impl State {
    /// The state's name, as the journal writes it.
    pub fn name(self) -> &'static str {
        match self {
            State::Reserved => "reserved",
            State::Uploading => "uploading",
            State::Uploaded => "uploaded",
            State::Published => "published",
        }
    }
}

/// One file of the record, as uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalFile {
    /// The file's key (name) in the record.
    pub key: String,
    /// md5 of its bytes, hex.
    pub md5: String,
    /// Size, bytes.
    pub size: u64,
    /// True once the server reported it complete with this md5.
    pub uploaded: bool,
}

/// An earlier, published version of this publication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedVersion {
    /// The record id of that version.
    pub record_id: String,
    /// Its DOI.
    pub doi: String,
    /// Its landing page.
    #[serde(default)]
    pub record_url: String,
}

/// A record creation that was sent but whose answer was lost (a reset connection, a 5xx):
/// before creating again, the next run looks for the record among the user's drafts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    /// The title sent.
    pub title: String,
    /// When it was sent (UTC, ISO 8601).
    pub sent_at: String,
}

/// The journal of one publication (`publication.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// Format marker, `oda-publication/1`.
    pub format: String,
    /// The DOI of the current version (reserved or registered).
    pub doi: Option<String>,
    /// The server's id of the current version's record (always a string).
    pub record_id: Option<String>,
    /// How to cite the current version (with its DOI).
    #[serde(default)]
    pub citation: String,
    /// The server.
    pub target: Target,
    /// Which of the server's APIs this publication uses.
    pub api: Api,
    /// Where the publication stands.
    pub state: State,
    /// The concept DOI (all versions), once the server reports it.
    #[serde(default)]
    pub concept_doi: Option<String>,
    /// The concept record id (all versions).
    #[serde(default)]
    pub concept_record_id: Option<String>,
    /// The record's landing page.
    #[serde(default)]
    pub record_url: Option<String>,
    /// The server's links for the current record (followed rather than built).
    #[serde(default)]
    pub links: Value,
    /// The metadata sent.
    pub metadata: Metadata,
    /// The publication date sent (`YYYY-MM-DD`).
    #[serde(default)]
    pub publication_date: String,
    /// The files of the current version.
    #[serde(default)]
    pub files: Vec<JournalFile>,
    /// Earlier published versions, oldest first.
    #[serde(default)]
    pub versions: Vec<PublishedVersion>,
    /// A creation whose outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingCreate>,
    /// What happened, one line per step (UTC time, event).
    #[serde(default)]
    pub history: Vec<String>,
}

/// The format marker of journals written by this version.
pub const JOURNAL_FORMAT: &str = "oda-publication/1";

impl Journal {
    /// A journal for a new publication (nothing on the server yet).
    pub fn new(target: Target, api: Api, metadata: Metadata) -> Journal {
        Journal {
            format: JOURNAL_FORMAT.into(),
            doi: None,
            record_id: None,
            citation: String::new(),
            target,
            api,
            state: State::Reserved,
            concept_doi: None,
            concept_record_id: None,
            record_url: None,
            links: Value::Null,
            metadata,
            publication_date: String::new(),
            files: Vec::new(),
            versions: Vec::new(),
            pending_create: None,
            history: Vec::new(),
        }
    }

    /// The journal's path in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(PUBLICATION_FILE)
    }

    /// Reads the journal of `dir`, or `None` when there is none.
    ///
    /// # Errors
    /// An unreadable or malformed journal (named, with what is wrong).
    pub fn load(dir: &Path) -> Result<Option<Journal>> {
        let path = Journal::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let journal: Journal = serde_json::from_str(&text).map_err(|e| {
            Error::publish(
                PublishErrorKind::Journal,
                format!(
                    "{} is not a publication journal oda can read ({e}); it was left as it is",
                    path.display()
                ),
            )
        })?;
        if journal.format != JOURNAL_FORMAT {
            return Err(Error::publish(
                PublishErrorKind::Journal,
                format!(
                    "{} has format {:?}; this oda reads {JOURNAL_FORMAT:?}",
                    path.display(),
                    journal.format
                ),
            ));
        }
        Ok(Some(journal))
    }

    /// Reads the journal of `dir`, which must exist.
    ///
    /// # Errors
    /// No journal (run `oda publish reserve` first), or as [`Journal::load`].
    pub fn require(dir: &Path) -> Result<Journal> {
        Journal::load(dir)?.ok_or_else(|| {
            Error::publish(
                PublishErrorKind::Journal,
                format!(
                    "{} has no {PUBLICATION_FILE}: run `oda publish reserve {}` first",
                    dir.display(),
                    dir.display()
                ),
            )
        })
    }

    /// Writes the journal into `dir`, atomically.
    ///
    /// # Errors
    /// I/O errors, naming the file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io(Journal::path(dir), std::io::Error::other(e)))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::fits::write_bytes_atomically(&Journal::path(dir), format!("{text}\n").as_bytes())
    }

    /// Appends a line to the history.
    pub fn note(&mut self, event: impl AsRef<str>) {
        self.history
            .push(format!("{} {}", super::now_utc(), event.as_ref()));
    }

    /// The file entry of `key`, if any.
    pub fn file(&self, key: &str) -> Option<&JournalFile> {
        self.files.iter().find(|f| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_top_level_fields() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Journal::load(dir.path()).unwrap(), None);
        let mut j = Journal::new(Target::ZenodoSandbox, Api::Rdm, Metadata::default());
        j.doi = Some("10.5072/zenodo.7".into());
        j.record_id = Some("7".into());
        j.note("created draft 7");
        j.save(dir.path()).unwrap();
        let back = Journal::load(dir.path()).unwrap().unwrap();
        assert_eq!(back, j);
        let raw: Value =
            serde_json::from_str(&std::fs::read_to_string(Journal::path(dir.path())).unwrap())
                .unwrap();
        assert_eq!(raw["doi"], "10.5072/zenodo.7");
        assert_eq!(raw["record_id"], "7");
        // The products layer finds the DOI from the same file.
        let c = crate::products::Citation::of_publication(dir.path()).unwrap();
        assert_eq!(c.unwrap().doi, "10.5072/zenodo.7");
    }

    #[test]
    fn damaged_journal_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(Journal::path(dir.path()), "{\"format\": 3").unwrap();
        let e = Journal::load(dir.path()).unwrap_err();
        assert_eq!(e.publish_kind(), Some(PublishErrorKind::Journal));
        assert_eq!(
            std::fs::read_to_string(Journal::path(dir.path())).unwrap(),
            "{\"format\": 3"
        );
    }
}
