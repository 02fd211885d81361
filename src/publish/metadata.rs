//! The description of a record: one model, written out as InvenioRDM, legacy Zenodo deposit,
//! `CITATION.cff` and RO-Crate metadata.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, PublishErrorKind, Result};

/// A person who made the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: String,
    /// ORCID iD, `0000-0002-1825-0097` (checked with its check digit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcid: Option<String>,
    /// Affiliation (institute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

impl Creator {
    /// Parses `"Family, Given[, ORCID[, affiliation]]"` (the affiliation may contain commas;
    /// an empty ORCID field is allowed: `"Doe, Jane, , Univ. of Geneva"`).
    ///
    /// # Errors
    /// No family or given name, or an ORCID iD that is malformed or fails its check digit.
    ///
    /// ```
    /// use oda::publish::Creator;
    /// let c = Creator::parse("Savchenko, Volodymyr, 0000-0001-6353-0808, University of Geneva, ISDC")?;
    /// assert_eq!((c.family.as_str(), c.given.as_str()), ("Savchenko", "Volodymyr"));
    /// assert_eq!(c.affiliation.as_deref(), Some("University of Geneva, ISDC"));
    /// assert!(Creator::parse("Savchenko, Volodymyr, 0000-0001-6353-0809").is_err());
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Creator> {
        let mut parts = text.splitn(4, ',').map(str::trim);
        let family = parts.next().unwrap_or_default().to_string();
        let given = parts.next().unwrap_or_default().to_string();
        let orcid = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        let affiliation = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        let creator = Creator {
            family,
            given,
            orcid,
            affiliation,
        };
        creator.check().map_err(|m| {
            Error::publish(
                PublishErrorKind::Metadata,
                format!(
                    "creator {text:?}: {m}; write it as \"Family, Given[, ORCID[, affiliation]]\""
                ),
            )
        })?;
        Ok(creator)
    }

    /// What is wrong with this creator, if anything.
    fn check(&self) -> std::result::Result<(), String> {
        if self.family.is_empty() || self.given.is_empty() {
            return Err("a family name and a given name are required".into());
        }
        if let Some(o) = &self.orcid {
            check_orcid(o)?;
        }
        Ok(())
    }

    /// "Family, Given" — how Zenodo's legacy API and citations write a name.
    pub fn name(&self) -> String {
        format!("{}, {}", self.family, self.given)
    }

    /// The ORCID iD without a resolver prefix.
    pub fn orcid_id(&self) -> Option<&str> {
        self.orcid
            .as_deref()
            .map(|o| o.trim_start_matches("https://orcid.org/"))
    }

    /// Initials of the given names: "Volodymyr Alexei" → "V. A.".
    fn initials(&self) -> String {
        self.given
            .split_whitespace()
            .filter_map(|g| g.chars().next())
            .map(|c| format!("{c}."))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Checks an ORCID iD: four groups of four digits (the last may end in X) with the ISO 7064
/// MOD 11-2 check digit, optionally as `https://orcid.org/...`.
fn check_orcid(orcid: &str) -> std::result::Result<(), String> {
    let id = orcid.trim_start_matches("https://orcid.org/");
    let chars: Vec<char> = id.chars().collect();
    let shape = chars.len() == 19
        && chars.iter().enumerate().all(|(i, &c)| match i {
            4 | 9 | 14 => c == '-',
            18 => c.is_ascii_digit() || c == 'X',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(format!(
            "the ORCID iD {orcid:?} is not of the form 0000-0002-1825-0097"
        ));
    }
    let digits: Vec<u32> = chars.iter().filter_map(|c| c.to_digit(10)).collect();
    let total = digits[..15].iter().fold(0, |t, d| (t + d) * 2);
    let check = (12 - total % 11) % 11;
    let expected = if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10).unwrap_or('?')
    };
    if chars[18] != expected {
        return Err(format!(
            "the ORCID iD {orcid:?} fails its check digit (expected {expected} at the end)"
        ));
    }
    Ok(())
}

/// How a related work relates to the record (DataCite's relation types; the common ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Relation {
    /// The record supplements the work (the paper whose figures it re-makes): the default.
    IsSupplementTo,
    /// The record is cited by the work.
    IsCitedBy,
    /// The record cites the work.
    Cites,
    /// The record is derived from the work (an archive, a data set).
    IsDerivedFrom,
    /// The record documents the work.
    Documents,
    /// The record references the work.
    References,
}

impl Relation {
    /// DataCite's spelling (`isSupplementTo`).
    pub fn datacite(self) -> &'static str {
        match self {
            Relation::IsSupplementTo => "isSupplementTo",
            Relation::IsCitedBy => "isCitedBy",
            Relation::Cites => "cites",
            Relation::IsDerivedFrom => "isDerivedFrom",
            Relation::Documents => "documents",
            Relation::References => "references",
        }
    }

    fn parse(s: &str) -> Result<Relation> {
        let all = [
            Relation::IsSupplementTo,
            Relation::IsCitedBy,
            Relation::Cites,
            Relation::IsDerivedFrom,
            Relation::Documents,
            Relation::References,
        ];
        all.into_iter()
            .find(|r| r.datacite().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::publish(
                    PublishErrorKind::Metadata,
                    format!(
                        "relation {s:?} is not one of {}",
                        all.map(Relation::datacite).join(", ")
                    ),
                )
            })
    }
}

/// A work the record relates to: the paper's DOI, an arXiv id, a URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedIdentifier {
    /// The identifier (a DOI without resolver, `arXiv:2002.12895`, a URL).
    pub identifier: String,
    /// How it relates.
    pub relation: Relation,
    /// `doi`, `arxiv` or `url` (found from the identifier's shape).
    pub scheme: String,
}

impl RelatedIdentifier {
    /// A related DOI (`https://doi.org/` and `doi:` prefixes are removed).
    ///
    /// # Errors
    /// Not a DOI.
    pub fn doi(doi: &str, relation: Relation) -> Result<RelatedIdentifier> {
        let doi = doi
            .trim()
            .trim_start_matches("https://doi.org/")
            .trim_start_matches("doi:");
        crate::products::Citation::new(doi, "").map_err(|_| {
            Error::publish(
                PublishErrorKind::Metadata,
                format!("related DOI {doi:?} is not a DOI such as 10.1051/0004-6361/202037850"),
            )
        })?;
        Ok(RelatedIdentifier {
            identifier: doi.into(),
            relation,
            scheme: "doi".into(),
        })
    }

    /// A related identifier of any scheme, found from its shape.
    fn parse(identifier: &str, relation: Relation) -> Result<RelatedIdentifier> {
        let id = identifier.trim();
        if id.starts_with("10.") || id.starts_with("doi:") || id.starts_with("https://doi.org/") {
            return RelatedIdentifier::doi(id, relation);
        }
        let scheme = if id.to_ascii_lowercase().starts_with("arxiv:") {
            "arxiv"
        } else if id.starts_with("https://") || id.starts_with("http://") {
            "url"
        } else {
            return Err(Error::publish(
                PublishErrorKind::Metadata,
                format!(
                    "related identifier {id:?} is not a DOI, an arXiv id (arXiv:NNNN.NNNNN) or a URL"
                ),
            ));
        };
        Ok(RelatedIdentifier {
            identifier: id.into(),
            relation,
            scheme: scheme.into(),
        })
    }
}

/// The metadata of a publication: what a repository needs to mint a DOI, and what citations,
/// `CITATION.cff` and the RO-Crate say.
///
/// ```
/// use oda::publish::{Creator, Metadata};
/// let mut m = Metadata::default();
/// assert!(m.check().unwrap_err().to_string().contains("title"));
/// m.title = "The Crab with INTEGRAL/ISGRI".into();
/// m.creators.push(Creator::parse("Doe, Jane")?);
/// m.check()?;
/// assert_eq!(m.license, "cc-by-4.0");
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// Title of the record.
    pub title: String,
    /// What the record holds (plain text; paragraphs separated by blank lines).
    pub description: String,
    /// The creators, in citation order.
    pub creators: Vec<Creator>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Licence, as an SPDX-like id known to Zenodo (`cc-by-4.0`, `mit`, ...).
    pub license: String,
    /// Version of the record (`1.0`).
    pub version: Option<String>,
    /// Related works: the paper's DOI as `isSupplementTo`, ...
    pub related: Vec<RelatedIdentifier>,
    /// Communities to submit the record to (their identifiers).
    pub communities: Vec<String>,
    /// Resource type (`dataset`, `software`, `publication-other`, ...).
    pub resource_type: String,
    /// Publication date, `YYYY-MM-DD` (today when publishing, if unset).
    pub publication_date: Option<String>,
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata {
            title: String::new(),
            description: String::new(),
            creators: Vec::new(),
            keywords: Vec::new(),
            license: "cc-by-4.0".into(),
            version: None,
            related: Vec::new(),
            communities: Vec::new(),
            resource_type: "dataset".into(),
            publication_date: None,
        }
    }
}

/// The fields of `metadata.toml` (creators as strings or tables; related works as DOIs or
/// tables).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MetadataFile {
    title: Option<String>,
    description: Option<String>,
    creators: Vec<CreatorEntry>,
    keywords: Vec<String>,
    license: Option<String>,
    version: Option<String>,
    related_dois: Vec<String>,
    related: Vec<RelatedEntry>,
    communities: Vec<String>,
    resource_type: Option<String>,
    publication_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CreatorEntry {
    Text(String),
    Table {
        family: String,
        given: String,
        orcid: Option<String>,
        affiliation: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct RelatedEntry {
    identifier: String,
    relation: Option<String>,
}

impl Metadata {
    /// The file a publication directory may describe itself in.
    pub const FILE: &'static str = "metadata.toml";

    /// Reads `metadata.toml`:
    ///
    /// ```toml
    /// title = "The Crab Nebula with INTEGRAL/ISGRI, 2003-2018"
    /// description = "Images, spectra and light curves of the Crab ..."
    /// creators = ["Doe, Jane, 0000-0002-1825-0097, University of Geneva"]
    /// keywords = ["INTEGRAL", "Crab"]
    /// license = "cc-by-4.0"
    /// version = "1.0"
    /// related_dois = ["10.1051/0004-6361/202037850"]   # isSupplementTo
    /// communities = ["integral"]
    /// ```
    ///
    /// # Errors
    /// An unreadable file, TOML syntax, an unknown field, a malformed creator or identifier.
    pub fn from_toml_file(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Metadata::from_toml(&text).map_err(|e| match e {
            Error::Publish { kind, message } => {
                Error::publish(kind, format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// Parses the text of a `metadata.toml` (see [`Metadata::from_toml_file`]).
    ///
    /// # Errors
    /// As [`Metadata::from_toml_file`].
    pub fn from_toml(text: &str) -> Result<Metadata> {
        let file: MetadataFile = toml::from_str(text)
            .map_err(|e| Error::publish(PublishErrorKind::Metadata, e.to_string()))?;
        let mut m = Metadata {
            title: file.title.unwrap_or_default(),
            description: file.description.unwrap_or_default(),
            ..Metadata::default()
        };
        for c in file.creators {
            m.creators.push(match c {
                CreatorEntry::Text(t) => Creator::parse(&t)?,
                CreatorEntry::Table {
                    family,
                    given,
                    orcid,
                    affiliation,
                } => {
                    let c = Creator {
                        family,
                        given,
                        orcid,
                        affiliation,
                    };
                    c.check().map_err(|msg| {
                        Error::publish(
                            PublishErrorKind::Metadata,
                            format!("creator {}: {msg}", c.name()),
                        )
                    })?;
                    c
                }
            });
        }
        m.keywords = file.keywords;
        if let Some(l) = file.license {
            m.license = l;
        }
        m.version = file.version;
        for d in file.related_dois {
            m.related
                .push(RelatedIdentifier::doi(&d, Relation::IsSupplementTo)?);
        }
        for r in file.related {
            let relation = match r.relation {
                Some(s) => Relation::parse(&s)?,
                None => Relation::IsSupplementTo,
            };
            m.related
                .push(RelatedIdentifier::parse(&r.identifier, relation)?);
        }
        m.communities = file.communities;
        if let Some(t) = file.resource_type {
            m.resource_type = t;
        }
        m.publication_date = file.publication_date;
        Ok(m)
    }

    /// Adds a related DOI with relation `isSupplementTo` (the paper the record supplements).
    ///
    /// # Errors
    /// Not a DOI.
    pub fn add_related_doi(&mut self, doi: &str) -> Result<()> {
        self.related
            .push(RelatedIdentifier::doi(doi, Relation::IsSupplementTo)?);
        Ok(())
    }

    /// Fields given on the command line replace those of the file; lists given replace lists.
    pub fn overlay(mut self, other: Metadata) -> Metadata {
        if !other.title.is_empty() {
            self.title = other.title;
        }
        if !other.description.is_empty() {
            self.description = other.description;
        }
        if !other.creators.is_empty() {
            self.creators = other.creators;
        }
        if !other.keywords.is_empty() {
            self.keywords = other.keywords;
        }
        if other.license != Metadata::default().license {
            self.license = other.license;
        }
        if other.version.is_some() {
            self.version = other.version;
        }
        if !other.related.is_empty() {
            self.related = other.related;
        }
        if !other.communities.is_empty() {
            self.communities = other.communities;
        }
        if other.resource_type != Metadata::default().resource_type {
            self.resource_type = other.resource_type;
        }
        if other.publication_date.is_some() {
            self.publication_date = other.publication_date;
        }
        self
    }

    /// Checks that everything a repository requires is here, naming every missing or malformed
    /// field at once — before anything is sent.
    ///
    /// # Errors
    /// [`PublishErrorKind::Metadata`], listing the problems.
    pub fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.title.trim().is_empty() {
            problems.push(
                "title is missing (--title \"...\" or title = \"...\" in metadata.toml)"
                    .to_string(),
            );
        }
        if self.creators.is_empty() {
            problems.push(
                "creator is missing (--creator \"Family, Given[, ORCID[, affiliation]]\" or creators = [...] in metadata.toml)"
                    .to_string(),
            );
        }
        for c in &self.creators {
            if let Err(m) = c.check() {
                problems.push(format!("creator {:?}: {m}", c.name()));
            }
        }
        if let Some(d) = &self.publication_date
            && crate::time::Time::parse(d, crate::time::TimeFormat::Isot).is_err()
        {
            problems.push(format!("publication_date {d:?} is not a date YYYY-MM-DD"));
        }
        if self.license.trim().is_empty() {
            problems.push("license is empty (e.g. cc-by-4.0)".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::publish(
                PublishErrorKind::Metadata,
                format!(
                    "the record's metadata is incomplete:\n  {}",
                    problems.join("\n  ")
                ),
            ))
        }
    }

    /// The description as HTML paragraphs (repositories render descriptions as HTML).
    pub fn description_html(&self) -> String {
        let text = if self.description.trim().is_empty() {
            &self.title
        } else {
            &self.description
        };
        text.split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .map(|p| format!("<p>{}</p>", crate::display::html_escape(p.trim())))
            .collect()
    }

    /// The metadata in the InvenioRDM records API's shape (`POST /api/records`, `PUT .../draft`).
    pub fn to_rdm(&self, publication_date: &str, publisher: &str) -> Value {
        let creators: Vec<Value> = self
            .creators
            .iter()
            .map(|c| {
                let mut person = json!({
                    "type": "personal", "family_name": c.family, "given_name": c.given,
                });
                if let Some(o) = c.orcid_id() {
                    person["identifiers"] = json!([{"scheme": "orcid", "identifier": o}]);
                }
                let mut v = json!({ "person_or_org": person });
                if let Some(a) = &c.affiliation {
                    v["affiliations"] = json!([{ "name": a }]);
                }
                v
            })
            .collect();
        let mut m = json!({
            "resource_type": {"id": self.resource_type},
            "title": self.title,
            "publication_date": publication_date,
            "creators": creators,
            "description": self.description_html(),
            "publisher": publisher,
            "rights": [{"id": self.license.to_ascii_lowercase()}],
        });
        if !self.keywords.is_empty() {
            m["subjects"] = self
                .keywords
                .iter()
                .map(|k| json!({"subject": k}))
                .collect();
        }
        if let Some(v) = &self.version {
            m["version"] = json!(v);
        }
        if !self.related.is_empty() {
            m["related_identifiers"] = self
                .related
                .iter()
                .map(|r| {
                    json!({
                        "identifier": r.identifier, "scheme": r.scheme,
                        "relation_type": {"id": r.relation.datacite().to_ascii_lowercase()},
                    })
                })
                .collect();
        }
        m
    }

    /// The metadata in the legacy Zenodo deposit API's shape (`{"metadata": ...}` body).
    pub fn to_legacy(&self, publication_date: &str) -> Value {
        let creators: Vec<Value> = self
            .creators
            .iter()
            .map(|c| {
                let mut v = json!({ "name": c.name() });
                if let Some(a) = &c.affiliation {
                    v["affiliation"] = json!(a);
                }
                if let Some(o) = c.orcid_id() {
                    v["orcid"] = json!(o);
                }
                v
            })
            .collect();
        let mut m = json!({
            "upload_type": legacy_upload_type(&self.resource_type),
            "title": self.title,
            "creators": creators,
            "description": self.description_html(),
            "access_right": "open",
            "license": self.license.to_ascii_lowercase(),
            "publication_date": publication_date,
        });
        if self.resource_type.starts_with("publication") {
            m["publication_type"] = json!(self.resource_type.trim_start_matches("publication-"));
        }
        if !self.keywords.is_empty() {
            m["keywords"] = json!(self.keywords);
        }
        if let Some(v) = &self.version {
            m["version"] = json!(v);
        }
        if !self.related.is_empty() {
            m["related_identifiers"] = self
                .related
                .iter()
                .map(|r| json!({"identifier": r.identifier, "relation": r.relation.datacite()}))
                .collect();
        }
        if !self.communities.is_empty() {
            m["communities"] = self
                .communities
                .iter()
                .map(|c| json!({"identifier": c}))
                .collect();
        }
        json!({ "metadata": m })
    }

    /// How to cite the record: "Doe, J., & Roe, R. (2026). Title (Version 1.0) [Data set].
    /// Zenodo. https://doi.org/10.5072/zenodo.42".
    pub fn citation_text(&self, year: &str, publisher: &str, doi: &str) -> String {
        let names: Vec<String> = self
            .creators
            .iter()
            .map(|c| format!("{}, {}", c.family, c.initials()))
            .collect();
        let authors = match names.len() {
            0 => String::new(),
            1 => names[0].clone(),
            n => format!("{}, & {}", names[..n - 1].join(", "), names[n - 1]),
        };
        let version = self
            .version
            .as_ref()
            .map(|v| format!(" (Version {v})"))
            .unwrap_or_default();
        format!(
            "{authors} ({year}). {}{version} [Data set]. {publisher}. https://doi.org/{doi}",
            self.title
        )
    }
}

/// Zenodo's legacy `upload_type` for an InvenioRDM resource type id.
fn legacy_upload_type(resource_type: &str) -> &str {
    resource_type.split('-').next().unwrap_or(resource_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orcid_check_digits() {
        for good in [
            "0000-0002-1825-0097",
            "0000-0001-5109-3700",
            "0000-0002-1694-233X",
            "https://orcid.org/0000-0002-1825-0097",
        ] {
            assert!(check_orcid(good).is_ok(), "{good}");
        }
        for bad in [
            "0000-0002-1825-0098",
            "0000-0002-1825-009",
            "0000000218250097",
            "x",
        ] {
            assert!(check_orcid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn creators_parse_with_optional_parts() {
        let c = Creator::parse("Doe, Jane").unwrap();
        assert_eq!((c.orcid, c.affiliation), (None, None));
        let c =
            Creator::parse("Doe, Jane, , Université de Genève, Département d'astronomie").unwrap();
        assert_eq!(c.orcid, None);
        assert_eq!(
            c.affiliation.as_deref(),
            Some("Université de Genève, Département d'astronomie")
        );
        for bad in ["Doe", ", Jane", "Doe, Jane, 1234"] {
            let e = Creator::parse(bad).unwrap_err();
            assert_eq!(e.publish_kind(), Some(PublishErrorKind::Metadata));
            assert!(e.to_string().contains("Family, Given"), "{e}");
        }
    }

    #[test]
    fn missing_fields_are_all_named() {
        let e = Metadata::default().check().unwrap_err().to_string();
        assert!(
            e.contains("title is missing") && e.contains("creator is missing"),
            "{e}"
        );
    }

    #[test]
    fn toml_file_and_overlay() {
        let m = Metadata::from_toml(
            r#"
            title = "Crab"
            creators = ["Doe, Jane, 0000-0002-1825-0097, Geneva", {family = "Roe", given = "Richard Paul"}]
            keywords = ["INTEGRAL"]
            related_dois = ["https://doi.org/10.1051/0004-6361/202037850"]
            related = [{identifier = "arXiv:2002.12895", relation = "cites"}]
            "#,
        )
        .unwrap();
        m.check().unwrap();
        assert_eq!(m.creators[1].initials(), "R. P.");
        assert_eq!(m.related[0].identifier, "10.1051/0004-6361/202037850");
        assert_eq!(m.related[1].scheme, "arxiv");
        let cli = Metadata {
            title: "Crab (final)".into(),
            ..Metadata::default()
        };
        let merged = m.clone().overlay(cli);
        assert_eq!(merged.title, "Crab (final)");
        assert_eq!(merged.creators, m.creators);
        let e = Metadata::from_toml("titel = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("titel"), "{e}");
        assert_eq!(
            m.citation_text("2026", "Zenodo", "10.5072/zenodo.42"),
            "Doe, J., & Roe, R. P. (2026). Crab [Data set]. Zenodo. https://doi.org/10.5072/zenodo.42"
        );
    }

    #[test]
    fn both_api_shapes() {
        let mut m = Metadata::from_toml(
            r#"title = "Crab"
            creators = ["Doe, Jane, 0000-0002-1825-0097, Geneva"]
            related_dois = ["10.1051/0004-6361/202037850"]
            communities = ["integral"]"#,
        )
        .unwrap();
        m.version = Some("1.0".into());
        let rdm = m.to_rdm("2026-11-30", "Zenodo");
        assert_eq!(
            rdm["creators"][0]["person_or_org"]["identifiers"][0]["identifier"],
            "0000-0002-1825-0097"
        );
        assert_eq!(
            rdm["related_identifiers"][0]["relation_type"]["id"],
            "issupplementto"
        );
        assert_eq!(rdm["resource_type"]["id"], "dataset");
        let legacy = m.to_legacy("2026-11-30");
        assert_eq!(legacy["metadata"]["creators"][0]["name"], "Doe, Jane");
        assert_eq!(
            legacy["metadata"]["related_identifiers"][0]["relation"],
            "isSupplementTo"
        );
        assert_eq!(
            legacy["metadata"]["communities"][0]["identifier"],
            "integral"
        );
        assert_eq!(legacy["metadata"]["upload_type"], "dataset");
    }
}
