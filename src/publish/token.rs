//! The access token: from `ODA_PUBLISH_TOKEN`, or from the user's token file, which others must
//! not be able to read. It never appears in logs, errors or the journal.

use std::path::{Path, PathBuf};

use super::target::Target;
use crate::error::{Error, PublishErrorKind, Result};

/// A repository access token. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// A token from its text (surrounding white space removed).
    ///
    /// # Errors
    /// An empty token, or one with characters an HTTP header cannot carry.
    pub fn new(text: impl AsRef<str>) -> Result<Token> {
        let t = text.as_ref().trim();
        if t.is_empty() || !t.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(Error::publish(
                PublishErrorKind::Token,
                "the access token is empty or has spaces or control characters (paste it again from the repository's applications page)",
            ));
        }
        Ok(Token(t.to_string()))
    }

    /// The token's text, for the `Authorization` header only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    /// The default token file: `$XDG_CONFIG_HOME/oda/publish-tokens.toml`
    /// (`~/.config/oda/publish-tokens.toml`).
    pub fn default_file() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("oda").join("publish-tokens.toml"))
    }

    /// The token for `target`: `ODA_PUBLISH_TOKEN` if set, else the entry named after the
    /// target (`zenodo`, `zenodo-sandbox`, or the base URL) in the token file:
    ///
    /// ```toml
    /// zenodo-sandbox = "..."
    /// zenodo = "..."
    /// "https://inveniordm.example.org" = "..."
    /// ```
    ///
    /// # Errors
    /// [`PublishErrorKind::Token`]: no token anywhere (saying where to put one), a token file
    /// that others can read or write (refused, with the `chmod` that fixes it), or one without
    /// an entry for the target.
    pub fn for_target(target: &Target) -> Result<Token> {
        if let Some(t) = std::env::var_os("ODA_PUBLISH_TOKEN").filter(|v| !v.is_empty()) {
            return Token::new(t.to_string_lossy());
        }
        match Token::default_file() {
            Some(file) if file.exists() => Token::from_file(&file, target),
            file => Err(Error::publish(
                PublishErrorKind::Token,
                format!(
                    "no access token for {}: set ODA_PUBLISH_TOKEN, or put `{} = \"TOKEN\"` in {} \
                     (mode 600); make the token on the server's applications page with the \
                     scopes deposit:write and deposit:actions",
                    target.name(),
                    toml_key(&target.name()),
                    file.map_or_else(
                        || "~/.config/oda/publish-tokens.toml".to_string(),
                        |f| f.display().to_string()
                    )
                ),
            )),
        }
    }

    /// The token for `target` from the token file `path` (see [`Token::for_target`]).
    ///
    /// # Errors
    /// As [`Token::for_target`].
    pub fn from_file(path: &Path, target: &Target) -> Result<Token> {
        check_private(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            // toml's message quotes the offending line, which may hold a token: keep only
            // where it is.
            let place = e
                .span()
                .map(|s| format!(" near byte {}", s.start))
                .unwrap_or_default();
            Error::publish(
                PublishErrorKind::Token,
                format!(
                    "{} is not a TOML table of target = \"token\" lines{place}",
                    path.display()
                ),
            )
        })?;
        match table.get(&target.name()).and_then(|v| v.as_str()) {
            Some(t) => Token::new(t),
            None => Err(Error::publish(
                PublishErrorKind::Token,
                format!(
                    "{} has no token for {} (add `{} = \"TOKEN\"`; it has entries for: {})",
                    path.display(),
                    target.name(),
                    toml_key(&target.name()),
                    table.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
}

/// A TOML key for `name` (quoted when it is a URL).
fn toml_key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// Refuses a token file that its owner's group or others can read or write.
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::publish(
            PublishErrorKind::Token,
            format!(
                "{} can be read by others (mode {mode:03o}): a token there is not secret; \
                 run `chmod 600 {}` (and make a new token if others may have read it)",
                path.display(),
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn token_is_never_shown() {
        let t = Token::new(" s3cr3t-T0KEN ").unwrap();
        assert_eq!(t.secret(), "s3cr3t-T0KEN");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert!(Token::new("a b").is_err() && Token::new("").is_err());
    }

    #[test]
    fn token_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("publish-tokens.toml");
        std::fs::write(
            &file,
            "zenodo-sandbox = \"s3cr3t\"\n\"http://127.0.0.1:9\" = \"loc\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Token::from_file(&file, &Target::ZenodoSandbox).unwrap_err();
        assert_eq!(e.publish_kind(), Some(PublishErrorKind::Token));
        let m = e.to_string();
        assert!(
            m.contains("mode 644") && m.contains("chmod 600") && !m.contains("s3cr3t"),
            "{m}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            Token::from_file(&file, &Target::ZenodoSandbox)
                .unwrap()
                .secret(),
            "s3cr3t"
        );
        let local = Target::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(Token::from_file(&file, &local).unwrap().secret(), "loc");
        let m = Token::from_file(&file, &Target::Zenodo)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("no token for zenodo") && !m.contains("s3cr3t"),
            "{m}"
        );
        std::fs::write(&file, "zenodo = s3cr3t-unquoted\n").unwrap();
        let m = Token::from_file(&file, &Target::Zenodo)
            .unwrap_err()
            .to_string();
        assert!(!m.contains("s3cr3t"), "{m}");
    }
}
