//! The simulated sky: sources with spectra and light curves, the truth the analysis must recover.
//!
//! Each source is a sum of components; a component is a [`SpectralModel`] (its spectrum at unit
//! level) times a dimensionless [`LightCurveModel`], so N(E, t) = Σ_c L_c(t)·N_c(E). A source
//! whose spectral shape changes (V404 Cyg's flares) simply has several components.
//!
//! The sky is fixed: its random structure (flare times, red-noise phases) is drawn from a
//! constant seed, so every simulation seed sees the same sky with independent photons.

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sky::{ReferenceCatalog, SkyCoord, SourceClass};
use crate::spectrum::SpectralModel;
use crate::time::Time;

/// 20–40 keV photon flux of the Crab, ph/cm²/s: the unit behind "mCrab" here.
pub const CRAB_PHOTON_FLUX_20_40: f64 = 0.165_807_5;
/// The simulated Crab spectrum: Γ = 2.09 up to 500 keV (then 2.33, as SPI sees it), with
/// F(30–300 keV) = 2.19 × 10⁻⁸ erg/cm²/s — the ISGRI values of the ODA paper.
pub const CRAB_GAMMA: f64 = 2.09;
/// Crab 30–300 keV energy flux, erg/cm²/s.
pub const CRAB_FLUX_30_300: f64 = 2.19e-8;

/// The seed of the sky's own structure; not the photon seed.
const SKY_SEED: u64 = 0x5CA7_7E2E_D5C1_E5A1;

/// Dimensionless time dependence of a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LightCurveModel {
    /// Always 1.
    Constant,
    /// `1 + Σ a_i sin(2π t/P_i + φ_i)`: slow, smooth variations (years).
    Drift {
        /// (amplitude, period in days, phase in radians).
        terms: Vec<(f64, f64, f64)>,
    },
    /// `exp(σ·X(t) − σ²/2)` with X a smooth unit-variance process (a sum of sinusoids with
    /// log-spaced periods): red-noise variability with mean 1.
    LogNormal {
        /// Standard deviation of ln L.
        sigma: f64,
        /// (period in days, phase) of each term; amplitudes are equal.
        terms: Vec<(f64, f64)>,
    },
    /// `base + Σ bumps`: episodes of raised activity with smooth (logistic) edges.
    Episodes {
        /// Level outside the episodes.
        base: f64,
        /// (start IJD, stop IJD, extra level, edge time scale in days).
        episodes: Vec<(f64, f64, f64, f64)>,
    },
    /// A single flare: exponential rise to `peak` at `t_peak` (IJD), exponential decay.
    Flare {
        /// Peak time, IJD.
        t_peak: f64,
        /// Rise e-folding time, s.
        rise_s: f64,
        /// Decay e-folding time, s.
        decay_s: f64,
        /// Peak level.
        peak: f64,
    },
    /// 1 inside [start, stop) (IJD) with logistic edges of `edge_s` seconds, 0 outside.
    Window {
        /// Start, IJD.
        start: f64,
        /// Stop, IJD.
        stop: f64,
        /// Edge time scale, s.
        edge_s: f64,
    },
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl LightCurveModel {
    /// The level at IJD `t`.
    pub fn at(&self, t: f64) -> f64 {
        match self {
            LightCurveModel::Constant => 1.0,
            LightCurveModel::Drift { terms } => {
                1.0 + terms
                    .iter()
                    .map(|(a, p, ph)| a * (TAU * t / p + ph).sin())
                    .sum::<f64>()
            }
            LightCurveModel::LogNormal { sigma, terms } => {
                let norm = (2.0 / terms.len().max(1) as f64).sqrt();
                let x: f64 = terms
                    .iter()
                    .map(|(p, ph)| (TAU * t / p + ph).sin())
                    .sum::<f64>()
                    * norm;
                (sigma * x - sigma * sigma / 2.0).exp()
            }
            LightCurveModel::Episodes { base, episodes } => {
                base + episodes
                    .iter()
                    .map(|(a, b, level, edge)| {
                        level * logistic((t - a) / edge) * logistic((b - t) / edge)
                    })
                    .sum::<f64>()
            }
            LightCurveModel::Flare {
                t_peak,
                rise_s,
                decay_s,
                peak,
            } => {
                let dt = (t - t_peak) * crate::time::SECONDS_PER_DAY;
                if dt < 0.0 {
                    peak * (dt / rise_s).exp()
                } else {
                    peak * (-dt / decay_s).exp()
                }
            }
            LightCurveModel::Window {
                start,
                stop,
                edge_s,
            } => {
                let e = edge_s / crate::time::SECONDS_PER_DAY;
                logistic((t - start) / e) * logistic((stop - t) / e)
            }
        }
    }

    /// True when the level varies within `span` seconds somewhere (so time slicing is needed).
    pub fn is_variable_on(&self, span_s: f64) -> bool {
        match self {
            LightCurveModel::Constant => false,
            LightCurveModel::Drift { terms } => {
                terms.iter().any(|(_, p, _)| p * 86_400.0 < 100.0 * span_s)
            }
            LightCurveModel::LogNormal { terms, .. } => {
                terms.iter().any(|(p, _)| p * 86_400.0 < 100.0 * span_s)
            }
            LightCurveModel::Episodes { episodes, .. } => {
                episodes.iter().any(|e| e.3 * 86_400.0 < 100.0 * span_s)
            }
            LightCurveModel::Flare { .. } | LightCurveModel::Window { .. } => true,
        }
    }
}

/// One spectral component of a source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The spectrum at level 1.
    pub spectrum: SpectralModel,
    /// The time dependence.
    pub light_curve: LightCurveModel,
}

/// A source of the simulated sky.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkySource {
    /// Name (the reference catalog's).
    pub name: String,
    /// Position.
    pub position: SkyCoord,
    /// Spectral components.
    pub components: Vec<Component>,
}

impl SkySource {
    /// Photon flux density at `e` keV and IJD `t`, ph/cm²/s/keV.
    pub fn density(&self, e: f64, t: f64) -> f64 {
        self.components
            .iter()
            .map(|c| c.light_curve.at(t) * c.spectrum.density(e))
            .sum()
    }

    /// Photon flux in [e1, e2] keV at IJD `t`, ph/cm²/s.
    pub fn photon_flux(&self, e1: f64, e2: f64, t: f64) -> f64 {
        self.components
            .iter()
            .map(|c| c.light_curve.at(t) * c.spectrum.photon_flux(e1, e2))
            .sum()
    }

    /// Energy flux in [e1, e2] keV at IJD `t`, erg/cm²/s.
    pub fn energy_flux(&self, e1: f64, e2: f64, t: f64) -> f64 {
        self.components
            .iter()
            .map(|c| c.light_curve.at(t) * c.spectrum.energy_flux(e1, e2))
            .sum()
    }

    /// False only when the source certainly gives no photons between IJD `t0` and `t1`: every
    /// component is a [`LightCurveModel::Window`] that closes (to e⁻³⁰ of its level) before `t0`
    /// or opens after `t1`.
    pub fn active_between(&self, t0: f64, t1: f64) -> bool {
        self.components.iter().any(|c| match c.light_curve {
            LightCurveModel::Window {
                start,
                stop,
                edge_s,
            } => {
                let margin = 30.0 * edge_s / crate::time::SECONDS_PER_DAY;
                start - margin < t1 && stop + margin > t0
            }
            _ => true,
        })
    }

    /// 20–40 keV flux at IJD `t` in mCrab.
    pub fn mcrab(&self, t: f64) -> f64 {
        self.photon_flux(20.0, 40.0, t) / CRAB_PHOTON_FLUX_20_40 * 1000.0
    }
}

/// The whole simulated sky.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkyModel {
    sources: Vec<SkySource>,
}

fn ijd(s: &str) -> f64 {
    // Literal dates of this file: a malformed one is caught by the tests.
    Time::from_isot(s).map(Time::ijd).unwrap_or(f64::NAN)
}

/// A shape with its 20–40 keV photon flux set to `mcrab` mCrab.
fn at_mcrab(shape: SpectralModel, mcrab: f64) -> SpectralModel {
    shape.scaled_to_photon_flux(mcrab / 1000.0 * CRAB_PHOTON_FLUX_20_40, 20.0, 40.0)
}

fn constant(spectrum: SpectralModel) -> Component {
    Component {
        spectrum,
        light_curve: LightCurveModel::Constant,
    }
}

fn log_normal(
    rng: &mut ChaCha8Rng,
    sigma: f64,
    shortest_days: f64,
    longest_days: f64,
) -> LightCurveModel {
    let n = 12;
    let terms = (0..n)
        .map(|i| {
            let f = (i as f64 + rng.random::<f64>()) / n as f64;
            (
                shortest_days * (longest_days / shortest_days).powf(f),
                rng.random::<f64>() * TAU,
            )
        })
        .collect();
    LightCurveModel::LogNormal { sigma, terms }
}

impl SkyModel {
    /// The default sky: the reference catalog with the ODA paper's benchmark sources modelled
    /// in detail (Crab, V404 Cyg's 2015 outburst, GX 17+2, 3C 279, NGC 2110, ...).
    ///
    /// # Errors
    /// Only if the bundled catalog cannot be read (a build defect caught by the tests).
    pub fn default_sky() -> Result<SkyModel> {
        let catalog = ReferenceCatalog::bundled()?;
        let mut rng = ChaCha8Rng::seed_from_u64(SKY_SEED);
        let mut sources = Vec::with_capacity(catalog.len());
        for entry in catalog.sources() {
            let components = match entry.name.as_str() {
                "Crab" => vec![Component {
                    spectrum: SpectralModel::broken_power_law(1.0, CRAB_GAMMA, 500.0, 2.33)
                        .scaled_to_energy_flux(CRAB_FLUX_30_300, 30.0, 300.0),
                    // The nebula's few-percent slow variability (Wilson-Hodge et al. 2011).
                    light_curve: LightCurveModel::Drift {
                        terms: vec![
                            (0.025, 8.0 * 365.25, 0.7),
                            (0.015, 3.1 * 365.25, 2.1),
                            (0.008, 1.3 * 365.25, 4.0),
                        ],
                    },
                }],
                "V404 Cyg" => v404_outburst(&mut rng),
                "GX 17+2" => vec![Component {
                    // Paper: Γ = 3.3, Ecut = 10 keV, F(20–60 keV) = 2.5e-10 erg/cm²/s; varies within ×2.
                    spectrum: SpectralModel::cutoff_power_law(1.0, 3.3, 10.0)
                        .scaled_to_energy_flux(2.5e-10, 20.0, 60.0),
                    light_curve: log_normal(&mut rng, 0.2, 2.0, 400.0),
                }],
                "3C 279" => vec![
                    constant(at_mcrab(SpectralModel::power_law(1.0, 1.6), 1.8)),
                    Component {
                        // The June 2015 flare: ~1 ct/s in 20–100 keV, very hard (Γ ≈ 0.7).
                        spectrum: at_mcrab(SpectralModel::power_law(1.0, 0.7), 2.5),
                        light_curve: LightCurveModel::Window {
                            start: ijd("2015-06-14T00:00:00"),
                            stop: ijd("2015-06-19T00:00:00"),
                            edge_s: 20_000.0,
                        },
                    },
                ],
                "NGC 2110" => vec![Component {
                    spectrum: at_mcrab(SpectralModel::cutoff_power_law(1.0, 1.7, 250.0), 13.0),
                    light_curve: LightCurveModel::Episodes {
                        base: 1.0,
                        episodes: vec![
                            (ijd("2005-02-01"), ijd("2005-09-01"), 0.6, 20.0),
                            (ijd("2012-10-01"), ijd("2013-06-01"), 0.9, 20.0),
                            (ijd("2016-03-01"), ijd("2016-11-01"), 0.5, 20.0),
                        ],
                    },
                }],
                _ => {
                    let shape = match entry.ecut_kev {
                        Some(ecut) => SpectralModel::cutoff_power_law(1.0, entry.gamma, ecut),
                        None => SpectralModel::power_law(1.0, entry.gamma),
                    };
                    let spectrum = at_mcrab(shape, entry.flux_mcrab);
                    let light_curve = match entry.class {
                        SourceClass::Lmxb | SourceClass::Hmxb | SourceClass::BlackHoleBinary => {
                            log_normal(&mut rng, 0.25, 1.0, 300.0)
                        }
                        SourceClass::Agn | SourceClass::Blazar => {
                            log_normal(&mut rng, 0.2, 30.0, 2000.0)
                        }
                        _ => LightCurveModel::Constant,
                    };
                    vec![Component {
                        spectrum,
                        light_curve,
                    }]
                }
            };
            sources.push(SkySource {
                name: entry.name.clone(),
                position: entry.position,
                components,
            });
        }
        Ok(SkyModel { sources })
    }

    /// A sky of the given sources only (for tests and what-if simulations).
    pub fn from_sources(sources: Vec<SkySource>) -> SkyModel {
        SkyModel { sources }
    }

    /// The same sky with `extra` sources added after its own (each source keeps its place, and
    /// so its random stream).
    pub fn with_extra_sources(mut self, extra: &[SkySource]) -> SkyModel {
        self.sources.extend(extra.iter().cloned());
        self
    }

    /// All sources.
    pub fn sources(&self) -> &[SkySource] {
        &self.sources
    }

    /// The source called `name` (exact catalog name).
    pub fn source(&self, name: &str) -> Option<&SkySource> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// V404 Cyg: quiescent, then the 2015 June 18–28 outburst — a hard low state (Γ ≈ 1.0,
/// Ecut ≈ 110 keV) under flares of up to ~50 Crab with Γ 1.3–2.6 and Ecut 60–120 keV
/// (the paper's Table 2).
fn v404_outburst(rng: &mut ChaCha8Rng) -> Vec<Component> {
    let start = ijd("2015-06-18T00:00:00");
    let stop = ijd("2015-06-28T00:00:00");
    let mut comps = vec![
        constant(at_mcrab(SpectralModel::power_law(1.0, 2.0), 0.3)),
        Component {
            spectrum: at_mcrab(SpectralModel::cutoff_power_law(1.0, 1.0, 110.0), 400.0),
            light_curve: LightCurveModel::Window {
                start,
                stop,
                edge_s: 3_000.0,
            },
        },
    ];
    let n_flares = 48;
    for i in 0..n_flares {
        let u: f64 = (i as f64 + rng.random::<f64>()) / n_flares as f64;
        // Spread over June 19.5–27, one per jittered slot; the last few are the brightest.
        let t_peak = start + 1.5 + (stop - start - 2.0) * u;
        let bright = i >= n_flares - 6;
        let peak_crab = if bright {
            30.0 + 18.0 * rng.random::<f64>()
        } else {
            1.0 + 14.0 * rng.random::<f64>().powi(2)
        };
        let gamma = 1.3 + 1.3 * rng.random::<f64>();
        let ecut = 60.0 + 60.0 * rng.random::<f64>();
        comps.push(Component {
            spectrum: at_mcrab(SpectralModel::cutoff_power_law(1.0, gamma, ecut), 1000.0),
            light_curve: LightCurveModel::Flare {
                t_peak,
                rise_s: 100.0 + 500.0 * rng.random::<f64>(),
                decay_s: 300.0 + 2500.0 * rng.random::<f64>(),
                peak: peak_crab,
            },
        });
    }
    comps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crab_matches_the_isgri_calibration() {
        let sky = SkyModel::default_sky().unwrap();
        let crab = sky.source("Crab").unwrap();
        let t = ijd("2013-03-01");
        let lc = crab.components[0].light_curve.at(t);
        assert!((crab.energy_flux(30.0, 300.0, t) / lc / CRAB_FLUX_30_300 - 1.0).abs() < 1e-6);
        assert!((crab.photon_flux(20.0, 40.0, t) / lc - CRAB_PHOTON_FLUX_20_40).abs() < 2e-3);
        // Slow variability within ±5 % over the mission.
        for y in 2003..2020 {
            let v = crab.components[0]
                .light_curve
                .at(ijd(&format!("{y}-06-01")));
            assert!((v - 1.0).abs() < 0.05, "{y}: {v}");
        }
    }

    #[test]
    fn v404_outburst_reaches_tens_of_crab() {
        let sky = SkyModel::default_sky().unwrap();
        let v404 = sky.source("V404 Cyg").unwrap();
        assert!(v404.mcrab(ijd("2015-01-01")) < 1.0);
        let (start, stop) = (ijd("2015-06-18"), ijd("2015-06-28"));
        let peak = (0..20_000)
            .map(|i| v404.mcrab(start + (stop - start) * i as f64 / 20_000.0))
            .fold(0.0, f64::max);
        assert!((30_000.0..60_000.0).contains(&peak), "{peak}");
    }

    #[test]
    fn gx17_varies_within_a_factor_two() {
        let sky = SkyModel::default_sky().unwrap();
        let gx = sky.source("GX 17+2").unwrap();
        let levels: Vec<f64> = (0..2000)
            .map(|i| gx.components[0].light_curve.at(1100.0 + 3.0 * i as f64))
            .collect();
        let (lo, hi) = levels
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
        assert!(hi / lo > 1.5 && hi / lo < 4.5, "{lo} {hi}");
        let f = gx.components[0].spectrum.energy_flux(20.0, 60.0);
        assert!((f / 2.5e-10 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_sky_is_the_same_every_time() {
        assert_eq!(
            SkyModel::default_sky().unwrap(),
            SkyModel::default_sky().unwrap()
        );
        assert!(!ijd("2015-06-18").is_nan());
    }
}
