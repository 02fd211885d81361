//! Science Window identifiers, `RRRRPPPPSSSF`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A Science Window identifier: revolution (4 digits), pointing (4), sub-index (3) and
/// type (1; 0 = pointing, 1 = slew). Written as 12 digits, optionally followed by the
/// version suffix `.001` of the consolidated archive.
///
/// ```
/// let id: oda::archive::ScwId = "066500330010.001".parse()?;
/// assert_eq!(id.revolution(), 665);
/// assert_eq!(id.to_string(), "066500330010");
/// assert_eq!(id.with_version(), "066500330010.001");
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScwId {
    revolution: u16,
    pointing: u16,
    sub: u16,
    kind: u8,
}

/// The version suffix of consolidated Science Windows.
pub const SCW_VERSION: &str = "001";

impl ScwId {
    /// An identifier from its parts.
    ///
    /// # Errors
    /// Parts that do not fit their digits (revolution and pointing ≤ 9999, sub-index ≤ 999, type ≤ 9).
    pub fn new(revolution: u32, pointing: u32, sub: u32, kind: u32) -> Result<ScwId> {
        if revolution > 9999 || pointing > 9999 || sub > 999 || kind > 9 {
            return Err(Error::ScienceWindow {
                swid: format!("{revolution}/{pointing}/{sub}/{kind}"),
                reason: "revolution and pointing must be at most 9999, sub-index 999 and type 9"
                    .into(),
            });
        }
        Ok(ScwId {
            revolution: revolution as u16,
            pointing: pointing as u16,
            sub: sub as u16,
            kind: kind as u8,
        })
    }

    /// The revolution number.
    pub fn revolution(&self) -> u32 {
        u32::from(self.revolution)
    }

    /// The pointing number within the revolution.
    pub fn pointing(&self) -> u32 {
        u32::from(self.pointing)
    }

    /// The sub-index.
    pub fn sub(&self) -> u32 {
        u32::from(self.sub)
    }

    /// True for a pointing (type 0) Science Window.
    pub fn is_pointing(&self) -> bool {
        self.kind == 0
    }

    /// The identifier with its version suffix, as used in directory names and `scw_list`.
    pub fn with_version(&self) -> String {
        format!("{self}.{SCW_VERSION}")
    }

    /// The revolution directory name, `RRRR`.
    pub fn revolution_dir(&self) -> String {
        format!("{:04}", self.revolution)
    }
}

impl fmt::Display for ScwId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:04}{:03}{}",
            self.revolution, self.pointing, self.sub, self.kind
        )
    }
}

impl FromStr for ScwId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let bad = |reason: &str| Error::ScienceWindow {
            swid: s.to_string(),
            reason: format!(
                "{reason}; a ScW id is 12 digits RRRRPPPPSSSF, optionally with a version suffix .VVV"
            ),
        };
        let (digits, version) = match t.split_once('.') {
            Some((d, v)) => (d, Some(v)),
            None => (t, None),
        };
        if let Some(v) = version
            && (v.len() != 3 || !v.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("the version suffix must be 3 digits"));
        }
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("malformed identifier"));
        }
        let num = |r: std::ops::Range<usize>| {
            digits[r]
                .parse::<u32>()
                .map_err(|_| bad("malformed identifier"))
        };
        ScwId::new(num(0..4)?, num(4..8)?, num(8..11)?, num(11..12)?)
    }
}

impl Serialize for ScwId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScwId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let id: ScwId = "155400120010".parse().unwrap();
        assert_eq!((id.revolution(), id.pointing(), id.sub()), (1554, 12, 1));
        assert!(id.is_pointing());
        assert_eq!(id.revolution_dir(), "1554");
        assert!(!"155400120011".parse::<ScwId>().unwrap().is_pointing());
        for bad in [
            "",
            "15540012001",
            "1554001200100",
            "15540012001x",
            "155400120010.01",
            "155400120010.abc",
        ] {
            let e = bad.parse::<ScwId>().unwrap_err();
            assert!(e.to_string().contains("RRRRPPPPSSSF"), "{e}");
        }
        assert!(ScwId::new(10_000, 0, 0, 0).is_err());
    }

    #[test]
    fn ordering_is_chronological() {
        let a: ScwId = "015500120010".parse().unwrap();
        let b: ScwId = "155400020010".parse().unwrap();
        assert!(a < b);
    }
}
