//! Which server a publication goes to, and which of its APIs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, PublishErrorKind, Result};

/// A repository server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// zenodo.org: real, permanent DOIs (10.5281).
    Zenodo,
    /// sandbox.zenodo.org, the default: DOIs with the test prefix 10.5072 that resolve nowhere.
    ZenodoSandbox,
    /// Any InvenioRDM (or Zenodo-compatible) server at this base URL, without a trailing slash.
    Url(String),
}

impl Target {
    /// Parses `zenodo`, `zenodo-sandbox` (also `sandbox`) or an `http(s)://` base URL.
    ///
    /// # Errors
    /// Anything else, naming the value and what is allowed.
    ///
    /// ```
    /// use oda::publish::Target;
    /// assert_eq!(Target::parse("zenodo-sandbox")?.base_url(), "https://sandbox.zenodo.org");
    /// assert!(Target::parse("zenodo")?.is_production());
    /// assert!(!Target::parse("http://127.0.0.1:8080/")?.is_production());
    /// assert!(Target::parse("zendo").is_err());
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Target> {
        match s.trim() {
            "zenodo" => Ok(Target::Zenodo),
            "zenodo-sandbox" | "sandbox" => Ok(Target::ZenodoSandbox),
            url if (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() > url.find("//").map_or(0, |i| i + 2) =>
            {
                let t = Target::Url(url.trim_end_matches('/').to_string());
                let authority = url
                    .split("//")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .unwrap_or_default();
                if authority.contains('@') {
                    return Err(Error::invalid(
                        "--target",
                        url,
                        "a base URL without user:password (the token is sent separately)",
                    ));
                }
                if url.starts_with("http://") && !t.is_local() {
                    return Err(Error::invalid(
                        "--target",
                        url,
                        "https:// for a remote server (plain http:// only on this machine: the token would travel in clear text)",
                    ));
                }
                Ok(t)
            }
            other => Err(Error::invalid(
                "--target",
                other,
                "zenodo, zenodo-sandbox (the default) or a server's base URL such as https://inveniordm.example.org",
            )),
        }
    }

    /// The base URL of the server (no trailing slash).
    pub fn base_url(&self) -> String {
        match self {
            Target::Zenodo => "https://zenodo.org".into(),
            Target::ZenodoSandbox => "https://sandbox.zenodo.org".into(),
            Target::Url(u) => u.clone(),
        }
    }

    /// The name used in token files and messages: `zenodo`, `zenodo-sandbox` or the URL.
    pub fn name(&self) -> String {
        match self {
            Target::Zenodo => "zenodo".into(),
            Target::ZenodoSandbox => "zenodo-sandbox".into(),
            Target::Url(u) => u.clone(),
        }
    }

    /// True when the server mints real, permanent DOIs: zenodo.org, and any server that is not
    /// the sandbox or on this machine (a local rehearsal server).
    pub fn is_production(&self) -> bool {
        match self {
            Target::Zenodo => true,
            Target::ZenodoSandbox => false,
            Target::Url(u) => !self.is_local() && !u.starts_with("https://sandbox.zenodo.org"),
        }
    }

    /// True for a server on this machine (`localhost`, a loopback address).
    fn is_local(&self) -> bool {
        match self {
            Target::Zenodo | Target::ZenodoSandbox => false,
            Target::Url(u) => {
                let host = u
                    .split("//")
                    .nth(1)
                    .unwrap_or_default()
                    .split('/')
                    .next()
                    .unwrap_or_default();
                let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                    if port.chars().all(|c| c.is_ascii_digit()) {
                        h
                    } else {
                        host
                    }
                });
                host == "localhost"
                    || host == "[::1]"
                    || host
                        .parse::<std::net::Ipv4Addr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }

    /// The publisher name citations give: `Zenodo`, or the server's host.
    pub fn publisher(&self) -> String {
        match self {
            Target::Zenodo | Target::ZenodoSandbox => "Zenodo".into(),
            Target::Url(u) => u
                .split("//")
                .nth(1)
                .and_then(|h| h.split('/').next())
                .unwrap_or(u)
                .to_string(),
        }
    }

    /// Refuses a production server unless `confirmed` (`--confirm-production`): a DOI is
    /// permanent.
    ///
    /// # Errors
    /// [`PublishErrorKind::Confirmation`] for an unconfirmed production server.
    pub fn check_confirmed(&self, confirmed: bool) -> Result<()> {
        if self.is_production() && !confirmed {
            return Err(Error::publish(
                PublishErrorKind::Confirmation,
                format!(
                    "{} mints permanent DOIs: add --confirm-production to publish there \
                     (rehearse on --target zenodo-sandbox first)",
                    self.base_url()
                ),
            ));
        }
        Ok(())
    }
}

impl TryFrom<String> for Target {
    type Error = Error;
    fn try_from(s: String) -> Result<Target> {
        Target::parse(&s)
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.name()
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Which API of the server to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// The InvenioRDM records API (`/api/records`), with
    /// `Accept: application/vnd.inveniordm.v1+json`: the default.
    Rdm,
    /// Zenodo's legacy deposit API (`/api/deposit/depositions`): the fallback.
    Legacy,
}

impl Api {
    /// Parses `rdm` or `legacy`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Api> {
        match s {
            "rdm" | "inveniordm" => Ok(Api::Rdm),
            "legacy" | "deposit" => Ok(Api::Legacy),
            other => Err(Error::invalid(
                "--api",
                other,
                "rdm (the InvenioRDM records API, the default) or legacy (Zenodo's deposit API)",
            )),
        }
    }
}
