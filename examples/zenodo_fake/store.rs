//! The in-memory state: records (each with an optional draft and an optional published
//! version), their parents (concepts), buckets and files, and the operations of the API.
//! Both APIs (InvenioRDM and the legacy deposit API) work on the same records.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::meta::{self, DraftInput};
use crate::util::{ApiError, FieldError, md5_hex, mimetype, now_iso};

/// Zenodo's limit of files per record.
pub const MAX_FILES: usize = 100;

/// The exact message InvenioRDM gives when a record without files is published.
pub const MISSING_FILES: &str =
    "Missing uploaded files. To disable files for this record please mark it as metadata-only.";

/// One file of a draft or a record.
#[derive(Clone, Debug)]
pub struct FileEntry {
    pub key: String,
    pub file_id: String,
    pub version_id: String,
    pub created: String,
    pub updated: String,
    pub completed: bool,
    pub content: Option<Bytes>,
    pub md5: Option<String>,
    pub mimetype: String,
    pub metadata: Value,
}

impl FileEntry {
    pub fn size(&self) -> u64 {
        self.content.as_ref().map_or(0, |c| c.len() as u64)
    }
    pub fn checksum(&self) -> Option<String> {
        self.md5.as_ref().map(|m| format!("md5:{m}"))
    }
}

/// The content of a draft or of a published version.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub input: DraftInput,
    pub files: Vec<FileEntry>,
    pub revision_id: u64,
    pub updated: String,
    /// Files can't change (the draft of an already published record).
    pub locked: bool,
}

impl Snapshot {
    fn touch(&mut self) {
        self.revision_id += 1;
        self.updated = now_iso();
    }
    pub fn doi(&self) -> Option<&str> {
        self.input
            .pids
            .get("doi")
            .and_then(|d| d.get("identifier"))
            .and_then(Value::as_str)
    }
    pub fn file(&self, key: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.key == key)
    }
    pub fn completed(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.completed)
    }
}

/// A record id with its draft and published version.
#[derive(Debug)]
pub struct Record {
    pub id: u64,
    pub parent: u64,
    pub owner: usize,
    pub index: u32,
    pub bucket_id: String,
    pub created: String,
    pub draft: Option<Snapshot>,
    pub published: Option<Snapshot>,
}

impl Record {
    /// The draft if there is one, else the published version (what the legacy API shows).
    pub fn current(&self) -> Option<&Snapshot> {
        self.draft.as_ref().or(self.published.as_ref())
    }
}

/// The concept that groups the versions of a record.
#[derive(Debug)]
pub struct Parent {
    pub doi: Option<String>,
    pub members: Vec<u64>,
}

/// Records created by one user.
#[derive(Clone, Copy, Debug, Default)]
pub struct Created {
    pub records: u64,
    pub concepts: u64,
}

/// Everything the fake remembers about records.
pub struct Store {
    pub prefix: String,
    next_id: u64,
    pub records: BTreeMap<u64, Record>,
    pub parents: BTreeMap<u64, Parent>,
    pub buckets: HashMap<String, u64>,
    pub created: BTreeMap<usize, Created>,
    rng: ChaCha8Rng,
}

/// The first id handed out: Zenodo-like integers (a parent takes one, its record the next).
const FIRST_ID: u64 = 100_001;

impl Store {
    pub fn new(prefix: &str) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id());
        Store {
            prefix: prefix.to_string(),
            next_id: FIRST_ID,
            records: BTreeMap::new(),
            parents: BTreeMap::new(),
            buckets: HashMap::new(),
            created: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Forgets everything (ids start again from the first one).
    pub fn reset(&mut self) {
        let rng = self.rng.clone();
        *self = Store::new(&self.prefix);
        self.rng = rng;
    }

    pub fn doi(&self, id: u64) -> String {
        format!("{}/zenodo.{id}", self.prefix)
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A random (version 4) UUID.
    pub fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    pub fn get(&self, id: u64) -> Result<&Record, ApiError> {
        self.records.get(&id).ok_or_else(ApiError::not_found)
    }

    /// The record, if `user` owns it (404 unknown, 403 someone else's or anonymous).
    pub fn owned(&self, id: u64, user: Option<usize>) -> Result<&Record, ApiError> {
        let rec = self.get(id)?;
        if Some(rec.owner) != user {
            return Err(ApiError::denied());
        }
        Ok(rec)
    }

    fn owned_mut(&mut self, id: u64, user: usize) -> Result<&mut Record, ApiError> {
        let rec = self.records.get_mut(&id).ok_or_else(ApiError::not_found)?;
        if rec.owner != user {
            return Err(ApiError::denied());
        }
        Ok(rec)
    }

    fn draft_mut(&mut self, id: u64, user: usize) -> Result<&mut Snapshot, ApiError> {
        self.owned_mut(id, user)?
            .draft
            .as_mut()
            .ok_or_else(ApiError::not_found)
    }

    /// The draft's files may change (it exists, is the user's, and is not locked).
    fn files_draft_mut(&mut self, id: u64, user: usize) -> Result<&mut Snapshot, ApiError> {
        let draft = self.draft_mut(id, user)?;
        if draft.locked {
            return Err(ApiError::denied());
        }
        Ok(draft)
    }

    /// The record a bucket belongs to.
    pub fn bucket(&self, bucket: &str) -> Result<u64, ApiError> {
        self.buckets
            .get(bucket)
            .copied()
            .ok_or_else(|| ApiError::new(404, "Bucket does not exist."))
    }

    /// Published member with the highest version index.
    pub fn latest_published(&self, parent: u64) -> Option<u64> {
        let p = self.parents.get(&parent)?;
        p.members
            .iter()
            .filter_map(|m| self.records.get(m))
            .filter(|r| r.published.is_some())
            .max_by_key(|r| r.index)
            .map(|r| r.id)
    }

    /// Member with the highest version index (draft or not).
    pub fn latest_member(&self, parent: u64) -> Option<u64> {
        let p = self.parents.get(&parent)?;
        p.members
            .iter()
            .filter_map(|m| self.records.get(m))
            .max_by_key(|r| r.index)
            .map(|r| r.id)
    }

    fn new_record(&mut self, user: usize, parent: u64, index: u32, input: DraftInput) -> u64 {
        let id = self.alloc_id();
        let bucket = self.uuid();
        let now = now_iso();
        let draft = Snapshot {
            input,
            files: Vec::new(),
            revision_id: 1,
            updated: now.clone(),
            locked: false,
        };
        self.records.insert(
            id,
            Record {
                id,
                parent,
                owner: user,
                index,
                bucket_id: bucket.clone(),
                created: now,
                draft: Some(draft),
                published: None,
            },
        );
        self.buckets.insert(bucket, id);
        if let Some(p) = self.parents.get_mut(&parent) {
            p.members.push(id);
        }
        self.created.entry(user).or_default().records += 1;
        id
    }

    /// A new record (and concept) owned by `user`.
    pub fn create(&mut self, user: usize, input: DraftInput) -> u64 {
        let parent = self.alloc_id();
        self.parents.insert(
            parent,
            Parent {
                doi: None,
                members: Vec::new(),
            },
        );
        self.created.entry(user).or_default().concepts += 1;
        self.new_record(user, parent, 1, input)
    }

    /// Replaces the whole draft content (not its files).
    pub fn update_draft(
        &mut self,
        id: u64,
        user: usize,
        input: DraftInput,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        let draft = self.draft_mut(id, user)?;
        if let Some(rev) = if_match
            && rev != draft.revision_id
        {
            return Err(ApiError::new(
                412,
                "The resource's revision does not match the If-Match header (precondition failed).",
            ));
        }
        draft.input = input;
        draft.touch();
        Ok(())
    }

    /// Deletes the draft: a never published record disappears entirely.
    pub fn delete_draft(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let rec = self.owned_mut(id, user)?;
        if rec.draft.is_none() {
            return Err(ApiError::not_found());
        }
        if rec.published.is_some() {
            rec.draft = None;
            return Ok(());
        }
        if let Some(rec) = self.records.remove(&id) {
            self.buckets.remove(&rec.bucket_id);
            let empty = self.parents.get_mut(&rec.parent).is_some_and(|p| {
                p.members.retain(|m| *m != id);
                p.members.is_empty()
            });
            if empty {
                self.parents.remove(&rec.parent);
            }
        }
        Ok(())
    }

    pub fn reserve_doi(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let doi = self.doi(id);
        let draft = self.draft_mut(id, user)?;
        if draft.input.pids.contains_key("doi") {
            return Err(ApiError::validation(&[(
                "pids.doi".into(),
                "A PID already exists for type doi".into(),
            )]));
        }
        draft.input.pids.insert(
            "doi".into(),
            json!({"identifier": doi, "provider": "datacite", "client": "datacite"}),
        );
        draft.touch();
        Ok(())
    }

    pub fn discard_doi(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let published = self.owned(id, Some(user))?.published.is_some();
        let draft = self.draft_mut(id, user)?;
        if !draft.input.pids.contains_key("doi") {
            return Err(ApiError::new(404, "No PID found for type doi."));
        }
        if published {
            return Err(ApiError::validation(&[(
                "pids.doi".into(),
                "Cannot discard a registered PID.".into(),
            )]));
        }
        draft.input.pids.remove("doi");
        draft.touch();
        Ok(())
    }

    /// Starts files (RDM `POST .../draft/files`).
    pub fn init_files(
        &mut self,
        id: u64,
        user: usize,
        entries: Vec<(String, Value)>,
    ) -> Result<(), ApiError> {
        let mut ids: Vec<(String, String)> = Vec::new();
        for _ in &entries {
            ids.push((self.uuid(), self.uuid()));
        }
        let draft = self.files_draft_mut(id, user)?;
        for (key, _) in &entries {
            if draft.file(key).is_some() {
                return Err(ApiError::new(
                    400,
                    &format!("File with key {key} already exists."),
                ));
            }
        }
        let total = draft.files.len() + entries.len();
        if total > MAX_FILES {
            return Err(too_many_files(total));
        }
        let now = now_iso();
        for ((key, metadata), (file_id, version_id)) in entries.into_iter().zip(ids) {
            draft.files.push(FileEntry {
                mimetype: mimetype(&key).to_string(),
                key,
                file_id,
                version_id,
                created: now.clone(),
                updated: now.clone(),
                completed: false,
                content: None,
                md5: None,
                metadata,
            });
        }
        draft.touch();
        Ok(())
    }

    /// Checks that a file's content may be uploaded, before the body is read.
    pub fn check_content(&self, id: u64, user: usize, key: &str) -> Result<(), ApiError> {
        let rec = self.owned(id, Some(user))?;
        let draft = rec.draft.as_ref().ok_or_else(ApiError::not_found)?;
        if draft.locked {
            return Err(ApiError::denied());
        }
        match draft.file(key) {
            None => Err(file_not_found(id, key)),
            Some(f) if f.completed => Err(ApiError::new(
                400,
                &format!("File {key} is already committed."),
            )),
            Some(_) => Ok(()),
        }
    }

    pub fn set_content(
        &mut self,
        id: u64,
        user: usize,
        key: &str,
        data: Bytes,
    ) -> Result<(), ApiError> {
        self.check_content(id, user, key)?;
        let draft = self.files_draft_mut(id, user)?;
        if let Some(f) = draft.files.iter_mut().find(|f| f.key == key) {
            f.content = Some(data);
            f.updated = now_iso();
        }
        Ok(())
    }

    pub fn commit(&mut self, id: u64, user: usize, key: &str) -> Result<(), ApiError> {
        let version_id = self.uuid();
        let draft = self.files_draft_mut(id, user)?;
        let f = draft
            .files
            .iter_mut()
            .find(|f| f.key == key)
            .ok_or_else(|| file_not_found(id, key))?;
        let Some(content) = &f.content else {
            return Err(ApiError::new(
                400,
                &format!("File {key} has no content: upload it before committing."),
            ));
        };
        if !f.completed {
            f.md5 = Some(md5_hex(content));
            f.completed = true;
            f.version_id = version_id;
            f.updated = now_iso();
        }
        draft.touch();
        Ok(())
    }

    pub fn delete_file(&mut self, id: u64, user: usize, key: &str) -> Result<(), ApiError> {
        let draft = self.files_draft_mut(id, user)?;
        let before = draft.files.len();
        draft.files.retain(|f| f.key != key);
        if draft.files.len() == before {
            return Err(file_not_found(id, key));
        }
        draft.touch();
        Ok(())
    }

    /// Checks that a whole file may be put (legacy bucket PUT / multipart POST).
    pub fn check_put(&self, id: u64, user: usize, key: &str) -> Result<(), ApiError> {
        let rec = self.owned(id, Some(user))?;
        let draft = rec.draft.as_ref().ok_or_else(ApiError::denied)?;
        if draft.locked {
            return Err(ApiError::denied());
        }
        if key.is_empty() {
            return Err(ApiError::validation(&[(
                "key".into(),
                "Missing data for required field.".into(),
            )]));
        }
        let total = draft.files.len() + usize::from(draft.file(key).is_none());
        if total > MAX_FILES {
            return Err(too_many_files(total));
        }
        Ok(())
    }

    /// Creates or replaces a file in one go (init + content + commit), as the legacy API does.
    pub fn put_file(
        &mut self,
        id: u64,
        user: usize,
        key: &str,
        data: Bytes,
    ) -> Result<(), ApiError> {
        self.check_put(id, user, key)?;
        if let Ok(draft) = self.files_draft_mut(id, user) {
            draft.files.retain(|f| f.key != key);
        }
        self.init_files(id, user, vec![(key.to_string(), Value::Null)])?;
        self.set_content(id, user, key, data)?;
        self.commit(id, user, key)
    }

    /// Publishes the draft: strict validation, then DOI, OAI id and concept DOI.
    pub fn publish(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let doi = self.doi(id);
        let host = if self.prefix == "10.5281" {
            "zenodo.org"
        } else {
            "sandbox.zenodo.org"
        };
        let rec = self.owned_mut(id, user)?;
        let parent = rec.parent;
        let draft = rec.draft.as_ref().ok_or_else(ApiError::not_found)?;
        if draft.files.len() > MAX_FILES {
            return Err(too_many_files(draft.files.len()));
        }
        let mut errors: Vec<FieldError> = meta::publish_errors(&draft.input);
        if draft.completed().next().is_none() {
            errors.push(("files.enabled".into(), MISSING_FILES.into()));
        }
        for f in draft.files.iter().filter(|f| !f.completed) {
            errors.push((
                "files.entries".into(),
                format!("File {} has not been committed.", f.key),
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        let Some(mut snap) = rec.draft.take() else {
            return Err(ApiError::not_found());
        };
        snap.input.pids.entry("doi").or_insert_with(
            || json!({"identifier": doi, "provider": "datacite", "client": "datacite"}),
        );
        snap.input.pids.insert(
            "oai".into(),
            json!({"identifier": format!("oai:{host}:{id}"), "provider": "oai"}),
        );
        let managed = snap
            .input
            .pids
            .get("doi")
            .and_then(|d| d.get("provider"))
            .and_then(Value::as_str)
            == Some("datacite");
        snap.input.custom_fields.remove("legacy:communities");
        snap.touch();
        snap.locked = true;
        rec.published = Some(snap);
        let concept = self.doi(parent);
        if let Some(p) = self.parents.get_mut(&parent)
            && p.doi.is_none()
            && managed
        {
            p.doi = Some(concept);
        }
        Ok(())
    }

    /// A draft of a published record (the existing one if there is one).
    pub fn edit(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let rec = self.owned_mut(id, user)?;
        if rec.draft.is_some() {
            return Ok(());
        }
        let mut draft = rec.published.clone().ok_or_else(ApiError::not_found)?;
        draft.input.pids.remove("oai");
        draft.touch();
        rec.draft = Some(draft);
        Ok(())
    }

    /// A new version of a published record: a new id in the same concept, index + 1, no files,
    /// metadata copied without `publication_date` and `version`. An unpublished new version
    /// already waiting in the concept is returned instead.
    pub fn new_version(&mut self, id: u64, user: usize) -> Result<u64, ApiError> {
        let rec = self.owned(id, Some(user))?;
        let Some(published) = &rec.published else {
            return Err(ApiError::not_found());
        };
        let parent = rec.parent;
        let mut input = published.input.clone();
        if let Some(waiting) = self
            .parents
            .get(&parent)
            .into_iter()
            .flat_map(|p| p.members.iter())
            .filter_map(|m| self.records.get(m))
            .find(|r| r.published.is_none())
        {
            return Ok(waiting.id);
        }
        let index = self.parents.get(&parent).map_or(0, |p| {
            p.members
                .iter()
                .filter_map(|m| self.records.get(m))
                .map(|r| r.index)
                .max()
                .unwrap_or(0)
        }) + 1;
        input.metadata.remove("publication_date");
        input.metadata.remove("version");
        input.pids = Map::new();
        Ok(self.new_record(user, parent, index, input))
    }

    /// Links the files of the latest published version into a new version's draft.
    pub fn import_files(&mut self, id: u64, user: usize) -> Result<(), ApiError> {
        let rec = self.owned(id, Some(user))?;
        if rec.published.is_some() || rec.draft.is_none() {
            return Err(ApiError::not_found());
        }
        let previous = self
            .latest_published(rec.parent)
            .and_then(|p| self.records.get(&p))
            .and_then(|r| r.published.as_ref())
            .map(|s| s.completed().cloned().collect::<Vec<_>>())
            .ok_or_else(|| {
                ApiError::new(400, "There is no published version to import files from.")
            })?;
        let draft = self.files_draft_mut(id, user)?;
        for f in previous {
            if draft.file(&f.key).is_none() {
                draft.files.push(f);
            }
        }
        if draft.files.len() > MAX_FILES {
            return Err(too_many_files(draft.files.len()));
        }
        draft.touch();
        Ok(())
    }

    /// (index, is_latest, is_latest_draft) of a record.
    pub fn versions(&self, rec: &Record) -> (u32, bool, bool) {
        let is_latest =
            rec.published.is_some() && self.latest_published(rec.parent) == Some(rec.id);
        let is_latest_draft = self.latest_member(rec.parent) == Some(rec.id);
        (rec.index, is_latest, is_latest_draft)
    }
}

pub fn too_many_files(total: usize) -> ApiError {
    ApiError::new(
        400,
        &format!(
            "Uploading the selected files would result in {total} files (max is {MAX_FILES})."
        ),
    )
}

pub fn file_not_found(id: u64, key: &str) -> ApiError {
    ApiError::new(404, &format!("Record '{id}' has no file '{key}'."))
}
