//! The steps of a publication: reserve, upload (and publish), new version — each resumable.

use std::path::{Path, PathBuf};

use super::client::{Client, RetryPolicy};
use super::journal::{Journal, JournalFile, PendingCreate, PublishedVersion, State};
use super::manifest::Manifest;
use super::metadata::Metadata;
use super::server::{Record, Server};
use super::target::{Api, Target};
use super::token::Token;
use crate::error::{Error, PublishErrorKind, Result};

/// The most files a Zenodo record may hold.
pub const MAX_FILES: usize = 100;

/// Where progress lines of the publishing steps go.
pub type LogFn = Box<dyn Fn(&str) + Send + Sync>;

/// Options of the steps that talk to the server.
#[derive(Default)]
pub struct PublishOptions {
    /// The server; `None`: the journal's, or `zenodo-sandbox` for a new publication.
    pub target: Option<Target>,
    /// The API; `None`: the journal's, or InvenioRDM's records API for a new publication.
    pub api: Option<Api>,
    /// Metadata given on the command line (over `DIR/metadata.toml` and the journal's).
    pub metadata: Metadata,
    /// The token; `None`: [`Token::for_target`].
    pub token: Option<Token>,
    /// Confirms publishing to a production server (a permanent DOI).
    pub confirm_production: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// Where progress lines go (`None`: standard error).
    pub log: Option<LogFn>,
}

impl std::fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOptions")
            .field("target", &self.target)
            .field("api", &self.api)
            .field("metadata", &self.metadata)
            .field("token", &self.token)
            .field("confirm_production", &self.confirm_production)
            .finish_non_exhaustive()
    }
}

impl PublishOptions {
    /// Options for `target`.
    pub fn for_target(target: Target) -> PublishOptions {
        PublishOptions {
            target: Some(target),
            ..PublishOptions::default()
        }
    }

    fn client(&mut self, target: &Target, api: Api) -> Result<Client> {
        let token = match self.token.take() {
            Some(t) => t,
            None => Token::for_target(target)?,
        };
        let log = self
            .log
            .take()
            .unwrap_or_else(|| Box::new(|line: &str| eprintln!("{line}")));
        Client::new(
            &target.base_url(),
            token,
            self.retry.clone(),
            api == Api::Rdm,
            log,
        )
    }
}

/// A publication directory and its journal: what a notebook cell holds.
#[derive(Clone, Debug)]
pub struct Publication {
    dir: PathBuf,
    journal: Journal,
}

impl Publication {
    /// Opens the publication in `dir` (which `reserve` made).
    ///
    /// # Errors
    /// No or an unreadable journal.
    pub fn open(dir: impl AsRef<Path>) -> Result<Publication> {
        let dir = dir.as_ref().to_path_buf();
        let journal = Journal::require(&dir)?;
        Ok(Publication { dir, journal })
    }

    /// Reserves (or reopens) the publication in `dir`: see [`reserve`].
    ///
    /// # Errors
    /// As [`reserve`].
    pub fn reserve(dir: impl AsRef<Path>, options: PublishOptions) -> Result<Publication> {
        reserve(dir.as_ref(), options)
    }

    /// The publication's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The DOI of the current version.
    pub fn doi(&self) -> &str {
        self.journal.doi.as_deref().unwrap_or_default()
    }

    /// The record id of the current version.
    pub fn record_id(&self) -> &str {
        self.journal.record_id.as_deref().unwrap_or_default()
    }

    /// Where products of this publication go: `DIR/products/<name>`.
    pub fn products_dir(&self, name: &str) -> PathBuf {
        self.dir.join("products").join(name)
    }

    /// Makes this the active publication of the process: products computed and written from
    /// now on (in this notebook kernel, by later cells) carry its DOI.
    ///
    /// # Errors
    /// The per-process mark cannot be written.
    pub fn activate(&self) -> Result<()> {
        crate::products::activate_publication(Some(&self.dir))
    }

    /// Ends [`Publication::activate`].
    ///
    /// # Errors
    /// The mark cannot be removed.
    pub fn deactivate(&self) -> Result<()> {
        crate::products::activate_publication(None)
    }

    /// The DOI badge in Markdown.
    pub fn doi_badge_markdown(&self) -> String {
        super::describe::doi_badge_markdown(self.doi())
    }

    /// Shows the DOI badge, citation and state in a notebook cell.
    pub fn evcxr_display(&self) {
        let doi = crate::display::html_escape(self.doi());
        let html = format!(
            "<div><a href=\"https://doi.org/{doi}\"><img src=\"https://zenodo.org/badge/DOI/{doi}.svg\" alt=\"DOI {doi}\"></a> \
             <b>{state}</b> on {target} (record {id})<br><small>Cite as: {cite}</small></div>",
            state = self.journal.state.name(),
            target = crate::display::html_escape(&self.journal.target.name()),
            id = crate::display::html_escape(self.record_id()),
            cite = crate::display::html_escape(&self.journal.citation),
        );
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT text/plain\n{self}\nEVCXR_END_CONTENT"
        );
    }
}

impl std::fmt::Display for Publication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "doi:{} ({}, record {} on {})",
            self.doi(),
            self.journal.state.name(),
            self.record_id(),
            self.journal.target
        )
    }
}

/// The metadata of a publication: the journal's, under `DIR/metadata.toml`, under the command
/// line's.
fn gather_metadata(dir: &Path, journal: Option<&Journal>, cli: Metadata) -> Result<Metadata> {
    let file = dir.join(Metadata::FILE);
    let base = match journal {
        Some(j) => j.metadata.clone(),
        None => Metadata::default(),
    };
    let base = if file.is_file() {
        base.overlay(Metadata::from_toml_file(&file)?)
    } else {
        base
    };
    Ok(base.overlay(cli))
}

/// Creates the draft record of the publication in `dir`, reserves its DOI and writes the
/// journal `dir/publication.json`. On a directory that already has a journal, reuses its
/// record (sending changed metadata); never creates a second record.
///
/// # Errors
/// Missing metadata (named before anything is sent), no or a refused token, a journal of
/// another server, the server's validation errors field by field, network failures after the
/// retries (the journal then says what is known; run again).
pub fn reserve(dir: &Path, mut options: PublishOptions) -> Result<Publication> {
    let existing = Journal::load(dir)?;
    if let (Some(j), Some(t)) = (&existing, &options.target)
        && &j.target != t
    {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} holds a publication on {} (record {}); this asks for {}: use --target {} \
                 or another directory",
                dir.display(),
                j.target,
                j.record_id.as_deref().unwrap_or("not yet created"),
                t,
                j.target
            ),
        ));
    }
    let metadata = gather_metadata(
        dir,
        existing.as_ref(),
        std::mem::take(&mut options.metadata),
    )?;
    metadata.check()?;
    let mut journal = match existing {
        Some(j) => j,
        None => Journal::new(
            options.target.clone().unwrap_or(Target::ZenodoSandbox),
            options.api.unwrap_or(Api::Rdm),
            metadata.clone(),
        ),
    };
    if journal.state == State::Published && journal.metadata != metadata {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "record {} is published; its metadata cannot change here: start the next version \
                 with `oda publish new-version {}`",
                journal.record_id.as_deref().unwrap_or_default(),
                dir.display()
            ),
        ));
    }
    if journal.state == State::Published {
        return Ok(Publication {
            dir: dir.into(),
            journal,
        });
    }
    let changed = journal.metadata != metadata;
    if !changed && journal.record_id.is_some() && journal.doi.is_some() {
        // Nothing to send: a notebook re-run (or `oda publish verify --notebooks`) reopens the
        // publication offline, without a token.
        return Ok(Publication {
            dir: dir.into(),
            journal,
        });
    }
    journal.metadata = metadata;
    if journal.publication_date.is_empty() {
        journal.publication_date = journal
            .metadata
            .publication_date
            .clone()
            .unwrap_or_else(super::today_utc);
    }
    let target = journal.target.clone();
    let client = options.client(&target, journal.api)?;
    let mut server = Server {
        client: &client,
        base: target.base_url(),
        api: journal.api,
    };
    let mut record = match &journal.record_id {
        Some(_) if changed => {
            client.log("sending the changed metadata to the draft");
            let r = server.update_metadata(&journal)?;
            journal.note("metadata updated");
            r
        }
        Some(_) => server.get(&journal)?.0,
        None => create_once(dir, &mut journal, &mut server)?,
    };
    remember(&mut journal, &record);
    journal.save(dir)?;
    if journal.doi.is_none() {
        record = server.reserve_doi(&record)?;
        remember(&mut journal, &record);
        journal.note(format!(
            "DOI {} reserved",
            journal.doi.as_deref().unwrap_or("?")
        ));
    }
    set_citation(&mut journal);
    journal.save(dir)?;
    client.log(&format!(
        "reserved doi:{} (record {} on {})",
        journal.doi.as_deref().unwrap_or("?"),
        journal.record_id.as_deref().unwrap_or("?"),
        journal.target
    ));
    Ok(Publication {
        dir: dir.into(),
        journal,
    })
}

/// Creates the draft at most once: a creation whose answer was lost is first looked up among
/// the user's drafts (by title and time), here or in a later run.
fn create_once(dir: &Path, journal: &mut Journal, server: &mut Server<'_>) -> Result<Record> {
    let attempts = 4;
    let mut delay = std::time::Duration::from_millis(500);
    for attempt in 1..=attempts {
        if let Some(p) = journal.pending_create.clone()
            && let Some(r) = server.find_draft(&p.title, &p.sent_at)?
        {
            server.client.log(&format!(
                "found the draft {} made by an earlier attempt",
                r.id
            ));
            journal.pending_create = None;
            journal.note(format!(
                "adopted draft {} (an earlier creation's answer was lost)",
                r.id
            ));
            return Ok(r);
        }
        journal.pending_create = Some(PendingCreate {
            title: journal.metadata.title.clone(),
            sent_at: super::now_utc(),
        });
        journal.save(dir)?;
        match server.create(journal) {
            Ok((r, warnings)) => {
                journal.pending_create = None;
                journal.note(format!("created draft {}", r.id));
                if !warnings.is_empty() {
                    server.client.log(&format!(
                        "the server accepted the draft but lists problems it will refuse at publishing:{warnings}"
                    ));
                }
                return Ok(r);
            }
            Err(e)
                if server.api == Api::Rdm
                    && (e.to_string().contains("answered 404")
                        || e.to_string().contains("answered 405")) =>
            {
                // No InvenioRDM records API here: Zenodo's legacy deposit API is the fallback.
                server
                    .client
                    .log("the server has no InvenioRDM records API; using the legacy deposit API");
                journal.pending_create = None;
                journal.api = Api::Legacy;
                server.api = Api::Legacy;
                server.client.use_legacy();
                journal.note("fell back to the legacy deposit API");
            }
            Err(e)
                if attempt < attempts
                    && matches!(
                        e.publish_kind(),
                        Some(PublishErrorKind::Network | PublishErrorKind::Server)
                    ) =>
            {
                server
                    .client
                    .log(&format!("{e}; looking for the draft before trying again"));
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                journal.save(dir)?;
                return Err(e);
            }
        }
    }
    Err(Error::publish(
        PublishErrorKind::Network,
        "could not create the draft record; run the same command again (it will not create a second one)",
    ))
}

/// Copies what the journal keeps of a record.
fn remember(journal: &mut Journal, record: &Record) {
    journal.record_id = Some(record.id.clone());
    if record.doi.is_some() {
        journal.doi = record.doi.clone();
    }
    if record.concept_doi.is_some() {
        journal.concept_doi = record.concept_doi.clone();
    }
    if record.concept_id.is_some() {
        journal.concept_record_id = record.concept_id.clone();
    }
    if record.html.is_some() {
        journal.record_url = record.html.clone();
    }
    if !record.links.is_null() {
        journal.links = record.links.clone();
    }
}

fn set_citation(journal: &mut Journal) {
    if let Some(doi) = &journal.doi {
        let year = journal.publication_date.get(..4).unwrap_or("").to_string();
        journal.citation = journal
            .metadata
            .citation_text(&year, &journal.target.publisher(), doi);
    }
}

/// The bundle's manifest, which must be for the journal's DOI.
fn bundle_manifest(dir: &Path, journal: &Journal) -> Result<Manifest> {
    let path = dir.join("bundle").join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} has no bundle: run `oda publish bundle {}` first",
                dir.display(),
                dir.display()
            ),
        )
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        Error::publish(
            PublishErrorKind::Journal,
            format!("{}: not a manifest ({e})", path.display()),
        )
    })?;
    if Some(&m.doi) != journal.doi.as_ref() {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "the bundle was made for doi:{} but the publication is doi:{}: run `oda publish bundle {}` again",
                m.doi,
                journal.doi.as_deref().unwrap_or("?"),
                dir.display()
            ),
        ));
    }
    Ok(m)
}

/// Uploads the bundle `dir/bundle/` to the draft (skipping files the server has with the right
/// md5, replacing others, removing files not in the bundle), and publishes when `publish`.
/// Resumable: run again after any failure.
///
/// # Errors
/// No journal or bundle, a bundle of another DOI, more than 100 files, a production server
/// without confirmation (when publishing), token and server errors.
pub fn upload(dir: &Path, mut options: PublishOptions, publish: bool) -> Result<Publication> {
    let mut journal = Journal::require(dir)?;
    if let Some(t) = &options.target
        && t != &journal.target
    {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "{} holds a publication on {}, not {t}",
                dir.display(),
                journal.target
            ),
        ));
    }
    let manifest = bundle_manifest(dir, &journal)?;
    let mut keys: Vec<&str> = manifest.files.iter().map(|f| f.key.as_str()).collect();
    keys.push("manifest.json");
    if keys.len() > MAX_FILES {
        return Err(Error::publish(
            PublishErrorKind::Limit,
            format!(
                "the bundle has {} files; a record holds at most {MAX_FILES}: publish fewer products \
                 (they are all inside the runnable zip too) or combine them",
                keys.len()
            ),
        ));
    }
    if publish {
        journal.target.check_confirmed(options.confirm_production)?;
    }
    if journal.state == State::Published {
        let same = manifest
            .files
            .iter()
            .all(|f| journal.file(&f.key).is_some_and(|j| j.md5 == f.md5));
        if same {
            return Ok(Publication {
                dir: dir.into(),
                journal,
            });
        }
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "record {} is published and its files cannot change: start the next version with \
                 `oda publish new-version {}`",
                journal.record_id.as_deref().unwrap_or_default(),
                dir.display()
            ),
        ));
    }
    let target = journal.target.clone();
    let client = options.client(&target, journal.api)?;
    let server = Server {
        client: &client,
        base: target.base_url(),
        api: journal.api,
    };
    let bundle_dir = dir.join("bundle");
    if matches!(journal.state, State::Uploading | State::Uploaded) {
        // An earlier publish whose answer was lost leaves no draft to upload to: read back.
        let (record, _) = server.get(&journal)?;
        if record.published {
            remember(&mut journal, &record);
            journal.state = State::Published;
            journal.note(format!(
                "found published as doi:{} (an earlier answer was lost)",
                journal.doi.as_deref().unwrap_or("?")
            ));
            journal.save(dir)?;
            return Ok(Publication {
                dir: dir.into(),
                journal,
            });
        }
    }
    if journal.state == State::Reserved {
        server.update_metadata(&journal)?;
        journal.state = State::Uploading;
        journal.note("upload started");
        journal.save(dir)?;
    }
    let remote = server.files(&journal)?;
    for r in &remote {
        if !keys.contains(&r.key.as_str()) {
            client.log(&format!("removing {} (not in the bundle)", r.key));
            server.delete_file(&journal, r)?;
        }
    }
    let mut wanted: Vec<(String, String, u64, PathBuf)> = manifest
        .files
        .iter()
        .map(|f| {
            (
                f.key.clone(),
                f.md5.clone(),
                f.size,
                bundle_dir.join(&f.key),
            )
        })
        .collect();
    let manifest_path = bundle_dir.join("manifest.json");
    let (mmd5, msize) = super::bundle::md5_and_size(&manifest_path)?;
    wanted.push(("manifest.json".into(), mmd5, msize, manifest_path));
    journal.files.retain(|f| keys.contains(&f.key.as_str()));
    let (mut sent, mut skipped) = (0, 0);
    for (key, md5, size, path) in &wanted {
        let (local_md5, _) = super::bundle::md5_and_size(path)?;
        if &local_md5 != md5 {
            return Err(Error::publish(
                PublishErrorKind::Verification,
                format!(
                    "{} changed since the bundle was made: run `oda publish bundle` again",
                    path.display()
                ),
            ));
        }
        let on_server = remote.iter().find(|r| &r.key == key);
        if on_server.and_then(|r| r.md5.as_ref()) == Some(md5) {
            skipped += 1;
        } else {
            if let Some(r) = on_server {
                server.delete_file(&journal, r)?;
            }
            client.log(&format!("uploading {key} ({size} bytes)"));
            let got = server.upload(&journal, key, path)?;
            if &got != md5 {
                return Err(Error::publish(
                    PublishErrorKind::Server,
                    format!(
                        "the server stored {key} with md5 {got}, not {md5}: the upload was damaged; run again"
                    ),
                ));
            }
            sent += 1;
        }
        journal.files.retain(|f| &f.key != key);
        journal.files.push(JournalFile {
            key: key.clone(),
            md5: md5.clone(),
            size: *size,
            uploaded: true,
        });
        journal.save(dir)?;
    }
    journal.state = State::Uploaded;
    journal.note(format!(
        "upload complete: {sent} sent, {skipped} already there"
    ));
    journal.save(dir)?;
    client.log(&format!(
        "{sent} file(s) uploaded, {skipped} already on the server with the right md5"
    ));
    if publish {
        let record = server.publish(&journal)?;
        remember(&mut journal, &record);
        journal.state = State::Published;
        journal.note(format!(
            "published doi:{}",
            journal.doi.as_deref().unwrap_or("?")
        ));
        journal.save(dir)?;
    }
    Ok(Publication {
        dir: dir.into(),
        journal,
    })
}

/// Starts the next version of the published record in `dir`: a new draft with a new reserved
/// DOI (the earlier versions stay in the journal). Products must then be made again, so that
/// they carry the new DOI.
///
/// # Errors
/// A publication that is not published yet, token and server errors.
pub fn new_version(dir: &Path, mut options: PublishOptions) -> Result<Publication> {
    let mut journal = Journal::require(dir)?;
    if journal.state != State::Published {
        return Err(Error::publish(
            PublishErrorKind::Journal,
            format!(
                "the publication in {} is {}, not published: finish it with `oda publish upload {} --publish`",
                dir.display(),
                journal.state.name(),
                dir.display()
            ),
        ));
    }
    let cli = std::mem::take(&mut options.metadata);
    let metadata = gather_metadata(dir, Some(&journal), cli)?;
    metadata.check()?;
    let target = journal.target.clone();
    let client = options.client(&target, journal.api)?;
    let server = Server {
        client: &client,
        base: target.base_url(),
        api: journal.api,
    };
    let record = server.new_version(&journal)?;
    journal.versions.push(PublishedVersion {
        record_id: journal.record_id.clone().unwrap_or_default(),
        doi: journal.doi.clone().unwrap_or_default(),
        record_url: journal.record_url.clone().unwrap_or_default(),
    });
    journal.doi = None;
    journal.record_url = None;
    journal.files.clear();
    journal.metadata = metadata;
    journal.publication_date = journal
        .metadata
        .publication_date
        .clone()
        .unwrap_or_else(super::today_utc);
    remember(&mut journal, &record);
    journal.doi = record.doi.clone();
    journal.state = State::Reserved;
    journal.note(format!("new version: draft {}", record.id));
    journal.save(dir)?;
    server.update_metadata(&journal)?;
    let record = server.reserve_doi(&record)?;
    remember(&mut journal, &record);
    set_citation(&mut journal);
    journal.note(format!(
        "DOI {} reserved for the new version",
        journal.doi.as_deref().unwrap_or("?")
    ));
    journal.save(dir)?;
    Ok(Publication {
        dir: dir.into(),
        journal,
    })
}
