//! Publishing an analysis with a DOI: the notebook and the products it made as one citable,
//! re-runnable, verifiable record on Zenodo or any InvenioRDM server.
//!
//! The DOI is reserved first, so that the final run writes it into every product:
//!
//! 1. [`reserve`] creates a draft record, reserves its DOI and writes the journal
//!    `DIR/publication.json` (with `doi` and `record_id` at its top level). While the
//!    publication is active — products written below `DIR`, or `ODA_PUBLICATION=DIR`, or
//!    [`Publication::activate`] in a notebook — every product carries the DOI (FITS keywords
//!    `DOI` and `REFERENC`, `result.json`, figure footers, the notebook's metadata).
//! 2. [`bundle`] assembles the record in `DIR/bundle/`: the executed notebooks, the products,
//!    a README with DOI and Binder badges, `CITATION.cff`, an RO-Crate with one `CreateAction`
//!    per product, `manifest.json` with every file's SHA-256 and md5, and one zip with
//!    everything needed to re-run on Binder.
//! 3. [`upload`] sends the files (skipping those the server already has with the right md5)
//!    and, with `publish`, publishes; [`new_version`] starts the next version.
//! 4. [`verify`] checks a publication, a bundle or a downloaded record against its manifest and
//!    re-runs every product's request on the archive it was made from.
//!
//! Every step is resumable and idempotent: the journal records what the server has; a re-run
//! after a crash, a 429, a 5xx or a reset connection continues where it stopped and never
//! creates a second record. The access token comes from `ODA_PUBLISH_TOKEN` or the user's
//! token file (see [`Token`]) and never appears in logs, errors or the journal.

mod bundle;
mod client;
mod describe;
mod journal;
mod manifest;
mod metadata;
mod server;
mod target;
mod token;
mod verify;
mod workflow;

pub use bundle::RUNNABLE_ZIP;
pub use bundle::{BundleOptions, BundleReport, bundle};
pub use client::RetryPolicy;
pub use describe::{DescribingFiles, binder_url, describing_files, doi_badge_markdown};
pub use journal::{Journal, JournalFile, PublishedVersion, State};
pub use manifest::{
    ArchiveRecord, BundleFile, FileKind, HduDigest, MANIFEST_FORMAT, Manifest, ProductRecord,
    ProvenanceUnit, SoftwareInfo,
};
pub use metadata::{Creator, Metadata, RelatedIdentifier, Relation};
pub use target::{Api, Target};
pub use token::Token;
pub use verify::{FileCheck, ProductCheck, RUN_FIELDS, VerifyOptions, VerifyReport, verify};
pub use workflow::{LogFn, MAX_FILES, Publication, PublishOptions, new_version, reserve, upload};

/// The current UTC time, ISO 8601 with a `Z` (`2026-11-30T16:42:07Z`).
pub(crate) fn now_utc() -> String {
    crate::time::unix_to_isot_utc(crate::time::unix_now())
}

/// Today's UTC date, `YYYY-MM-DD`.
pub(crate) fn today_utc() -> String {
    now_utc()[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(now_utc().len(), 20);
    }
}
