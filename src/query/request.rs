//! The typed ODA request ([`Request`]): one product, its data selection and its analysis
//! settings, in ODA's parameter names; validation, defaults, canonical parameters and the code
//! that reproduces a request. The documentation is on [`Request`] (this module is re-exported
//! by `oda::query`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::catalog_json::{catalog_from_oda_json, catalog_to_oda_json};
use crate::analysis::catalog::Catalog;
use crate::analysis::shadowgram::{EnergyBand, ISGRI_BAND_LIMITS};
use crate::archive::{
    DEFAULT_MAX_POINTINGS, DEFAULT_RADIUS_DEG, SELECTION_KEYS, ScwId, ScwSelection,
};
use crate::error::{Error, Result};
use crate::fit::ModelKind;
use crate::osa::OsaVersion;
use crate::sky::ReferenceCatalog;
use crate::time::{Time, TimeFormat};

/// Default lower edge of the imaging band, keV (ODA's).
pub const DEFAULT_E1_KEV: f64 = 20.0;
/// Default upper edge of the imaging band, keV (ODA's).
pub const DEFAULT_E2_KEV: f64 = 40.0;
/// Default detection threshold, σ (ODA's).
pub const DEFAULT_DETECTION_THRESHOLD: f64 = 7.0;
/// Default light-curve bin, s (ODA's `time_bin=1000`, `time_bin_format=sec`).
pub const DEFAULT_TIME_BIN_S: f64 = 1000.0;
/// Shortest light-curve bin accepted, s.
pub const MIN_TIME_BIN_S: f64 = 1.0;
/// Longest light-curve bin accepted, s (about 32 years: longer than the mission).
pub const MAX_TIME_BIN_S: f64 = 1e9;
/// Longest JEM-X light-curve bin accepted, s (ODA's limit for `jemx_lc`).
pub const MAX_JEMX_TIME_BIN_S: f64 = 20_000.0;
/// Default search radius of JEM-X requests, degrees (ODA's: JEM-X's field is 4.8° across,
/// fully coded).
pub const DEFAULT_JEMX_RADIUS_DEG: f64 = 4.0;
/// Default JEM-X unit (ODA's `jemx_num=2`).
pub const DEFAULT_JEMX_NUM: u8 = 2;
/// The ODA dispatcher the Python snippets of [`Request::to_python_code`] talk to.
pub const ODA_DISPATCHER_URL: &str = "https://www.astro.unige.ch/mmoda/dispatch-data";

/// Default SPI-ACS light-curve bin, s (two of the shield's 50 ms bins, as ODA's own SPI-ACS
/// files: `../shared/fixtures/spiacs_grb230307a_lc.fits`).
pub const DEFAULT_ACS_TIME_BIN_S: f64 = 0.1;
/// Longest SPI-ACS light curve, s (ten days).
pub const MAX_ACS_SPAN_S: f64 = 10.0 * 86_400.0;
/// Most bins in one SPI-ACS light curve (one day of 50 ms bins).
pub const MAX_ACS_BINS: usize = 1_728_000;

/// The request parameters, in ODA's names (`product_type` is accepted as an alias of `product`).
pub const REQUEST_PARAMETERS: [&str; 21] = [
    "instrument",
    "product",
    "src_name",
    "RA",
    "DEC",
    "radius",
    "T1",
    "T2",
    "T_format",
    "E1_keV",
    "E2_keV",
    "osa_version",
    "detection_threshold",
    "time_bin",
    "time_bin_format",
    "max_pointings",
    "scw_list",
    "selected_catalog",
    "xspec_model",
    "data_level",
    "jemx_num",
];

/// Fields of ODA's dispatcher protocol, accepted by [`Request::from_pairs`] and ignored.
pub const PROTOCOL_FIELDS: [&str; 13] = [
    "query_type",
    "query_status",
    "session_id",
    "job_id",
    "token",
    "api",
    "oda_api_version",
    "off_line",
    "verbose",
    "integral_data_rights",
    "catalog_selected_objects",
    "dry_run",
    "return_progress",
];

/// An instrument ODA serves (ODA's `instrument` parameter).
///
/// ```
/// use oda::query::{Instrument, ProductType};
/// let i: Instrument = "SPI_ACS".parse()?;
/// assert_eq!(i, Instrument::SpiAcs);
/// assert_eq!(i.name(), "spi_acs");
/// assert_eq!(i.products(), vec![ProductType::SpiAcsLc]);
/// assert_eq!(ProductType::IsgriLc.instrument(), Instrument::Isgri);
/// // spectral_fit fits ISGRI or JEM-X spectra:
/// assert!(Instrument::Jemx.products().contains(&ProductType::SpectralFit));
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// IBIS/ISGRI, the coded-mask imager (15 keV – 1 MeV).
    #[default]
    Isgri,
    /// JEM-X, the X-ray monitor (3–35 keV), one of its two units (`jemx_num`).
    Jemx,
    /// The anti-coincidence shield of SPI: the whole sky's count rate above ~80 keV.
    SpiAcs,
}

impl Instrument {
    const ALL: [Instrument; 3] = [Instrument::Isgri, Instrument::Jemx, Instrument::SpiAcs];

    /// Every instrument served.
    pub fn all() -> &'static [Instrument] {
        &Self::ALL
    }

    /// ODA's name (`isgri`, `jemx`, `spi_acs`).
    pub fn name(&self) -> &'static str {
        match self {
            Instrument::Isgri => "isgri",
            Instrument::Jemx => "jemx",
            Instrument::SpiAcs => "spi_acs",
        }
    }

    /// The products of this instrument.
    pub fn products(&self) -> Vec<ProductType> {
        // Its own products first, then those it shares (spectral_fit).
        let own = ProductType::ALL
            .into_iter()
            .filter(|p| p.instruments() == [*self]);
        let shared = ProductType::ALL
            .into_iter()
            .filter(|p| p.instruments().len() > 1 && p.instruments().contains(self));
        own.chain(shared).collect()
    }

    /// The energy range of its bands, keV, and the default band (none for SPI-ACS).
    pub fn band_limits_kev(&self) -> Option<((f64, f64), (f64, f64))> {
        match self {
            Instrument::Isgri => Some((ISGRI_BAND_LIMITS, (DEFAULT_E1_KEV, DEFAULT_E2_KEV))),
            Instrument::Jemx => Some((
                crate::instrument::jemx::BAND_LIMITS_KEV,
                crate::instrument::jemx::DEFAULT_BAND_KEV,
            )),
            Instrument::SpiAcs => None,
        }
    }

    /// Its name in messages (`ISGRI`, `JEM-X`, `SPI-ACS`).
    pub fn label(&self) -> &'static str {
        match self {
            Instrument::Isgri => "ISGRI",
            Instrument::Jemx => "JEM-X",
            Instrument::SpiAcs => "SPI-ACS",
        }
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Instrument {
    type Err = Error;
    fn from_str(s: &str) -> Result<Instrument> {
        let t = s.trim();
        Instrument::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let names: Vec<&str> = Instrument::ALL.iter().map(|i| i.name()).collect();
                Error::invalid("instrument", s, format!("one of {}", names.join(", ")))
            })
    }
}
/// What the client's `product_type=` means (ODA's `query_type`), when it is not a product.
const QUERY_TYPES: [&str; 2] = ["real", "dummy"];

/// The product an ODA request asks for (ODA names: `isgri_image`, `isgri_spectrum`, `isgri_lc`,
/// `spectral_fit`).
///
/// ```
/// use oda::query::ProductType;
/// let p: ProductType = "isgri_lc".parse()?;
/// assert_eq!(p, ProductType::IsgriLc);
/// assert_eq!(p.to_string(), "isgri_lc");
/// let e = "isgri_mosaic".parse::<ProductType>().unwrap_err();
/// assert_eq!(e.parameter(), Some("product"));
/// assert!(e.to_string().contains("isgri_image, isgri_spectrum, isgri_lc, spectral_fit"));
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProductType {
    /// A mosaic sky image with its source catalog (`isgri_image`).
    #[serde(rename = "isgri_image")]
    IsgriImage,
    /// Spectra of the catalog sources (`isgri_spectrum`).
    #[serde(rename = "isgri_spectrum")]
    IsgriSpectrum,
    /// Light curves of the catalog sources (`isgri_lc`).
    #[serde(rename = "isgri_lc")]
    IsgriLc,
    /// Spectra fitted with an XSPEC model (`spectral_fit`).
    #[serde(rename = "spectral_fit")]
    SpectralFit,
    /// The SPI-ACS count rate with a burst search (`spi_acs_lc`).
    #[serde(rename = "spi_acs_lc")]
    SpiAcsLc,
    /// A JEM-X mosaic with its source catalog (`jemx_image`).
    #[serde(rename = "jemx_image")]
    JemxImage,
    /// JEM-X spectra of the catalog sources in the 16 standard channels (`jemx_spectrum`).
    #[serde(rename = "jemx_spectrum")]
    JemxSpectrum,
    /// JEM-X light curves of the catalog sources (`jemx_lc`).
    #[serde(rename = "jemx_lc")]
    JemxLc,
}

impl ProductType {
    const ALL: [ProductType; 8] = [
        ProductType::IsgriImage,
        ProductType::IsgriSpectrum,
        ProductType::IsgriLc,
        ProductType::SpectralFit,
        ProductType::JemxImage,
        ProductType::JemxSpectrum,
        ProductType::JemxLc,
        ProductType::SpiAcsLc,
    ];

    /// All products.
    pub fn all() -> &'static [ProductType] {
        &Self::ALL
    }

    /// ODA's name (`isgri_image`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ProductType::IsgriImage => "isgri_image",
            ProductType::IsgriSpectrum => "isgri_spectrum",
            ProductType::IsgriLc => "isgri_lc",
            ProductType::SpectralFit => "spectral_fit",
            ProductType::SpiAcsLc => "spi_acs_lc",
            ProductType::JemxImage => "jemx_image",
            ProductType::JemxSpectrum => "jemx_spectrum",
            ProductType::JemxLc => "jemx_lc",
        }
    }

    /// The instrument whose product this is (ISGRI for `spectral_fit`, which JEM-X has too:
    /// see [`ProductType::instruments`]).
    pub fn instrument(&self) -> Instrument {
        match self {
            ProductType::SpiAcsLc => Instrument::SpiAcs,
            ProductType::JemxImage | ProductType::JemxSpectrum | ProductType::JemxLc => {
                Instrument::Jemx
            }
            _ => Instrument::Isgri,
        }
    }

    /// Every instrument with this product: `spectral_fit` is ISGRI's and JEM-X's.
    pub fn instruments(&self) -> &'static [Instrument] {
        match self {
            ProductType::SpectralFit => &[Instrument::Isgri, Instrument::Jemx],
            ProductType::SpiAcsLc => &[Instrument::SpiAcs],
            ProductType::JemxImage | ProductType::JemxSpectrum | ProductType::JemxLc => {
                &[Instrument::Jemx]
            }
            _ => &[Instrument::Isgri],
        }
    }

    /// True for the sky images (`isgri_image`, `jemx_image`).
    pub fn is_image(&self) -> bool {
        matches!(self, ProductType::IsgriImage | ProductType::JemxImage)
    }

    /// True for the spectra and the fit of one (`isgri_spectrum`, `jemx_spectrum`,
    /// `spectral_fit`).
    pub fn is_spectral(&self) -> bool {
        matches!(
            self,
            ProductType::IsgriSpectrum | ProductType::JemxSpectrum | ProductType::SpectralFit
        )
    }

    /// True for light curves (`isgri_lc`, `jemx_lc`, `spi_acs_lc`).
    pub fn is_light_curve(&self) -> bool {
        matches!(
            self,
            ProductType::IsgriLc | ProductType::JemxLc | ProductType::SpiAcsLc
        )
    }

    /// The parameters this product of its [`instrument`](Self::instrument) can use (besides
    /// `instrument` and `product`), in the order of [`REQUEST_PARAMETERS`]: what ODA's
    /// `/api/par-names` lists.
    pub fn parameter_names(&self) -> Vec<&'static str> {
        self.parameter_names_for(self.instrument())
    }

    /// The parameters this product of `instrument` can use (`spectral_fit` of JEM-X uses
    /// `jemx_num`).
    pub fn parameter_names_for(&self, instrument: Instrument) -> Vec<&'static str> {
        REQUEST_PARAMETERS
            .iter()
            .copied()
            .filter(|n| !matches!(*n, "instrument" | "product"))
            .filter(|n| product_unused(instrument, *self, n).is_none())
            .collect()
    }
}

impl fmt::Display for ProductType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProductType {
    type Err = Error;
    fn from_str(s: &str) -> Result<ProductType> {
        let t = s.trim();
        ProductType::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::invalid("product", s, product_allowed()))
    }
}

fn product_allowed() -> String {
    let names: Vec<&str> = ProductType::ALL.iter().map(|p| p.name()).collect();
    format!("one of {}", names.join(", "))
}

/// Why `product` of `instrument` never uses parameter `name`, if it does not.
fn product_unused(instrument: Instrument, product: ProductType, name: &str) -> Option<String> {
    if product == ProductType::SpiAcsLc {
        // The shield sees the whole sky at once: a light curve needs only its time span.
        let used = matches!(
            name,
            "T1" | "T2" | "T_format" | "time_bin" | "time_bin_format" | "data_level"
        );
        return (!used).then(|| {
            format!(
                "{name} is not used by {product} (the SPI-ACS rate is the whole shield's: no position, energy band or Science Window selection) and was ignored"
            )
        });
    }
    let unused = match name {
        "time_bin" | "time_bin_format" => !product.is_light_curve(),
        "xspec_model" => product != ProductType::SpectralFit,
        "data_level" => true,
        "jemx_num" => instrument != Instrument::Jemx,
        _ => false,
    };
    unused.then(|| {
        if product == ProductType::SpectralFit && name == "jemx_num" {
            format!("{name} is not used by {product} of {instrument} and was ignored")
        } else {
            format!("{name} is not used by {product} and was ignored")
        }
    })
}

/// An ODA request for one ISGRI product: validated, with ODA's defaults filled in.
///
/// A request is what an ODA user asks for, in ODA's parameter names: `product` (or
/// `product_type`, as the `oda_api` client sends it), the selection of Science Windows (`src_name`,
/// `RA`, `DEC`, `radius`, `T1`, `T2`, `T_format`, `max_pointings`, `scw_list`, `osa_version`), the
/// imaging band `E1_keV`–`E2_keV`, `detection_threshold`, `time_bin`/`time_bin_format`,
/// `selected_catalog` and `xspec_model`. There is one validation path,
/// [`Request::from_pairs`]; the typed [`RequestBuilder`] goes through it.
///
/// ```
/// use oda::query::{ProductType, Request};
/// let request = Request::builder(ProductType::IsgriImage)
///     .src_name("Crab")
///     .time_range("2003-03-15", "2018-03-16")
///     .energy_band(25.0, 80.0)
///     .max_pointings(10)
///     .build()?;
/// assert_eq!(request.band.e1, 25.0);
/// assert_eq!(request.detection_threshold, 7.0); // ODA's default
/// assert_eq!(request.to_url_query(),
///     "instrument=isgri&product_type=isgri_image&query_type=Real&E1_keV=25&E2_keV=80\
///      &T1=2003-03-15&T2=2018-03-16&max_pointings=10&src_name=Crab");
/// // The same request, as ODA's dispatcher receives it:
/// let same = Request::from_pairs([("instrument", "isgri"), ("product_type", "isgri_image"),
///     ("query_type", "Real"), ("src_name", "Crab"), ("T1", "2003-03-15"), ("T2", "2018-03-16"),
///     ("E1_keV", "25"), ("E2_keV", "80.0"), ("max_pointings", "10")])?;
/// assert_eq!(same, request);
/// let err = Request::from_pairs([("product", "isgri_image"), ("src_name", "Crab"),
///     ("T1", "2003-03-15"), ("T2", "2018-03-16"), ("E1_kev", "25")]).unwrap_err();
/// assert!(err.to_string().contains("did you mean E1_keV?"));
/// # Ok::<(), oda::Error>(())
/// ```
///
/// # Which parameters each product uses
///
/// | parameter | `isgri_image` | `isgri_spectrum`, `spectral_fit` | `isgri_lc` |
/// |---|---|---|---|
/// | selection (`src_name` … `osa_version`) | yes | yes | yes |
/// | `E1_keV`, `E2_keV` (20, 40) | the image band | the imaging band that finds the catalog; unused with a `selected_catalog` | the light-curve band (and the imaging band) |
/// | `detection_threshold` (7 σ) | yes | unused with a `selected_catalog` | unused with a `selected_catalog` |
/// | `selected_catalog` | sources added to those detected | the sources extracted | the sources extracted |
/// | `time_bin`, `time_bin_format` (1000, `sec`) | unused | unused | yes |
/// | `xspec_model` (`powerlaw`) | unused | `spectral_fit` only | unused |
///
/// An image always searches its mosaic for sources (at `detection_threshold`); the spectrum,
/// light-curve and fit products build their catalog from an image in `E1_keV`–`E2_keV` at
/// `detection_threshold` unless a `selected_catalog` is given (as ODA does;
/// [`Request::requires_catalog_from_image`]). With a `scw_list`, `radius`, `max_pointings`,
/// `T1`, `T2` and `T_format` are unused; without `T1`/`T2`, `T_format` is unused.
///
/// A given parameter that the request does not use is still validated, is reported in
/// [`Request::warnings`], does not change the request's settings (the field keeps its default)
/// and is left out of [`Request::parameters`]. ODA's protocol fields (`query_type`,
/// `session_id`, `job_id`, `token`, … see [`PROTOCOL_FIELDS`]) are accepted and ignored.
///
/// # Normalisation
/// Values are kept in a canonical spelling: numbers (and MJD/IJD times) in Rust's shortest
/// round-trip form (`20.0` → `20`), `osa_version` as `OSA11.2`, `T_format` and
/// `time_bin_format` in lower case, `xspec_model` by its XSPEC name (`po` → `powerlaw`),
/// `scw_list` sorted, deduplicated and with the version suffix (`066500230010.001`),
/// `src_name` as the reference catalog spells it when the position is resolved from it, and
/// `selected_catalog` as re-written by [`catalog_to_oda_json`]. Two requests that differ only
/// in spelling therefore have the same [`Request::parameters`]. `Display` writes the request
/// as [`Request::to_url_query`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The instrument (`instrument`; the product's own when not given).
    #[serde(default)]
    pub instrument: Instrument,
    /// The product asked for.
    pub product: ProductType,
    /// The Science Window selection (`src_name`, `RA`, `DEC`, `radius`, `T1`, `T2`,
    /// `T_format`, `max_pointings`, `scw_list`, `osa_version`).
    pub selection: ScwSelection,
    /// `E1_keV`–`E2_keV` (default 20–40 keV): the image band; for `isgri_lc` also the
    /// light-curve band; for `isgri_spectrum` and `spectral_fit` the band of the image that
    /// finds the catalog.
    pub band: EnergyBand,
    /// `detection_threshold`, σ (default 7).
    pub detection_threshold: f64,
    /// The light-curve bin in seconds, from `time_bin` (default 1000) in `time_bin_format`
    /// units (`sec`, the default, or `jd`, days); within [`MIN_TIME_BIN_S`]–[`MAX_TIME_BIN_S`].
    pub time_bin_s: f64,
    /// `selected_catalog`: the sources to use instead of those found in an image.
    pub selected_catalog: Option<Catalog>,
    /// `xspec_model` (default `powerlaw`).
    pub xspec_model: ModelKind,
    /// Remarks on the request, e.g. given parameters that the product does not use.
    pub warnings: Vec<String>,
    /// The given parameters (except `instrument` and `product`), normalised.
    given: BTreeMap<String, String>,
}

/// A parameter number: finite, or an error with `allowed`.
fn number(name: &str, raw: &str, allowed: &str) -> Result<f64> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::invalid(name, raw, allowed))
}

/// The default value of parameter `name` of `product` of `instrument`, in canonical spelling
/// (`None` for parameters without one: `src_name`, `RA`, `T1`, …).
///
/// ```
/// use oda::query::{Instrument, ProductType, default_parameter};
/// assert_eq!(default_parameter(Instrument::Jemx, ProductType::JemxImage, "E2_keV").as_deref(), Some("20"));
/// assert_eq!(default_parameter(Instrument::Isgri, ProductType::IsgriImage, "radius").as_deref(), Some("15"));
/// assert_eq!(default_parameter(Instrument::Jemx, ProductType::SpectralFit, "radius").as_deref(), Some("4"));
/// ```
pub fn default_parameter(
    instrument: Instrument,
    product: ProductType,
    name: &str,
) -> Option<String> {
    default_value(instrument, product, name)
}

/// The default value of a parameter of `product` of `instrument`, in canonical spelling.
fn default_value(instrument: Instrument, product: ProductType, name: &str) -> Option<String> {
    let band = instrument.band_limits_kev().map(|(_, d)| d);
    Some(match name {
        "time_bin" if product == ProductType::SpiAcsLc => DEFAULT_ACS_TIME_BIN_S.to_string(),
        "data_level" => "ordinary".to_string(),
        "radius" if instrument == Instrument::Jemx => DEFAULT_JEMX_RADIUS_DEG.to_string(),
        "E1_keV" if band.is_some() => band.map_or(DEFAULT_E1_KEV, |b| b.0).to_string(),
        "E2_keV" if band.is_some() => band.map_or(DEFAULT_E2_KEV, |b| b.1).to_string(),
        "jemx_num" => DEFAULT_JEMX_NUM.to_string(),
        "radius" => DEFAULT_RADIUS_DEG.to_string(),
        "max_pointings" => DEFAULT_MAX_POINTINGS.to_string(),
        "osa_version" => OsaVersion::default().name().to_string(),
        "T_format" => TimeFormat::default().to_string(),
        "E1_keV" => DEFAULT_E1_KEV.to_string(),
        "E2_keV" => DEFAULT_E2_KEV.to_string(),
        "detection_threshold" => DEFAULT_DETECTION_THRESHOLD.to_string(),
        "time_bin" => DEFAULT_TIME_BIN_S.to_string(),
        "time_bin_format" => "sec".to_string(),
        "xspec_model" => ModelKind::PowerLaw.xspec_name().to_string(),
        _ => return None,
    })
}

/// Why the request (instrument, product and given parameters) does not use parameter `name`,
/// if it does not.
fn unused_reason(
    instrument: Instrument,
    product: ProductType,
    given: &BTreeMap<String, String>,
    name: &str,
) -> Option<String> {
    if let Some(reason) = product_unused(instrument, product, name) {
        return Some(reason);
    }
    let has_catalog = given.contains_key("selected_catalog");
    match name {
        "detection_threshold" if has_catalog && !product.is_image() => Some(format!(
            "{name} is not used by {product} when a selected_catalog is given (no image is searched for sources) and was ignored"
        )),
        "E1_keV" | "E2_keV" if has_catalog && product.is_spectral() => Some(format!(
            "{name} is the band of the image that finds the catalog, not used by {product} when a selected_catalog is given, and was ignored"
        )),
        // A scw_list replaces the whole time and position selection: these do not change the
        // product, so they stay out of its identity.
        "radius" | "max_pointings" | "T1" | "T2" | "T_format" if given.contains_key("scw_list") => {
            Some(format!(
                "{name} is not used when a scw_list is given and was ignored"
            ))
        }
        "T_format" if !(given.contains_key("T1") || given.contains_key("T2")) => Some(format!(
            "{name} is not used without T1 or T2 and was ignored"
        )),
        _ => None,
    }
}

/// Close known names to `name`, for "did you mean" (best first).
fn suggestions(name: &str) -> Vec<&'static str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let lower = name.to_lowercase();
    let squashed = squash(name);
    let mut scored: Vec<(f64, &'static str)> = REQUEST_PARAMETERS
        .iter()
        .chain(["product_type"].iter())
        .chain(PROTOCOL_FIELDS.iter())
        .map(|&known| {
            let score = if squash(known) == squashed {
                2.0
            } else {
                strsim::jaro_winkler(&known.to_lowercase(), &lower)
            };
            (score, known)
        })
        .filter(|(s, _)| *s >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    if scored.first().is_some_and(|(s, _)| *s > 1.0) {
        // The same name but for case and separators: that one only.
        scored.truncate(1);
    }
    scored.into_iter().take(2).map(|(_, n)| n).collect()
}

fn unknown_parameter(name: &str, value: &str) -> Error {
    let hint = match suggestions(name).as_slice() {
        [] => String::new(),
        s => format!(" (did you mean {}?)", s.join(" or ")),
    };
    Error::invalid(
        name,
        value,
        format!(
            "not a parameter of ODA requests{hint}; the parameters are: {}, product_type (alias of product); protocol fields, accepted and ignored: {}",
            REQUEST_PARAMETERS.join(", "),
            PROTOCOL_FIELDS.join(", ")
        ),
    )
}

/// Normalises the value of the known parameter `name` (other than `instrument`/`product`).
fn normalise(name: &str, raw: &str) -> Result<String> {
    let degrees = |allowed: &str| number(name, raw, allowed).map(|v| v.to_string());
    Ok(match name {
        "src_name" => {
            let t = raw.trim();
            if t.is_empty() {
                return Err(Error::invalid(
                    name,
                    raw,
                    "a source name of the reference catalog (or give RA and DEC)",
                ));
            }
            // The name goes into FITS headers and figure titles.
            if let Some(c) = t
                .chars()
                .find(|c| !(' '..='~').contains(c) || matches!(c, '<' | '>'))
            {
                return Err(Error::invalid(
                    name,
                    raw,
                    format!("a source name in printable ASCII without < or > ({c:?} is not)"),
                ));
            }
            t.to_string()
        }
        "RA" => degrees("a number of degrees in [0, 360)")?,
        "DEC" => degrees("a number of degrees in [-90, 90]")?,
        "radius" => degrees("a number of degrees in (0, 180]")?,
        "T1" | "T2" => raw.trim().to_string(),
        "T_format" => raw.parse::<TimeFormat>()?.to_string(),
        "max_pointings" => raw
            .trim()
            .parse::<usize>()
            .map_err(|_| Error::invalid(name, raw, "a whole number ≥ 1"))?
            .to_string(),
        "scw_list" => {
            let allowed = "one or more ScW ids RRRRPPPPSSSF[.VVV], separated by commas";
            let mut ids = Vec::new();
            for token in raw.split([',', ' ']).filter(|s| !s.trim().is_empty()) {
                let id: ScwId = token.parse().map_err(|e| {
                    let why = match e {
                        Error::ScienceWindow { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    Error::invalid(
                        name,
                        raw,
                        format!("{allowed}; {:?} is not one: {why}", token.trim()),
                    )
                })?;
                ids.push(id);
            }
            if ids.is_empty() {
                return Err(Error::invalid(name, raw, allowed));
            }
            ids.sort();
            ids.dedup();
            let ids: Vec<String> = ids.iter().map(ScwId::with_version).collect();
            ids.join(",")
        }
        "osa_version" => raw.parse::<OsaVersion>()?.name().to_string(),
        "E1_keV" | "E2_keV" => number(
            name,
            raw,
            "a number of keV (ISGRI: 15 - 800 keV; JEM-X: 3 - 35 keV)",
        )?
        .to_string(),
        "jemx_num" => match raw.trim() {
            "1" | "2" => raw.trim().to_string(),
            _ => {
                return Err(Error::invalid(
                    name,
                    raw,
                    "1 or 2 (JEM-X1 or JEM-X2; ODA's default is 2)",
                ));
            }
        },
        "detection_threshold" => {
            let allowed = "a significance in σ: a finite number > 0 (ODA's default is 7)";
            let v = number(name, raw, allowed)?;
            if v <= 0.0 {
                return Err(Error::invalid(name, raw, allowed));
            }
            v.to_string()
        }
        "time_bin" => number(
            name,
            raw,
            "a number: the light-curve bin in seconds (time_bin_format=sec) or days (time_bin_format=jd)",
        )?
        .to_string(),
        "time_bin_format" => {
            let t = raw.trim().to_ascii_lowercase();
            if t != "sec" && t != "jd" {
                return Err(Error::invalid(
                    name,
                    raw,
                    "one of sec (seconds, the default), jd (days)",
                ));
            }
            t
        }
        "selected_catalog" => {
            let catalog = catalog_from_oda_json(raw)?;
            if catalog.is_empty() {
                return Err(Error::invalid(
                    name,
                    super::catalog_json::excerpt(raw),
                    "a catalog with at least one source (omit selected_catalog to use the sources found in the image)",
                ));
            }
            catalog_to_oda_json(&catalog).to_string()
        }
        "xspec_model" => raw.parse::<ModelKind>()?.xspec_name().to_string(),
        "data_level" => {
            let t = raw.trim().to_ascii_lowercase();
            if t != "ordinary" && t != "realtime" {
                return Err(Error::invalid(
                    name,
                    raw,
                    "one of ordinary (the consolidated data, the default), realtime (the near-real-time stream; needs the integral-realtime role on a server)",
                ));
            }
            t
        }
        _ => return Err(unknown_parameter(name, raw)),
    })
}

/// `src_name` as the reference catalog spells it, or an error naming `src_name`.
fn canonical_source_name(name: &str) -> Result<String> {
    match ReferenceCatalog::bundled()?.get(name) {
        Ok(src) => Ok(src.name.clone()),
        Err(Error::UnknownSource { suggestions, .. }) => {
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", suggestions.join(", "))
            };
            Err(Error::invalid(
                "src_name",
                name,
                format!("a source of the reference catalog (or give RA and DEC){hint}"),
            ))
        }
        Err(other) => Err(other),
    }
}

impl Request {
    /// A request from ODA's `key=value` parameters.
    ///
    /// The names are ODA's: see [`REQUEST_PARAMETERS`]; `product_type` is taken as `product`,
    /// except for the values `Real` and `Dummy`, which the `oda_api` client sends as
    /// `product_type` but which are ODA's `query_type` (and ignored). [`PROTOCOL_FIELDS`] are
    /// ignored. `instrument` may be omitted (it is then the product's: `isgri` for
    /// `spectral_fit`); `product` is required.
    /// A parameter given twice must have the same value both times.
    ///
    /// # Errors
    /// An [`Error::InvalidParameter`] naming the parameter, the value and what is allowed: an
    /// unknown name (with a "did you mean" when one is close), a missing or unknown product,
    /// an instrument other than `isgri`, a malformed or out-of-range value (RA/DEC, radius,
    /// times, energies outside 15–800 keV or `E1_keV` ≥ `E2_keV`, a non-positive threshold, a
    /// time bin outside 1 s–1e9 s, a malformed ScW id, an invalid catalog JSON, an unknown
    /// XSPEC model or OSA version), an unknown `src_name`, or an incomplete selection (no
    /// target or time span and no `scw_list`).
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Request> {
        let mut raw: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
        for (k, v) in pairs {
            let (key, value) = (k.as_ref(), v.as_ref());
            if PROTOCOL_FIELDS.contains(&key) {
                continue;
            }
            if key == "product_type"
                && QUERY_TYPES.contains(&value.trim().to_ascii_lowercase().as_str())
            {
                continue;
            }
            let canonical = if key == "product_type" {
                "product"
            } else {
                key
            };
            let Some(&name) = REQUEST_PARAMETERS.iter().find(|n| **n == canonical) else {
                return Err(unknown_parameter(key, value));
            };
            match raw.get(name) {
                Some((prev_key, prev)) if prev.trim() != value.trim() => {
                    return Err(Error::invalid(
                        key,
                        value,
                        format!("a single value; {prev_key}={prev:?} was given too"),
                    ));
                }
                Some(_) => {}
                None => {
                    raw.insert(name, (key.to_string(), value.to_string()));
                }
            }
        }

        let instrument: Option<Instrument> = raw
            .remove("instrument")
            .map(|(_, value)| value.parse())
            .transpose()?;
        let product: ProductType = match raw.remove("product") {
            Some((key, value)) => value
                .parse()
                .map_err(|_| Error::invalid(key, &value, product_allowed()))?,
            None => {
                return Err(Error::invalid(
                    "product",
                    "(missing)",
                    format!(
                        "a product is required (product=, or product_type= as the oda_api client sends it): {}",
                        product_allowed()
                    ),
                ));
            }
        };
        let instrument = match instrument {
            Some(i) if !product.instruments().contains(&i) => {
                let names: Vec<&str> = i.products().iter().map(|p| p.name()).collect();
                return Err(Error::invalid(
                    "product",
                    product.name(),
                    format!(
                        "a product of instrument={i}: {} ({product} is a product of {})",
                        names.join(", "),
                        product.instrument()
                    ),
                ));
            }
            Some(i) => i,
            None => product.instrument(),
        };

        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for (name, (_, value)) in &raw {
            given.insert(name.to_string(), normalise(name, value)?);
        }
        if let Some(name) = given.get("src_name").cloned() {
            let position_given = given.contains_key("RA") || given.contains_key("DEC");
            if !position_given && product_unused(instrument, product, "src_name").is_none() {
                given.insert("src_name".into(), canonical_source_name(&name)?);
            }
        }
        let t_format: TimeFormat = match given.get("T_format") {
            Some(f) => f.parse()?,
            None => TimeFormat::default(),
        };
        if t_format != TimeFormat::Isot {
            // MJD and IJD are numbers: written canonically, like the other numbers.
            for key in ["T1", "T2"] {
                if let Some(v) = given.get_mut(key)
                    && let Ok(x) = v.parse::<f64>()
                    && x.is_finite()
                {
                    *v = x.to_string();
                }
            }
        }
        check_time_order(&given)?;

        let selection = if instrument == Instrument::SpiAcs {
            acs_selection(&given)?
        } else {
            // JEM-X's default radius is its own (given to the selection like a given one, but
            // kept out of the given parameters).
            let default_radius = (instrument == Instrument::Jemx && !given.contains_key("radius"))
                .then(|| ("radius".to_string(), DEFAULT_JEMX_RADIUS_DEG.to_string()));
            ScwSelection::from_pairs(
                given
                    .iter()
                    .filter(|(k, _)| SELECTION_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain(default_radius),
            )?
        };

        let value = |name: &str| -> Option<&str> {
            let used = unused_reason(instrument, product, &given, name).is_none();
            given.get(name).map(String::as_str).filter(|_| used)
        };
        let parse = |name: &str, v: &str| number(name, v, "a number");
        let energy = |name: &str, default: f64| -> Result<f64> {
            given.get(name).map_or(Ok(default), |v| parse(name, v))
        };
        // The band is checked even when unused, so that a given band is always sound: within
        // the instrument's range (ISGRI's for SPI-ACS, which has no band and ignores it).
        let (limits, (d1, d2)) = instrument
            .band_limits_kev()
            .unwrap_or((ISGRI_BAND_LIMITS, (DEFAULT_E1_KEV, DEFAULT_E2_KEV)));
        let label = match instrument {
            Instrument::SpiAcs => Instrument::Isgri.label(),
            other => other.label(),
        };
        let given_band =
            EnergyBand::within(energy("E1_keV", d1)?, energy("E2_keV", d2)?, label, limits)?;
        let band = match (value("E1_keV"), value("E2_keV")) {
            (None, None) => EnergyBand::within(d1, d2, label, limits)?,
            _ => given_band,
        };
        let time_bin_s = time_bin_seconds(
            product,
            &given,
            raw.get("time_bin").map(|(_, v)| v.as_str()),
        )?;
        if product == ProductType::SpiAcsLc {
            check_acs_span(&selection, time_bin_s)?;
        }
        let request = Request {
            instrument,
            product,
            selection,
            band,
            detection_threshold: match value("detection_threshold") {
                Some(v) => parse("detection_threshold", v)?,
                None => DEFAULT_DETECTION_THRESHOLD,
            },
            time_bin_s: match (value("time_bin"), value("time_bin_format")) {
                (None, None) => default_time_bin_s(product),
                _ => time_bin_s,
            },
            selected_catalog: given
                .get("selected_catalog")
                .map(|json| catalog_from_oda_json(json))
                .transpose()?,
            xspec_model: match value("xspec_model") {
                Some(v) => v.parse()?,
                None => ModelKind::PowerLaw,
            },
            warnings: given
                .keys()
                .filter_map(|name| unused_reason(instrument, product, &given, name))
                .collect(),
            given,
        };
        Ok(request)
    }

    /// A builder for a request of `product`.
    pub fn builder(product: ProductType) -> RequestBuilder {
        RequestBuilder {
            pairs: vec![("product".into(), product.name().into())],
        }
    }

    /// True when this request's product uses parameter `name` (given or by default).
    pub fn uses(&self, name: &str) -> bool {
        match name {
            "instrument" | "product" => true,
            _ => {
                REQUEST_PARAMETERS.contains(&name)
                    && unused_reason(self.instrument, self.product, &self.given, name).is_none()
            }
        }
    }

    /// True when the sources must first be found in an image: a spectrum, light curve or fit
    /// without a `selected_catalog`. (An `isgri_image` or `jemx_image` is that image: false.)
    pub fn requires_catalog_from_image(&self) -> bool {
        self.instrument != Instrument::SpiAcs
            && !self.product.is_image()
            && self.selected_catalog.is_none()
    }

    /// The JEM-X unit of a JEM-X request (`jemx_num`, default 2); `None` for the other
    /// instruments.
    pub fn jemx_unit(&self) -> Option<crate::instrument::jemx::JemxUnit> {
        use crate::instrument::jemx::JemxUnit;
        (self.instrument == Instrument::Jemx).then(|| {
            match self.given.get("jemx_num").map(String::as_str) {
                Some("1") => JemxUnit::Jmx1,
                _ => JemxUnit::Jmx2,
            }
        })
    }

    /// True when the request asks for the near-real-time data stream (`data_level=realtime`,
    /// SPI-ACS only).
    pub fn is_realtime(&self) -> bool {
        self.uses("data_level")
            && self
                .given
                .get("data_level")
                .is_some_and(|v| v == "realtime")
    }

    /// The request's parameters in ODA names, canonical and complete, sorted by name:
    /// `instrument=isgri`, `product`, the given values the product uses (normalised) and the
    /// default of every other parameter it uses. Unused parameters and protocol fields are left
    /// out. The provenance of the request's products is computed from this list.
    pub fn parameters(&self) -> Vec<(String, String)> {
        let mut out = BTreeMap::new();
        out.insert("instrument".to_string(), self.instrument.name().to_string());
        out.insert("product".to_string(), self.product.name().to_string());
        for name in REQUEST_PARAMETERS {
            if matches!(name, "instrument" | "product") || !self.uses(name) {
                continue;
            }
            if let Some(v) = self
                .given
                .get(name)
                .cloned()
                .or_else(|| default_value(self.instrument, self.product, name))
            {
                out.insert(name.to_string(), v);
            }
        }
        out.into_iter().collect()
    }

    /// The given parameters (normalised, unused ones included) after `instrument` and
    /// `product`: what reproduces this request.
    fn reproduction_pairs(&self) -> Vec<(&str, &str)> {
        let mut pairs = vec![
            ("instrument", self.instrument.name()),
            ("product", self.product.name()),
        ];
        pairs.extend(self.given.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        pairs
    }

    /// The request as a URL query for ODA's `.../run_analysis?`: `instrument`, the product as
    /// `product_type` and `query_type=Real` (the dispatcher's names), then the given parameters
    /// in canonical form, sorted; form-urlencoded. [`Request::from_pairs`] on the decoded pairs
    /// gives back an equal request.
    pub fn to_url_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.reproduction_pairs() {
            s.append_pair(if k == "product" { "product_type" } else { k }, v);
            if k == "product" {
                s.append_pair("query_type", "Real");
            }
        }
        s.finish()
    }

    /// A Rust snippet that reproduces the request and gets its product.
    pub fn to_rust_code(&self) -> String {
        let mut code = String::from("let request = oda::query::Request::from_pairs([\n");
        for (k, v) in self.reproduction_pairs() {
            code.push_str(&format!(
                "    ({}, {}),\n",
                rust_literal(k),
                rust_literal(v)
            ));
        }
        code.push_str("])?;\nlet product = oda::query::get_product(&request)?;\n");
        code
    }

    /// A Python snippet (`oda_api`) that asks ODA's dispatcher ([`ODA_DISPATCHER_URL`]) for
    /// the same product.
    pub fn to_python_code(&self) -> String {
        let mut code = format!(
            "from oda_api.api import DispatcherAPI\n\ndisp = DispatcherAPI(url={})\ndata_collection = disp.get_product(\n",
            python_literal(ODA_DISPATCHER_URL)
        );
        for (k, v) in self.reproduction_pairs() {
            code.push_str(&format!("    {k}={},\n", python_literal(v)));
            if k == "product" {
                code.push_str("    product_type=\"Real\",\n");
            }
        }
        code.push_str(")\n");
        code
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_url_query())
    }
}

/// T1 before T2, with the values as given in the message (the selection checks it too, but
/// names the times in ISOT).
fn check_time_order(given: &BTreeMap<String, String>) -> Result<()> {
    let (Some(t1), Some(t2)) = (given.get("T1"), given.get("T2")) else {
        return Ok(());
    };
    let format: TimeFormat = given
        .get("T_format")
        .map_or(Ok(TimeFormat::default()), |f| f.parse())?;
    if let (Ok(a), Ok(b)) = (Time::parse(t1, format), Time::parse(t2, format))
        && a >= b
    {
        return Err(Error::invalid(
            "T1",
            t1,
            format!("a time before T2 = {t2} (T_format={format})"),
        ));
    }
    Ok(())
}

/// The default light-curve bin of `product`, s.
fn default_time_bin_s(product: ProductType) -> f64 {
    if product == ProductType::SpiAcsLc {
        DEFAULT_ACS_TIME_BIN_S
    } else {
        DEFAULT_TIME_BIN_S
    }
}

/// The selection of an SPI-ACS request: its time span only (T1 and T2 required).
fn acs_selection(given: &BTreeMap<String, String>) -> Result<ScwSelection> {
    let format: TimeFormat = match given.get("T_format") {
        Some(f) => f.parse()?,
        None => TimeFormat::default(),
    };
    let time = |key: &str, what: &str| -> Result<Time> {
        let v = given.get(key).ok_or_else(|| {
            Error::invalid(
                key,
                "(missing)",
                format!("{what} of the SPI-ACS light curve (spi_acs_lc needs T1 and T2)"),
            )
        })?;
        Time::parse(v, format).map_err(|e| match e {
            Error::InvalidParameter { allowed, .. } => {
                Error::invalid(key, v, format!("{allowed} (T_format={format})"))
            }
            other => other,
        })
    };
    let (t1, t2) = (time("T1", "the start")?, time("T2", "the end")?);
    Ok(ScwSelection {
        src_name: None,
        target: None,
        radius: DEFAULT_RADIUS_DEG,
        t1: Some(t1),
        t2: Some(t2),
        max_pointings: DEFAULT_MAX_POINTINGS,
        scw_list: None,
        osa_version: OsaVersion::default(),
    })
}

/// An SPI-ACS span within the mission, at most [`MAX_ACS_SPAN_S`] long and
/// [`MAX_ACS_BINS`] bins of `time_bin_s`.
fn check_acs_span(selection: &ScwSelection, time_bin_s: f64) -> Result<()> {
    let (Some(t1), Some(t2)) = (selection.t1, selection.t2) else {
        return Ok(());
    };
    let launch = Time::from_ijd_unchecked(crate::time::LAUNCH_IJD);
    let end = Time::from_isot(crate::instrument::spiacs::MISSION_END_ISOT)?;
    if t1 < launch || t2 > end {
        let (key, t) = if t1 < launch { ("T1", t1) } else { ("T2", t2) };
        return Err(Error::invalid(
            key,
            t.to_isot(),
            format!(
                "a time within the mission, {} to {} (SPI-ACS rates exist only while INTEGRAL flew)",
                launch.to_isot(),
                end.to_isot()
            ),
        ));
    }
    let span = t2.seconds_since(t1);
    if span > MAX_ACS_SPAN_S {
        return Err(Error::invalid(
            "T2",
            t2.to_isot(),
            format!(
                "a time at most {MAX_ACS_SPAN_S} s (10 days) after T1 = {} for one SPI-ACS light curve ({span} s asked)",
                t1.to_isot()
            ),
        ));
    }
    let bins = (span / time_bin_s).ceil();
    if bins > MAX_ACS_BINS as f64 {
        return Err(Error::invalid(
            "time_bin",
            time_bin_s,
            format!(
                "a bin of at least {} s for this {span} s span (at most {MAX_ACS_BINS} bins per SPI-ACS light curve)",
                (span / MAX_ACS_BINS as f64 / 0.05).ceil() * 0.05
            ),
        ));
    }
    Ok(())
}

/// The light-curve bin in seconds from `time_bin` and `time_bin_format`, checked for `product`
/// (SPI-ACS bins are whole multiples of the shield's 50 ms); `as_given` is the value of
/// `time_bin` as the user wrote it, for the message.
fn time_bin_seconds(
    product: ProductType,
    given: &BTreeMap<String, String>,
    as_given: Option<&str>,
) -> Result<f64> {
    let format = given.get("time_bin_format").map_or("sec", String::as_str);
    let raw = given.get("time_bin").map(String::as_str);
    // The default is in the units of time_bin_format (as in ODA).
    let value = match raw {
        Some(v) => number("time_bin", v, "a number")?,
        None => default_time_bin_s(product),
    };
    let seconds = if format == "jd" {
        value * 86_400.0
    } else {
        value
    };
    let refuse = |allowed: String| {
        Error::invalid(
            "time_bin",
            as_given
                .or(raw)
                .map_or_else(|| value.to_string(), str::to_string),
            allowed,
        )
    };
    if product == ProductType::SpiAcsLc {
        let step = crate::instrument::spiacs::BIN_S;
        let k = (seconds / step).round();
        // Decimal input (0.15) is not an exact multiple in binary: a relative tolerance.
        if !(k >= 1.0 && (seconds - k * step).abs() <= 1e-9 * seconds.max(1.0)) {
            return Err(refuse(format!(
                "a whole multiple of the shield's {step} s bins, at least {step} s (time_bin_format={format})"
            )));
        }
        // Exactly k native bins.
        return Ok(k * step);
    }
    if product == ProductType::JemxLc && !(MIN_TIME_BIN_S..=MAX_JEMX_TIME_BIN_S).contains(&seconds)
    {
        return Err(refuse(format!(
            "a bin between {MIN_TIME_BIN_S} and {MAX_JEMX_TIME_BIN_S} seconds for jemx_lc (time_bin_format={format}; ODA's JEM-X limit)"
        )));
    }
    if !(MIN_TIME_BIN_S..=MAX_TIME_BIN_S).contains(&seconds) {
        return Err(refuse(if format == "jd" {
            format!(
                "a bin between {} and {} days (time_bin_format=jd; {MIN_TIME_BIN_S} s to {MAX_TIME_BIN_S} s)",
                MIN_TIME_BIN_S / 86_400.0,
                MAX_TIME_BIN_S / 86_400.0
            )
        } else {
            format!(
                "a bin between {MIN_TIME_BIN_S} and {MAX_TIME_BIN_S} seconds (time_bin_format=sec)"
            )
        }));
    }
    Ok(seconds)
}

/// `s` as a Rust string literal: a raw string when it holds quotes or backslashes.
fn rust_literal(s: &str) -> String {
    if (s.contains('"') || s.contains('\\')) && !s.chars().any(char::is_control) {
        let hashes = (1..)
            .map(|n| "#".repeat(n))
            .find(|h| !s.contains(&format!("\"{h}")))
            .unwrap_or_default();
        format!("r{hashes}\"{s}\"{hashes}")
    } else {
        format!("{s:?}")
    }
}

/// `s` as a Python string literal: single-quoted when that needs no escapes and `s` holds
/// double quotes, otherwise a JSON string (which Python reads identically).
fn python_literal(s: &str) -> String {
    let plain = !s.contains('\'') && !s.contains('\\') && !s.chars().any(char::is_control);
    if plain && s.contains('"') {
        format!("'{s}'")
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// A typed way to write a [`Request`]; [`build`](Self::build) validates through
/// [`Request::from_pairs`]. Setting a parameter twice keeps the last value.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestBuilder {
    pairs: Vec<(String, String)>,
}

impl RequestBuilder {
    fn set(mut self, name: &str, value: impl ToString) -> Self {
        let value = value.to_string();
        match self.pairs.iter_mut().find(|(k, _)| k == name) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((name.to_string(), value)),
        }
        self
    }

    /// `src_name`: the target, resolved in the reference catalog unless a position is given.
    pub fn src_name(self, name: impl AsRef<str>) -> Self {
        self.set("src_name", name.as_ref())
    }

    /// `RA`, `DEC`: the target position, degrees.
    pub fn position(self, ra: f64, dec: f64) -> Self {
        self.set("RA", ra).set("DEC", dec)
    }

    /// `radius`: the search radius around the target, degrees.
    pub fn radius(self, deg: f64) -> Self {
        self.set("radius", deg)
    }

    /// `T1`, `T2`: the time span, written in the `T_format` (ISOT by default); a
    /// [`Time`] writes itself in ISOT.
    pub fn time_range(self, t1: impl fmt::Display, t2: impl fmt::Display) -> Self {
        self.set("T1", t1).set("T2", t2)
    }

    /// `T_format`: `isot`, `mjd` or `ijd` (a [`TimeFormat`] or its name).
    pub fn t_format(self, format: impl fmt::Display) -> Self {
        self.set("T_format", format)
    }

    /// `E1_keV`, `E2_keV`: the imaging band, keV.
    pub fn energy_band(self, e1: f64, e2: f64) -> Self {
        self.set("E1_keV", e1).set("E2_keV", e2)
    }

    /// `osa_version` (an [`OsaVersion`] or its name).
    pub fn osa_version(self, version: impl fmt::Display) -> Self {
        self.set("osa_version", version)
    }

    /// `detection_threshold`, σ.
    pub fn detection_threshold(self, sigma: f64) -> Self {
        self.set("detection_threshold", sigma)
    }

    /// `time_bin` in seconds (`time_bin_format=sec`).
    pub fn time_bin_s(self, seconds: f64) -> Self {
        self.set("time_bin", seconds).set("time_bin_format", "sec")
    }

    /// `max_pointings`.
    pub fn max_pointings(self, n: usize) -> Self {
        self.set("max_pointings", n)
    }

    /// `scw_list`: explicit Science Windows ([`ScwId`]s or their text), replacing the
    /// position and time selection.
    pub fn scw_list<T: fmt::Display>(self, ids: &[T]) -> Self {
        let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.set("scw_list", list.join(","))
    }

    /// `selected_catalog`: the sources to use, as ODA's catalog JSON.
    pub fn selected_catalog(self, catalog: &Catalog) -> Self {
        self.set("selected_catalog", catalog_to_oda_json(catalog))
    }

    /// `instrument`: `isgri`, `jemx` or `spi_acs` (needed for a JEM-X `spectral_fit`).
    pub fn instrument(self, instrument: Instrument) -> Self {
        self.set("instrument", instrument.name())
    }

    /// `jemx_num`: the JEM-X unit, 1 or 2.
    pub fn jemx_num(self, n: u8) -> Self {
        self.set("jemx_num", n)
    }

    /// `xspec_model`: `powerlaw`, `cutoffpl` or `bknpower` (a [`ModelKind`] or its name).
    pub fn xspec_model(self, model: impl fmt::Display) -> Self {
        self.set("xspec_model", model)
    }

    /// Any parameter by its ODA name.
    pub fn param(self, name: impl AsRef<str>, value: impl ToString) -> Self {
        self.set(name.as_ref(), value)
    }

    /// The request.
    ///
    /// # Errors
    /// As for [`Request::from_pairs`].
    pub fn build(self) -> Result<Request> {
        Request::from_pairs(self.pairs)
    }
}
