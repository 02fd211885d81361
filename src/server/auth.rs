//! Who may do what: ODA's JWTs and role rules.
//!
//! Tokens are the reference dispatcher's: a JWT signed with HS256 by the site's secret (or
//! RS256 by a key held elsewhere, checked with its public key), with `sub` (the user's e-mail),
//! `email`, `name`, `roles` (a comma-separated string, or a list) and `exp`. Role names are
//! ODA's, so tokens issued for the reference service work here unchanged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::query::Request;

/// The role that runs requests of more than [`ANONYMOUS_MAX_POINTINGS`] pointings.
pub const ROLE_FULL: &str = "unige-hpc-full";
/// The role that runs requests of more than [`FULL_MAX_POINTINGS`] pointings.
pub const ROLE_EXTREME: &str = "unige-hpc-extreme";
/// The role that reads SPI-ACS data in near real time (`data_level=realtime`).
pub const ROLE_REALTIME: &str = "integral-realtime";
/// The role that sees every job (`/inspect-state`).
pub const ROLE_JOB_MANAGER: &str = "job manager";
/// The most pointings a request may have without a role.
pub const ANONYMOUS_MAX_POINTINGS: usize = 50;
/// The most pointings a request may have with [`ROLE_FULL`] alone.
pub const FULL_MAX_POINTINGS: usize = 500;
/// Environment variable holding the HS256 secret.
pub const SECRET_ENV: &str = "ODA_SECRET";

/// The claims of an ODA token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user (ODA puts the e-mail address here).
    pub sub: String,
    /// The user's e-mail address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// The user's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The roles, written as ODA writes them: one comma-separated string.
    #[serde(
        default,
        deserialize_with = "roles_from_string_or_list",
        serialize_with = "roles_to_string"
    )]
    pub roles: BTreeSet<String>,
    /// Expiry, Unix seconds (a fractional value, as Python's `time.time()` writes it, is
    /// rounded down).
    #[serde(deserialize_with = "unix_seconds")]
    pub exp: i64,
    /// Issued at, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

fn unix_seconds<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    let x = f64::deserialize(d)?;
    if x.is_finite() && x.abs() < 1e15 {
        Ok(x.floor() as i64)
    } else {
        Err(serde::de::Error::custom("exp is not a Unix time"))
    }
}

fn roles_from_string_or_list<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeSet<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Roles {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Option::<Roles>::deserialize(d)? {
        None => BTreeSet::new(),
        Some(Roles::Text(s)) => parse_roles(&s),
        Some(Roles::List(l)) => l
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
    })
}

/// Roles written as ODA writes them, `"general, unige-hpc-full"`: trimmed, empty ones dropped.
pub fn parse_roles(text: &str) -> BTreeSet<String> {
    text.split(',')
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

fn roles_to_string<S: serde::Serializer>(
    roles: &BTreeSet<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&roles.iter().cloned().collect::<Vec<_>>().join(", "))
}

/// A user whose token was verified.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The token's claims.
    pub claims: Claims,
}

impl User {
    /// True when the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.claims.roles.contains(role)
    }
}

/// The keys that sign and check tokens.
#[derive(Clone)]
pub struct Authority {
    hs256: Option<(EncodingKey, DecodingKey)>,
    rs256: Vec<DecodingKey>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Authority")
            .field("hs256", &self.hs256.is_some())
            .field("rs256_keys", &self.rs256.len())
            .finish()
    }
}

impl Authority {
    /// Tokens signed with HS256 by `secret`.
    ///
    /// # Errors
    /// A secret shorter than 16 bytes.
    pub fn hs256(secret: &[u8]) -> Result<Authority> {
        if secret.len() < 16 {
            return Err(Error::service(format!(
                "the token secret is {} bytes long: use at least 16 (e.g. `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        let enc = EncodingKey::from_secret(secret)
            .map_err(|e| Error::service(format!("the token secret: {e}")))?;
        let dec = DecodingKey::from_secret(secret)
            .map_err(|e| Error::service(format!("the token secret: {e}")))?;
        Ok(Authority {
            hs256: Some((enc, dec)),
            rs256: Vec::new(),
        })
    }

    /// Also accepts RS256 tokens signed by the private key of this PEM public key.
    ///
    /// # Errors
    /// A file that is not a PEM RSA public key (named).
    pub fn with_rs256_public_key(mut self, path: &Path) -> Result<Authority> {
        let pem = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| {
            Error::service(format!(
                "{}: not a PEM RSA public key ({e})",
                path.display()
            ))
        })?;
        self.rs256.push(key);
        Ok(self)
    }

    /// Signs `claims` with HS256.
    ///
    /// # Errors
    /// An authority without a secret (RS256 keys only check).
    pub fn issue(&self, claims: &Claims) -> Result<String> {
        let Some((enc, _)) = &self.hs256 else {
            return Err(Error::service(
                "no HS256 secret to sign with (set ODA_SECRET or --secret-file)",
            ));
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, enc)
            .map_err(|e| Error::service(format!("signing the token: {e}")))
    }

    /// Checks `token` at Unix time `now`: signature, then expiry.
    ///
    /// # Errors
    /// [`Error::Unauthorized`]: a malformed or badly signed token, an algorithm this site does
    /// not accept, no `exp`, or an expired token (saying when it expired).
    pub fn verify(&self, token: &str, now: i64) -> Result<User> {
        let refuse = |message: String| Error::Unauthorized {
            message,
            missing_roles: Vec::new(),
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refuse("the token is not a JWT (three base64url parts)".into()))?;
        let keys: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.hs256.iter().map(|(_, d)| d).collect(),
            Algorithm::RS256 => self.rs256.iter().collect(),
            other => {
                return Err(refuse(format!(
                    "the token is signed with {other:?}; this site accepts HS256{}",
                    if self.rs256.is_empty() {
                        ""
                    } else {
                        " and RS256"
                    }
                )));
            }
        };
        if keys.is_empty() {
            return Err(refuse(format!(
                "the token is signed with {:?}, for which this site has no key",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        // Expiry is checked below, to say when the token expired.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp".to_string(), "sub".to_string()].into();
        let mut last = None;
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    let claims = data.claims;
                    if claims.exp <= now {
                        let ago = now - claims.exp;
                        return Err(refuse(format!(
                            "the token expired at {} ({} ago): ask the site for a new one",
                            crate::time::unix_to_isot_utc(claims.exp),
                            human_duration(ago)
                        )));
                    }
                    return Ok(User { claims });
                }
                Err(e) => last = Some(e),
            }
        }
        let why = match last.as_ref().map(|e| e.kind()) {
            Some(jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                "its signature does not match this site's key".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(c)) => {
                format!("it has no {c:?} claim")
            }
            Some(jsonwebtoken::errors::ErrorKind::Json(_)) => {
                "its claims are not ODA's (sub, email, roles, exp)".to_string()
            }
            _ => "it is malformed".to_string(),
        };
        Err(refuse(format!("the token was refused: {why}")))
    }
}

/// `3 h 5 min`, `42 s`, `2 d 4 h`.
fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The number of pointings a request may use: the length of its `scw_list`, else its
/// `max_pointings`.
pub fn pointings(request: &Request) -> usize {
    if request.instrument == crate::query::Instrument::SpiAcs {
        // The shield's rate is not selected by pointing.
        return 0;
    }
    match &request.selection.scw_list {
        Some(list) => list.len(),
        None => request.selection.max_pointings,
    }
}

/// The roles a request needs (ODA's INTEGRAL rules): none up to 50 pointings,
/// [`ROLE_FULL`] above, [`ROLE_FULL`] and [`ROLE_EXTREME`] above 500; [`ROLE_REALTIME`] for
/// SPI-ACS `data_level=realtime`.
///
/// ```
/// use oda::query::Request;
/// use oda::server::required_roles;
/// let r = Request::from_pairs([("product", "isgri_image"), ("src_name", "Crab"),
///     ("T1", "2003-03-15"), ("T2", "2018-03-16"), ("max_pointings", "60")])?;
/// assert_eq!(required_roles(&r), vec!["unige-hpc-full"]);
/// # Ok::<(), oda::Error>(())
/// ```
pub fn required_roles(request: &Request) -> Vec<&'static str> {
    let mut roles = roles_for_pointings(pointings(request));
    if request.is_realtime() {
        roles.push(ROLE_REALTIME);
    }
    roles
}

/// Why `request` needs the roles of [`required_roles`], in words for a refusal.
pub fn roles_reason(request: &Request) -> String {
    if request.is_realtime() {
        "near-real-time SPI-ACS data (data_level=realtime)".to_string()
    } else {
        format!("a request of {} pointings", pointings(request))
    }
}

/// The roles a request of `n` pointings needs (see [`required_roles`]).
pub fn roles_for_pointings(n: usize) -> Vec<&'static str> {
    let mut roles = Vec::new();
    if n > ANONYMOUS_MAX_POINTINGS {
        roles.push(ROLE_FULL);
    }
    if n > FULL_MAX_POINTINGS {
        roles.push(ROLE_EXTREME);
    }
    roles
}

/// Checks that `user` carries every role of `required`.
///
/// # Errors
/// [`Error::Unauthorized`] naming each missing role and why it is needed (`reason`).
pub fn check_roles(user: Option<&User>, required: &[&str], reason: &str) -> Result<()> {
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !user.is_some_and(|u| u.has_role(r)))
        .map(|r| r.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let who = match user {
        Some(u) => format!("the token of {} lacks", u.claims.sub),
        None => "no token was given; it needs".to_string(),
    };
    Err(Error::Unauthorized {
        message: format!(
            "{reason} needs the role{} {}: {who} {}",
            if missing.len() > 1 { "s" } else { "" },
            quoted_list(&missing),
            quoted_list(&missing),
        ),
        missing_roles: missing,
    })
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Where the HS256 secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable [`SECRET_ENV`].
    Environment,
    /// A file named by the administrator.
    File(PathBuf),
    /// The data directory's `server/secret`, made on first start.
    DataDir(PathBuf),
}

/// The site's secret: `secret_file`, else `ODA_SECRET`, else `<data>/server/secret` (created
/// with 32 random bytes, mode 0600, when `create` and missing).
///
/// # Errors
/// An unreadable file; a secret file that others can read (with the chmod that fixes it);
/// no secret and `create` false.
pub fn load_secret(
    data_dir: &Path,
    secret_file: Option<&Path>,
    create: bool,
) -> Result<(Vec<u8>, SecretSource)> {
    // An explicit file wins over the environment: a stale ODA_SECRET must not silently make
    // `oda serve --secret-file F` and `oda token issue --secret-file F` disagree.
    if secret_file.is_none()
        && let Ok(s) = std::env::var(SECRET_ENV)
        && !s.trim().is_empty()
    {
        return Ok((s.trim().as_bytes().to_vec(), SecretSource::Environment));
    }
    let (path, source) = match secret_file {
        Some(p) => (p.to_path_buf(), SecretSource::File(p.to_path_buf())),
        None => {
            let p = data_dir.join("server").join("secret");
            (p.clone(), SecretSource::DataDir(p))
        }
    };
    if !path.exists() {
        if create && secret_file.is_none() {
            make_secret(&path)?;
        } else {
            return Err(Error::service(format!(
                "no token secret: {} does not exist (set {SECRET_ENV}, give --secret-file, or start `oda serve --data {}` once to make one)",
                path.display(),
                data_dir.display()
            )));
        }
    }
    check_private(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
        path: path.clone(),
        source: e,
    })?;
    Ok((text.trim().as_bytes().to_vec(), source))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::service(format!(
            "{} can be read by other users (mode {:o}): run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Writes 32 random bytes (hex) to `path`, mode 0600, atomically.
fn make_secret(path: &Path) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Error::Io { path: p, source: e }
    };
    let mut bytes = [0u8; 32];
    {
        use std::io::Read;
        let mut f = std::fs::File::open("/dev/urandom").map_err(io(Path::new("/dev/urandom")))?;
        f.read_exact(&mut bytes)
            .map_err(io(Path::new("/dev/urandom")))?;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    {
        use std::io::Write;
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(hex.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Parses a duration such as `7d`, `12h`, `30m`, `90s` (or plain seconds).
///
/// # Errors
/// An [`Error::InvalidParameter`] for `name`.
pub fn parse_duration(name: &str, text: &str) -> Result<i64> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 =
        num.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::invalid(name, text, "a positive duration: 90s, 30m, 12h, 7d, 2w")
        })?;
    let scale = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(Error::invalid(
                name,
                text,
                "a positive duration: 90s, 30m, 12h, 7d, 2w",
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| Error::invalid(name, text, "a duration below 10^11 years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(roles: &str, exp: i64) -> Claims {
        Claims {
            sub: "ada@example.org".into(),
            email: "ada@example.org".into(),
            name: "Ada".into(),
            roles: parse_roles(roles),
            exp,
            iat: None,
        }
    }

    #[test]
    fn issued_tokens_verify_with_their_roles() {
        let a = Authority::hs256(SECRET).unwrap();
        let t = a
            .issue(&claims("unige-hpc-full, job manager", 2000))
            .unwrap();
        let u = a.verify(&t, 1000).unwrap();
        assert!(u.has_role("unige-hpc-full"));
        assert!(u.has_role("job manager"));
        assert!(!u.has_role("unige-hpc-extreme"));
    }

    #[test]
    fn expired_tokens_say_when() {
        let a = Authority::hs256(SECRET).unwrap();
        let t = a.issue(&claims("", 1_000_000_000)).unwrap();
        let e = a.verify(&t, 1_000_003_600).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("expired at 2001-09-09T01:46:40Z"), "{m}");
        assert!(m.contains("1 h 0 min ago"), "{m}");
    }

    #[test]
    fn other_secrets_and_garbage_are_refused() {
        let a = Authority::hs256(SECRET).unwrap();
        let b = Authority::hs256(b"another secret of enough length").unwrap();
        let t = b.issue(&claims("", 2000)).unwrap();
        assert!(
            a.verify(&t, 1000)
                .unwrap_err()
                .to_string()
                .contains("signature")
        );
        assert!(a.verify("not.a.jwt", 1000).is_err());
        assert!(a.verify("", 1000).is_err());
        assert!(Authority::hs256(b"short").is_err());
    }

    #[test]
    fn roles_as_oda_writes_them() {
        let c: Claims =
            serde_json::from_str(r#"{"sub": "x@y", "roles": "general, unige-hpc-full", "exp": 5}"#)
                .unwrap();
        assert!(c.roles.contains("unige-hpc-full"));
        let c: Claims =
            serde_json::from_str(r#"{"sub": "x@y", "roles": ["a", " b "], "exp": 5}"#).unwrap();
        assert!(c.roles.contains("b"));
    }

    #[test]
    fn refusals_name_each_missing_role() {
        let e = check_roles(
            None,
            &[ROLE_FULL, ROLE_EXTREME],
            "a request of 600 pointings",
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("'unige-hpc-full' and 'unige-hpc-extreme'"),
            "{m}"
        );
        let u = User {
            claims: claims("unige-hpc-full", 10),
        };
        let e = check_roles(Some(&u), &[ROLE_FULL, ROLE_EXTREME], "x").unwrap_err();
        match e {
            Error::Unauthorized { missing_roles, .. } => {
                assert_eq!(missing_roles, vec!["unige-hpc-extreme".to_string()])
            }
            other => panic!("{other}"),
        }
        assert!(check_roles(Some(&u), &[ROLE_FULL], "x").is_ok());
    }

    #[test]
    fn rs256_tokens_are_checked_with_the_public_key() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt");
        let private = std::fs::read(root.join("rs256-test-private.pem")).unwrap();
        let key = EncodingKey::from_rsa_pem(&private).unwrap();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims("unige-hpc-full", 2000),
            &key,
        )
        .unwrap();
        let hs_only = Authority::hs256(SECRET).unwrap();
        let m = hs_only.verify(&token, 1000).unwrap_err().to_string();
        assert!(m.contains("no key"), "{m}");
        let both = hs_only
            .with_rs256_public_key(&root.join("rs256-test-public.pem"))
            .unwrap();
        assert!(
            both.verify(&token, 1000)
                .unwrap()
                .has_role("unige-hpc-full")
        );
        assert!(
            both.verify(&token, 3000)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        // A token signed with HS256 using the public key as the secret (the classic
        // algorithm-confusion attack) is refused: HS256 is checked with the site's secret only.
        let public = std::fs::read(root.join("rs256-test-public.pem")).unwrap();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("unige-hpc-full", 2000),
            &EncodingKey::from_secret(&public).unwrap(),
        )
        .unwrap();
        assert!(both.verify(&forged, 1000).is_err());
        let bad = Authority::hs256(SECRET)
            .unwrap()
            .with_rs256_public_key(&root.join("README.md"));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("not a PEM RSA public key")
        );
    }

    #[test]
    fn fractional_expiry_is_read() {
        let c: Claims = serde_json::from_str(r#"{"sub": "x@y", "exp": 1700000000.75}"#).unwrap();
        assert_eq!(c.exp, 1_700_000_000);
        assert!(serde_json::from_str::<Claims>(r#"{"sub": "x@y", "exp": "soon"}"#).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--expires", "7d").unwrap(), 604_800);
        assert_eq!(parse_duration("--expires", "90").unwrap(), 90);
        assert_eq!(parse_duration("--expires", "12h").unwrap(), 43_200);
        assert!(parse_duration("--expires", "-1d").is_err());
        assert!(parse_duration("--expires", "3 fortnights").is_err());
    }
}
