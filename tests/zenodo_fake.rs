//! End-to-end tests of `examples/zenodo_fake`: each test starts the server for real on
//! 127.0.0.1 and talks HTTP to it (reqwest, blocking), checking status codes, JSON shapes,
//! content negotiation, checksums, DOIs, faults, limits and the legacy deposit API; one test
//! runs a third-party Python client from PyPI (zenodo-client) against it.

#[path = "support/zenodo.rs"]
mod zenodo;

use std::time::Duration;

use md5::{Digest, Md5};
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};
use zenodo::FakeZenodo;

const RDM: &str = "application/vnd.inveniordm.v1+json";

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn client(redirects: bool) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder().timeout(Duration::from_secs(60));
    if !redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    b.build().expect("reqwest client")
}

/// A user of the fake: a token and a client.
struct Api {
    c: Client,
    base: String,
    token: String,
}

impl Api {
    fn new(fake: &FakeZenodo, token: &str) -> Api {
        Api {
            c: client(true),
            base: fake.url().to_string(),
            token: token.to_string(),
        }
    }
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }
    /// A request with the token as a Bearer header and the default Accept (Zenodo's JSON).
    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.c
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }
    /// A request asking for the InvenioRDM JSON.
    fn rdm(&self, method: Method, path: &str) -> RequestBuilder {
        self.req(method, path).header("Accept", RDM)
    }
}

fn send(rb: RequestBuilder) -> (u16, Value) {
    let resp = rb.send().expect("request failed");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

fn minimal_rdm_metadata(title: &str) -> Value {
    json!({
        "resource_type": {"id": "dataset"},
        "title": title,
        "publication_date": "2026-01-15",
        "creators": [{
            "person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane",
                              "identifiers": [{"scheme": "orcid", "identifier": "0000-0002-1825-0097"}]},
            "affiliations": [{"name": "ISDC"}],
        }],
        "description": "Products of a test.",
        "rights": [{"id": "cc-by-4.0"}],
    })
}

/// Creates an RDM draft with `files` uploaded and committed; returns its id.
fn rdm_draft_with_files(api: &Api, title: &str, files: &[(&str, &[u8])]) -> String {
    let (s, draft) = send(api.rdm(Method::POST, "/api/records").json(&json!({
        "metadata": minimal_rdm_metadata(title), "files": {"enabled": true}, "access": {"record": "public", "files": "public"},
    })));
    assert_eq!(s, 201, "{draft}");
    let id = draft["id"].as_str().expect("id").to_string();
    if files.is_empty() {
        return id;
    }
    let keys: Vec<Value> = files.iter().map(|(k, _)| json!({"key": k})).collect();
    let (s, init) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&keys),
    );
    assert_eq!(s, 201, "{init}");
    for (key, data) in files {
        let entry = init["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["key"] == *key)
            .expect("entry")
            .clone();
        let (s, _) = send(
            api.req(
                Method::PUT,
                entry["links"]["content"].as_str().expect("content link"),
            )
            .header("Content-Type", "application/octet-stream")
            .body(data.to_vec()),
        );
        assert_eq!(s, 200);
        let (s, c) = send(api.req(
            Method::POST,
            entry["links"]["commit"].as_str().expect("commit link"),
        ));
        assert_eq!(s, 200, "{c}");
    }
    id
}

#[test]
fn rdm_records_api_end_to_end() {
    let fake = FakeZenodo::start_with(&["alice"], &["--rate-limit", "100000"]);
    let api = Api::new(&fake, "alice");
    let base = fake.url();

    // Create: 201, the InvenioRDM keys, absolute links from the Host header.
    let (s, draft) = send(api.rdm(Method::POST, "/api/records").json(&json!({
        "metadata": minimal_rdm_metadata("Crab spectrum"), "files": {"enabled": true},
    })));
    assert_eq!(s, 201, "{draft}");
    for key in [
        "id",
        "is_draft",
        "is_published",
        "status",
        "created",
        "updated",
        "revision_id",
        "metadata",
        "access",
        "files",
        "parent",
        "pids",
        "versions",
        "links",
    ] {
        assert!(draft.get(key).is_some(), "missing {key} in {draft}");
    }
    assert!(draft.get("errors").is_none(), "{draft}");
    let id = draft["id"].as_str().expect("id is a string").to_string();
    assert!(id.parse::<u64>().is_ok(), "Zenodo-like integer id: {id}");
    assert_eq!(draft["is_draft"], true);
    assert_eq!(draft["is_published"], false);
    assert_eq!(draft["status"], "draft");
    assert_eq!(
        draft["versions"],
        json!({"index": 1, "is_latest": false, "is_latest_draft": true})
    );
    assert_eq!(draft["files"]["enabled"], true);
    assert!(draft["files"]["order"].is_array());
    assert_eq!(draft["parent"]["communities"], json!({}));
    assert_eq!(
        draft["metadata"]["creators"][0]["person_or_org"]["name"],
        "Doe, Jane"
    );
    let links = &draft["links"];
    assert_eq!(links["self"], format!("{base}/api/records/{id}/draft"));
    assert_eq!(
        links["publish"],
        format!("{base}/api/records/{id}/draft/actions/publish")
    );
    assert_eq!(
        links["reserve_doi"],
        format!("{base}/api/records/{id}/draft/pids/doi")
    );
    assert_eq!(
        links["files"],
        format!("{base}/api/records/{id}/draft/files")
    );
    for key in ["self_html", "versions", "draft", "record", "latest"] {
        assert!(
            links[key]
                .as_str()
                .is_some_and(|l| l.starts_with("http://127.0.0.1:")),
            "{key}: {links}"
        );
    }

    // DOI: reserve, a second reserve fails, discard gives the draft back, none left -> 404.
    let doi = format!("10.5072/zenodo.{id}");
    let (s, d) = send(api.rdm(Method::POST, links["reserve_doi"].as_str().expect("link")));
    assert_eq!(s, 201);
    assert_eq!(
        d["pids"]["doi"],
        json!({"identifier": doi, "provider": "datacite", "client": "datacite"})
    );
    let (s, e) = send(api.rdm(Method::POST, &format!("/api/records/{id}/draft/pids/doi")));
    assert_eq!(s, 400);
    assert_eq!(
        e["errors"],
        json!([{"field": "pids.doi", "messages": ["A PID already exists for type doi"]}])
    );
    let (s, d) = send(api.rdm(Method::DELETE, &format!("/api/records/{id}/draft/pids/doi")));
    assert_eq!(s, 200);
    assert_eq!(d["id"], id.as_str());
    assert!(d["pids"].get("doi").is_none());
    let (s, _) = send(api.rdm(Method::DELETE, &format!("/api/records/{id}/draft/pids/doi")));
    assert_eq!(s, 404);
    assert_eq!(
        send(api.rdm(Method::POST, &format!("/api/records/{id}/draft/pids/doi"))).0,
        201
    );

    // Files: init -> pending with links; content -> still pending; commit -> completed + md5.
    let spectrum = b"channel counts\n1 10\n2 12\n".to_vec();
    let (s, init) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!([
                {"key": "spectrum.txt"}, {"key": "extra.csv"},
            ])),
    );
    assert_eq!(s, 201, "{init}");
    let entry = init["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["key"] == "spectrum.txt")
        .expect("entry")
        .clone();
    assert_eq!(entry["status"], "pending");
    assert_eq!(entry["metadata"], Value::Null);
    let flinks = entry["links"].clone();
    assert_eq!(
        flinks["self"],
        format!("{base}/api/records/{id}/draft/files/spectrum.txt")
    );
    assert_eq!(
        flinks["content"],
        format!("{base}/api/records/{id}/draft/files/spectrum.txt/content")
    );
    assert_eq!(
        flinks["commit"],
        format!("{base}/api/records/{id}/draft/files/spectrum.txt/commit")
    );
    let (s, up) = send(
        api.req(Method::PUT, flinks["content"].as_str().expect("link"))
            .header("Content-Type", "application/octet-stream")
            .body(spectrum.clone()),
    );
    assert_eq!(s, 200);
    assert_eq!(up["status"], "pending");
    let (s, done) = send(api.req(Method::POST, flinks["commit"].as_str().expect("link")));
    assert_eq!(s, 200);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["checksum"], format!("md5:{}", md5_hex(&spectrum)));
    assert_eq!(done["size"], spectrum.len());
    assert_eq!(done["mimetype"], "text/plain");
    for key in ["file_id", "version_id", "bucket_id", "storage_class"] {
        assert!(done[key].is_string(), "{key}: {done}");
    }
    let (s, list) = send(api.req(Method::GET, &format!("/api/records/{id}/draft/files")));
    assert_eq!(s, 200);
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(2));
    let (s, one) = send(api.req(
        Method::GET,
        &format!("/api/records/{id}/draft/files/spectrum.txt"),
    ));
    assert_eq!(
        (s, one["checksum"].clone()),
        (200, done["checksum"].clone())
    );
    let (s, _) = send(api.req(
        Method::DELETE,
        &format!("/api/records/{id}/draft/files/extra.csv"),
    ));
    assert_eq!(s, 204);

    // Publish: 202, published, DOI (reserved one kept), OAI id, concept DOI on the parent.
    let (s, rec) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{id}/draft/actions/publish"),
    ));
    assert_eq!(s, 202, "{rec}");
    assert_eq!(rec["status"], "published");
    assert_eq!(rec["is_published"], true);
    assert_eq!(rec["is_draft"], false);
    assert_eq!(rec["pids"]["doi"]["identifier"], doi.as_str());
    assert_eq!(
        rec["pids"]["oai"]["identifier"],
        format!("oai:sandbox.zenodo.org:{id}")
    );
    assert_eq!(rec["links"]["doi"], format!("https://doi.org/{doi}"));
    let concept = rec["parent"]["id"].as_str().expect("parent id").to_string();
    assert_eq!(
        rec["parent"]["pids"]["doi"]["identifier"],
        format!("10.5072/zenodo.{concept}")
    );
    assert_eq!(
        rec["versions"],
        json!({"index": 1, "is_latest": true, "is_latest_draft": true})
    );
    assert_eq!(
        rec["files"]["entries"]["spectrum.txt"]["checksum"],
        done["checksum"]
    );

    // The published record, its files and the download (anonymous reads work).
    let (s, got) = send(api.rdm(Method::GET, &format!("/api/records/{id}")));
    assert_eq!((s, got["id"].clone()), (200, json!(id)));
    let anon = client(true);
    let resp = anon
        .get(format!(
            "{base}/api/records/{id}/files/spectrum.txt/content"
        ))
        .send()
        .expect("download");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(md5_hex(&resp.bytes().expect("bytes")), md5_hex(&spectrum));
    let (s, files) = send(api.req(Method::GET, &format!("/api/records/{id}/files")));
    assert_eq!(s, 200);
    assert_eq!(
        files["entries"][0]["links"]["content"],
        format!("{base}/api/records/{id}/files/spectrum.txt/content")
    );
    // No draft once published.
    assert_eq!(
        send(api.rdm(Method::GET, &format!("/api/records/{id}/draft"))).0,
        404
    );

    // Edit the published record: 201, same id and DOI; files locked.
    let (s, edit) = send(api.rdm(Method::POST, &format!("/api/records/{id}/draft")));
    assert_eq!(s, 201);
    assert_eq!(
        (edit["is_draft"].clone(), edit["is_published"].clone()),
        (json!(true), json!(true))
    );
    let mut body = json!({"metadata": minimal_rdm_metadata("Crab spectrum (fixed title)"), "pids": edit["pids"].clone()});
    body["access"] = edit["access"].clone();
    let (s, upd) = send(
        api.rdm(Method::PUT, &format!("/api/records/{id}/draft"))
            .json(&body),
    );
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        send(
            api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
                .json(&json!([{"key": "x.txt"}]))
        )
        .0,
        403
    );
    let (s, rec) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{id}/draft/actions/publish"),
    ));
    assert_eq!(s, 202, "{rec}");
    assert_eq!(rec["metadata"]["title"], "Crab spectrum (fixed title)");
    assert_eq!(rec["pids"]["doi"]["identifier"], doi.as_str());

    // New version: new id, index 2, no files; files-import brings the previous files.
    let (s, nv) = send(api.rdm(Method::POST, &format!("/api/records/{id}/versions")));
    assert_eq!(s, 201, "{nv}");
    let new_id = nv["id"].as_str().expect("id").to_string();
    assert_ne!(new_id, id);
    assert_eq!(nv["versions"]["index"], 2);
    assert_eq!(nv["status"], "new_version_draft");
    assert_eq!(nv["parent"]["id"], concept.as_str());
    assert_eq!(nv["files"]["count"], 0);
    assert!(nv["metadata"].get("publication_date").is_none());
    let (s, imported) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{new_id}/draft/actions/files-import"),
    ));
    assert_eq!(s, 201);
    assert_eq!(imported["entries"][0]["key"], "spectrum.txt");
    assert_eq!(imported["entries"][0]["checksum"], done["checksum"]);
    let mut meta = minimal_rdm_metadata("Crab spectrum");
    meta["version"] = json!("v2");
    assert_eq!(
        send(
            api.rdm(Method::PUT, &format!("/api/records/{new_id}/draft"))
                .json(&json!({"metadata": meta}))
        )
        .0,
        200
    );
    let (s, v2) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{new_id}/draft/actions/publish"),
    ));
    assert_eq!(s, 202, "{v2}");
    assert_eq!(
        v2["pids"]["doi"]["identifier"],
        format!("10.5072/zenodo.{new_id}")
    );
    assert_eq!(
        v2["parent"]["pids"]["doi"]["identifier"],
        format!("10.5072/zenodo.{concept}")
    );
    assert_eq!(
        v2["versions"],
        json!({"index": 2, "is_latest": true, "is_latest_draft": true})
    );
    let (_, v1) = send(api.rdm(Method::GET, &format!("/api/records/{id}")));
    assert_eq!(v1["versions"]["is_latest"], false);
    let (s, versions) = send(api.rdm(Method::GET, &format!("/api/records/{id}/versions")));
    assert_eq!((s, versions["hits"]["total"].clone()), (200, json!(2)));
    let resp = client(false)
        .get(format!("{base}/api/records/{id}/versions/latest"))
        .send()
        .expect("latest");
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().ok(),
        Some(format!("{base}/api/records/{new_id}").as_str())
    );

    // The state tells the test everything.
    let state = fake.state();
    let recs = state["records"].as_array().expect("records");
    assert_eq!(recs.len(), 2);
    assert_eq!(state["created_per_token"]["alice"], 2);
    assert_eq!(state["concepts_per_token"]["alice"], 1);
    let r1 = recs.iter().find(|r| r["id"] == id.as_str()).expect("v1");
    assert_eq!(r1["doi"], doi.as_str());
    assert_eq!(r1["concept_id"], concept.as_str());
    assert_eq!(
        r1["files"],
        json!([{"key": "spectrum.txt", "size": spectrum.len(), "md5": md5_hex(&spectrum),
        "status": "completed", "committed": true}])
    );
}

#[test]
fn rdm_drafts_are_lenient_and_publish_is_strict() {
    let fake = FakeZenodo::start(&["alice"]);
    let api = Api::new(&fake, "alice");
    // An empty draft is accepted, with the missing fields listed.
    let (s, d) = send(api.rdm(Method::POST, "/api/records").json(&json!({})));
    assert_eq!(s, 201, "{d}");
    let fields: Vec<&str> = d["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for f in [
        "metadata.resource_type",
        "metadata.title",
        "metadata.publication_date",
        "metadata.creators",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    let id = d["id"].as_str().expect("id").to_string();
    // Invalid fields still give 200/201, reported and dropped.
    let (s, u) = send(api.rdm(Method::PUT, &format!("/api/records/{id}/draft")).json(&json!({
        "metadata": {"title": 42, "upload_type": "dataset", "publication_date": "yesterday"},
    })));
    assert_eq!(s, 200);
    let errs = u["errors"].as_array().expect("errors");
    assert!(
        errs.iter()
            .any(|e| e["field"] == "metadata.title" && e["messages"][0] == "Not a valid string."),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e["field"] == "metadata.upload_type" && e["messages"][0] == "Unknown field."),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e["field"] == "metadata.publication_date"),
        "{errs:?}"
    );
    assert!(u["metadata"].get("title").is_none());
    // Publish: 400 with the missing fields and the exact files message.
    let (s, e) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{id}/draft/actions/publish"),
    ));
    assert_eq!(s, 400);
    assert_eq!(e["message"], "A validation error occurred.");
    assert_eq!(e["status"], 400);
    let errs = e["errors"].as_array().expect("errors");
    for f in [
        "metadata.resource_type",
        "metadata.title",
        "metadata.publication_date",
        "metadata.creators",
    ] {
        assert!(
            errs.iter()
                .any(|x| x["field"] == f && x["messages"][0] == "Missing data for required field."),
            "{f}: {errs:?}"
        );
    }
    assert!(errs.iter().any(|x| x["field"] == "files.enabled"
        && x["messages"] == json!(["Missing uploaded files. To disable files for this record please mark it as metadata-only."])));
    // A creator without a family name.
    let mut meta = minimal_rdm_metadata("Title");
    meta["creators"] = json!([{"person_or_org": {"type": "personal", "given_name": "Jane"}}]);
    let (_, u) = send(
        api.rdm(Method::PUT, &format!("/api/records/{id}/draft"))
            .json(&json!({"metadata": meta})),
    );
    assert!(
        u["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e["field"] == "metadata.creators.0.person_or_org.family_name")
    );
    // If-Match: the current revision passes, another one gets 412.
    let (_, cur) = send(api.rdm(Method::GET, &format!("/api/records/{id}/draft")));
    let rev = cur["revision_id"].as_u64().expect("revision");
    let body = json!({"metadata": minimal_rdm_metadata("Title")});
    let (s, _) = send(
        api.rdm(Method::PUT, &format!("/api/records/{id}/draft"))
            .header("If-Match", format!("\"{}\"", rev + 7))
            .json(&body),
    );
    assert_eq!(s, 412);
    let (s, _) = send(
        api.rdm(Method::PUT, &format!("/api/records/{id}/draft"))
            .header("If-Match", format!("\"{rev}\""))
            .json(&body),
    );
    assert_eq!(s, 200);
    // Pending (uncommitted) files block publication too.
    send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!([{"key": "a.txt"}])),
    );
    let (s, e) = send(api.rdm(
        Method::POST,
        &format!("/api/records/{id}/draft/actions/publish"),
    ));
    assert_eq!(s, 400, "{e}");
    // Malformed requests get a JSON 400, never a crash.
    let (s, e) = send(
        api.rdm(Method::POST, "/api/records")
            .header("Content-Type", "application/json")
            .body("{not json"),
    );
    assert_eq!(s, 400);
    assert_eq!(e["status"], 400);
    let (s, _) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!({"key": "a"})),
    );
    assert_eq!(s, 400);
    let (s, _) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!([{"nokey": 1}])),
    );
    assert_eq!(s, 400);
    assert_eq!(
        send(api.rdm(Method::GET, "/api/records/not-a-number/draft")).0,
        404
    );
    // Deleting a never-published draft removes it.
    assert_eq!(
        send(api.rdm(Method::DELETE, &format!("/api/records/{id}/draft"))).0,
        204
    );
    assert_eq!(
        send(api.rdm(Method::GET, &format!("/api/records/{id}/draft"))).0,
        404
    );
    assert_eq!(fake.state()["records"], json!([]));
}

#[test]
fn zenodo_content_negotiation() {
    let fake = FakeZenodo::start(&["alice"]);
    let api = Api::new(&fake, "alice");
    let base = fake.url();
    // Default Accept: Zenodo's older JSON, even for drafts made through the RDM API.
    let (s, z) = send(
        api.req(Method::POST, "/api/records")
            .json(&json!({"metadata": minimal_rdm_metadata("Negotiated")})),
    );
    assert_eq!(s, 201);
    let id = z["id"].as_u64().expect("integer id");
    assert_eq!(z["recid"], id.to_string());
    assert_eq!(z["state"], "unsubmitted");
    assert_eq!(z["submitted"], false);
    assert_eq!(z["status"], "draft");
    assert!(z["files"].is_array());
    assert!(z.get("is_draft").is_none());
    assert_eq!(
        z["metadata"]["creators"][0],
        json!({"name": "Doe, Jane", "affiliation": "ISDC", "orcid": "0000-0002-1825-0097"})
    );
    assert_eq!(
        z["links"]["publish"],
        format!("{base}/api/records/{id}/draft/actions/publish")
    );
    // The same record in the InvenioRDM shape.
    let (_, r) = send(api.rdm(Method::GET, &format!("/api/records/{id}/draft")));
    assert_eq!(r["id"], id.to_string());
    assert_eq!(r["is_draft"], true);
    send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!([{"key": "lc.fits"}])),
    );
    let data = vec![7u8; 2880];
    send(
        api.req(
            Method::PUT,
            &format!("/api/records/{id}/draft/files/lc.fits/content"),
        )
        .body(data.clone()),
    );
    send(api.req(
        Method::POST,
        &format!("/api/records/{id}/draft/files/lc.fits/commit"),
    ));
    // Publish answered in Zenodo's shape too, then GET in both shapes.
    let (s, p) = send(api.req(
        Method::POST,
        &format!("/api/records/{id}/draft/actions/publish"),
    ));
    assert_eq!(s, 202, "{p}");
    assert_eq!(p["state"], "done");
    assert_eq!(p["submitted"], true);
    assert_eq!(p["doi"], format!("10.5072/zenodo.{id}"));
    let concept = p["conceptrecid"]
        .as_str()
        .expect("conceptrecid")
        .to_string();
    assert_eq!(p["conceptdoi"], format!("10.5072/zenodo.{concept}"));
    assert_eq!(p["doi_url"], format!("https://doi.org/10.5072/zenodo.{id}"));
    assert_eq!(
        p["metadata"]["resource_type"],
        json!({"title": "Dataset", "type": "dataset"})
    );
    assert_eq!(p["metadata"]["license"], json!({"id": "cc-by-4.0"}));
    assert_eq!(p["metadata"]["relations"]["version"][0]["index"], 0);
    let f = &p["files"][0];
    assert_eq!(f["key"], "lc.fits");
    assert_eq!(f["size"], 2880);
    assert_eq!(f["checksum"], format!("md5:{}", md5_hex(&data)));
    assert_eq!(
        f["links"]["self"],
        format!("{base}/api/records/{id}/files/lc.fits/content")
    );
    assert!(f["id"].is_string());
    let (_, z) = send(api.req(Method::GET, &format!("/api/records/{id}")));
    assert_eq!(z["id"], id);
    let (_, r) = send(api.rdm(Method::GET, &format!("/api/records/{id}")));
    assert_eq!(r["id"], id.to_string());
    assert_eq!(
        r["pids"]["doi"]["identifier"],
        format!("10.5072/zenodo.{id}")
    );
    // Another prefix (production-like).
    let prod = FakeZenodo::start_with(&["bob"], &["--prefix", "10.5281"]);
    let bob = Api::new(&prod, "bob");
    let rid = rdm_draft_with_files(&bob, "Prod", &[("a.txt", b"a")]);
    let (_, p) = send(bob.rdm(
        Method::POST,
        &format!("/api/records/{rid}/draft/actions/publish"),
    ));
    assert_eq!(
        p["pids"]["doi"]["identifier"],
        format!("10.5281/zenodo.{rid}")
    );
    assert_eq!(
        p["pids"]["oai"]["identifier"],
        format!("oai:zenodo.org:{rid}")
    );
}

fn multipart_body(boundary: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

#[test]
fn legacy_deposit_api_end_to_end() {
    let fake = FakeZenodo::start_with(&["alice"], &["--rate-limit", "100000"]);
    let api = Api::new(&fake, "alice");
    let base = fake.url();
    let dep = "/api/deposit/depositions";

    let (s, list) = send(api.req(Method::GET, dep));
    assert_eq!((s, list), (200, json!([])));
    // Strict: unknown keys and malformed fields are 400 with a `messages` list.
    let (s, e) = send(
        api.req(Method::POST, dep)
            .json(&json!({"unknownkey": "data", "metadata": {}})),
    );
    assert_eq!(s, 400);
    assert_eq!(e["errors"][0]["field"], "unknownkey");
    assert!(e["errors"][0]["messages"].is_array());
    let (s, e) = send(
        api.req(Method::POST, dep)
            .json(&json!({"metadata": {"title": "T", "license": 123}})),
    );
    assert_eq!(s, 400);
    assert_eq!(e["errors"][0]["field"], "metadata.license");
    assert!(
        e["errors"][0]["messages"][0]
            .as_str()
            .is_some_and(|m| m.contains("Invalid license value provided"))
    );
    let (s, e) = send(
        api.req(Method::POST, dep)
            .json(&json!({"metadata": {"communities": ["c1"]}})),
    );
    assert_eq!(
        (s, e["errors"][0]["field"].clone()),
        (400, json!("communities"))
    );
    let (s, e) = send(
        api.req(Method::POST, dep)
            .json(&json!({"metadata": {"related_identifiers": "x"}})),
    );
    assert_eq!(
        (s, e["errors"][0]["field"].clone()),
        (400, json!("metadata.related_identifiers"))
    );
    let (s, e) = send(
        api.req(Method::POST, dep)
            .json(&json!({"metadata": {"access_right": "secret"}})),
    );
    assert_eq!(s, 400, "{e}");
    assert!(
        fake.state()["records"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Create with `{}`.
    let (s, d) = send(api.req(Method::POST, dep).json(&json!({})));
    assert_eq!(s, 201, "{d}");
    let id = d["id"].as_u64().expect("int id");
    assert_eq!(d["record_id"], id);
    assert!(d["conceptrecid"].is_string());
    assert_eq!(d["state"], "unsubmitted");
    assert_eq!(d["submitted"], false);
    assert_eq!(d["files"], json!([]));
    assert_eq!(d["title"], "");
    assert!(d.get("doi").is_none());
    assert_eq!(
        d["metadata"]["prereserve_doi"],
        json!({"doi": format!("10.5072/zenodo.{id}"), "recid": id})
    );
    let links = d["links"].clone();
    for key in [
        "self",
        "html",
        "bucket",
        "files",
        "publish",
        "edit",
        "discard",
        "newversion",
        "latest_draft",
        "latest_draft_html",
    ] {
        assert!(
            links[key].as_str().is_some_and(|l| l.starts_with(base)),
            "{key}: {links}"
        );
    }
    assert!(
        links["bucket"]
            .as_str()
            .is_some_and(|b| b.starts_with(&format!("{base}/api/files/")))
    );
    assert_eq!(links["latest_draft"], format!("{base}{dep}/{id}"));
    let (s, list) = send(api.req(Method::GET, dep));
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(1)));

    // Update the metadata.
    let metadata = json!({"metadata": {
        "title": "ISGRI Crab products", "upload_type": "dataset", "description": "Spectra and light curves.",
        "creators": [{"name": "Doe, Jane", "affiliation": "ISDC", "orcid": "0000-0002-1825-0097"}],
        "access_right": "open", "license": "cc-by-4.0", "keywords": ["INTEGRAL"], "version": "1.0",
        "related_identifiers": [{"identifier": "https://github.com/x/y", "relation": "isSupplementTo"}],
        "communities": [{"identifier": "integral"}],
    }});
    let (s, u) = send(api.req(Method::PUT, &format!("{dep}/{id}")).json(&metadata));
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["title"], "ISGRI Crab products");
    assert_eq!(u["metadata"]["upload_type"], "dataset");
    assert_eq!(u["metadata"]["creators"][0]["name"], "Doe, Jane");
    assert_eq!(
        u["metadata"]["related_identifiers"][0]["relation"],
        "isSupplementTo"
    );
    assert_eq!(
        u["metadata"]["communities"],
        json!([{"identifier": "integral"}])
    );

    // Upload through the bucket (raw PUT, 201) and through the old multipart POST (201).
    let bucket = links["bucket"].as_str().expect("bucket");
    let csv = b"4, 5, 6".to_vec();
    let (s, f) = send(
        api.req(Method::PUT, &format!("{bucket}/my_third_file.csv"))
            .body(csv.clone()),
    );
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["key"], "my_third_file.csv");
    assert_eq!(f["mimetype"], "text/csv");
    assert_eq!(f["checksum"], "md5:c2d626f8beba73ad0cf4e66214f7d949");
    assert_eq!(f["size"], 7);
    assert_eq!(
        (f["is_head"].clone(), f["delete_marker"].clone()),
        (json!(true), json!(false))
    );
    assert!(f["version_id"].is_string());
    for key in ["self", "version", "uploads"] {
        assert!(f["links"][key].is_string());
    }
    let boundary = "XyZzy0123";
    let (s, m) = send(
        api.req(Method::POST, links["files"].as_str().expect("files"))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(multipart_body(boundary, "my_first_file.csv", b"1, 2, 3")),
    );
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["filename"], "my_first_file.csv");
    assert_eq!(m["filesize"], 7);
    assert_eq!(m["checksum"], "66ce05ea43c73b8e33c74c12d0371bc9");
    let (s, one) = send(api.req(Method::GET, m["links"]["self"].as_str().expect("self")));
    assert_eq!(
        (s, one["filename"].clone()),
        (200, json!("my_first_file.csv"))
    );
    let (s, files) = send(api.req(Method::GET, &format!("{dep}/{id}/files")));
    assert_eq!((s, files.as_array().map(Vec::len)), (200, Some(2)));
    let (s, _) = send(api.req(Method::DELETE, m["links"]["self"].as_str().expect("self")));
    assert_eq!(s, 204);

    // Publish: 202 done; again -> 404; PUT/DELETE of the deposition -> 404.
    let (s, p) = send(api.req(Method::POST, links["publish"].as_str().expect("publish")));
    assert_eq!(s, 202, "{p}");
    assert_eq!(p["state"], "done");
    assert_eq!(p["submitted"], true);
    assert_eq!(p["doi"], format!("10.5072/zenodo.{id}"));
    assert_eq!(p["doi_url"], format!("https://doi.org/10.5072/zenodo.{id}"));
    assert_eq!(p["links"]["record"], format!("{base}/api/records/{id}"));
    assert_eq!(p["links"]["self"], format!("{base}/api/records/{id}"));
    assert_eq!(
        p["conceptdoi"],
        format!(
            "10.5072/zenodo.{}",
            p["conceptrecid"].as_str().expect("concept")
        )
    );
    assert_eq!(
        send(api.req(Method::POST, links["publish"].as_str().expect("publish"))).0,
        404
    );
    assert_eq!(
        send(api.req(Method::PUT, &format!("{dep}/{id}")).json(&metadata)).0,
        404
    );
    assert_eq!(send(api.req(Method::DELETE, &format!("{dep}/{id}"))).0, 404);
    let (s, r) = send(api.req(Method::GET, &format!("/api/records/{id}")));
    assert_eq!(
        (s, r["doi"].clone()),
        (200, json!(format!("10.5072/zenodo.{id}")))
    );

    // New version: 201 with the NEW draft, files imported, latest_draft pointing to itself.
    let (s, nv) = send(api.req(
        Method::POST,
        links["newversion"].as_str().expect("newversion"),
    ));
    assert_eq!(s, 201, "{nv}");
    let new_id = nv["id"].as_u64().expect("id");
    assert_ne!(new_id, id);
    assert_eq!(nv["state"], "unsubmitted");
    assert_eq!(nv["links"]["latest_draft"], format!("{base}{dep}/{new_id}"));
    assert_eq!(nv["files"][0]["filename"], "my_third_file.csv");
    assert_eq!(nv["conceptrecid"], p["conceptrecid"]);
    assert!(nv["metadata"].get("publication_date").is_none());
    assert!(nv["metadata"].get("version").is_none());
    let mut meta2 = metadata.clone();
    meta2["metadata"]["version"] = json!("2.0");
    assert_eq!(
        send(
            api.req(Method::PUT, &format!("{dep}/{new_id}"))
                .json(&meta2)
        )
        .0,
        200
    );
    let nbucket = nv["links"]["bucket"].as_str().expect("bucket").to_string();
    assert_ne!(nbucket, bucket);
    assert_eq!(
        send(
            api.req(Method::PUT, &format!("{nbucket}/my_third_file.csv"))
                .body(b"7, 8, 9".to_vec())
        )
        .0,
        201
    );
    let (s, p2) = send(api.req(Method::POST, &format!("{dep}/{new_id}/actions/publish")));
    assert_eq!(s, 202, "{p2}");
    assert_eq!(p2["doi"], format!("10.5072/zenodo.{new_id}"));
    assert_eq!(p2["files"][0]["checksum"], md5_hex(b"7, 8, 9"));

    // Edit, then discard (204) the published first version.
    let (s, e) = send(api.req(Method::POST, &format!("{dep}/{id}/actions/edit")));
    assert_eq!((s, e["state"].clone()), (201, json!("inprogress")));
    assert_eq!(
        send(api.req(Method::POST, &format!("{dep}/{id}/actions/discard"))).0,
        204
    );
    let (_, again) = send(api.req(Method::GET, &format!("{dep}/{id}")));
    assert_eq!(again["state"], "done");

    // A discarded new deposition disappears.
    let (_, d3) = send(api.req(Method::POST, dep).json(&json!({})));
    let id3 = d3["id"].as_u64().expect("id");
    assert_eq!(
        send(api.req(Method::DELETE, &format!("{dep}/{id3}"))).0,
        204
    );
    assert_eq!(send(api.req(Method::GET, &format!("{dep}/{id3}"))).0, 404);
    // Publishing a deposit without metadata or files: 400 with the RDM fields.
    let (_, d4) = send(api.req(Method::POST, dep).json(&json!({})));
    let (s, e) = send(api.req(Method::POST, &format!("{dep}/{}/actions/publish", d4["id"])));
    assert_eq!(s, 400);
    assert!(
        e["errors"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["field"] == "files.enabled"))
    );
    assert!(
        e["errors"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["field"] == "metadata.creators"))
    );
}

#[test]
fn auth_tokens_and_ownership() {
    let fake = FakeZenodo::start(&["alice-secret-token", "bob-secret-token"]);
    let alice = Api::new(&fake, "alice-secret-token");
    let bob = Api::new(&fake, "bob-secret-token");
    let base = fake.url();
    let anon = client(true);
    // Wrong token: 401 with Flask's message.
    let (s, e) = send(
        anon.get(format!("{base}/api/deposit/depositions"))
            .bearer_auth("nope"),
    );
    assert_eq!(s, 401);
    assert_eq!(e["status"], 401);
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("The server could not verify that you are authorized"))
    );
    // Anonymous: 403.
    assert_eq!(
        send(anon.get(format!("{base}/api/deposit/depositions"))).0,
        403
    );
    assert_eq!(
        send(anon.post(format!("{base}/api/records")).json(&json!({}))).0,
        403
    );
    // The access_token query parameter works like the header.
    let (s, d) = send(
        anon.post(format!(
            "{base}/api/deposit/depositions?access_token=alice-secret-token"
        ))
        .json(&json!({})),
    );
    assert_eq!(s, 201);
    let id = d["id"].as_u64().expect("id");
    // Another user's record: 403 Permission denied.
    let (s, e) = send(bob.req(Method::GET, &format!("/api/deposit/depositions/{id}")));
    assert_eq!(
        (s, e["message"].clone()),
        (403, json!("Permission denied."))
    );
    assert_eq!(
        send(bob.rdm(Method::GET, &format!("/api/records/{id}/draft"))).0,
        403
    );
    assert_eq!(
        send(
            bob.rdm(Method::PUT, &format!("/api/records/{id}/draft"))
                .json(&json!({}))
        )
        .0,
        403
    );
    assert_eq!(
        send(bob.req(
            Method::POST,
            &format!("/api/deposit/depositions/{id}/actions/publish")
        ))
        .0,
        403
    );
    assert_eq!(
        send(bob.req(Method::GET, "/api/deposit/depositions")).1,
        json!([])
    );
    assert_eq!(
        send(alice.req(Method::GET, "/api/deposit/depositions"))
            .1
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Unknown records: 404; unknown routes: JSON 404; wrong method: JSON 405.
    assert_eq!(
        send(alice.req(Method::GET, "/api/deposit/depositions/999999999")).0,
        404
    );
    let (s, e) = send(alice.req(Method::GET, "/api/nothing/here"));
    assert_eq!((s, e["status"].clone()), (404, json!(404)));
    let (s, e) = send(alice.req(Method::PATCH, "/api/deposit/depositions"));
    assert_eq!((s, e["status"].clone()), (405, json!(405)));
    // Unpublished drafts are not readable as records, even by anonymous users.
    assert_eq!(send(anon.get(format!("{base}/api/records/{id}"))).0, 404);
    // The log never holds a token.
    let log = fake.stderr_lines().join("\n");
    assert!(log.contains("POST /api/deposit/depositions 201"), "{log}");
    assert!(
        !log.contains("secret-token") && !log.contains("nope") && !log.contains("access_token"),
        "{log}"
    );
    let state = fake.state().to_string();
    let requests = &fake.state()["requests"];
    assert!(!requests.to_string().contains("secret-token"));
    assert!(
        state.contains("\"created_per_token\":{\"alice-secret-token\":1}"),
        "{state}"
    );
}

#[test]
fn rate_limit_headers_and_429() {
    let fake = FakeZenodo::start_with(&["alice"], &["--rate-limit", "5"]);
    let api = Api::new(&fake, "alice");
    let mut last_remaining = 5;
    for i in 0..5 {
        let resp = api
            .req(Method::GET, "/api/deposit/depositions")
            .send()
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        let h = resp.headers();
        assert_eq!(h["x-ratelimit-limit"], "5");
        let remaining: u32 = h["x-ratelimit-remaining"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("remaining");
        assert_eq!(remaining, 4 - i);
        assert!(remaining < last_remaining);
        last_remaining = remaining;
        let reset: u64 = h["x-ratelimit-reset"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("reset");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        assert!(reset > now && reset <= now + 61, "reset {reset} now {now}");
    }
    let resp = api
        .req(Method::GET, "/api/deposit/depositions")
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert!(resp.headers().get("retry-after").is_some());
    // Another token has its own budget; errors (401) carry the headers too.
    let other = FakeZenodo::start_with(&["a", "b"], &["--rate-limit", "1"]);
    let a = Api::new(&other, "a");
    let b = Api::new(&other, "b");
    assert_eq!(send(a.req(Method::GET, "/api/deposit/depositions")).0, 200);
    assert_eq!(send(a.req(Method::GET, "/api/deposit/depositions")).0, 429);
    assert_eq!(send(b.req(Method::GET, "/api/deposit/depositions")).0, 200);
    let resp = client(true)
        .get(format!("{}/api/deposit/depositions", other.url()))
        .bearer_auth("wrong")
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("x-ratelimit-limit").is_some());
}

#[test]
fn fault_injection_every_kind() {
    let fake = FakeZenodo::start_with(&["alice"], &["--rate-limit", "100000"]);
    let api = Api::new(&fake, "alice");
    let base = fake.url().to_string();
    let (_, d) = send(
        api.req(Method::POST, "/api/deposit/depositions")
            .json(&json!({})),
    );
    let id = d["id"].as_u64().expect("id");
    let bucket = d["links"]["bucket"].as_str().expect("bucket").to_string();

    // 429 with Retry-After and X-RateLimit-Reset.
    fake.faults(json!([{"method": "GET", "path_contains": "/api/deposit", "kind": "429", "retry_after": 7}]));
    let resp = api
        .req(Method::GET, &format!("/api/deposit/depositions/{id}"))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    let reset: u64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("reset");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!(reset >= now + 6 && reset <= now + 8);
    assert_eq!(
        send(api.req(Method::GET, &format!("/api/deposit/depositions/{id}"))).0,
        200,
        "used up after one"
    );

    // 500 and 503 without a body; skip lets the first matching requests through.
    fake.faults(json!([
        {"method": null, "path_contains": "/api/records", "skip": 1, "times": 2, "kind": "500_no_body"},
        {"method": "POST", "path_contains": "/actions/publish", "kind": "503_no_body"},
    ]));
    assert_eq!(
        send(api.req(Method::GET, &format!("/api/records/{id}/draft"))).0,
        200,
        "skipped"
    );
    let remaining = fake.remaining_faults();
    assert_eq!(remaining[0]["skip"], 0);
    assert_eq!(remaining[0]["times"], 2);
    for _ in 0..2 {
        let resp = api
            .req(Method::GET, &format!("/api/records/{id}/draft"))
            .send()
            .expect("request");
        assert_eq!(resp.status().as_u16(), 500);
        assert!(
            resp.headers()
                .get("content-type")
                .is_none_or(|v| v.to_str().is_ok_and(|s| s.starts_with("text/html")))
        );
        assert!(resp.bytes().expect("body").is_empty());
    }
    let resp = api
        .req(
            Method::POST,
            &format!("/api/deposit/depositions/{id}/actions/publish"),
        )
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("content-type").is_none());
    assert!(resp.bytes().expect("body").is_empty());
    assert_eq!(fake.remaining_faults(), json!([]));

    // Spurious 403.
    fake.faults(json!([{"method": "PUT", "path_contains": "/api/files/", "kind": "403"}]));
    let (s, e) = send(
        api.req(Method::PUT, &format!("{bucket}/a.txt"))
            .body(b"aaa".to_vec()),
    );
    assert_eq!(
        (s, e["message"].clone()),
        (403, json!("Permission denied."))
    );
    assert_eq!(
        send(api.req(Method::GET, &format!("/api/deposit/depositions/{id}/files"))).1,
        json!([]),
        "nothing stored"
    );

    // Reset mid-upload: the client sees a connection error and nothing is stored.
    fake.faults(json!([{"method": "PUT", "path_contains": "/big.bin", "kind": "reset"}]));
    let big: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let fresh = client(true);
    let result = fresh
        .put(format!("{bucket}/big.bin"))
        .bearer_auth("alice")
        .body(big.clone())
        .send();
    assert!(
        result.is_err(),
        "expected a connection error, got {:?}",
        result.map(|r| r.status())
    );
    let state = fake.state();
    let rec = &state["records"][0];
    assert_eq!(rec["files"], json!([]), "nothing stored after a reset");
    let reset_logged = state["requests"]
        .as_array()
        .expect("log")
        .iter()
        .any(|r| r["status"] == 0 && r["fault"] == "reset");
    assert!(reset_logged);
    // The retry goes through, with the right checksum.
    let (s, f) = send(
        fresh
            .put(format!("{bucket}/big.bin"))
            .bearer_auth("alice")
            .body(big.clone()),
    );
    assert_eq!(s, 201);
    assert_eq!(f["checksum"], format!("md5:{}", md5_hex(&big)));
    // A reset on a small JSON request: the record is not created.
    fake.faults(
        json!([{"method": "POST", "path_contains": "/api/deposit/depositions", "kind": "reset"}]),
    );
    assert!(
        client(true)
            .post(format!("{base}/api/deposit/depositions"))
            .bearer_auth("alice")
            .json(&json!({}))
            .send()
            .is_err()
    );
    assert_eq!(fake.state()["created_per_token"]["alice"], 1);
    // Bad rules are refused.
    let resp = client(true)
        .post(format!("{base}/_fake/faults"))
        .json(&json!([{"kind": "teapot"}]))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    fake.faults(json!([{"kind": "403", "path_contains": "/never"}]));
    fake.clear_faults();
    assert_eq!(fake.remaining_faults(), json!([]));
}

#[test]
fn hundred_file_limit() {
    let fake = FakeZenodo::start_with(&["alice"], &["--rate-limit", "100000"]);
    let api = Api::new(&fake, "alice");
    let id = rdm_draft_with_files(&api, "Many files", &[]);
    let keys: Vec<Value> = (0..100)
        .map(|i| json!({"key": format!("f{i:03}.txt")}))
        .collect();
    let (s, _) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&keys),
    );
    assert_eq!(s, 201);
    let (s, e) = send(
        api.rdm(Method::POST, &format!("/api/records/{id}/draft/files"))
            .json(&json!([{"key": "one-more.txt"}])),
    );
    assert_eq!(s, 400);
    assert_eq!(
        e["message"],
        "Uploading the selected files would result in 101 files (max is 100)."
    );
    // The legacy API hits the same limit.
    let (_, d) = send(
        api.req(Method::POST, "/api/deposit/depositions")
            .json(&json!({})),
    );
    let bucket = d["links"]["bucket"].as_str().expect("bucket").to_string();
    for i in 0..100 {
        assert_eq!(
            send(
                api.req(Method::PUT, &format!("{bucket}/f{i}.txt"))
                    .body(vec![b'x'; 3])
            )
            .0,
            201
        );
    }
    let (s, e) = send(
        api.req(Method::PUT, &format!("{bucket}/f100.txt"))
            .body(vec![b'x'; 3]),
    );
    assert_eq!(s, 400, "{e}");
    // Replacing an existing key is not a new file.
    assert_eq!(
        send(
            api.req(Method::PUT, &format!("{bucket}/f0.txt"))
                .body(b"new".to_vec())
        )
        .0,
        201
    );
    let (_, files) = send(api.req(
        Method::GET,
        &format!("/api/deposit/depositions/{}/files", d["id"]),
    ));
    assert_eq!(files.as_array().map(Vec::len), Some(100));
}

#[test]
fn state_and_reset_control_routes() {
    let fake = FakeZenodo::start(&["alice"]);
    let api = Api::new(&fake, "alice");
    let id = rdm_draft_with_files(&api, "State", &[("s.txt", b"state")]);
    let state = fake.state();
    let r = &state["records"][0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["is_published"], false);
    assert_eq!(r["has_draft"], true);
    assert_eq!(r["version_index"], 1);
    assert_eq!(r["metadata"]["title"], "State");
    assert_eq!(r["files"][0]["md5"], md5_hex(b"state"));
    assert_eq!(r["files"][0]["committed"], true);
    assert!(state["requests"].as_array().is_some_and(|l| {
        l.iter()
            .all(|e| e["method"].is_string() && e["status"].is_u64())
    }));
    fake.reset();
    let state = fake.state();
    assert_eq!(state["records"], json!([]));
    assert_eq!(state["requests"], json!([]));
    assert_eq!(state["created_per_token"], json!({}));
}

/// A maintained third-party client from PyPI, `zenodo-client` (cthoyt), runs its own
/// create/upload/publish and new-version flows (legacy deposit API, `access_token` query,
/// bucket PUT) against the fake. It has no base-URL option, but keeps its URLs in plain
/// instance attributes (`api_base`, `depositions_base`), which the script points here.
#[test]
fn python_zenodo_client_runs_against_the_fake() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/zenodo-fake-venv");
    let python = venv.join("bin/python");
    let marker = venv.join("zenodo-client-0.4.2.installed");
    if !marker.exists() {
        let status = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => panic!("python3 -m venv failed: {other:?}"),
        }
        let status = std::process::Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "zenodo-client==0.4.2",
            ])
            .status()
            .expect("pip");
        assert!(status.success(), "pip install zenodo-client==0.4.2 failed");
        std::fs::write(&marker, "").expect("marker");
    }
    let fake = FakeZenodo::start(&["py-token"]);
    let work = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(&python)
        .arg(root.join("tests/python/zenodo_client_flow.py"))
        .args([fake.url(), "py-token"])
        .arg(work.path())
        .output()
        .expect("run the python flow");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("summary JSON");
    let first = summary["first_id"].as_u64().expect("first id");
    let second = summary["second_id"].as_u64().expect("second id");
    assert_eq!(summary["first_doi"], format!("10.5072/zenodo.{first}"));
    assert_eq!(summary["second_doi"], format!("10.5072/zenodo.{second}"));
    assert_eq!(summary["downloaded_ok"], true);
    let state = fake.state();
    let recs = state["records"].as_array().expect("records");
    assert_eq!(recs.len(), 2);
    assert!(
        recs.iter()
            .all(|r| r["is_published"] == true && r["concept_id"] == recs[0]["concept_id"])
    );
    let v2 = recs
        .iter()
        .find(|r| r["id"].as_str() == Some(second.to_string().as_str()))
        .expect("v2");
    assert_eq!(v2["version_index"], 2);
    let keys: Vec<&str> = v2["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(state["concepts_per_token"]["py-token"], 1);
    // It used the access_token query parameter; the log shows none of it.
    assert!(!fake.stderr_lines().join("\n").contains("py-token"));
}
