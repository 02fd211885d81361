//! The two APIs a publication can speak, behind one small interface: InvenioRDM's records API
//! (the default) and Zenodo's legacy deposit API (the fallback).

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Body, Client, Repeat};
use super::journal::Journal;
use super::target::Api;
use crate::error::{Error, PublishErrorKind, Result};

/// What a step needs to know of a record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Record {
    /// The record id (a string, whatever the server sends).
    pub(crate) id: String,
    /// The DOI (reserved or registered).
    pub(crate) doi: Option<String>,
    pub(crate) concept_doi: Option<String>,
    pub(crate) concept_id: Option<String>,
    pub(crate) published: bool,
    pub(crate) html: Option<String>,
    pub(crate) links: Value,
    pub(crate) title: String,
    pub(crate) created: String,
}

/// A file as the server has it.
#[derive(Clone, Debug)]
pub(crate) struct RemoteFile {
    pub(crate) key: String,
    /// md5, hex (without `md5:`), once the file is complete.
    pub(crate) md5: Option<String>,
    /// The legacy API's file id (for deleting).
    pub(crate) id: Option<String>,
}

/// An id of any JSON type, as a string (Zenodo sends integers, InvenioRDM strings).
pub(crate) fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A checksum without its `md5:` prefix.
fn md5_of(v: &Value) -> Option<String> {
    v.as_str()
        .map(|s| s.trim_start_matches("md5:").to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

fn parse_record(api: Api, v: &Value) -> Result<Record> {
    let id = id_string(v.get("id").unwrap_or(&Value::Null)).ok_or_else(|| {
        Error::publish(
            PublishErrorKind::Server,
            format!("the server's answer has no record id: {}", truncate(v)),
        )
    })?;
    Ok(match api {
        Api::Rdm => Record {
            id,
            doi: str_at(v, "/pids/doi/identifier").map(str::to_string),
            concept_doi: str_at(v, "/parent/pids/doi/identifier").map(str::to_string),
            concept_id: v.pointer("/parent/id").and_then(id_string),
            published: v
                .get("is_published")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                && !v.get("is_draft").and_then(Value::as_bool).unwrap_or(false),
            html: str_at(v, "/links/self_html")
                .or_else(|| str_at(v, "/links/record_html"))
                .map(str::to_string),
            links: v.get("links").cloned().unwrap_or(Value::Null),
            title: str_at(v, "/metadata/title").unwrap_or_default().to_string(),
            created: v
                .get("created")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
        Api::Legacy => Record {
            id,
            doi: str_at(v, "/doi")
                .or_else(|| str_at(v, "/metadata/doi"))
                .or_else(|| str_at(v, "/metadata/prereserve_doi/doi"))
                .map(str::to_string),
            concept_doi: str_at(v, "/conceptdoi").map(str::to_string),
            concept_id: v.get("conceptrecid").and_then(id_string),
            published: v.get("submitted").and_then(Value::as_bool).unwrap_or(false)
                && v.get("state").and_then(Value::as_str) == Some("done"),
            html: str_at(v, "/links/record_html")
                .or_else(|| str_at(v, "/links/html"))
                .map(str::to_string),
            links: v.get("links").cloned().unwrap_or(Value::Null),
            title: str_at(v, "/title")
                .or_else(|| str_at(v, "/metadata/title"))
                .unwrap_or_default()
                .to_string(),
            created: v
                .get("created")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
    })
}

fn truncate(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// One publication's server: its base URL, API and client.
pub(crate) struct Server<'c> {
    pub(crate) client: &'c Client,
    pub(crate) base: String,
    pub(crate) api: Api,
}

impl Server<'_> {
    /// A link of the record, or the URL the API documents for it.
    fn link(&self, links: &Value, name: &str, fallback: String) -> String {
        links
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or(fallback, str::to_string)
    }

    fn draft_url(&self, id: &str) -> String {
        match self.api {
            Api::Rdm => format!("{}/api/records/{id}/draft", self.base),
            Api::Legacy => format!("{}/api/deposit/depositions/{id}", self.base),
        }
    }

    /// Creates a draft with the journal's metadata. Sent once: a lost answer is an error the
    /// caller resolves with [`Server::find_draft`].
    pub(crate) fn create(&self, journal: &Journal) -> Result<(Record, String)> {
        let (url, body) = match self.api {
            Api::Rdm => (
                format!("{}/api/records", self.base),
                json!({
                    "access": {"record": "public", "files": "public"},
                    "files": {"enabled": true},
                    "metadata": journal.metadata.to_rdm(&journal.publication_date, &journal.target.publisher()),
                }),
            ),
            Api::Legacy => (
                format!("{}/api/deposit/depositions", self.base),
                journal.metadata.to_legacy(&journal.publication_date),
            ),
        };
        let a = self
            .client
            .call(Method::POST, &url, Body::Json(&body), Repeat::Once)?;
        if !a.ok() {
            return Err(a.error("creating the draft record"));
        }
        // InvenioRDM is lenient here: the draft is made, the problems listed.
        let warnings = super::client::field_errors(&a.json);
        Ok((parse_record(self.api, &a.json)?, warnings))
    }

    /// The user's newest draft titled `title` created at or after `since` (an earlier
    /// creation whose answer was lost).
    pub(crate) fn find_draft(&self, title: &str, since: &str) -> Result<Option<Record>> {
        let url = match self.api {
            Api::Rdm => format!("{}/api/user/records?sort=newest&size=100", self.base),
            Api::Legacy => format!(
                "{}/api/deposit/depositions?status=draft&sort=mostrecent&size=100",
                self.base
            ),
        };
        let v = self.client.expect(
            "listing your drafts",
            Method::GET,
            &url,
            Body::None,
            Repeat::Safe,
        )?;
        let hits: Vec<Value> = match &v {
            Value::Array(a) => a.clone(),
            other => other
                .pointer("/hits/hits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        // Server clocks may run behind ours: allow ten minutes.
        let since = shift_iso(since, -600);
        for h in hits {
            let r = parse_record(self.api, &h)?;
            if !r.published && r.title == title && r.created.as_str() >= since.as_str() {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The draft's current state.
    pub(crate) fn get(&self, journal: &Journal) -> Result<(Record, Value)> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        let url = self.link(
            &journal.links,
            if self.api == Api::Rdm {
                "draft"
            } else {
                "self"
            },
            self.draft_url(id),
        );
        let a = self
            .client
            .call(Method::GET, &url, Body::None, Repeat::Safe)?;
        if a.status == 404 || a.status == 410 {
            // A published record has no draft.
            if self.api == Api::Rdm {
                let url = format!("{}/api/records/{id}", self.base);
                let v = self.client.expect(
                    "reading the record",
                    Method::GET,
                    &url,
                    Body::None,
                    Repeat::Safe,
                )?;
                return Ok((parse_record(self.api, &v)?, v));
            }
        }
        if !a.ok() {
            return Err(a.error(&format!("reading record {id}")));
        }
        Ok((parse_record(self.api, &a.json)?, a.json))
    }

    /// Reserves the draft's DOI (or reads the one already reserved).
    pub(crate) fn reserve_doi(&self, record: &Record) -> Result<Record> {
        match self.api {
            Api::Legacy => match &record.doi {
                Some(_) => Ok(record.clone()),
                None => Err(Error::publish(
                    PublishErrorKind::Server,
                    format!(
                        "deposition {} has no pre-reserved DOI (metadata.prereserve_doi)",
                        record.id
                    ),
                )),
            },
            Api::Rdm => {
                if record.doi.is_some() {
                    return Ok(record.clone());
                }
                let url = self.link(
                    &record.links,
                    "reserve_doi",
                    format!("{}/pids/doi", self.draft_url(&record.id)),
                );
                let a = self
                    .client
                    .call(Method::POST, &url, Body::None, Repeat::Safe)?;
                if a.ok() {
                    return parse_record(self.api, &a.json);
                }
                // A DOI reserved by an earlier attempt whose answer was lost: read it.
                let (r, _) = self.get_by_id(&record.id)?;
                if r.doi.is_some() {
                    Ok(r)
                } else {
                    Err(a.error("reserving the DOI"))
                }
            }
        }
    }

    fn get_by_id(&self, id: &str) -> Result<(Record, Value)> {
        let v = self.client.expect(
            &format!("reading draft {id}"),
            Method::GET,
            &self.draft_url(id),
            Body::None,
            Repeat::Safe,
        )?;
        Ok((parse_record(self.api, &v)?, v))
    }

    /// Replaces the draft's metadata with the journal's, keeping its DOI (an InvenioRDM PUT
    /// replaces the whole draft: pids not sent are dropped).
    pub(crate) fn update_metadata(&self, journal: &Journal) -> Result<Record> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        let (_, current) = self.get_by_id(id)?;
        let url = self.draft_url(id);
        let body = match self.api {
            Api::Rdm => json!({
                "access": current.get("access").cloned().unwrap_or(json!({"record": "public", "files": "public"})),
                "files": {"enabled": true},
                "pids": current.get("pids").cloned().unwrap_or(json!({})),
                "metadata": journal.metadata.to_rdm(&journal.publication_date, &journal.target.publisher()),
            }),
            Api::Legacy => {
                let mut m = journal.metadata.to_legacy(&journal.publication_date);
                if let Some(p) = current.pointer("/metadata/prereserve_doi") {
                    m["metadata"]["prereserve_doi"] = p.clone();
                }
                m
            }
        };
        let v = self.client.expect(
            "updating the draft's metadata",
            Method::PUT,
            &url,
            Body::Json(&body),
            Repeat::Safe,
        )?;
        parse_record(self.api, &v)
    }

    /// The draft's files.
    pub(crate) fn files(&self, journal: &Journal) -> Result<Vec<RemoteFile>> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        // Both APIs list a draft's files under `<draft>/files`.
        let v = self.client.expect(
            "listing the draft's files",
            Method::GET,
            &format!("{}/files", self.draft_url(id)),
            Body::None,
            Repeat::Safe,
        )?;
        let entries = match &v {
            Value::Array(a) => a.clone(),
            other => other
                .get("entries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        Ok(entries
            .iter()
            .filter_map(|e| {
                let key = e
                    .get("key")
                    .or_else(|| e.get("filename"))
                    .and_then(Value::as_str)?
                    .to_string();
                let complete = e
                    .get("status")
                    .and_then(Value::as_str)
                    .is_none_or(|s| s == "completed");
                Some(RemoteFile {
                    key,
                    md5: if complete {
                        e.get("checksum").and_then(md5_of)
                    } else {
                        None
                    },
                    id: e.get("id").and_then(id_string),
                })
            })
            .collect())
    }

    /// Deletes a file of the draft.
    pub(crate) fn delete_file(&self, journal: &Journal, file: &RemoteFile) -> Result<()> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        let url = match (self.api, &file.id) {
            (Api::Legacy, Some(fid)) => format!("{}/files/{fid}", self.draft_url(id)),
            _ => format!("{}/files/{}", self.draft_url(id), encode_key(&file.key)),
        };
        let a = self
            .client
            .call(Method::DELETE, &url, Body::None, Repeat::Safe)?;
        if a.ok() || a.status == 404 {
            Ok(())
        } else {
            Err(a.error(&format!("deleting {} from the draft", file.key)))
        }
    }

    /// Uploads `path` as `key` and returns the md5 the server computed.
    pub(crate) fn upload(&self, journal: &Journal, key: &str, path: &Path) -> Result<String> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        let v = match self.api {
            Api::Rdm => {
                let files_url = format!("{}/files", self.draft_url(id));
                let a = self.client.call(
                    Method::POST,
                    &files_url,
                    Body::Json(&json!([{"key": key}])),
                    Repeat::Safe,
                )?;
                if !a.ok() {
                    return Err(a.error(&format!("starting the upload of {key}")));
                }
                let entry = a
                    .json
                    .get("entries")
                    .and_then(Value::as_array)
                    .and_then(|e| {
                        e.iter()
                            .find(|x| x.get("key").and_then(Value::as_str) == Some(key))
                    })
                    .cloned()
                    .unwrap_or(Value::Null);
                let enc = encode_key(key);
                let content = str_at(&entry, "/links/content")
                    .map_or_else(|| format!("{files_url}/{enc}/content"), str::to_string);
                let commit = str_at(&entry, "/links/commit")
                    .map_or_else(|| format!("{files_url}/{enc}/commit"), str::to_string);
                self.client.expect(
                    &format!("uploading {key}"),
                    Method::PUT,
                    &content,
                    Body::File(path),
                    Repeat::Safe,
                )?;
                self.client.expect(
                    &format!("committing {key}"),
                    Method::POST,
                    &commit,
                    Body::None,
                    Repeat::Safe,
                )?
            }
            Api::Legacy => {
                let bucket = str_at(&journal.links, "/bucket").map(str::to_string).ok_or_else(|| {
                    Error::publish(PublishErrorKind::Journal, "the journal has no bucket link of the deposition: run `oda publish reserve` again")
                })?;
                self.client.expect(
                    &format!("uploading {key}"),
                    Method::PUT,
                    &format!("{bucket}/{}", encode_key(key)),
                    Body::File(path),
                    Repeat::Safe,
                )?
            }
        };
        v.get("checksum").and_then(md5_of).ok_or_else(|| {
            Error::publish(
                PublishErrorKind::Server,
                format!("the server reported no checksum for {key}"),
            )
        })
    }

    /// Publishes the draft. Safe to repeat: an already published record is read back.
    pub(crate) fn publish(&self, journal: &Journal) -> Result<Record> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        let url = self.link(
            &journal.links,
            "publish",
            format!("{}/actions/publish", self.draft_url(id)),
        );
        let a = self
            .client
            .call(Method::POST, &url, Body::None, Repeat::Safe)?;
        if a.ok() {
            return parse_record(self.api, &a.json);
        }
        // Published by an earlier attempt whose answer was lost?
        let (r, _) = self.get(journal)?;
        if r.published {
            Ok(r)
        } else {
            Err(a.error("publishing"))
        }
    }

    /// Starts a new version of the published record; returns the new draft.
    pub(crate) fn new_version(&self, journal: &Journal) -> Result<Record> {
        let id = journal.record_id.as_deref().unwrap_or_default();
        match self.api {
            Api::Rdm => {
                let url = self.link(
                    &journal.links,
                    "versions",
                    format!("{}/api/records/{id}/versions", self.base),
                );
                let v = self.client.expect(
                    "starting a new version",
                    Method::POST,
                    &url,
                    Body::None,
                    Repeat::Once,
                )?;
                parse_record(self.api, &v)
            }
            Api::Legacy => {
                let url = self.link(
                    &journal.links,
                    "newversion",
                    format!("{}/actions/newversion", self.draft_url(id)),
                );
                let v = self.client.expect(
                    "starting a new version",
                    Method::POST,
                    &url,
                    Body::None,
                    Repeat::Once,
                )?;
                let r = parse_record(self.api, &v)?;
                if r.id != id {
                    return Ok(r);
                }
                // Zenodo's documented behaviour: the answer is the old record; the new draft is
                // behind links.latest_draft.
                let latest = str_at(&v, "/links/latest_draft").ok_or_else(|| {
                    Error::publish(
                        PublishErrorKind::Server,
                        "the new version's answer has no latest_draft link",
                    )
                })?;
                let v = self.client.expect(
                    "reading the new version",
                    Method::GET,
                    latest,
                    Body::None,
                    Repeat::Safe,
                )?;
                parse_record(self.api, &v)
            }
        }
    }
}

/// A file key as one URL path segment.
fn encode_key(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// An ISO 8601 time `seconds` later (negative: earlier), for comparing server times as text.
fn shift_iso(iso: &str, seconds: i64) -> String {
    match crate::time::Time::parse(iso.trim_end_matches('Z'), crate::time::TimeFormat::Isot) {
        Ok(t) => {
            let s = t.add_seconds(seconds as f64).to_isot();
            s.split('.').next().unwrap_or(&s).to_string()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_both_shapes() {
        let rdm = json!({"id": "ha4g3-7x208", "is_published": false, "is_draft": true,
            "pids": {"doi": {"identifier": "10.5072/zenodo.9", "provider": "datacite"}},
            "metadata": {"title": "Crab"}, "links": {"self": "x"}, "created": "2026-11-30T10:00:00+00:00"});
        let r = parse_record(Api::Rdm, &rdm).unwrap();
        assert_eq!(
            (r.id.as_str(), r.doi.as_deref(), r.published),
            ("ha4g3-7x208", Some("10.5072/zenodo.9"), false)
        );
        let legacy = json!({"id": 1234, "state": "unsubmitted", "submitted": false, "title": "Crab",
            "metadata": {"prereserve_doi": {"doi": "10.5281/zenodo.1234", "recid": 1234}}});
        let r = parse_record(Api::Legacy, &legacy).unwrap();
        assert_eq!(
            (r.id.as_str(), r.doi.as_deref()),
            ("1234", Some("10.5281/zenodo.1234"))
        );
        assert!(parse_record(Api::Rdm, &json!({"x": 1})).is_err());
        assert_eq!(encode_key("crab image+1.fits"), "crab%20image%2B1.fits");
        assert_eq!(md5_of(&json!("md5:ABC")), Some("abc".into()));
    }
}
