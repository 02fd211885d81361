//! JSON views of a record: InvenioRDM's (`application/vnd.inveniordm.v1+json`), Zenodo's
//! records JSON (the default answer of `/api/records*` on zenodo.org) and the legacy deposit
//! API's, plus the file views of each API.

use serde_json::{Map, Value, json};

use crate::meta::{LegacyStyle, legacy_metadata};
use crate::store::{FileEntry, Record, Snapshot, Store};

/// Which version of a record a view shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Which {
    Draft,
    Published,
}

/// What a view needs: the store and the base URL (`http://host:port`) from the Host header.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub base: &'a str,
}

fn pct(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Ctx<'_> {
    fn api(&self) -> String {
        format!("{}/api", self.base)
    }

    fn snap<'r>(&self, rec: &'r Record, which: Which) -> Option<&'r Snapshot> {
        match which {
            Which::Draft => rec.draft.as_ref(),
            Which::Published => rec.published.as_ref(),
        }
    }

    /// InvenioRDM `links` of a draft or record.
    pub fn rdm_links(&self, rec: &Record, which: Which) -> Value {
        let (api, ui, id, parent) = (self.api(), self.base, rec.id, rec.parent);
        let r = format!("{api}/records/{id}");
        let mut l = Map::new();
        let mut put = |k: &str, v: String| {
            l.insert(k.to_string(), Value::String(v));
        };
        match which {
            Which::Draft => {
                put("self", format!("{r}/draft"));
                put("self_html", format!("{ui}/uploads/{id}"));
                put("preview_html", format!("{ui}/records/{id}?preview=1"));
                put("files", format!("{r}/draft/files"));
                put("media_files", format!("{r}/draft/media-files"));
                put("archive", format!("{r}/draft/files-archive"));
            }
            Which::Published => {
                put("self", r.clone());
                put("self_html", format!("{ui}/records/{id}"));
                put("files", format!("{r}/files"));
                put("media_files", format!("{r}/media-files"));
                put("archive", format!("{r}/files-archive"));
            }
        }
        if let Some(doi) = self.snap(rec, which).and_then(Snapshot::doi) {
            put("doi", format!("https://doi.org/{doi}"));
            put("self_doi", format!("{ui}/doi/{doi}"));
            put("self_doi_html", format!("{ui}/doi/{doi}"));
        }
        put("parent", format!("{api}/records/{parent}"));
        put("parent_html", format!("{ui}/records/{parent}"));
        if let Some(concept) = self.store.parents.get(&parent).and_then(|p| p.doi.clone()) {
            put("parent_doi", format!("https://doi.org/{concept}"));
            put("parent_doi_html", format!("{ui}/doi/{concept}"));
        }
        put("record", r.clone());
        put("record_html", format!("{ui}/records/{id}"));
        put("draft", format!("{r}/draft"));
        put("publish", format!("{r}/draft/actions/publish"));
        put("review", format!("{r}/draft/review"));
        put("reserve_doi", format!("{r}/draft/pids/doi"));
        put("versions", format!("{r}/versions"));
        put("latest", format!("{r}/versions/latest"));
        put("latest_html", format!("{ui}/records/{id}/latest"));
        put("access", format!("{r}/access"));
        put("access_links", format!("{r}/access/links"));
        put("access_grants", format!("{r}/access/grants"));
        put("access_users", format!("{r}/access/users"));
        put("access_request", format!("{r}/access/request"));
        put("communities", format!("{r}/communities"));
        put(
            "communities-suggestions",
            format!("{r}/communities-suggestions"),
        );
        put("requests", format!("{r}/requests"));
        Value::Object(l)
    }

    /// RDM file entry (draft files have a `commit` link; pending ones no checksum yet).
    pub fn rdm_file(&self, rec: &Record, which: Which, f: &FileEntry) -> Value {
        let base = match which {
            Which::Draft => format!(
                "{}/records/{}/draft/files/{}",
                self.api(),
                rec.id,
                pct(&f.key)
            ),
            Which::Published => format!("{}/records/{}/files/{}", self.api(), rec.id, pct(&f.key)),
        };
        let mut links = json!({"self": base, "content": format!("{base}/content")});
        if which == Which::Draft {
            links["commit"] = json!(format!("{base}/commit"));
        }
        let mut v = json!({
            "key": f.key,
            "created": f.created,
            "updated": f.updated,
            "status": if f.completed { "completed" } else { "pending" },
            "metadata": f.metadata,
            "access": {"hidden": false},
            "transfer": {"type": "L"},
            "links": links,
        });
        if f.completed {
            v["id"] = json!(f.file_id);
            v["checksum"] = json!(f.checksum());
            v["size"] = json!(f.size());
            v["mimetype"] = json!(f.mimetype);
            v["ext"] = json!(f.key.rsplit_once('.').map(|(_, e)| e));
            v["file_id"] = json!(f.file_id);
            v["version_id"] = json!(f.version_id);
            v["bucket_id"] = json!(rec.bucket_id);
            v["storage_class"] = json!("L");
        }
        v
    }

    /// `{enabled, default_preview, order, entries: [...], links}` of a draft or record.
    pub fn rdm_files(&self, rec: &Record, which: Which) -> Value {
        let files = self
            .snap(rec, which)
            .map(|s| s.files.as_slice())
            .unwrap_or(&[]);
        let entries: Vec<Value> = files.iter().map(|f| self.rdm_file(rec, which, f)).collect();
        let list = match which {
            Which::Draft => format!("{}/records/{}/draft/files", self.api(), rec.id),
            Which::Published => format!("{}/records/{}/files", self.api(), rec.id),
        };
        json!({
            "enabled": true,
            "default_preview": null,
            "order": [],
            "entries": entries,
            "links": {"self": list},
        })
    }

    fn parent_json(&self, rec: &Record) -> Value {
        let mut pids = Map::new();
        if let Some(doi) = self
            .store
            .parents
            .get(&rec.parent)
            .and_then(|p| p.doi.clone())
        {
            pids.insert(
                "doi".into(),
                json!({"identifier": doi, "provider": "datacite", "client": "datacite"}),
            );
        }
        json!({
            "id": rec.parent.to_string(),
            "access": {
                "owned_by": {"user": rec.owner.to_string()},
                "settings": {"allow_user_requests": false, "allow_guest_requests": false,
                             "accept_conditions_text": null, "secret_link_expiration": 0},
                "grants": [],
                "links": [],
            },
            "communities": {},
            "pids": pids,
        })
    }

    /// The InvenioRDM JSON of a draft or a published record.
    pub fn rdm_record(&self, rec: &Record, which: Which) -> Value {
        let Some(snap) = self.snap(rec, which) else {
            return Value::Null;
        };
        let is_draft = which == Which::Draft;
        let is_published = rec.published.is_some();
        let status = if is_published {
            "published"
        } else if rec.index > 1 {
            "new_version_draft"
        } else {
            "draft"
        };
        let (index, is_latest, is_latest_draft) = self.store.versions(rec);
        let completed: Vec<&FileEntry> = snap.completed().collect();
        let entries: Map<String, Value> = completed
            .iter()
            .map(|f| {
                let mut e = self.rdm_file(rec, which, f);
                if let Some(o) = e.as_object_mut() {
                    o.remove("transfer");
                }
                (f.key.clone(), e)
            })
            .collect();
        let mut access = snap.input.access.clone();
        let files_public = access.get("files").and_then(Value::as_str) == Some("public");
        let embargoed = access
            .get("embargo")
            .and_then(|e| e.get("active"))
            .and_then(Value::as_bool)
            == Some(true);
        access["status"] = json!(if files_public {
            "open"
        } else if embargoed {
            "embargoed"
        } else {
            "restricted"
        });
        let mut v = json!({
            "id": rec.id.to_string(),
            "created": rec.created,
            "updated": snap.updated,
            "links": self.rdm_links(rec, which),
            "revision_id": snap.revision_id,
            "parent": self.parent_json(rec),
            "versions": {"index": index, "is_latest": is_latest, "is_latest_draft": is_latest_draft},
            "is_published": is_published,
            "is_draft": is_draft,
            "status": status,
            "pids": snap.input.pids,
            "metadata": snap.input.metadata,
            "custom_fields": snap.input.custom_fields,
            "access": access,
            "files": {
                "enabled": true,
                "order": [],
                "count": completed.len(),
                "total_bytes": completed.iter().map(|f| f.size()).sum::<u64>(),
                "entries": entries,
            },
            "media_files": {"enabled": false, "order": [], "count": 0, "total_bytes": 0, "entries": {}},
            "deletion_status": {"is_deleted": false, "status": "P"},
        });
        if !is_draft {
            let zero = json!({"views": 0, "unique_views": 0, "downloads": 0, "unique_downloads": 0, "data_volume": 0});
            v["stats"] = json!({"this_version": zero, "all_versions": zero});
        }
        v
    }

    fn concept_doi(&self, rec: &Record) -> Option<String> {
        self.store
            .parents
            .get(&rec.parent)
            .and_then(|p| p.doi.clone())
    }

    /// Zenodo's records JSON (`ZenodoSchema`): what `/api/records*` answers without the
    /// InvenioRDM Accept header.
    pub fn zenodo_record(&self, rec: &Record, which: Which) -> Value {
        let Some(snap) = self.snap(rec, which) else {
            return Value::Null;
        };
        let is_draft = which == Which::Draft;
        let is_published = rec.published.is_some();
        let links = self.rdm_links(rec, which);
        let files_url = links
            .get("files")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let doi = snap.doi();
        let mut metadata = legacy_metadata(
            &snap.input.metadata,
            &snap.input.access,
            &snap.input.custom_fields,
            doi,
            LegacyStyle::Zenodo,
        );
        let (_, is_latest, _) = self.store.versions(rec);
        metadata.insert(
            "relations".into(),
            json!({"version": [{
                "index": rec.index - 1,
                "is_last": is_latest,
                "parent": {"pid_type": "recid", "pid_value": rec.parent.to_string()},
            }]}),
        );
        let files: Vec<Value> = snap
            .completed()
            .map(|f| {
                json!({
                    "id": f.file_id,
                    "key": f.key,
                    "size": f.size(),
                    "checksum": f.checksum(),
                    "links": {"self": format!("{files_url}/{}/content", pct(&f.key))},
                })
            })
            .collect();
        let mut v = json!({
            "created": rec.created,
            "modified": snap.updated,
            "updated": snap.updated,
            "id": rec.id,
            "recid": rec.id.to_string(),
            "revision": snap.revision_id,
            "conceptrecid": rec.parent.to_string(),
            "metadata": metadata,
            "title": snap.input.metadata.get("title").cloned().unwrap_or(json!("")),
            "links": links,
            "files": files,
            "swh": {},
            "owners": [{"id": rec.owner.to_string()}],
            "status": if is_draft { "draft" } else { "published" },
            "state": legacy_state(is_published, is_draft),
            "submitted": is_published,
        });
        if let Some(doi) = doi {
            v["doi"] = json!(doi);
            v["doi_url"] = json!(format!("https://doi.org/{doi}"));
        }
        if let Some(c) = self.concept_doi(rec) {
            v["conceptdoi"] = json!(c);
        }
        if !is_draft {
            v["stats"] = json!({"downloads": 0, "unique_downloads": 0, "views": 0, "unique_views": 0,
                "version_downloads": 0, "version_unique_downloads": 0, "version_unique_views": 0,
                "version_views": 0, "volume": 0, "version_volume": 0});
        }
        v
    }

    /// Legacy deposit API `links` (zenodo-rdm's `LegacyRecordServiceConfig.links_item`).
    fn legacy_links(&self, rec: &Record, which: Which) -> Value {
        let (api, ui, id) = (self.api(), self.base, rec.id);
        let dep = format!("{api}/deposit/depositions/{id}");
        let is_record = which == Which::Published;
        let mut l = Map::new();
        let mut put = |k: &str, v: String| {
            l.insert(k.to_string(), Value::String(v));
        };
        if is_record {
            put("self", format!("{api}/records/{id}"));
            put("html", format!("{ui}/records/{id}"));
            put("files", format!("{api}/records/{id}/files"));
        } else {
            put("self", dep.clone());
            put("html", format!("{ui}/deposit/{id}"));
            put("files", format!("{dep}/files"));
        }
        if let Some(doi) = self.snap(rec, which).and_then(Snapshot::doi) {
            put("doi", format!("https://doi.org/{doi}"));
            put("badge", format!("{ui}/badge/doi/{doi}.svg"));
        }
        if is_record && let Some(c) = self.concept_doi(rec) {
            put("parent_doi", format!("https://doi.org/{c}"));
            put("conceptbadge", format!("{ui}/badge/doi/{c}.svg"));
        }
        put("bucket", format!("{api}/files/{}", rec.bucket_id));
        put("latest_draft", dep.clone());
        put("latest_draft_html", format!("{ui}/deposit/{id}"));
        put("publish", format!("{dep}/actions/publish"));
        put("edit", format!("{dep}/actions/edit"));
        put("discard", format!("{dep}/actions/discard"));
        put("newversion", format!("{dep}/actions/newversion"));
        if rec.published.is_some() {
            put("record", format!("{api}/records/{id}"));
            put("record_html", format!("{ui}/records/{id}"));
            put("latest", format!("{api}/records/{id}/versions/latest"));
            put("latest_html", format!("{ui}/records/{id}/latest"));
        }
        Value::Object(l)
    }

    /// A file as the legacy deposit API shows it (`{id, filename, filesize, checksum, links}`).
    pub fn legacy_file(&self, rec: &Record, which: Which, f: &FileEntry) -> Value {
        let api = self.api();
        let download = match which {
            Which::Published => format!("{api}/records/{}/files/{}/content", rec.id, pct(&f.key)),
            Which::Draft => format!(
                "{api}/records/{}/draft/files/{}/content",
                rec.id,
                pct(&f.key)
            ),
        };
        json!({
            "id": f.file_id,
            "filename": f.key,
            "filesize": f.size(),
            "checksum": f.md5,
            "links": {
                "self": format!("{api}/deposit/depositions/{}/files/{}", rec.id, f.file_id),
                "download": download,
            },
        })
    }

    /// The deposit API's view of a record: its draft if it has one, else the published version.
    pub fn legacy_deposit(&self, rec: &Record) -> Value {
        let which = if rec.draft.is_some() {
            Which::Draft
        } else {
            Which::Published
        };
        let Some(snap) = self.snap(rec, which) else {
            return Value::Null;
        };
        let is_draft = which == Which::Draft;
        let is_published = rec.published.is_some();
        let links = self.legacy_links(rec, which);
        let files_url = links
            .get("files")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let doi = snap.doi();
        let mut metadata = legacy_metadata(
            &snap.input.metadata,
            &snap.input.access,
            &snap.input.custom_fields,
            doi,
            LegacyStyle::Deposit,
        );
        metadata.insert(
            "prereserve_doi".into(),
            json!({"doi": self.store.doi(rec.id), "recid": rec.id}),
        );
        let api = self.api();
        let files: Vec<Value> = snap
            .completed()
            .map(|f| {
                json!({
                    "id": f.file_id,
                    "filename": f.key,
                    "filesize": f.size(),
                    "checksum": f.md5,
                    "links": {
                        "self": format!("{files_url}/{}", f.file_id),
                        "download": format!("{api}/records/{}/draft/files/{}/content", rec.id, pct(&f.key)),
                    },
                })
            })
            .collect();
        let mut v = json!({
            "created": rec.created,
            "modified": snap.updated,
            "id": rec.id,
            "record_id": rec.id,
            "conceptrecid": rec.parent.to_string(),
            "metadata": metadata,
            "title": snap.input.metadata.get("title").cloned().unwrap_or(json!("")),
            "links": links,
            "owner": rec.owner,
            "files": files,
            "state": legacy_state(is_published, is_draft),
            "submitted": is_published,
        });
        if let Some(doi) = doi {
            v["doi"] = json!(doi);
            v["doi_url"] = json!(format!("https://doi.org/{doi}"));
        }
        if let Some(c) = self.concept_doi(rec) {
            v["conceptdoi"] = json!(c);
        }
        v
    }

    /// Files-REST view of a file (answer of `PUT {bucket}/{key}`).
    pub fn files_rest(&self, rec: &Record, f: &FileEntry) -> Value {
        let url = format!("{}/files/{}/{}", self.api(), rec.bucket_id, pct(&f.key));
        json!({
            "created": f.created,
            "updated": f.updated,
            "version_id": f.version_id,
            "key": f.key,
            "size": f.size(),
            "mimetype": f.mimetype,
            "checksum": f.checksum(),
            "is_head": true,
            "delete_marker": false,
            "links": {
                "self": url,
                "version": format!("{url}?versionId={}", f.version_id),
                "uploads": format!("{url}?uploads=1"),
            },
        })
    }
}

/// Legacy `state`: unsubmitted (never published), inprogress (editing a published one), done.
fn legacy_state(is_published: bool, is_draft: bool) -> &'static str {
    match (is_published, is_draft) {
        (false, _) => "unsubmitted",
        (true, true) => "inprogress",
        (true, false) => "done",
    }
}
