//! Instruments of INTEGRAL: the geometry of a coded-mask telescope ([`coded_mask`]), IBIS/ISGRI
//! as designed ([`isgri`]), JEM-X's two units ([`jemx`]), the responses spectra carry
//! ([`response`]), the calibration the analysis reads from the archive ([`calibration`]), and the
//! SPI anti-coincidence shield as a burst monitor ([`spiacs`]).
pub mod calibration;
pub mod coded_mask;
pub mod isgri;
pub mod jemx;
pub mod response;
pub mod spiacs;

use serde::{Deserialize, Serialize};

/// The detector that recorded a dataset: what its files name in `INSTRUME` and `DETNAM`, and
/// the extension its spectra are written in (OSA's names).
///
/// ```
/// use oda::instrument::Detector;
/// use oda::instrument::jemx::JemxUnit;
/// assert_eq!(Detector::Isgri.instrume(), "IBIS");
/// assert_eq!(Detector::Jemx(JemxUnit::Jmx1).instrume(), "JMX1");
/// assert_eq!(Detector::Jemx(JemxUnit::Jmx2).spectrum_extname(), "JMX2-PHA1-SPE");
/// assert_eq!(Detector::Isgri.spectrum_extname(), "SPECTRUM");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Detector {
    /// IBIS/ISGRI.
    #[default]
    Isgri,
    /// One of JEM-X's two units.
    Jemx(jemx::JemxUnit),
}

impl Detector {
    /// The FITS `INSTRUME` value: `IBIS`, `JMX1`, `JMX2`.
    pub fn instrume(&self) -> &'static str {
        match self {
            Detector::Isgri => "IBIS",
            Detector::Jemx(unit) => unit.name(),
        }
    }

    /// The FITS `DETNAM` value: `ISGRI`, `JMX1`, `JMX2`.
    pub fn detnam(&self) -> &'static str {
        match self {
            Detector::Isgri => "ISGRI",
            Detector::Jemx(unit) => unit.name(),
        }
    }

    /// The extension of a single spectrum: OGIP's `SPECTRUM` for ISGRI (as ODA serves it), OSA's
    /// `JMXn-PHA1-SPE` for JEM-X.
    pub fn spectrum_extname(&self) -> String {
        match self {
            Detector::Isgri => "SPECTRUM".to_string(),
            Detector::Jemx(unit) => format!("{}-PHA1-SPE", unit.name()),
        }
    }

    /// The band of the energy flux a fit reports, keV: 30–300 keV for ISGRI, JEM-X's default
    /// 3–20 keV.
    pub fn flux_band_kev(&self) -> (f64, f64) {
        match self {
            Detector::Isgri => (30.0, 300.0),
            Detector::Jemx(_) => jemx::DEFAULT_BAND_KEV,
        }
    }

    /// The detector whose `INSTRUME` (and, for IBIS, `DETNAM`) a file names, if it is one of
    /// these.
    pub fn from_keywords(instrume: &str, detnam: Option<&str>) -> Option<Detector> {
        match instrume.trim().to_ascii_uppercase().as_str() {
            "IBIS" | "ISGRI" if detnam.is_none_or(|d| d.trim().eq_ignore_ascii_case("ISGRI")) => {
                Some(Detector::Isgri)
            }
            "JMX1" | "JEMX1" => Some(Detector::Jemx(jemx::JemxUnit::Jmx1)),
            "JMX2" | "JEMX2" => Some(Detector::Jemx(jemx::JemxUnit::Jmx2)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detector::Isgri => f.write_str("ISGRI"),
            Detector::Jemx(unit) => write!(f, "JEM-X{}", unit.number()),
        }
    }
}
