//! Metadata: InvenioRDM draft validation (lenient on save, strict on publish) and the
//! conversions between Zenodo's legacy deposit metadata and InvenioRDM metadata, following
//! zenodo-rdm's legacy (de)serializers.

use serde_json::{Map, Value, json};

use crate::util::{FieldError, today};

/// What a draft is made of once its input has been read.
#[derive(Clone, Debug, Default)]
pub struct DraftInput {
    pub metadata: Map<String, Value>,
    pub access: Value,
    pub custom_fields: Map<String, Value>,
    pub pids: Map<String, Value>,
}

/// Resource types (id, English title) of Zenodo's vocabulary.
pub const RESOURCE_TYPES: &[(&str, &str)] = &[
    ("publication", "Publication"),
    ("publication-annotationcollection", "Annotation collection"),
    ("publication-book", "Book"),
    ("publication-section", "Book section"),
    ("publication-conferencepaper", "Conference paper"),
    ("publication-conferenceproceeding", "Conference proceeding"),
    ("publication-datamanagementplan", "Data management plan"),
    ("publication-article", "Journal article"),
    ("publication-patent", "Patent"),
    ("publication-preprint", "Preprint"),
    ("publication-deliverable", "Project deliverable"),
    ("publication-milestone", "Project milestone"),
    ("publication-proposal", "Proposal"),
    ("publication-report", "Report"),
    (
        "publication-softwaredocumentation",
        "Software documentation",
    ),
    ("publication-taxonomictreatment", "Taxonomic treatment"),
    ("publication-technicalnote", "Technical note"),
    ("publication-thesis", "Thesis"),
    ("publication-workingpaper", "Working paper"),
    ("publication-other", "Other"),
    ("poster", "Poster"),
    ("presentation", "Presentation"),
    ("dataset", "Dataset"),
    ("image", "Image"),
    ("image-figure", "Figure"),
    ("image-plot", "Plot"),
    ("image-drawing", "Drawing"),
    ("image-diagram", "Diagram"),
    ("image-photo", "Photo"),
    ("image-other", "Other"),
    ("video", "Video/Audio"),
    ("software", "Software"),
    ("software-computationalnotebook", "Computational notebook"),
    ("lesson", "Lesson"),
    ("physicalobject", "Physical object"),
    ("workflow", "Workflow"),
    ("model", "Model"),
    ("event", "Event"),
    ("other", "Other"),
];

/// RDM relation type id -> legacy relation (zenodo-rdm's RELATION_TYPE_MAPPING).
const RELATIONS: &[&str] = &[
    "isCitedBy",
    "cites",
    "isSupplementTo",
    "isSupplementedBy",
    "isContinuedBy",
    "continues",
    "isDescribedBy",
    "describes",
    "hasMetadata",
    "isMetadataFor",
    "hasVersion",
    "isVersionOf",
    "isNewVersionOf",
    "isPreviousVersionOf",
    "isPartOf",
    "hasPart",
    "isPublishedIn",
    "isReferencedBy",
    "references",
    "isDocumentedBy",
    "documents",
    "isCompiledBy",
    "compiles",
    "isVariantFormOf",
    "isOriginalFormOf",
    "isIdenticalTo",
    "isReviewedBy",
    "reviews",
    "isDerivedFrom",
    "isSourceOf",
    "isRequiredBy",
    "requires",
    "isObsoletedBy",
    "obsoletes",
    "isAlternateIdentifier",
];

/// Metadata keys the RDM schema knows.
const RDM_METADATA_KEYS: &[&str] = &[
    "resource_type",
    "creators",
    "title",
    "additional_titles",
    "publisher",
    "publication_date",
    "subjects",
    "contributors",
    "dates",
    "languages",
    "identifiers",
    "related_identifiers",
    "sizes",
    "formats",
    "version",
    "rights",
    "copyright",
    "description",
    "additional_descriptions",
    "locations",
    "funding",
    "references",
];

const MISSING: &str = "Missing data for required field.";

fn err(errors: &mut Vec<FieldError>, field: impl Into<String>, msg: impl Into<String>) {
    errors.push((field.into(), msg.into()));
}

/// The English title of a resource type id, if the vocabulary has it.
pub fn resource_type_title(id: &str) -> Option<&'static str> {
    RESOURCE_TYPES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
}

/// EDTF level-0 date (YYYY, YYYY-MM, YYYY-MM-DD) or an interval of two.
pub fn valid_edtf(s: &str) -> bool {
    fn one(d: &str) -> bool {
        let parts: Vec<&str> = d.split('-').collect();
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [y] => digits(y, 4),
            [y, m] => {
                digits(y, 4) && digits(m, 2) && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
            }
            [y, m, dd] => {
                digits(y, 4)
                    && digits(m, 2)
                    && digits(dd, 2)
                    && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
                    && (1..=31).contains(&dd.parse::<u32>().unwrap_or(0))
            }
            _ => false,
        }
    }
    match s.split_once('/') {
        Some((a, b)) => one(a) && one(b),
        None => one(s),
    }
}

/// `Family, Given` as RDM computes `person_or_org.name`.
fn person_name(p: &Map<String, Value>) -> String {
    let family = p.get("family_name").and_then(Value::as_str).unwrap_or("");
    let given = p.get("given_name").and_then(Value::as_str).unwrap_or("");
    match (family.is_empty(), given.is_empty()) {
        (false, false) => format!("{family}, {given}"),
        (false, true) => family.to_string(),
        _ => p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(given)
            .to_string(),
    }
}

/// Checks one creator/contributor; returns the cleaned entry (with the computed name).
fn check_person(v: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
    let Some(obj) = v.as_object() else {
        err(errors, field, "Invalid input type.");
        return None;
    };
    let Some(p) = obj.get("person_or_org").and_then(Value::as_object) else {
        err(errors, format!("{field}.person_or_org"), MISSING);
        return None;
    };
    let mut ok = true;
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "personal" => {
            if p.get("family_name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                err(
                    errors,
                    format!("{field}.person_or_org.family_name"),
                    "Family name must be filled.",
                );
                ok = false;
            }
        }
        "organizational" => {
            if p.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                err(
                    errors,
                    format!("{field}.person_or_org.name"),
                    "Name cannot be blank.",
                );
                ok = false;
            }
        }
        "" => {
            err(errors, format!("{field}.person_or_org.type"), MISSING);
            ok = false;
        }
        _ => {
            err(
                errors,
                format!("{field}.person_or_org.type"),
                "Must be one of: personal, organizational.",
            );
            ok = false;
        }
    }
    if let Some(ids) = p.get("identifiers") {
        match ids.as_array() {
            Some(list) => {
                for (i, id) in list.iter().enumerate() {
                    let good = id.get("identifier").is_some_and(Value::is_string)
                        && id.get("scheme").is_none_or(Value::is_string);
                    if !good {
                        err(
                            errors,
                            format!("{field}.person_or_org.identifiers.{i}.identifier"),
                            MISSING,
                        );
                        ok = false;
                    }
                }
            }
            None => {
                err(
                    errors,
                    format!("{field}.person_or_org.identifiers"),
                    "Not a valid list.",
                );
                ok = false;
            }
        }
    }
    if let Some(aff) = obj.get("affiliations")
        && !aff.is_array()
    {
        err(errors, format!("{field}.affiliations"), "Not a valid list.");
        ok = false;
    }
    if !ok {
        return None;
    }
    let mut out = obj.clone();
    let mut person = p.clone();
    person.insert("name".into(), Value::String(person_name(p)));
    out.insert("person_or_org".into(), Value::Object(person));
    Some(Value::Object(out))
}

/// Validates RDM metadata. Returns the cleaned metadata (invalid fields dropped, computed
/// fields such as `resource_type.title` and `person_or_org.name` added) and the errors,
/// including the missing required fields (a draft reports them without failing).
pub fn check_rdm_metadata(meta: &Map<String, Value>) -> (Map<String, Value>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut out = Map::new();
    for (key, value) in meta {
        let field = format!("metadata.{key}");
        if !RDM_METADATA_KEYS.contains(&key.as_str()) {
            err(&mut errors, field, "Unknown field.");
            continue;
        }
        let cleaned = match key.as_str() {
            "title" | "description" | "version" | "publisher" | "copyright" => match value.as_str()
            {
                Some(s) if key == "title" && s.chars().count() < 3 => {
                    err(&mut errors, field, "Shorter than minimum length 3.");
                    None
                }
                Some(_) => Some(value.clone()),
                None => {
                    err(&mut errors, field, "Not a valid string.");
                    None
                }
            },
            "publication_date" => match value.as_str() {
                Some(s) if valid_edtf(s) => Some(value.clone()),
                _ => {
                    err(
                        &mut errors,
                        field,
                        "Please provide a valid date or interval(s) in the format YYYY(-MM(-DD)).",
                    );
                    None
                }
            },
            "resource_type" => {
                let id = value.get("id").and_then(Value::as_str).unwrap_or("");
                match resource_type_title(id) {
                    Some(title) => Some(json!({"id": id, "title": {"en": title}})),
                    None if value.is_object() && id.is_empty() => {
                        err(&mut errors, format!("{field}.id"), MISSING);
                        None
                    }
                    None => {
                        err(
                            &mut errors,
                            field,
                            format!("Invalid value {id:?}: not a known resource type."),
                        );
                        None
                    }
                }
            }
            "creators" | "contributors" => match value.as_array() {
                Some(list) => {
                    let mut people = Vec::new();
                    for (i, p) in list.iter().enumerate() {
                        if let Some(c) = check_person(p, &format!("{field}.{i}"), &mut errors) {
                            people.push(c);
                        }
                    }
                    (people.len() == list.len()).then_some(Value::Array(people))
                }
                None => {
                    err(&mut errors, field, "Not a valid list.");
                    None
                }
            },
            "related_identifiers" => match value.as_array() {
                Some(list) => {
                    let mut good = true;
                    for (i, r) in list.iter().enumerate() {
                        if !r.get("identifier").is_some_and(Value::is_string) {
                            err(&mut errors, format!("{field}.{i}.identifier"), MISSING);
                            good = false;
                        }
                        if !r
                            .get("relation_type")
                            .and_then(|t| t.get("id"))
                            .is_some_and(Value::is_string)
                        {
                            err(&mut errors, format!("{field}.{i}.relation_type"), MISSING);
                            good = false;
                        }
                    }
                    good.then(|| value.clone())
                }
                None => {
                    err(&mut errors, field, "Not a valid list.");
                    None
                }
            },
            "locations" => {
                if value.is_object() {
                    Some(value.clone())
                } else {
                    err(&mut errors, field, "Invalid input type.");
                    None
                }
            }
            _ => {
                if value.is_array() {
                    Some(value.clone())
                } else {
                    err(&mut errors, field, "Not a valid list.");
                    None
                }
            }
        };
        if let Some(v) = cleaned {
            out.insert(key.clone(), v);
        }
    }
    for required in ["resource_type", "title", "publication_date", "creators"] {
        let field = format!("metadata.{required}");
        match meta.get(required) {
            None | Some(Value::Null) => err(&mut errors, field, MISSING),
            Some(Value::Array(a)) if a.is_empty() => err(&mut errors, field, MISSING),
            Some(Value::String(s)) if s.is_empty() && required != "title" => {
                err(&mut errors, field, MISSING)
            }
            _ => {}
        }
    }
    (out, errors)
}

/// Normalised `access` ({record, files, embargo}) and its errors.
fn check_access(access: Option<&Value>, errors: &mut Vec<FieldError>) -> Value {
    let mut out = json!({"record": "public", "files": "public", "embargo": {"active": false, "reason": null}});
    let Some(a) = access else { return out };
    let Some(obj) = a.as_object() else {
        err(errors, "access", "Invalid input type.");
        return out;
    };
    for key in ["record", "files"] {
        if let Some(v) = obj.get(key) {
            match v.as_str() {
                Some("public") | Some("restricted") => out[key] = v.clone(),
                _ => err(
                    errors,
                    format!("access.{key}"),
                    "Must be one of: public, restricted.",
                ),
            }
        }
    }
    if let Some(e) = obj.get("embargo").filter(|e| e.is_object()) {
        out["embargo"] = e.clone();
    }
    out
}

/// `pids` of an RDM body: each `{identifier, provider, client?}`.
fn check_pids(pids: Option<&Value>, errors: &mut Vec<FieldError>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(p) = pids else { return out };
    let Some(obj) = p.as_object() else {
        err(errors, "pids", "Invalid input type.");
        return out;
    };
    for (scheme, v) in obj {
        let good = v.get("identifier").is_some_and(Value::is_string)
            && v.get("provider").is_some_and(Value::is_string);
        if good {
            out.insert(scheme.clone(), v.clone());
        } else {
            err(
                errors,
                format!("pids.{scheme}"),
                "Invalid PID: needs identifier and provider.",
            );
        }
    }
    out
}

/// Reads an InvenioRDM record body (`POST /api/records`, `PUT .../draft`) leniently: invalid
/// fields are dropped and reported. `Err` only when the body is not a JSON object.
pub fn rdm_input(body: &Value) -> Result<(DraftInput, Vec<FieldError>), Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![("_schema".into(), "Invalid input type.".into())]);
    };
    let mut errors = Vec::new();
    let metadata = match obj.get("metadata") {
        None => {
            let (_, e) = check_rdm_metadata(&Map::new());
            errors.extend(e);
            Map::new()
        }
        Some(Value::Object(m)) => {
            let (m, e) = check_rdm_metadata(m);
            errors.extend(e);
            m
        }
        Some(_) => {
            err(&mut errors, "metadata", "Invalid input type.");
            Map::new()
        }
    };
    let access = check_access(obj.get("access"), &mut errors);
    if let Some(files) = obj.get("files") {
        match files.get("enabled") {
            Some(Value::Bool(true)) | None => {}
            Some(Value::Bool(false)) => err(
                &mut errors,
                "files.enabled",
                "You don't have permissions to manage files options.",
            ),
            Some(_) => err(&mut errors, "files.enabled", "Not a valid boolean."),
        }
    }
    let custom_fields = match obj.get("custom_fields") {
        Some(Value::Object(c)) => c.clone(),
        Some(_) => {
            err(&mut errors, "custom_fields", "Invalid input type.");
            Map::new()
        }
        None => Map::new(),
    };
    let pids = check_pids(obj.get("pids"), &mut errors);
    Ok((
        DraftInput {
            metadata,
            access,
            custom_fields,
            pids,
        },
        errors,
    ))
}

/// The checks `publish` adds to the draft checks (metadata only; files are checked by the store).
pub fn publish_errors(input: &DraftInput) -> Vec<FieldError> {
    let (_, mut errors) = check_rdm_metadata(&input.metadata);
    if input.access.get("record").and_then(Value::as_str) == Some("restricted") {
        err(
            &mut errors,
            "access.record",
            "Restricted records are not allowed.",
        );
    }
    errors
}

// ---------------------------------------------------------------------------------------------
// Legacy deposit metadata -> RDM (zenodo_rdm.legacy.deserializers)
// ---------------------------------------------------------------------------------------------

fn iso639_1_to_2(code: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("en", "eng"),
        ("de", "deu"),
        ("fr", "fra"),
        ("es", "spa"),
        ("it", "ita"),
        ("pt", "por"),
        ("nl", "nld"),
        ("ru", "rus"),
        ("zh", "zho"),
        ("ja", "jpn"),
        ("pl", "pol"),
        ("sv", "swe"),
        ("da", "dan"),
        ("fi", "fin"),
        ("no", "nor"),
        ("el", "ell"),
        ("cs", "ces"),
        ("hu", "hun"),
        ("tr", "tur"),
        ("ar", "ara"),
        ("ko", "kor"),
        ("uk", "ukr"),
        ("la", "lat"),
    ];
    TABLE.iter().find(|(a, _)| *a == code).map(|(_, b)| *b)
}

fn detect_scheme(identifier: &str) -> &'static str {
    let lower = identifier.to_ascii_lowercase();
    if lower.starts_with("10.") || lower.contains("doi.org/10.") || lower.starts_with("doi:") {
        "doi"
    } else if lower.starts_with("arxiv:") {
        "arxiv"
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        "url"
    } else if lower.starts_with("urn:") {
        "urn"
    } else {
        "other"
    }
}

/// A legacy creator `{name, affiliation, orcid, gnd}` -> RDM creator.
fn legacy_person(v: &Map<String, Value>) -> Value {
    let mut person = Map::new();
    person.insert("type".into(), json!("personal"));
    if let Some(name) = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        if name.matches(',').count() == 1 {
            let (family, given) = name.split_once(',').unwrap_or((name, ""));
            person.insert("family_name".into(), json!(family.trim()));
            person.insert("given_name".into(), json!(given.trim()));
        } else {
            person.insert("family_name".into(), json!(name));
        }
    }
    let mut ids = Vec::new();
    for scheme in ["orcid", "gnd"] {
        if let Some(id) = v
            .get(scheme)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let id = id
                .trim_start_matches("https://orcid.org/")
                .trim_start_matches("orcid:");
            ids.push(json!({"scheme": scheme, "identifier": id}));
        }
    }
    if !ids.is_empty() {
        person.insert("identifiers".into(), Value::Array(ids));
    }
    let mut out = Map::new();
    out.insert("person_or_org".into(), Value::Object(person));
    if let Some(aff) = v
        .get("affiliation")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        out.insert("affiliations".into(), json!([{"name": aff}]));
    }
    Value::Object(out)
}

fn string_field(
    meta: &Map<String, Value>,
    key: &str,
    out: &mut Map<String, Value>,
    out_key: &str,
    errors: &mut Vec<FieldError>,
) {
    match meta.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            out.insert(out_key.into(), json!(s));
        }
        Some(_) => err(errors, format!("metadata.{key}"), "Not a valid string."),
    }
}

fn people(
    meta: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<Value>> {
    let list = match meta.get(key) {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            err(errors, format!("metadata.{key}"), "Not a valid list.");
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        match c.as_object() {
            Some(obj) => {
                if obj.get("name").is_some_and(|n| !n.is_string()) {
                    err(
                        errors,
                        format!("metadata.{key}.{i}.name"),
                        "Not a valid string.",
                    );
                    continue;
                }
                let mut p = legacy_person(obj);
                if let Some(t) = obj.get("type").and_then(Value::as_str) {
                    p["role"] = json!({"id": t.to_ascii_lowercase()});
                }
                out.push(p);
            }
            None => err(errors, format!("metadata.{key}.{i}"), "Invalid input type."),
        }
    }
    Some(out)
}

/// Reads a legacy deposit body `{"metadata": {...}}` strictly, as zenodo-rdm's
/// `LegacySchema` does: unknown top-level keys and malformed fields are errors (400).
pub fn legacy_input(body: &Value, prefix: &str) -> Result<DraftInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![("_schema".into(), "Invalid input type.".into())]);
    };
    for key in obj.keys() {
        if key != "metadata" && key != "files" {
            err(&mut errors, key.clone(), "Unknown field.");
        }
    }
    let meta = match obj.get("metadata") {
        None => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            err(&mut errors, "metadata", "Invalid input type.");
            None
        }
    };
    let mut input = DraftInput {
        access: json!({"record": "public", "files": "public", "embargo": {"active": false, "reason": null}}),
        ..DraftInput::default()
    };
    let Some(meta) = meta else {
        return if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        };
    };
    let out = &mut input.metadata;
    string_field(meta, "title", out, "title", &mut errors);
    string_field(meta, "description", out, "description", &mut errors);
    string_field(meta, "version", out, "version", &mut errors);
    string_field(
        meta,
        "publication_date",
        out,
        "publication_date",
        &mut errors,
    );
    if !out.contains_key("publication_date") {
        out.insert("publication_date".into(), json!(today()));
    }
    match meta.get("imprint_publisher") {
        Some(Value::String(p)) => {
            out.insert("publisher".into(), json!(p));
        }
        Some(Value::Null) | None => {
            out.insert("publisher".into(), json!("Zenodo"));
        }
        Some(_) => err(
            &mut errors,
            "metadata.imprint_publisher",
            "Not a valid string.",
        ),
    }
    match meta.get("upload_type") {
        Some(Value::String(t)) if !t.is_empty() => {
            let sub = meta.get(&format!("{t}_type")).and_then(Value::as_str);
            let id = match sub {
                Some(st) => format!("{t}-{st}"),
                None => t.clone(),
            };
            out.insert("resource_type".into(), json!({"id": id}));
        }
        Some(Value::String(_)) | Some(Value::Null) | None => {}
        Some(_) => err(&mut errors, "metadata.upload_type", "Not a valid string."),
    }
    if let Some(creators) = people(meta, "creators", &mut errors) {
        out.insert("creators".into(), Value::Array(creators));
    }
    if let Some(contributors) = people(meta, "contributors", &mut errors) {
        out.insert("contributors".into(), Value::Array(contributors));
    }
    // License (default CC0-1.0 for datasets, CC-BY-4.0 otherwise, when open or embargoed).
    let access_right = meta
        .get("access_right")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_string();
    let license = match meta.get("license") {
        None | Some(Value::Null) => {
            if access_right == "open" || access_right == "embargoed" {
                let dataset = meta.get("upload_type").and_then(Value::as_str) == Some("dataset");
                Some(if dataset {
                    "cc0-1.0".to_string()
                } else {
                    "cc-by-4.0".to_string()
                })
            } else {
                None
            }
        }
        Some(Value::String(s)) => Some(s.trim().to_ascii_lowercase()),
        Some(Value::Object(o)) => match o.get("id").and_then(Value::as_str) {
            Some(id) => Some(id.trim().to_ascii_lowercase()),
            None => {
                err(
                    &mut errors,
                    "metadata.license",
                    format!(
                        "Invalid license object provided (missing 'id' key): {}",
                        Value::Object(o.clone())
                    ),
                );
                None
            }
        },
        Some(other) => {
            err(
                &mut errors,
                "metadata.license",
                format!(
                    "Invalid license value provided (expected string, or object with 'id' key): {other}"
                ),
            );
            None
        }
    };
    if let Some(l) = license {
        let valid = !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.+_".contains(&b));
        if valid {
            out.insert(
                "rights".into(),
                json!([{"id": if l == "cc-zero" { "cc0-1.0".to_string() } else { l }}]),
            );
        } else {
            err(
                &mut errors,
                "metadata.license",
                format!("Invalid license provided: {l}"),
            );
        }
    }
    match meta.get("keywords") {
        None | Some(Value::Null) => {}
        Some(Value::Array(k)) if k.iter().all(Value::is_string) => {
            if !k.is_empty() {
                let subjects: Vec<Value> = k.iter().map(|s| json!({"subject": s})).collect();
                out.insert("subjects".into(), Value::Array(subjects));
            }
        }
        Some(_) => err(
            &mut errors,
            "metadata.keywords",
            "Not a valid list of strings.",
        ),
    }
    match meta.get("language") {
        None | Some(Value::Null) => {}
        Some(Value::String(l)) if l.len() == 3 => {
            out.insert("languages".into(), json!([{"id": l}]));
        }
        Some(Value::String(l)) if l.len() == 2 => {
            out.insert("languages".into(), json!([{"id": iso639_1_to_2(l)}]));
        }
        Some(_) => err(
            &mut errors,
            "metadata.language",
            "Language must be either ISO-639-1 or 639-2 compatible.",
        ),
    }
    match meta.get("related_identifiers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let mut related = Vec::new();
            for (i, r) in list.iter().enumerate() {
                let Some(r) = r.as_object() else {
                    err(
                        &mut errors,
                        format!("metadata.related_identifiers.{i}"),
                        "Each related identifier must be an object",
                    );
                    continue;
                };
                let relation = match r.get("relation") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => String::new(),
                    Some(_) => {
                        err(
                            &mut errors,
                            format!("metadata.related_identifiers.{i}.relation"),
                            "relation must be a string",
                        );
                        continue;
                    }
                };
                let Some(identifier) = r.get("identifier").and_then(Value::as_str) else {
                    err(
                        &mut errors,
                        format!("metadata.related_identifiers.{i}.identifier"),
                        MISSING,
                    );
                    continue;
                };
                let mut entry = json!({
                    "identifier": identifier,
                    "scheme": r.get("scheme").and_then(Value::as_str).unwrap_or(detect_scheme(identifier)),
                    "relation_type": {"id": relation.to_ascii_lowercase()},
                });
                if let Some(t) = r.get("resource_type").and_then(Value::as_str) {
                    entry["resource_type"] = json!({"id": t});
                }
                related.push(entry);
            }
            if !related.is_empty() {
                out.insert("related_identifiers".into(), Value::Array(related));
            }
        }
        Some(_) => err(
            &mut errors,
            "metadata.related_identifiers",
            "related_identifiers must be a list",
        ),
    }
    let mut descriptions = Vec::new();
    for (key, kind) in [("notes", "notes"), ("method", "methods")] {
        match meta.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {
                descriptions.push(json!({"description": s, "type": {"id": kind}}))
            }
            Some(Value::String(_)) | Some(Value::Null) | None => {}
            Some(_) => err(
                &mut errors,
                format!("metadata.{key}"),
                "Not a valid string.",
            ),
        }
    }
    if !descriptions.is_empty() {
        out.insert("additional_descriptions".into(), Value::Array(descriptions));
    }
    if let Some(refs) = meta.get("references").and_then(Value::as_array) {
        let refs: Vec<Value> = refs.iter().map(|r| json!({"reference": r})).collect();
        out.insert("references".into(), Value::Array(refs));
    }
    // Access.
    let embargo_date = meta.get("embargo_date").and_then(Value::as_str);
    input.access = match (access_right.as_str(), embargo_date) {
        ("open", _) => input.access,
        ("restricted" | "closed", _) => {
            json!({"record": "public", "files": "restricted", "embargo": {"active": false, "reason": null}})
        }
        ("embargoed", Some(until)) => {
            json!({"record": "public", "files": "restricted", "embargo": {"active": true, "until": until, "reason": null}})
        }
        _ => {
            err(&mut errors, "_schema", "Unknown access type.");
            input.access
        }
    };
    // Communities are kept until publication in a custom field.
    match meta.get("communities") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.is_empty() => {}
        Some(Value::Array(list))
            if list
                .iter()
                .all(|c| c.get("identifier").is_some_and(Value::is_string)) =>
        {
            let ids: Vec<Value> = list
                .iter()
                .filter_map(|c| c.get("identifier").cloned())
                .collect();
            input
                .custom_fields
                .insert("legacy:communities".into(), Value::Array(ids));
        }
        Some(_) => err(
            &mut errors,
            "communities",
            "Communities must be an array of objects with an 'identifier' key.",
        ),
    }
    if let Some(Value::Object(custom)) = meta.get("custom") {
        input.custom_fields.extend(custom.clone());
    }
    if let Some(doi) = meta
        .get("doi")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        let managed = doi.starts_with(&format!("{prefix}/"));
        let pid = if managed {
            json!({"identifier": doi, "provider": "datacite", "client": "datacite"})
        } else {
            json!({"identifier": doi, "provider": "external"})
        };
        input.pids.insert("doi".into(), pid);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The RDM service then saves the draft leniently: invalid values are dropped, computed
    // fields (creator names, resource type titles) added.
    let (cleaned, _) = check_rdm_metadata(&input.metadata);
    input.metadata = cleaned;
    Ok(input)
}

// ---------------------------------------------------------------------------------------------
// RDM -> legacy metadata (zenodo_rdm.legacy.serializers)
// ---------------------------------------------------------------------------------------------

/// Which legacy serializer: the deposit API's (`legacyjson`) or Zenodo's records JSON (`zenodojson`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LegacyStyle {
    Deposit,
    Zenodo,
}

fn legacy_person_out(c: &Value, with_role: bool) -> Value {
    let p = c.get("person_or_org").cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("name".into(), p.get("name").cloned().unwrap_or(json!("")));
    let aff = c
        .get("affiliations")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|a| a.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    out.insert("affiliation".into(), aff);
    if let Some(ids) = p.get("identifiers").and_then(Value::as_array) {
        for id in ids {
            let scheme = id.get("scheme").and_then(Value::as_str).unwrap_or("");
            if let Some(value) = id.get("identifier").and_then(Value::as_str)
                && (scheme == "orcid" || scheme == "gnd")
            {
                out.insert(
                    scheme.into(),
                    json!(value.trim_start_matches(&format!("{scheme}:"))),
                );
            }
        }
    }
    if with_role
        && let Some(role) = c
            .get("role")
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
    {
        let legacy = match role {
            "contactperson" => "ContactPerson".to_string(),
            "datacollector" => "DataCollector".to_string(),
            "datacurator" => "DataCurator".to_string(),
            "datamanager" => "DataManager".to_string(),
            "hostinginstitution" => "HostingInstitution".to_string(),
            "projectleader" => "ProjectLeader".to_string(),
            "projectmanager" => "ProjectManager".to_string(),
            "projectmember" => "ProjectMember".to_string(),
            "relatedperson" => "RelatedPerson".to_string(),
            "researchgroup" => "ResearchGroup".to_string(),
            "rightsholder" => "RightsHolder".to_string(),
            other => {
                let mut chars = other.chars();
                chars
                    .next()
                    .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        };
        out.insert("type".into(), json!(legacy));
    }
    Value::Object(out)
}

/// Legacy metadata of a record/draft (`metadata` of the deposit API or of Zenodo's records JSON).
pub fn legacy_metadata(
    meta: &Map<String, Value>,
    access: &Value,
    custom_fields: &Map<String, Value>,
    doi: Option<&str>,
    style: LegacyStyle,
) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["title", "publication_date", "description", "version"] {
        if let Some(v) = meta.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(doi) = doi {
        out.insert("doi".into(), json!(doi));
    }
    let files = access
        .get("files")
        .and_then(Value::as_str)
        .unwrap_or("public");
    let embargoed = access
        .get("embargo")
        .and_then(|e| e.get("active"))
        .and_then(Value::as_bool)
        == Some(true);
    let access_right = if files == "public" {
        "open"
    } else if embargoed {
        "embargoed"
    } else {
        "restricted"
    };
    out.insert("access_right".into(), json!(access_right));
    if let Some(until) = access
        .get("embargo")
        .and_then(|e| e.get("until"))
        .filter(|u| u.is_string())
    {
        out.insert("embargo_date".into(), until.clone());
    }
    if let Some(creators) = meta.get("creators").and_then(Value::as_array) {
        out.insert(
            "creators".into(),
            creators
                .iter()
                .map(|c| legacy_person_out(c, false))
                .collect(),
        );
    }
    if let Some(contributors) = meta.get("contributors").and_then(Value::as_array) {
        out.insert(
            "contributors".into(),
            contributors
                .iter()
                .map(|c| legacy_person_out(c, true))
                .collect(),
        );
    }
    if let Some(subjects) = meta.get("subjects").and_then(Value::as_array) {
        let kw: Vec<Value> = subjects
            .iter()
            .filter(|s| s.get("id").is_none())
            .filter_map(|s| s.get("subject").cloned())
            .collect();
        if !kw.is_empty() {
            out.insert("keywords".into(), Value::Array(kw));
        }
    }
    if let Some(related) = meta.get("related_identifiers").and_then(Value::as_array) {
        let list: Vec<Value> = related
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert(
                    "identifier".into(),
                    r.get("identifier").cloned().unwrap_or(Value::Null),
                );
                if let Some(rel) = r
                    .get("relation_type")
                    .and_then(|t| t.get("id"))
                    .and_then(Value::as_str)
                    && let Some(legacy) = RELATIONS.iter().find(|l| l.eq_ignore_ascii_case(rel))
                {
                    o.insert("relation".into(), json!(legacy));
                }
                if let Some(t) = r.get("resource_type").and_then(|t| t.get("id")) {
                    o.insert("resource_type".into(), t.clone());
                }
                if let Some(s) = r.get("scheme") {
                    o.insert("scheme".into(), s.clone());
                }
                Value::Object(o)
            })
            .collect();
        out.insert("related_identifiers".into(), Value::Array(list));
    }
    if let Some(refs) = meta.get("references").and_then(Value::as_array) {
        let list: Vec<Value> = refs
            .iter()
            .filter_map(|r| r.get("reference").cloned())
            .collect();
        out.insert("references".into(), Value::Array(list));
    }
    if let Some(lang) = meta
        .get("languages")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    {
        out.insert(
            "language".into(),
            lang.get("id").cloned().unwrap_or(Value::Null),
        );
    }
    if let Some(ads) = meta
        .get("additional_descriptions")
        .and_then(Value::as_array)
    {
        for ad in ads {
            let kind = ad
                .get("type")
                .and_then(|t| t.get("id"))
                .and_then(Value::as_str);
            let key = match kind {
                Some("notes") => "notes",
                Some("methods") => "method",
                _ => continue,
            };
            if !out.contains_key(key) {
                out.insert(
                    key.into(),
                    ad.get("description").cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    let custom: Map<String, Value> = custom_fields
        .iter()
        .filter(|(k, _)| {
            ![
                "legacy:", "thesis:", "imprint:", "meeting:", "journal:", "part_of:",
            ]
            .iter()
            .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !custom.is_empty() {
        out.insert("custom".into(), Value::Object(custom));
    }
    let license = meta
        .get("rights")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("id"))
        .cloned();
    let communities: Vec<Value> = custom_fields
        .get("legacy:communities")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rtype = meta
        .get("resource_type")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str);
    match style {
        LegacyStyle::Deposit => {
            if let Some(l) = license {
                out.insert("license".into(), l);
            }
            if let Some(id) = rtype {
                let (t, st) = id.split_once('-').map_or((id, None), |(t, s)| (t, Some(s)));
                out.insert("upload_type".into(), json!(t));
                if let Some(st) = st {
                    out.insert(format!("{t}_type"), json!(st));
                }
            }
            if let Some(p) = meta.get("publisher") {
                out.insert("imprint_publisher".into(), p.clone());
            }
            if !communities.is_empty() {
                let list: Vec<Value> = communities
                    .iter()
                    .map(|c| json!({"identifier": c}))
                    .collect();
                out.insert("communities".into(), Value::Array(list));
            }
        }
        LegacyStyle::Zenodo => {
            if let Some(l) = license {
                out.insert("license".into(), json!({"id": l}));
            }
            if let Some(id) = rtype {
                let mut rt = Map::new();
                let (t, st) = id.split_once('-').map_or((id, None), |(t, s)| (t, Some(s)));
                rt.insert(
                    "title".into(),
                    json!(resource_type_title(id).unwrap_or("Other")),
                );
                rt.insert("type".into(), json!(t));
                if let Some(st) = st {
                    rt.insert("subtype".into(), json!(st));
                }
                out.insert("resource_type".into(), Value::Object(rt));
            }
            if !communities.is_empty() {
                let list: Vec<Value> = communities.iter().map(|c| json!({"id": c})).collect();
                out.insert("communities".into(), Value::Array(list));
            }
        }
    }
    out
}
