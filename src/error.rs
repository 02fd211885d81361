//! The one error type of the crate.
//!
//! Every message names what was wrong (the parameter and its value, the file, the
//! science window) and what would have been accepted, so that a notebook user can fix
//! the request without reading the source.

use std::path::PathBuf;

/// Result alias used throughout `oda`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `oda`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter has a value outside what is allowed.
    #[error("invalid parameter {name}={value:?}: {allowed}")]
    InvalidParameter {
        /// The parameter's name, as the user wrote it (ODA spelling: `RA`, `T1`, ...).
        name: String,
        /// The offending value, as given.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },

    /// A source name that the reference catalog does not know.
    #[error("unknown source {name:?}: not in the reference catalog{}", suggestion_text(.suggestions))]
    UnknownSource {
        /// The name asked for.
        name: String,
        /// Catalog names that are close to it, best first.
        suggestions: Vec<String>,
    },

    /// A Science Window identifier that is malformed or not in the archive.
    #[error("science window {swid:?}: {reason}")]
    ScienceWindow {
        /// The identifier as given.
        swid: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The selection of science windows came out empty.
    #[error("no science windows selected: {reason}")]
    EmptySelection {
        /// Why nothing was selected, and what to change.
        reason: String,
    },

    /// A FITS file could not be read or written, or does not have the expected content.
    #[error("FITS file {}: {message}", .path.display())]
    Fits {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// An I/O error on a named path.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The product cache could not be used (unwritable directory, full disk). Entries already
    /// stored are left intact.
    #[error("cache {}: {message}", .path.display())]
    Cache {
        /// The cache directory or entry.
        path: PathBuf,
        /// What went wrong, and what to do about it.
        message: String,
    },

    /// A product was asked for something it does not hold: a spectrum of a light-curve
    /// product, or the light curve of a source it was not extracted for.
    #[error("the {product} product has no {asked}: it holds {holds}")]
    NotInProduct {
        /// What was asked for (`spectrum`, `light curve of "Cyg X-1"`).
        asked: String,
        /// The product's type (`isgri_lc`, …).
        product: String,
        /// What the product holds, in words.
        holds: String,
        /// The sources it holds spectra or light curves of (empty for an image).
        sources: Vec<String>,
    },

    /// A setting of the environment (data directory, archive root, seed) is unusable.
    #[error("setting {name}: {message}")]
    Setting {
        /// The setting (`ODA_DATA`, `ODA_ARCHIVE`, `--seed`, ...).
        name: String,
        /// What is wrong.
        message: String,
    },

    /// Publishing to a repository (Zenodo, an InvenioRDM server) was refused or failed.
    /// Nothing stored locally is lost: the publication's journal is only ever replaced whole.
    #[error("publishing: {message}")]
    Publish {
        /// What kind of failure (see [`PublishErrorKind`]).
        kind: PublishErrorKind,
        /// What went wrong, naming the field, file or server answer, and what to do.
        message: String,
    },

    /// The service (`oda serve`) could not start or keep its state: an address in use, an
    /// unreadable secret or key, a job database that cannot be opened or written. Job records
    /// already stored are left intact (SQLite transactions).
    #[error("service: {message}")]
    Service {
        /// What went wrong, naming the file, address or setting, and what to do.
        message: String,
    },

    /// The service is at its limit of waiting jobs; nothing was queued.
    #[error("busy: {message}")]
    Busy {
        /// What the limit is.
        message: String,
        /// When to try again, seconds.
        retry_after_s: u64,
    },

    /// A token (JWT) was refused: malformed, badly signed, expired, or lacking a role.
    #[error("not authorised: {message}")]
    Unauthorized {
        /// Why, naming each missing role or the expiry time.
        message: String,
        /// The roles the request needs that the token does not carry.
        missing_roles: Vec<String>,
    },

    /// Work given to a cluster failed: a Slurm command (`sbatch`, `squeue`) could not be run
    /// or refused, or an array task failed twice. Names the Science Windows, the job and its
    /// log.
    #[error("cluster: {message}")]
    Cluster {
        /// What failed, with the Science Windows, the job id, the log's path and its last line.
        message: String,
    },

    /// Internal to `oda worker`: the task's units are computed and the rest of the request's
    /// analysis is left to its coordinator. Never reaches a user.
    #[doc(hidden)]
    #[error("the worker's units are computed")]
    WorkerUnitsDone,
}

/// The kinds of [`Error::Publish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// Required metadata is missing or malformed; found before anything was sent.
    Metadata,
    /// No token, a token file others can read, or a token the server refused (401/403).
    Token,
    /// Publishing to a production server without the confirmation flag.
    Confirmation,
    /// The server rejected the record's content, field by field.
    Validation,
    /// The server answered with an error that retries did not cure.
    Server,
    /// The server could not be reached, or the connection broke, after every retry.
    Network,
    /// The local journal (`publication.json`) does not fit the request (another server,
    /// another record), or the publication is in the wrong state for the step.
    Journal,
    /// A limit of the repository (the number of files per record) would be exceeded.
    Limit,
    /// `verify` found published files that differ from the manifest or from a re-run.
    Verification,
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    pub fn invalid(
        name: impl Into<String>,
        value: impl ToString,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Fits`] for `path`.
    pub fn fits(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Error::Fits {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// True when a request parameter was rejected.
    pub fn is_invalid_parameter(&self) -> bool {
        matches!(self, Error::InvalidParameter { .. })
    }

    /// The name of the rejected parameter, if this is a parameter error.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Error::InvalidParameter { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Builds an [`Error::Publish`].
    pub fn publish(kind: PublishErrorKind, message: impl Into<String>) -> Self {
        Error::Publish {
            kind,
            message: message.into(),
        }
    }

    /// The kind of a publishing error, if this is one.
    pub fn publish_kind(&self) -> Option<PublishErrorKind> {
        match self {
            Error::Publish { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True when publishing was refused or failed (see [`Error::publish_kind`]).
    pub fn is_publish_error(&self) -> bool {
        matches!(self, Error::Publish { .. })
    }

    /// Builds an [`Error::Service`].
    pub fn service(message: impl Into<String>) -> Self {
        Error::Service {
            message: message.into(),
        }
    }

    /// True when a token was refused (see [`Error::Unauthorized`]).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// True when a product was asked for something it does not hold (see
    /// [`Error::NotInProduct`]).
    pub fn is_not_in_product(&self) -> bool {
        matches!(self, Error::NotInProduct { .. })
    }

    /// Builds an [`Error::Cluster`].
    pub fn cluster(message: impl Into<String>) -> Self {
        Error::Cluster {
            message: message.into(),
        }
    }

    /// True when work given to a cluster failed (see [`Error::Cluster`]).
    pub fn is_cluster_error(&self) -> bool {
        matches!(self, Error::Cluster { .. })
    }

    /// True when a file could not be read or has unexpected content.
    pub fn is_file_error(&self) -> bool {
        matches!(self, Error::Fits { .. } | Error::Io { .. })
    }
}
