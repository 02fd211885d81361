//! The bundled reference catalog: the bright and well-known sources of the hard X-ray sky.
//!
//! The catalog lists some 230 sources as INTEGRAL/ISGRI sees them — X-ray binaries, pulsar
//! wind nebulae, magnetars, cataclysmic variables, Seyfert galaxies, blazars and clusters —
//! each with its ICRS position (from its optical/IR/radio counterpart or an arcsecond X-ray
//! localisation), physical class, a typical long-term 20–40 keV flux and a typical cut-off
//! power-law shape. It is compiled into the crate (`reference_catalog.tsv`) and serves to
//!
//! - resolve source names offline: [`resolve`] turns `"Crab"`, `"cyg x-1"` or
//!   `"GS 2023+338"` into a position without asking a network name resolver;
//! - name detected sources: [`ReferenceCatalog::nearest`] finds the catalog source at a
//!   position measured in a sky image (ISGRI locates bright sources to better than 1′);
//! - populate the simulated sky: the default simulation takes every entry's flux and
//!   spectral shape as its starting point.
//!
//! Fluxes and spectral parameters are rough, class-typical values, not measurements.
//!
//! # Name matching
//! Names and aliases match case-insensitively and regardless of spaces, underscores, dots
//! and hyphens used as separators, so `crab`, `CygX-1`, `cyg x1`, `V404Cyg`, `gx17+2` and
//! `3c279` all resolve. A hyphen (or a Unicode minus sign) between two digits is a sign and
//! is kept: `4U 0614+091` and `4U 0614-091` are different names. A leading constellation
//! name written out in full is read as its abbreviation (`Cygnus X-1` is `Cyg X-1`).
//!
//! ```
//! use oda::sky::catalog::{ReferenceCatalog, resolve};
//! let crab = resolve("crab")?;
//! assert!((crab.ra() - 83.633).abs() < 0.01 && (crab.dec() - 22.014).abs() < 0.01);
//!
//! let catalog = ReferenceCatalog::bundled()?;
//! let cyg_x1 = catalog.get("Cygnus X-1")?;
//! assert_eq!(cyg_x1.name, "Cyg X-1");
//! let named = catalog.nearest(&cyg_x1.position, 0.1).map(|(source, _sep)| source.name.as_str());
//! assert_eq!(named, Some("Cyg X-1"));
//!
//! let message = resolve("Crabb").err().map(|e| e.to_string()).unwrap_or_default();
//! assert!(message.contains("did you mean Crab"));
//! # Ok::<(), oda::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::SkyCoord;
use crate::error::{Error, Result};

/// The catalog compiled into the crate.
const BUNDLED_TSV: &str = include_str!("reference_catalog.tsv");

/// The columns of the catalog file, in order.
const COLUMNS: [&str; 8] = [
    "name",
    "aliases",
    "ra_deg",
    "dec_deg",
    "class",
    "flux_mcrab",
    "gamma",
    "ecut_kev",
];

/// Constellation names written out in full, and the abbreviations used in source names.
const CONSTELLATIONS: [(&str, &str); 14] = [
    ("aquila", "aql"),
    ("cassiopeia", "cas"),
    ("centaurus", "cen"),
    ("cepheus", "cep"),
    ("circinus", "cir"),
    ("cygnus", "cyg"),
    ("hercules", "her"),
    ("ophiuchus", "oph"),
    ("perseus", "per"),
    ("sagittarius", "sgr"),
    ("scorpius", "sco"),
    ("serpens", "ser"),
    ("taurus", "tau"),
    ("virgo", "vir"),
];

/// How close (normalised Damerau–Levenshtein similarity) a name must be to be suggested.
const SUGGESTION_THRESHOLD: f64 = 0.5;

/// At most this many suggestions accompany an unknown name.
const MAX_SUGGESTIONS: usize = 5;

/// Physical class of a catalog source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceClass {
    /// Pulsar wind nebula or young rotation-powered pulsar (`PWN`).
    #[serde(rename = "PWN")]
    Pwn,
    /// Low-mass X-ray binary with a neutron star (`LMXB`).
    #[serde(rename = "LMXB")]
    Lmxb,
    /// High-mass X-ray binary (`HMXB`).
    #[serde(rename = "HMXB")]
    Hmxb,
    /// Black-hole binary or black-hole candidate (`BHB`).
    #[serde(rename = "BHB")]
    BlackHoleBinary,
    /// Seyfert galaxy or radio galaxy (`AGN`).
    #[serde(rename = "AGN")]
    Agn,
    /// Blazar: flat-spectrum radio quasar or BL Lac object (`BLAZAR`).
    #[serde(rename = "BLAZAR")]
    Blazar,
    /// Cataclysmic variable, mostly intermediate polars (`CV`).
    #[serde(rename = "CV")]
    CataclysmicVariable,
    /// Magnetar: anomalous X-ray pulsar or soft gamma repeater (`MAGNETAR`).
    #[serde(rename = "MAGNETAR")]
    Magnetar,
    /// Cluster of galaxies (`CLUSTER`).
    #[serde(rename = "CLUSTER")]
    Cluster,
    /// Anything else: the Galactic-centre source, supernova remnants, colliding-wind binaries (`OTHER`).
    #[serde(rename = "OTHER")]
    Other,
}

impl SourceClass {
    /// Every class, in catalog order.
    pub const ALL: [SourceClass; 10] = [
        SourceClass::Pwn,
        SourceClass::Lmxb,
        SourceClass::Hmxb,
        SourceClass::BlackHoleBinary,
        SourceClass::Agn,
        SourceClass::Blazar,
        SourceClass::CataclysmicVariable,
        SourceClass::Magnetar,
        SourceClass::Cluster,
        SourceClass::Other,
    ];

    /// The code used in the catalog file (`PWN`, `LMXB`, `HMXB`, `BHB`, `AGN`, `BLAZAR`,
    /// `CV`, `MAGNETAR`, `CLUSTER`, `OTHER`).
    pub fn code(self) -> &'static str {
        match self {
            SourceClass::Pwn => "PWN",
            SourceClass::Lmxb => "LMXB",
            SourceClass::Hmxb => "HMXB",
            SourceClass::BlackHoleBinary => "BHB",
            SourceClass::Agn => "AGN",
            SourceClass::Blazar => "BLAZAR",
            SourceClass::CataclysmicVariable => "CV",
            SourceClass::Magnetar => "MAGNETAR",
            SourceClass::Cluster => "CLUSTER",
            SourceClass::Other => "OTHER",
        }
    }
}

impl fmt::Display for SourceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for SourceClass {
    type Err = Error;

    /// Parses a class code, case-insensitively.
    fn from_str(s: &str) -> Result<SourceClass> {
        let s = s.trim();
        SourceClass::ALL
            .into_iter()
            .find(|class| class.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid("class", s, class_codes()))
    }
}

fn class_codes() -> String {
    let codes: Vec<&str> = SourceClass::ALL.iter().map(|c| c.code()).collect();
    format!("one of {}", codes.join(", "))
}

/// One entry of the reference catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogSource {
    /// The usual INTEGRAL/ISGRI name (`Crab`, `Cyg X-1`, `GX 17+2`, `3C 279`, ...).
    pub name: String,
    /// Other names the source is known by (`GS 2023+338` for V404 Cyg, ...).
    pub aliases: Vec<String>,
    /// ICRS (J2000) position.
    pub position: SkyCoord,
    /// Physical class.
    pub class: SourceClass,
    /// Typical long-term 20–40 keV flux in mCrab (for transients, the quiescent or typical level).
    pub flux_mcrab: f64,
    /// Typical photon index of a cut-off power law in the 20–200 keV band.
    pub gamma: f64,
    /// Exponential cut-off energy of that power law in keV; `None` for a pure power law.
    pub ecut_kev: Option<f64>,
}

impl CatalogSource {
    /// The name followed by the aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A catalog of sources with lookup by name or alias and by position.
#[derive(Clone, Debug, Default)]
pub struct ReferenceCatalog {
    sources: Vec<CatalogSource>,
    /// Normalised name or alias → index into `sources`.
    index: HashMap<String, usize>,
    /// SHA-256 of the text it was parsed from, hex.
    digest: String,
}

impl ReferenceCatalog {
    /// The catalog compiled into the crate, parsed once on first use.
    ///
    /// # Errors
    /// Only if the bundled file does not parse — a build defect that the tests catch; the
    /// error names the offending line and column.
    pub fn bundled() -> Result<&'static ReferenceCatalog> {
        static BUNDLED: OnceLock<Result<ReferenceCatalog>> = OnceLock::new();
        match BUNDLED.get_or_init(|| ReferenceCatalog::parse(BUNDLED_TSV)) {
            Ok(catalog) => Ok(catalog),
            Err(err) => Err(copy_error(err)),
        }
    }

    /// Parses a catalog in the format of the bundled file: tab-separated columns `name`,
    /// `aliases` (`|`-separated, `-` for none), `ra_deg`, `dec_deg` (ICRS degrees), `class`
    /// (see [`SourceClass::code`]), `flux_mcrab`, `gamma` and `ecut_kev` (`inf` for a pure
    /// power law), after a header line naming these columns. Blank lines and lines starting
    /// with `#` are ignored.
    ///
    /// # Errors
    /// An [`Error::InvalidParameter`] naming the line and column of the first problem: a
    /// missing or wrong header, a wrong number of columns, a value that does not parse or is
    /// out of range, an unknown class, or a name or alias that (after normalisation) is
    /// already used by another source.
    pub fn parse(text: &str) -> Result<ReferenceCatalog> {
        let mut catalog = ReferenceCatalog::default();
        // Line number of each source, for messages about clashing names.
        let mut lines_of_sources: Vec<usize> = Vec::new();
        let mut header_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            if !header_seen {
                check_header(&fields, line_no)?;
                header_seen = true;
                continue;
            }
            if fields.len() != COLUMNS.len() {
                let column = fields.len().min(COLUMNS.len()) + 1;
                return Err(Error::invalid(
                    format!("reference catalog line {line_no}, column {column}"),
                    line,
                    format!(
                        "{} tab-separated columns: {}",
                        COLUMNS.len(),
                        COLUMNS.join(", ")
                    ),
                ));
            }
            let source = parse_source(&fields, line_no)?;
            let number = catalog.sources.len();
            for (column, name) in source
                .names()
                .enumerate()
                .map(|(k, n)| (if k == 0 { 1 } else { 2 }, n))
            {
                let key = normalize(name);
                if key.is_empty() {
                    return Err(field_error(
                        line_no,
                        column,
                        name,
                        "a name with at least one letter or digit",
                    ));
                }
                match catalog.index.get(&key) {
                    Some(&other) if other != number => {
                        let other_source = &catalog.sources[other];
                        return Err(field_error(
                            line_no,
                            column,
                            name,
                            &format!(
                                "a name not already used: it matches {:?} on line {}",
                                other_source.name, lines_of_sources[other]
                            ),
                        ));
                    }
                    _ => {
                        catalog.index.insert(key, number);
                    }
                }
            }
            catalog.sources.push(source);
            lines_of_sources.push(line_no);
        }
        if !header_seen {
            return Err(Error::invalid(
                "reference catalog line 1",
                "",
                format!("a header line with the columns {}", COLUMNS.join(", ")),
            ));
        }
        catalog.digest = {
            use sha2::{Digest, Sha256};
            Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        Ok(catalog)
    }

    /// SHA-256 of the catalog's text (hex): what a product's provenance records of the
    /// catalog that named its sources, so that a new catalog never reuses old products.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// All sources, in catalog order.
    pub fn sources(&self) -> &[CatalogSource] {
        &self.sources
    }

    /// The number of sources.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when the catalog has no sources.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The source with this name or alias (see the [module documentation](self) for how
    /// names are matched).
    ///
    /// # Errors
    /// [`Error::UnknownSource`] when nothing matches, with up to five catalog names close
    /// to the one asked for, best first.
    pub fn get(&self, name: &str) -> Result<&CatalogSource> {
        let key = normalize(name);
        match self.index.get(&key) {
            Some(&i) => Ok(&self.sources[i]),
            None => Err(Error::UnknownSource {
                name: name.to_string(),
                suggestions: self.suggestions(&key),
            }),
        }
    }

    /// The sources within `radius_deg` degrees of `center`, nearest first. A negative or
    /// non-finite radius selects nothing.
    pub fn within(&self, center: &SkyCoord, radius_deg: f64) -> Vec<&CatalogSource> {
        let mut found: Vec<(f64, &CatalogSource)> = self
            .sources
            .iter()
            .map(|s| (center.separation(&s.position), s))
            .filter(|(sep, _)| *sep <= radius_deg)
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found.into_iter().map(|(_, s)| s).collect()
    }

    /// The source nearest to `position` and its separation in degrees, if it lies within
    /// `max_sep_deg`.
    pub fn nearest(&self, position: &SkyCoord, max_sep_deg: f64) -> Option<(&CatalogSource, f64)> {
        self.sources
            .iter()
            .map(|s| (s, position.separation(&s.position)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|(_, sep)| *sep <= max_sep_deg)
    }

    /// Catalog names close to the normalised name `key`: best match first, ties broken by
    /// brightness, at most [`MAX_SUGGESTIONS`].
    fn suggestions(&self, key: &str) -> Vec<String> {
        if key.is_empty() {
            return Vec::new();
        }
        let mut best = vec![0.0_f64; self.sources.len()];
        for (candidate, &i) in &self.index {
            let score = strsim::normalized_damerau_levenshtein(key, candidate);
            best[i] = best[i].max(score);
        }
        let mut ranked: Vec<(f64, &CatalogSource)> = best
            .into_iter()
            .zip(&self.sources)
            .filter(|(score, _)| *score > SUGGESTION_THRESHOLD)
            .collect();
        ranked.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.flux_mcrab.total_cmp(&a.1.flux_mcrab))
                .then_with(|| a.1.name.cmp(&b.1.name))
        });
        ranked
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, s)| s.name.clone())
            .collect()
    }
}

/// Resolves a source name to its position using the bundled catalog (offline name
/// resolution; see the [module documentation](self) for how names are matched).
///
/// # Errors
/// [`Error::UnknownSource`] with close catalog names when the name is not known.
pub fn resolve(name: &str) -> Result<SkyCoord> {
    Ok(ReferenceCatalog::bundled()?.get(name)?.position)
}

/// The form in which names are compared: lower case; without spaces, underscores, dots
/// and hyphens used as separators; with hyphens (and minus signs) between digits kept as
/// signs; with a leading constellation name abbreviated.
fn normalize(name: &str) -> String {
    let chars: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '_' || *c == '.'))
        .map(|c| match c {
            '\u{2010}'..='\u{2014}' | '\u{2212}' => '-',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' {
            let after_digit = i > 0 && chars[i - 1].is_ascii_digit();
            let before_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if !(after_digit && before_digit) {
                continue;
            }
        }
        out.push(c);
    }
    for (long, short) in CONSTELLATIONS {
        if let Some(rest) = out.strip_prefix(long) {
            return format!("{short}{rest}");
        }
    }
    out
}

fn check_header(fields: &[&str], line_no: usize) -> Result<()> {
    for (k, expected) in COLUMNS.iter().enumerate() {
        let found = fields.get(k).copied().unwrap_or("");
        if !found.eq_ignore_ascii_case(expected) {
            return Err(field_error(
                line_no,
                k + 1,
                found,
                &format!("a header line with the columns {}", COLUMNS.join(", ")),
            ));
        }
    }
    if fields.len() > COLUMNS.len() {
        return Err(field_error(
            line_no,
            COLUMNS.len() + 1,
            fields[COLUMNS.len()],
            &format!("no columns after {}", COLUMNS[COLUMNS.len() - 1]),
        ));
    }
    Ok(())
}

/// One data line, already split into exactly `COLUMNS.len()` trimmed fields.
fn parse_source(fields: &[&str], line_no: usize) -> Result<CatalogSource> {
    let name = fields[0];
    if name.is_empty() || name == "-" {
        return Err(field_error(line_no, 1, name, "a source name"));
    }
    let aliases: Vec<String> = if fields[1].is_empty() || fields[1] == "-" {
        Vec::new()
    } else {
        fields[1]
            .split('|')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    };
    let ra = number(fields, 2, line_no, "degrees in [0, 360)")?;
    let dec = number(fields, 3, line_no, "degrees in [-90, 90]")?;
    let position = SkyCoord::new(ra, dec).map_err(|err| {
        let (column, allowed) = if err.parameter() == Some("RA") {
            (3, "degrees in [0, 360)")
        } else {
            (4, "degrees in [-90, 90]")
        };
        field_error(line_no, column, fields[column - 1], allowed)
    })?;
    let class = fields[4]
        .parse::<SourceClass>()
        .map_err(|_| field_error(line_no, 5, fields[4], &class_codes()))?;
    let flux_mcrab = positive(fields, 5, line_no, "a positive flux in mCrab")?;
    let gamma = positive(fields, 6, line_no, "a positive photon index")?;
    let ecut_kev = if fields[7].eq_ignore_ascii_case("inf") || fields[7] == "-" {
        None
    } else {
        Some(positive(
            fields,
            7,
            line_no,
            "a positive cut-off energy in keV, or inf",
        )?)
    };
    Ok(CatalogSource {
        name: name.to_string(),
        aliases,
        position,
        class,
        flux_mcrab,
        gamma,
        ecut_kev,
    })
}

/// The finite number in field `k` (0-based).
fn number(fields: &[&str], k: usize, line_no: usize, allowed: &str) -> Result<f64> {
    match fields[k].parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(field_error(line_no, k + 1, fields[k], allowed)),
    }
}

/// The finite, positive number in field `k` (0-based).
fn positive(fields: &[&str], k: usize, line_no: usize, allowed: &str) -> Result<f64> {
    match number(fields, k, line_no, allowed)? {
        x if x > 0.0 => Ok(x),
        _ => Err(field_error(line_no, k + 1, fields[k], allowed)),
    }
}

/// An error about the value in 1-based `column` of line `line_no`.
fn field_error(line_no: usize, column: usize, value: &str, allowed: &str) -> Error {
    let column_name = COLUMNS
        .get(column - 1)
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Error::invalid(
        format!("reference catalog line {line_no}, column {column}{column_name}"),
        value,
        allowed,
    )
}

/// A copy of a parse error (the bundled catalog's error is kept for every caller).
fn copy_error(err: &Error) -> Error {
    match err {
        Error::InvalidParameter {
            name,
            value,
            allowed,
        } => Error::InvalidParameter {
            name: name.clone(),
            value: value.clone(),
            allowed: allowed.clone(),
        },
        other => Error::invalid("reference catalog", "bundled", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCMIN: f64 = 1.0 / 60.0;

    fn catalog() -> &'static ReferenceCatalog {
        ReferenceCatalog::bundled().expect("the bundled catalog parses")
    }

    fn header() -> String {
        COLUMNS.join("\t")
    }

    #[test]
    fn bundled_catalog_parses_and_is_large_enough() {
        let cat = catalog();
        assert!(cat.len() >= 150, "only {} sources", cat.len());
        assert!(!cat.is_empty());
        assert_eq!(cat.sources().len(), cat.len());
    }

    #[test]
    fn names_and_aliases_are_unique_after_normalisation() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for source in catalog().sources() {
            let mut own = std::collections::HashSet::new();
            for name in source.names() {
                let key = normalize(name);
                assert!(!key.is_empty(), "{name:?} normalises to nothing");
                if !own.insert(key.clone()) {
                    continue; // two spellings of the same source's name
                }
                if let Some(other) = seen.insert(key.clone(), source.name.as_str()) {
                    panic!(
                        "{name:?} of {:?} collides with {other:?} ({key})",
                        source.name
                    );
                }
            }
        }
    }

    #[test]
    fn no_two_sources_within_a_tenth_of_a_degree() {
        let sources = catalog().sources();
        for (i, a) in sources.iter().enumerate() {
            for b in &sources[i + 1..] {
                let sep = a.position.separation(&b.position);
                assert!(sep > 0.1, "{} and {} are {sep:.3}° apart", a.name, b.name);
            }
        }
    }

    #[test]
    fn fluxes_and_spectra_are_physical() {
        for s in catalog().sources() {
            assert!(s.flux_mcrab.is_finite() && s.flux_mcrab > 0.0, "{}", s.name);
            assert!(s.flux_mcrab <= 1000.0, "{} brighter than the Crab", s.name);
            assert!(
                s.gamma.is_finite() && s.gamma > 0.0 && s.gamma < 5.0,
                "{}",
                s.name
            );
            if let Some(ecut) = s.ecut_kev {
                assert!(ecut.is_finite() && ecut > 0.0, "{}", s.name);
            }
        }
    }

    #[test]
    fn every_class_is_represented() {
        for class in SourceClass::ALL {
            assert!(
                catalog().sources().iter().any(|s| s.class == class),
                "no {class}"
            );
        }
    }

    #[test]
    fn benchmark_sources_resolve_within_an_arcminute() {
        let benchmarks = [
            ("Crab", 83.633, 22.014),
            ("V404 Cyg", 306.016, 33.867),
            ("Cyg X-1", 299.590, 35.202),
            ("Cyg X-3", 308.107, 40.958),
            ("GX 17+2", 274.006, -14.036),
            ("3C 279", 194.047, -5.789),
            ("NGC 2110", 88.047, -7.456),
        ];
        for (name, ra, dec) in benchmarks {
            let expected = SkyCoord::new(ra, dec).unwrap();
            let found = resolve(name).unwrap();
            let sep = found.separation(&expected);
            assert!(
                sep < ARCMIN,
                "{name}: {found} is {:.2}′ from {expected}",
                sep * 60.0
            );
            // The simulation refers to these by their exact catalog names.
            assert_eq!(catalog().get(name).unwrap().name, name);
        }
    }

    #[test]
    fn name_variants_resolve() {
        let cases = [
            ("crab", "Crab"),
            ("CRAB NEBULA", "Crab"),
            ("PSR B0531+21", "Crab"),
            ("CygX-1", "Cyg X-1"),
            ("cyg x1", "Cyg X-1"),
            ("Cyg_X_1", "Cyg X-1"),
            ("Cygnus X-1", "Cyg X-1"),
            ("cygnus x-3", "Cyg X-3"),
            ("V404Cyg", "V404 Cyg"),
            ("v404 cygni", "V404 Cyg"),
            ("GS 2023+338", "V404 Cyg"),
            ("gx17+2", "GX 17+2"),
            ("GX 5-1", "GX 5-1"),
            ("gx 5−1", "GX 5-1"),
            ("3c279", "3C 279"),
            ("3C-279", "3C 279"),
            ("ngc2110", "NGC 2110"),
            ("4U 0614+091", "4U 0614+091"),
            ("H 0614+091", "4U 0614+091"),
            ("4U 1700−377", "4U 1700-377"),
            ("1A 0535+262", "A0535+26"),
            ("GX 354-0", "4U 1728-34"),
            ("3A 1954+319", "4U 1954+319"),
            ("4U 1908+075", "4U 1909+07"),
            ("Sgr A*", "Sgr A*"),
            ("sagittarius a*", "Sgr A*"),
            ("SAX J2103.5+4545", "SAX J2103.5+4545"),
            ("sax j21035+4545", "SAX J2103.5+4545"),
            ("1E 1740.7-2942", "1E 1740.7-2942"),
            ("MCG -5-23-16", "MCG-5-23-16"),
            ("Centaurus A", "Cen A"),
            ("NGC 1275", "Perseus Cluster"),
        ];
        for (query, expected) in cases {
            match catalog().get(query) {
                Ok(source) => assert_eq!(source.name, expected, "{query:?}"),
                Err(err) => panic!("{query:?}: {err}"),
            }
        }
    }

    #[test]
    fn signs_in_coordinate_names_matter() {
        assert!(catalog().get("4U 0614-091").is_err());
        assert!(catalog().get("GX 17-2").is_err());
        assert!(catalog().get("GX 5+1").is_err());
        assert_ne!(normalize("4U 0614+091"), normalize("4U 0614-091"));
        assert_eq!(normalize("Cyg X-1"), normalize("cygx1"));
        assert_eq!(normalize("GX 5-1"), "gx5-1");
    }

    fn suggestions_for(name: &str) -> Vec<String> {
        match resolve(name) {
            Err(Error::UnknownSource {
                name: asked,
                suggestions,
            }) => {
                assert_eq!(asked, name);
                suggestions
            }
            other => panic!("{name:?}: expected UnknownSource, got {other:?}"),
        }
    }

    #[test]
    fn unknown_names_come_with_suggestions() {
        let crabb = suggestions_for("Crabb");
        assert_eq!(crabb.first().map(String::as_str), Some("Crab"));
        let message = resolve("Crabb").unwrap_err().to_string();
        assert!(
            message.contains("Crabb") && message.contains("Crab"),
            "{message}"
        );

        let cyg = suggestions_for("Cyg X-7");
        assert_eq!(&cyg[..3], ["Cyg X-1", "Cyg X-3", "Cyg X-2"], "{cyg:?}");

        for name in ["Crabb", "Cyg X-7", "GX 17+3", "3C 27", "NGC 411"] {
            let suggestions = suggestions_for(name);
            assert!(
                !suggestions.is_empty() && suggestions.len() <= MAX_SUGGESTIONS,
                "{name}: {suggestions:?}"
            );
            let unique: std::collections::HashSet<_> = suggestions.iter().collect();
            assert_eq!(unique.len(), suggestions.len(), "{name}: {suggestions:?}");
        }
        assert!(suggestions_for("GX 17+3").contains(&"GX 17+2".to_string()));
        assert!(suggestions_for("zzzzzzzzzzzz").is_empty());
        assert!(suggestions_for("").is_empty());
    }

    #[test]
    fn within_is_sorted_and_complete() {
        let v404 = resolve("V404 Cyg").unwrap();
        let near = catalog().within(&v404, 15.0);
        let names: Vec<&str> = near.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"V404 Cyg"));
        assert!(
            names.contains(&"Cyg X-1") && names.contains(&"Cyg X-3"),
            "{names:?}"
        );
        assert!(!names.contains(&"Crab"));
        let seps: Vec<f64> = near.iter().map(|s| v404.separation(&s.position)).collect();
        assert!(seps.windows(2).all(|w| w[0] <= w[1]));
        assert!(seps.iter().all(|&d| d <= 15.0));
        let expected = catalog()
            .sources()
            .iter()
            .filter(|s| v404.separation(&s.position) <= 15.0)
            .count();
        assert_eq!(near.len(), expected);

        assert!(catalog().within(&v404, -1.0).is_empty());
        assert!(catalog().within(&v404, f64::NAN).is_empty());
        assert_eq!(catalog().within(&v404, 180.0).len(), catalog().len());
    }

    #[test]
    fn nearest_names_a_detected_source() {
        // A detection half an arcminute from GX 17+2.
        let detected = SkyCoord::new(274.006 + 0.5 * ARCMIN, -14.036).unwrap();
        let (source, sep) = catalog().nearest(&detected, 0.1).unwrap();
        assert_eq!(source.name, "GX 17+2");
        assert!(sep < ARCMIN);
        // Nothing catalogued near the south celestial pole.
        let empty = SkyCoord::new(0.0, -89.0).unwrap();
        assert!(catalog().nearest(&empty, 1.0).is_none());
        let (far, far_sep) = catalog().nearest(&empty, 180.0).unwrap();
        assert!(far_sep > 1.0, "{} at {far_sep}", far.name);
    }

    #[test]
    fn parse_reads_a_small_catalog() {
        let text = format!(
            "# comment\n\n{}\nSrc A\tA1 | A2\t10.0\t-20.5\tlmxb\t5\t2.5\t20\nSrc B\t-\t11\t21\tAGN\t1.5\t1.8\tinf\n",
            header()
        );
        let cat = ReferenceCatalog::parse(&text).unwrap();
        assert_eq!(cat.len(), 2);
        let a = cat.get("a 2").unwrap();
        assert_eq!(a.name, "Src A");
        assert_eq!(a.aliases, ["A1", "A2"]);
        assert_eq!(a.class, SourceClass::Lmxb);
        assert_eq!(a.ecut_kev, Some(20.0));
        let b = cat.get("srcb").unwrap();
        assert!(b.aliases.is_empty());
        assert_eq!(b.ecut_kev, None);
        assert_eq!((b.position.ra(), b.position.dec()), (11.0, 21.0));
    }

    fn parse_error(body: &str) -> String {
        let text = format!("# a comment\n{}\n{body}", header());
        match ReferenceCatalog::parse(&text) {
            Err(err) => {
                assert!(err.is_invalid_parameter());
                err.to_string()
            }
            Ok(cat) => panic!("parsed {} sources from {body:?}", cat.len()),
        }
    }

    #[test]
    fn parse_errors_name_line_and_column() {
        let good = "Good\t-\t1\t2\tAGN\t1\t1.8\tinf\n";
        let msg = parse_error(&format!("{good}Bad\t-\tabc\t2\tAGN\t1\t1.8\tinf\n"));
        assert!(
            msg.contains("line 4") && msg.contains("column 3 (ra_deg)") && msg.contains("abc"),
            "{msg}"
        );

        let msg = parse_error("Bad\t-\t1\t95\tAGN\t1\t1.8\tinf\n");
        assert!(msg.contains("line 3") && msg.contains("dec_deg"), "{msg}");

        let msg = parse_error("Bad\t-\t360\t0\tAGN\t1\t1.8\tinf\n");
        assert!(msg.contains("ra_deg"), "{msg}");

        let msg = parse_error("Bad\t-\t1\t2\tQUASAR\t1\t1.8\tinf\n");
        assert!(
            msg.contains("column 5 (class)") && msg.contains("BLAZAR"),
            "{msg}"
        );

        let msg = parse_error("Bad\t-\t1\t2\tAGN\t-3\t1.8\tinf\n");
        assert!(msg.contains("flux_mcrab"), "{msg}");

        let msg = parse_error("Bad\t-\t1\t2\tAGN\t1\t1.8\t0\n");
        assert!(msg.contains("ecut_kev"), "{msg}");

        let msg = parse_error("Bad\t-\t1\t2\tAGN\t1\n");
        assert!(msg.contains("line 3") && msg.contains("column 7"), "{msg}");

        let msg = parse_error(&format!("{good}Other\tGOOD\t5\t6\tCV\t1\t1.4\t25\n"));
        assert!(
            msg.contains("line 4") && msg.contains("aliases") && msg.contains("line 3"),
            "{msg}"
        );

        let msg = parse_error("...\t-\t1\t2\tAGN\t1\t1.8\tinf\n");
        assert!(msg.contains("column 1 (name)"), "{msg}");

        let err = ReferenceCatalog::parse("Src\t-\t1\t2\tAGN\t1\t1.8\tinf\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = ReferenceCatalog::parse("# only comments\n").unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }

    #[test]
    fn classes_round_trip() {
        for class in SourceClass::ALL {
            assert_eq!(class.code().parse::<SourceClass>().unwrap(), class);
            assert_eq!(class.to_string(), class.code());
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.code()));
        }
        assert!("pulsar".parse::<SourceClass>().is_err());
    }

    #[test]
    fn sources_serialize() {
        let v404 = catalog().get("V404 Cyg").unwrap();
        let json = serde_json::to_string(v404).unwrap();
        assert!(json.contains("\"BHB\""), "{json}");
        let back: CatalogSource = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, v404);
    }
}
