//! Versions of the Offline Scientific Analysis (OSA) software and the eras they cover.
//!
//! ODA lets the user pick `osa_version`. Each version carries its own instrument
//! calibration (see [`crate::instrument::calibration::Calibration`]) and is valid for part
//! of the mission only: OSA10.2 before revolution 1626 (early 2016), OSA11.0 from 1626 on,
//! OSA11.2 for the whole mission (the default).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// First revolution of the OSA11 era.
pub const OSA11_FIRST_REVOLUTION: u32 = 1626;

/// An OSA software version.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum OsaVersion {
    /// OSA 10.2: calibrations frozen in 2014; valid before revolution 1626.
    #[serde(rename = "OSA10.2")]
    Osa10_2,
    /// OSA 11.0: valid from revolution 1626 on.
    #[serde(rename = "OSA11.0")]
    Osa11_0,
    /// OSA 11.2: the whole mission (default).
    #[default]
    #[serde(rename = "OSA11.2")]
    Osa11_2,
}

impl OsaVersion {
    /// All versions, oldest first.
    pub const ALL: [OsaVersion; 3] = [
        OsaVersion::Osa10_2,
        OsaVersion::Osa11_0,
        OsaVersion::Osa11_2,
    ];

    /// The version's name as ODA writes it (`OSA11.2`).
    pub fn name(self) -> &'static str {
        match self {
            OsaVersion::Osa10_2 => "OSA10.2",
            OsaVersion::Osa11_0 => "OSA11.0",
            OsaVersion::Osa11_2 => "OSA11.2",
        }
    }

    /// True when this version may analyse revolution `rev`.
    pub fn covers(self, rev: u32) -> bool {
        match self {
            OsaVersion::Osa10_2 => rev < OSA11_FIRST_REVOLUTION,
            OsaVersion::Osa11_0 => rev >= OSA11_FIRST_REVOLUTION,
            OsaVersion::Osa11_2 => true,
        }
    }

    /// A sentence describing the era this version covers.
    pub fn era(self) -> String {
        match self {
            OsaVersion::Osa10_2 => format!(
                "OSA10.2 covers revolutions before {OSA11_FIRST_REVOLUTION} (until early 2016)"
            ),
            OsaVersion::Osa11_0 => format!(
                "OSA11.0 covers revolutions from {OSA11_FIRST_REVOLUTION} on (early 2016 onwards)"
            ),
            OsaVersion::Osa11_2 => "OSA11.2 covers the whole mission".to_string(),
        }
    }

    /// The version to suggest for revolution `rev` when this one does not cover it.
    pub fn suggestion_for(self, rev: u32) -> OsaVersion {
        if self == OsaVersion::Osa10_2 && rev >= OSA11_FIRST_REVOLUTION {
            OsaVersion::Osa11_0
        } else {
            OsaVersion::Osa11_2
        }
    }
}

impl fmt::Display for OsaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OsaVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_uppercase().replace(['_', ' '], "");
        match norm.as_str() {
            "OSA10.2" | "10.2" => Ok(OsaVersion::Osa10_2),
            "OSA11.0" | "11.0" | "OSA11" => Ok(OsaVersion::Osa11_0),
            "OSA11.2" | "11.2" => Ok(OsaVersion::Osa11_2),
            _ => Err(Error::invalid(
                "osa_version",
                s,
                "one of OSA10.2, OSA11.0, OSA11.2",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras() {
        assert!(OsaVersion::Osa10_2.covers(1625) && !OsaVersion::Osa10_2.covers(1626));
        assert!(!OsaVersion::Osa11_0.covers(1625) && OsaVersion::Osa11_0.covers(1626));
        assert!(OsaVersion::Osa11_2.covers(1) && OsaVersion::Osa11_2.covers(2200));
        assert_eq!(
            "osa10.2".parse::<OsaVersion>().unwrap(),
            OsaVersion::Osa10_2
        );
        assert_eq!(OsaVersion::default().to_string(), "OSA11.2");
        let e = "OSA9".parse::<OsaVersion>().unwrap_err();
        assert_eq!(e.parameter(), Some("osa_version"));
        assert!(e.to_string().contains("OSA10.2, OSA11.0, OSA11.2"));
    }
}
