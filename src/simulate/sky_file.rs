//! Sources the reference catalog does not know, added to the simulated sky from a JSON file
//! (`--sky FILE`, `ODA_SIM_SKY`): the test that the image chain finds what it was not told of.
//!
//! The file is a JSON list of objects:
//!
//! ```json
//! [
//!   {"name": "Test Src A", "ra": 84.5, "dec": 21.0, "model": "powerlaw", "index": 2.0,
//!    "flux_erg_cm2_s": 2e-10, "flux_band_kev": [20, 40]},
//!   {"name": "Transient B", "ra": 82.0, "dec": 23.5, "model": "cutoffpl", "index": 1.2,
//!    "ecut_kev": 80, "flux_erg_cm2_s": 5e-9, "flux_band_kev": [20, 100],
//!    "active_mjd": [55200.0, 55230.0]}
//! ]
//! ```
//!
//! `ra`, `dec` in degrees (ICRS); `model` `powerlaw` (photon `index`) or `cutoffpl` (`index`
//! and `ecut_kev`); the energy flux `flux_erg_cm2_s` in `flux_band_kev` = [E1, E2] keV sets
//! the normalisation; `active_mjd` = [start, stop] makes a transient, shining at that flux
//! inside the interval (MJD UTC; one-minute edges) and not at all outside it.
//!
//! The extra sources come after the default sky's, so each keeps its own random stream and a
//! Science Window that does not see them keeps bit-identical events (and cache identities).

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::sky_model::{Component, LightCurveModel, SkySource};
use crate::error::{Error, Result};
use crate::sky::{ReferenceCatalog, SkyCoord};
use crate::spectrum::SpectralModel;
use crate::time::Time;

/// Rise and decay of a transient's window, s.
const TRANSIENT_EDGE_S: f64 = 60.0;
/// Longest source name: the FITS catalog's NAME column and the service's limit.
const MAX_NAME_LEN: usize = 24;

/// One entry of the file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    ra: f64,
    dec: f64,
    model: String,
    index: f64,
    #[serde(default)]
    ecut_kev: Option<f64>,
    flux_erg_cm2_s: f64,
    flux_band_kev: [f64; 2],
    #[serde(default)]
    active_mjd: Option<[f64; 2]>,
}

/// Extra sources for the simulated sky, read from a JSON file, with the digest of that file.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraSky {
    sources: Vec<SkySource>,
    digest: String,
}

impl ExtraSky {
    /// Reads and checks a sky file.
    ///
    /// # Errors
    /// An unreadable file ([`Error::Io`]); JSON that is not a list of source objects, or a
    /// value out of range, named by entry number and field ([`Error::InvalidParameter`]).
    pub fn read(path: &Path) -> Result<ExtraSky> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        ExtraSky::parse(&text).map_err(|e| match e {
            Error::InvalidParameter {
                name,
                value,
                allowed,
            } => Error::InvalidParameter {
                name: format!("{} ({})", name, path.display()),
                value,
                allowed,
            },
            other => other,
        })
    }

    /// Parses the text of a sky file (see the module documentation for the format).
    ///
    /// # Errors
    /// As [`ExtraSky::read`].
    pub fn parse(text: &str) -> Result<ExtraSky> {
        let entries: Vec<Entry> = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                "sky file",
                format!("line {}, column {}: {e}", e.line(), e.column()),
                "a JSON list of objects with name, ra, dec, model, index, [ecut_kev], \
                 flux_erg_cm2_s, flux_band_kev, [active_mjd]",
            )
        })?;
        let reference = ReferenceCatalog::bundled()?;
        let mut sources: Vec<SkySource> = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let source = entry_source(i + 1, e, reference)?;
            if sources.iter().any(|s| s.name == source.name) {
                return Err(field(
                    i + 1,
                    "name",
                    &e.name,
                    "a name not used by another entry",
                ));
            }
            sources.push(source);
        }
        let digest = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(ExtraSky { sources, digest })
    }

    /// The sources, in file order.
    pub fn sources(&self) -> &[SkySource] {
        &self.sources
    }

    /// SHA-256 of the file's text, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn field(entry: usize, name: &str, value: impl std::fmt::Display, allowed: &str) -> Error {
    Error::invalid(format!("sky file entry {entry}: {name}"), value, allowed)
}

fn finite_in(entry: usize, name: &str, v: f64, lo: f64, hi: f64, allowed: &str) -> Result<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(field(entry, name, v, allowed))
    }
}

fn entry_source(k: usize, e: &Entry, reference: &ReferenceCatalog) -> Result<SkySource> {
    let name = e.name.trim();
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        || name.contains(['<', '>'])
    {
        return Err(field(
            k,
            "name",
            format!("{:?}", e.name),
            "1 to 24 printable ASCII characters without < >",
        ));
    }
    if let Ok(known) = reference.get(name) {
        return Err(field(
            k,
            "name",
            name,
            &format!(
                "a name the reference catalog does not know (it is {:?} there): the extra \
                 sources are the ones the analysis is not told about",
                known.name
            ),
        ));
    }
    let ra = finite_in(k, "ra", e.ra, 0.0, 360.0, "degrees in [0, 360]")?;
    let dec = finite_in(k, "dec", e.dec, -90.0, 90.0, "degrees in [-90, 90]")?;
    let position = SkyCoord::new(ra, dec)?;
    let index = finite_in(k, "index", e.index, -1.0, 5.0, "a photon index in [-1, 5]")?;
    let shape = match e.model.as_str() {
        "powerlaw" => {
            if let Some(c) = e.ecut_kev {
                return Err(field(k, "ecut_kev", c, "absent for model powerlaw"));
            }
            SpectralModel::power_law(1.0, index)
        }
        "cutoffpl" => {
            let Some(c) = e.ecut_kev else {
                return Err(field(
                    k,
                    "ecut_kev",
                    "(missing)",
                    "the cut-off energy in keV for model cutoffpl",
                ));
            };
            let c = finite_in(k, "ecut_kev", c, 1.0, 10_000.0, "keV in [1, 10000]")?;
            SpectralModel::cutoff_power_law(1.0, index, c)
        }
        other => return Err(field(k, "model", other, "powerlaw or cutoffpl")),
    };
    let [e1, e2] = e.flux_band_kev;
    if !(e1.is_finite() && e2.is_finite() && e1 > 0.0 && e2 > e1 && e2 <= 10_000.0) {
        return Err(field(
            k,
            "flux_band_kev",
            format!("[{e1}, {e2}]"),
            "[E1, E2] keV with 0 < E1 < E2 ≤ 10000",
        ));
    }
    let flux = e.flux_erg_cm2_s;
    if !(flux.is_finite() && flux > 0.0 && flux < 1e-5) {
        return Err(field(
            k,
            "flux_erg_cm2_s",
            flux,
            "a positive energy flux in erg/cm²/s below 1e-5",
        ));
    }
    let spectrum = shape.scaled_to_energy_flux(flux, e1, e2);
    let light_curve = match e.active_mjd {
        None => LightCurveModel::Constant,
        Some([a, b]) => {
            let start =
                Time::from_mjd_utc(a).map_err(|_| field(k, "active_mjd", a, "MJD dates"))?;
            let stop = Time::from_mjd_utc(b).map_err(|_| field(k, "active_mjd", b, "MJD dates"))?;
            if stop.ijd() <= start.ijd() {
                return Err(field(
                    k,
                    "active_mjd",
                    format!("[{a}, {b}]"),
                    "[start, stop] in MJD with start < stop",
                ));
            }
            LightCurveModel::Window {
                start: start.ijd(),
                stop: stop.ijd(),
                edge_s: TRANSIENT_EDGE_S,
            }
        }
    };
    Ok(SkySource {
        name: name.to_string(),
        position,
        components: vec![Component {
            spectrum,
            light_curve,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[
      {"name": "Test Src A", "ra": 84.5, "dec": 21.0, "model": "powerlaw", "index": 2.0,
       "flux_erg_cm2_s": 2e-10, "flux_band_kev": [20, 40]},
      {"name": "Transient B", "ra": 82.0, "dec": 23.5, "model": "cutoffpl", "index": 1.2,
       "ecut_kev": 80, "flux_erg_cm2_s": 5e-9, "flux_band_kev": [20, 100],
       "active_mjd": [55200.0, 55230.0]}
    ]"#;

    #[test]
    fn a_good_file_gives_sources_with_the_stated_fluxes() {
        let sky = ExtraSky::parse(GOOD).unwrap();
        assert_eq!(sky.sources().len(), 2);
        let a = &sky.sources()[0];
        let f = a.energy_flux(20.0, 40.0, 0.0);
        assert!((f / 2e-10 - 1.0).abs() < 1e-9, "{f}");
        let b = &sky.sources()[1];
        let inside = Time::from_mjd_utc(55215.0).unwrap().ijd();
        let outside = Time::from_mjd_utc(55100.0).unwrap().ijd();
        assert!((b.energy_flux(20.0, 100.0, inside) / 5e-9 - 1.0).abs() < 1e-6);
        assert_eq!(b.energy_flux(20.0, 100.0, outside), 0.0);
        assert_eq!(sky.digest().len(), 64);
        assert_ne!(
            sky.digest(),
            ExtraSky::parse(&GOOD.replace("84.5", "84.6"))
                .unwrap()
                .digest()
        );
    }

    #[test]
    fn bad_entries_are_named_by_entry_and_field() {
        let cases = [
            (GOOD.replace("\"ra\": 84.5", "\"ra\": 400"), "entry 1: ra"),
            (GOOD.replace("\"powerlaw\"", "\"bbody\""), "entry 1: model"),
            (GOOD.replace("\"ecut_kev\": 80, ", ""), "entry 2: ecut_kev"),
            (
                GOOD.replace("[20, 40]", "[40, 20]"),
                "entry 1: flux_band_kev",
            ),
            (GOOD.replace("2e-10", "-1"), "entry 1: flux_erg_cm2_s"),
            (
                GOOD.replace("[55200.0, 55230.0]", "[55230.0, 55200.0]"),
                "entry 2: active_mjd",
            ),
            (GOOD.replace("Test Src A", "Crab"), "entry 1: name"),
            (GOOD.replace("Transient B", "Test Src A"), "entry 2: name"),
            (
                GOOD.replace("\"index\": 2.0,", "\"index\": 2.0, \"colour\": 1,"),
                "sky file",
            ),
            ("{}".to_string(), "sky file"),
        ];
        for (text, name) in cases {
            let err = ExtraSky::parse(&text).unwrap_err();
            assert!(
                err.parameter().is_some_and(|p| p.contains(name)),
                "{name}: {err}"
            );
        }
    }
}
