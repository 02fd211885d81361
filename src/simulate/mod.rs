//! The simulated mission: the embedded default archive.
//!
//! A [`Simulation`] is a fixed sky ([`SkyModel`]), a fixed observing plan for 2003–2019
//! ([`PointingPlan`]) and a seed for the photons. The events of a Science Window are generated
//! on demand, deterministically from (seed, SWID): Poisson counts from every source in the field
//! through the mask (PIF) and the response, plus background, dead and noisy pixels, flagged
//! events and GTIs with occasional gaps. The same (seed, SWID) always gives bit-identical events,
//! so a materialised file can be deleted and regenerated; another seed is an independent universe
//! of photons from the same sky.
//!
//! The simulation also tells the truth: [`Simulation::expected_counts`] integrates the model
//! (through the response matrix, not the event sampler) for the statistical tests.
//!
//! ```no_run
//! use oda::simulate::Simulation;
//! let sim = Simulation::new(oda::simulate::DEFAULT_SEED)?;
//! let first = &sim.plan().scws()[0];
//! let events = sim.events(&first.scw.swid)?;
//! println!("{} events in {}", events.len(), first.scw.swid);
//! # Ok::<(), oda::Error>(())
//! ```

mod archive;
mod background;
pub mod calibration;
mod events;
pub mod instrument;
mod jemx;
mod pointing;
mod sampling;
mod sky_file;
mod sky_model;
pub mod spiacs;

use std::sync::{Arc, OnceLock};

pub use background::Background;
pub use pointing::{
    Dither, FIRST_REVOLUTION, LAST_REVOLUTION, PlannedScw, PointingPlan, sun_allows, sun_position,
};
pub use sky_file::ExtraSky;
pub use sky_model::{
    CRAB_FLUX_30_300, CRAB_GAMMA, CRAB_PHOTON_FLUX_20_40, Component, LightCurveModel, SkyModel,
    SkySource,
};

use crate::archive::{EventList, JemxEvents, ScienceWindow, ScwId, ScwIndex};
use crate::error::{Error, Result};
use crate::instrument::coded_mask::CodedMaskGeometry;
use crate::instrument::isgri::N_PIXELS;
use crate::instrument::jemx::JemxUnit;
use crate::time::{SECONDS_PER_DAY, Time};
use events::{PIXEL_AREA_CM2, ScwConditions, background_density, log_edges};
use instrument::{detection_efficiency, threshold_efficiency, true_rmf_with_gain};

pub use crate::config::{DEFAULT_SEED, Perturbation};
pub use jemx::{
    BACKGROUND_RATE as JEMX_BACKGROUND_RATE, JEMX_MODEL_VERSION,
    TRUE_AREA_SCALE as JEMX_TRUE_AREA_SCALE,
};

/// Version of the simulated mission (sky, observing plan, instrument model, event generator,
/// calibration files): [`crate::config::SIMULATION_MODEL_VERSION`], which names the
/// directory of the materialised archive.
pub const MODEL_VERSION: u32 = crate::config::SIMULATION_MODEL_VERSION;

/// The simulated mission with one photon seed.
#[derive(Clone, Debug)]
pub struct Simulation {
    seed: u64,
    sky: Arc<SkyModel>,
    plan: Arc<PointingPlan>,
    telescope: Arc<CodedMaskGeometry>,
    /// Sources added to the sky that the reference catalog does not know.
    extra: Arc<Vec<SkySource>>,
    /// How the simulated instrument differs from its calibration.
    perturbation: Perturbation,
}

fn default_sky() -> Result<Arc<SkyModel>> {
    static SKY: OnceLock<Arc<SkyModel>> = OnceLock::new();
    if let Some(s) = SKY.get() {
        return Ok(s.clone());
    }
    let sky = Arc::new(SkyModel::default_sky()?);
    Ok(SKY.get_or_init(|| sky).clone())
}

fn default_plan() -> Result<Arc<PointingPlan>> {
    static PLAN: OnceLock<Arc<PointingPlan>> = OnceLock::new();
    if let Some(p) = PLAN.get() {
        return Ok(p.clone());
    }
    let targets: Vec<_> = crate::sky::ReferenceCatalog::bundled()?
        .sources()
        .iter()
        .map(|s| (s.name.clone(), s.position))
        .collect();
    let plan = Arc::new(PointingPlan::generate(
        FIRST_REVOLUTION,
        LAST_REVOLUTION,
        &targets,
    ));
    Ok(PLAN.get_or_init(|| plan).clone())
}

/// Expected numbers of good events in an energy band: the truth for statistical tests.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedCounts {
    /// Background events.
    pub background: f64,
    /// Events of each source in the field, by name.
    pub sources: Vec<(String, f64)>,
}

impl ExpectedCounts {
    /// Background plus all sources.
    pub fn total(&self) -> f64 {
        self.background + self.sources.iter().map(|s| s.1).sum::<f64>()
    }

    /// Events expected from `name` (0 if it is not in the field).
    pub fn source(&self, name: &str) -> f64 {
        self.sources
            .iter()
            .find(|s| s.0 == name)
            .map_or(0.0, |s| s.1)
    }
}

impl Simulation {
    /// The default sky and observing plan with photon seed `seed`.
    ///
    /// # Errors
    /// Only if the bundled reference catalog cannot be read.
    pub fn new(seed: u64) -> Result<Simulation> {
        Ok(Simulation {
            seed,
            sky: default_sky()?,
            plan: default_plan()?,
            telescope: crate::instrument::isgri::geometry(),
            extra: Arc::new(Vec::new()),
            perturbation: Perturbation::NOMINAL,
        })
    }

    /// The same simulation with its instrument perturbed from its calibration (see
    /// [`Perturbation`]): every Science Window's events change, the calibration files do not.
    /// Perturbed photons are added to or removed from the nominal ones on streams of their own,
    /// so a perturbed universe differs from the nominal one of the same seed only by the
    /// perturbation's effect (shifts are measured precisely on few Science Windows).
    pub fn with_perturbation(&self, perturbation: Perturbation) -> Simulation {
        Simulation {
            perturbation,
            ..self.clone()
        }
    }

    /// How the simulated instrument differs from its calibration.
    pub fn perturbation(&self) -> &Perturbation {
        &self.perturbation
    }

    /// The same simulation with `extra` sources added to its sky: they change the events (and
    /// so the provenance) of exactly the Science Windows that see them.
    pub fn with_extra_sky(&self, extra: &ExtraSky) -> Simulation {
        let mut all = self.extra.as_ref().clone();
        all.extend(extra.sources().iter().cloned());
        Simulation {
            sky: Arc::new(
                self.sky
                    .as_ref()
                    .clone()
                    .with_extra_sources(extra.sources()),
            ),
            extra: Arc::new(all),
            ..self.clone()
        }
    }

    /// The extra sources (from a sky file) that pointing `p` sees.
    pub fn extra_sources_seen(&self, p: &PlannedScw) -> Vec<&SkySource> {
        self.extra.iter().filter(|s| events::sees(p, s)).collect()
    }

    /// The same plan and seed with another sky (to isolate sources in tests, or for what-ifs).
    pub fn with_sky(&self, sky: SkyModel) -> Simulation {
        Simulation {
            sky: Arc::new(sky),
            ..self.clone()
        }
    }

    /// The photon seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The simulated sky (the truth).
    pub fn sky(&self) -> &SkyModel {
        &self.sky
    }

    /// The observing plan.
    pub fn plan(&self) -> &PointingPlan {
        &self.plan
    }

    /// The Science Window index of the simulated archive.
    pub fn index(&self) -> ScwIndex {
        ScwIndex {
            scws: self
                .plan
                .scws()
                .iter()
                .map(|p| p.scw.clone())
                .collect::<Vec<ScienceWindow>>(),
        }
    }

    /// The planned Science Window `swid`.
    ///
    /// # Errors
    /// [`Error::ScienceWindow`] when `swid` is not in the simulated archive.
    pub fn planned(&self, swid: &ScwId) -> Result<&PlannedScw> {
        self.plan.get(swid).ok_or_else(|| Error::ScienceWindow {
            swid: swid.to_string(),
            reason: format!(
                "not in the simulated archive (pointings of revolutions {FIRST_REVOLUTION}–{LAST_REVOLUTION}); \
                 `oda scw list` shows what exists"
            ),
        })
    }

    /// The events of Science Window `swid`.
    ///
    /// # Errors
    /// [`Error::ScienceWindow`] when `swid` is not in the simulated archive.
    pub fn events(&self, swid: &ScwId) -> Result<EventList> {
        Ok(self.events_for(self.planned(swid)?))
    }

    /// The events of JEM-X unit `unit` in Science Window `swid`.
    ///
    /// # Errors
    /// [`Error::ScienceWindow`] when `swid` is not in the simulated archive or the unit was not
    /// operating then (see [`crate::instrument::jemx::units_on`]).
    pub fn jemx_events(&self, swid: &ScwId, unit: JemxUnit) -> Result<JemxEvents> {
        let p = self.planned(swid)?;
        let t = Time::from_ijd_unchecked(0.5 * (p.scw.tstart + p.scw.tstop));
        let on = crate::instrument::jemx::units_on(t);
        if !on.contains(&unit) {
            let names: Vec<String> = on.iter().map(ToString::to_string).collect();
            return Err(Error::ScienceWindow {
                swid: swid.to_string(),
                reason: format!(
                    "{unit} was not operating on {} ({} was): jemx_num={} has no data then",
                    t.to_isot(),
                    names.join(" and "),
                    unit.number()
                ),
            });
        }
        Ok(self.jemx_events_for(p, unit))
    }

    /// `unit`'s events of any planned pointing, including ones made up for a test (whether the
    /// unit was on is not checked).
    pub fn jemx_events_for(&self, p: &PlannedScw, unit: JemxUnit) -> JemxEvents {
        jemx::generate_jemx(self.seed, &self.sky, p, unit)
    }

    /// Expected JEM-X counts of `source` in pointing `p` (true energies 2–60 keV, before the dead
    /// time): its on-axis rate through the unit's area, times the vignetting and the good time.
    ///
    /// # Errors
    /// A source not in the sky.
    pub fn expected_jemx_counts(
        &self,
        p: &PlannedScw,
        unit: JemxUnit,
        source: &str,
    ) -> Result<f64> {
        let s = self.sky_source(source)?;
        let t = 0.5 * (p.scw.tstart + p.scw.tstop);
        let Some((ty, tz)) = p.scw.attitude.to_tangents(&s.position) else {
            return Ok(0.0);
        };
        Ok(jemx::on_axis_rate(unit, s, None, t) * jemx::vignetting(unit, ty, tz).0 * p.ontime())
    }

    /// The on-axis JEM-X count rate of `source` in true energies `e1`–`e2` keV at `t`: the
    /// rate a vignetting-corrected light curve measures (the truth for JEM-X's calibration
    /// target, the Crab's 136 counts/s in 3–35 keV).
    ///
    /// # Errors
    /// A source not in the sky.
    pub fn jemx_on_axis_rate(
        &self,
        unit: JemxUnit,
        source: &str,
        e1: f64,
        e2: f64,
        t: Time,
    ) -> Result<f64> {
        let s = self.sky_source(source)?;
        Ok(jemx::on_axis_rate(unit, s, Some((e1, e2)), t.ijd()))
    }

    /// As [`Simulation::jemx_on_axis_rate`], for the photons whose measured energy falls in PI
    /// channels `pi_range` (inclusive): the truth of a PI-band measurement.
    ///
    /// # Errors
    /// A source not in the sky.
    pub fn jemx_on_axis_rate_in_pi(
        &self,
        unit: JemxUnit,
        source: &str,
        pi_range: (u16, u16),
        t: Time,
    ) -> Result<f64> {
        let s = self.sky_source(source)?;
        Ok(jemx::on_axis_rate_in_pi(unit, s, pi_range, t.ijd()))
    }

    /// The sky's source `name`, or an error naming it.
    fn sky_source(&self, name: &str) -> Result<&SkySource> {
        self.sky
            .source(name)
            .ok_or_else(|| Error::invalid("source", name, "a source of the simulated sky"))
    }

    /// The events of any planned pointing, including ones made up for a test.
    pub fn events_for(&self, p: &PlannedScw) -> EventList {
        events::generate(self.seed, &self.sky, &self.telescope, p, &self.perturbation)
    }

    /// Expected good events with nominal-scale energy in [e1, e2) keV for pointing `p`,
    /// integrated from the model through the response matrix (independently of the sampler).
    ///
    /// # Errors
    /// An empty or invalid energy band.
    pub fn expected_counts(&self, p: &PlannedScw, e1: f64, e2: f64) -> Result<ExpectedCounts> {
        if !(e1.is_finite() && e2.is_finite() && e1 > 0.0 && e2 > e1) {
            return Err(Error::invalid(
                "energy band",
                format!("{e1}–{e2} keV"),
                "0 < E1 < E2",
            ));
        }
        let c = ScwConditions::of(p, &self.perturbation);
        let (m1, m2) = (e1 / c.gain, (e2 / c.gain).min(c.max_measured()));
        let live = c.ontime * c.live_fraction;

        // Background: Simpson on a fine linear grid in measured energy.
        let weights_sum: f64 = Background::spatial_map()
            .iter()
            .zip(c.efficiency.iter())
            .map(|(m, e)| m * e)
            .sum();
        let n = 20_000;
        let h = (m2 - m1) / n as f64;
        let f = |m: f64| background_density(m) * threshold_efficiency(m * c.gain, c.threshold);
        let mut s = f(m1) + f(m2);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(m1 + i as f64 * h);
        }
        let background = s * h / 3.0
            * Background::level(c.t_mid)
            * p.background_scale
            * (weights_sum / N_PIXELS as f64)
            * live
            * (1.0 + self.perturbation.background_ramp);

        // Sources: detected photons per true-energy bin folded through the RMF.
        let true_edges = log_edges(7.0, c.max_measured() * 1.1, 1500);
        let rmf = true_rmf_with_gain(&true_edges, &[m1, m2], c.t_mid, c.gain, c.gain)?;
        let mut sources = Vec::new();
        for src in self.sky.sources() {
            let Some((ty, tz)) = p.scw.attitude.to_tangents(&src.position) else {
                continue;
            };
            let (ty, tz) = events::shifted_by_mask(ty, tz, &self.perturbation);
            let lit = (self.telescope.pif(ty, tz) * &c.efficiency).sum();
            if lit <= 0.0 {
                continue;
            }
            let mut counts = 0.0;
            for comp in &src.components {
                let exposure = light_curve_exposure(&comp.light_curve, p) * c.live_fraction;
                let per_bin: Vec<f64> = true_edges
                    .windows(2)
                    .map(|w| {
                        crate::spectrum::integrate_log(
                            |e| comp.spectrum.density(e) * detection_efficiency(e),
                            w[0],
                            w[1],
                        )
                    })
                    .collect();
                counts += rmf.fold(&per_bin)?[0]
                    * PIXEL_AREA_CM2
                    * lit
                    * exposure
                    * self.perturbation.area_scale;
            }
            sources.push((src.name.clone(), counts));
        }
        Ok(ExpectedCounts {
            background,
            sources,
        })
    }
}

/// ∫ L(t) dt over the GTIs of `p`, seconds (1 s midpoint rule, or exact for constant curves).
fn light_curve_exposure(lc: &LightCurveModel, p: &PlannedScw) -> f64 {
    p.gti
        .iter()
        .map(|(a, b)| {
            let len = (b - a) * SECONDS_PER_DAY;
            if matches!(lc, LightCurveModel::Constant) {
                return len;
            }
            let n = len.ceil().max(1.0) as usize;
            let dt = len / n as f64;
            (0..n)
                .map(|i| lc.at(a + (i as f64 + 0.5) * dt / SECONDS_PER_DAY) * dt)
                .sum::<f64>()
        })
        .sum()
}
