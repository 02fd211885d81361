//! JEM-X events for one Science Window and unit: every source in the collimator's field through
//! the hexagonal mask (its pixel illumination on the 1.1 mm raster, positions uniform within a
//! cell), the collimator and the on-axis effective area; energies smeared by the gas detector's
//! resolution into PI channels; a flat background over the sensitive disc; the dead time.
//!
//! The sky is the ISGRI simulation's: its sources' spectra are extrapolated below 15 keV as
//! their models write them (a power law stays a power law down to 3 keV), which holds for the
//! Crab and most hard sources and is an *assumption* for soft ones.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::events::{EnergySampler, TimeSampler, log_edges, poisson, stream};
use super::pointing::PlannedScw;
use super::sampling::AliasTable;
use super::sky_model::{SkyModel, SkySource};
use crate::archive::{EnergyScale, JemxEvents};
use crate::instrument::jemx::{
    self, DEAD_TIME_S, JemxUnit, RASTER_MM, TIME_RESOLUTION_S, on_axis_area_cm2, pi_of_energy,
    resolution_fwhm_kev,
};
use crate::instrument::spiacs;
use crate::time::{SECONDS_PER_DAY, Time};

/// Version of the JEM-X event model: changes whenever the same seed would give other events.
pub const JEMX_MODEL_VERSION: &str = "2";
/// Whole-detector background, counts/s in 3–35 keV at the solar-cycle mean (*assumed* within
/// the cited "< 50 counts/s outside solar events"; ≈ 7 counts/s fall in a source's region).
pub const BACKGROUND_RATE: f64 = 40.0;
/// The units' true effective area over the cited (nominal) one the analysis uses: the
/// cross-calibration between JEM-X and ISGRI that a joint fit's constant measures (*derived*: the
/// simulated sky's Crab, whose spectrum fits ISGRI, folded through the cited JEM-X1 area gives
/// 110 counts/s in 3.04–34.88 keV on axis; the real JEM-X1 light curve measures 136 ± 1.6; real
/// joint fits likewise find JEM-X's normalisation 10–25 % above ISGRI's).
pub const TRUE_AREA_SCALE: f64 = 1.236;
/// True energies simulated, keV (photons below 2 keV do not pass the beryllium window).
const ENERGY_KEV: (f64, f64) = (2.0, 60.0);
/// Sources further off axis than this are outside the collimator, degrees.
const MAX_OFF_AXIS_DEG: f64 = 7.0;
const N_ENERGY_BINS: usize = 2000;
const FWHM_TO_SIGMA: f64 = 0.424_660_900_144_009_5;
/// Random streams of JEM-X, apart from ISGRI's (which use purposes below 2⁴⁰ + 2³²).
const STREAM_BASE: u64 = 1 << 50;

/// Fraction of an on-axis source's photons a source at tangents (ty, tz) delivers: the pixel
/// illumination (the mask's coding and the collimator's transmission) summed, relative to on
/// axis; and the illumination itself.
pub(crate) fn vignetting(unit: JemxUnit, ty: f64, tz: f64) -> (f64, ndarray::Array2<f64>) {
    let g = jemx::geometry(unit);
    let on_axis = g.on_axis_open_fraction() * g.detector().n_pixels() as f64;
    let lit = g.pif(ty, tz);
    (lit.sum() / on_axis, lit)
}

/// The photon rate of `source` in `unit` on axis, counts/s in true energies `band` (the whole
/// simulated range: `None`), before vignetting and dead time, at IJD `t`.
pub(crate) fn on_axis_rate(
    unit: JemxUnit,
    source: &SkySource,
    band: Option<(f64, f64)>,
    t: f64,
) -> f64 {
    let (a, b) = band.unwrap_or(ENERGY_KEV);
    let edges = log_edges(a, b, N_ENERGY_BINS);
    edges
        .windows(2)
        .map(|w| {
            let e = (w[0] * w[1]).sqrt();
            source.density(e, t) * true_area_cm2(unit, e) * (w[1] - w[0])
        })
        .sum()
}

/// The on-axis rate of `source` whose measured energies fall in PI channels `pi_range`
/// (inclusive), counts/s at IJD `t`: the truth a PI-band measurement recovers, the resolution's
/// spill across the band's edges included.
pub(crate) fn on_axis_rate_in_pi(
    unit: JemxUnit,
    source: &SkySource,
    pi_range: (u16, u16),
    t: f64,
) -> f64 {
    let lo = jemx::pi_energy_kev(f64::from(pi_range.0));
    let hi = jemx::pi_energy_kev(f64::from(pi_range.1) + 1.0);
    let phi = |x: f64| 0.5 * crate::instrument::response::erfc(-x / std::f64::consts::SQRT_2);
    let edges = log_edges(ENERGY_KEV.0, ENERGY_KEV.1, N_ENERGY_BINS);
    edges
        .windows(2)
        .map(|w| {
            let e = (w[0] * w[1]).sqrt();
            let sigma = resolution_fwhm_kev(e) * FWHM_TO_SIGMA;
            let inside = phi((hi - e) / sigma) - phi((lo - e) / sigma);
            source.density(e, t) * true_area_cm2(unit, e) * inside * (w[1] - w[0])
        })
        .sum()
}

/// The unit's true on-axis effective area, cm² (see [`TRUE_AREA_SCALE`]).
pub fn true_area_cm2(unit: JemxUnit, e_kev: f64) -> f64 {
    TRUE_AREA_SCALE * on_axis_area_cm2(unit, e_kev)
}

/// One event under construction.
struct Event {
    tick: u64,
    detx: f32,
    dety: f32,
    pi: u8,
}

/// Generates `unit`'s events of pointing `p` under `sky` for simulation `seed`.
pub(crate) fn generate_jemx(
    seed: u64,
    sky: &SkyModel,
    p: &PlannedScw,
    unit: JemxUnit,
) -> JemxEvents {
    let g = jemx::geometry(unit);
    let t_mid = 0.5 * (p.scw.tstart + p.scw.tstop);
    let ontime = p.ontime();
    let unit_stream = STREAM_BASE + (u64::from(unit.number()) << 40);

    // What each part contributes, before the dead time: (rate, sampler of positions, spectrum
    // sampler in true energy, time sampler, stream purpose).
    struct Part {
        photons: f64,
        cells: AliasTable,
        energies: EnergySampler,
        times: TimeSampler,
        purpose: u64,
    }
    let mut parts: Vec<Part> = Vec::new();
    let layout = g.detector().layout().clone();
    // The background follows the cosmic-ray flux (the SPI-ACS background's solar-cycle shape).
    let mean_level = 0.5 * (1.16e5 + 9.1e4);
    let level = spiacs::quiet_background_rate(Time::from_ijd_unchecked(t_mid)) / mean_level
        * p.background_scale;
    if let (Some(energies), Some(cells)) = (
        EnergySampler::new(log_edges(ENERGY_KEV.0, ENERGY_KEV.1, N_ENERGY_BINS), |_| {
            // Flat in energy (*assumed*), normalised to BACKGROUND_RATE in 3–35 keV.
            BACKGROUND_RATE / 32.0
        }),
        AliasTable::new(&layout.iter().copied().collect::<Vec<f64>>()),
    ) {
        let times = TimeSampler::new(p, None, TIME_RESOLUTION_S);
        parts.push(Part {
            photons: energies.total * level * times.weighted_time,
            cells,
            energies,
            times,
            purpose: unit_stream + 1,
        });
    }
    for (si, source) in sky.sources().iter().enumerate() {
        if p.scw.attitude.off_axis_angle(&source.position) > MAX_OFF_AXIS_DEG
            || !source.active_between(p.scw.tstart, p.scw.tstop)
        {
            continue;
        }
        let Some((ty, tz)) = p.scw.attitude.to_tangents(&source.position) else {
            continue;
        };
        let (v, lit) = vignetting(unit, ty, tz);
        if v <= 0.0 {
            continue;
        }
        let Some(cells) = AliasTable::new(&lit.iter().copied().collect::<Vec<f64>>()) else {
            continue;
        };
        for (ci, comp) in source.components.iter().enumerate() {
            let lc = &comp.light_curve;
            let level_fn = |t: f64| lc.at(t);
            let times = if lc.is_variable_on(p.scw.telapse) {
                TimeSampler::new(p, Some(&level_fn), TIME_RESOLUTION_S)
            } else {
                let mut ts = TimeSampler::new(p, None, TIME_RESOLUTION_S);
                ts.weighted_time *= lc.at(t_mid);
                ts
            };
            let Some(energies) =
                EnergySampler::new(log_edges(ENERGY_KEV.0, ENERGY_KEV.1, N_ENERGY_BINS), |e| {
                    comp.spectrum.density(e) * true_area_cm2(unit, e)
                })
            else {
                continue;
            };
            parts.push(Part {
                photons: energies.total * v * times.weighted_time,
                cells: cells.clone(),
                energies,
                times,
                purpose: unit_stream + 1000 + (si as u64) * 1000 + ci as u64,
            });
        }
    }
    // A paralysable-free dead time of τ per event: the live fraction at the mean rate.
    let rate: f64 = parts.iter().map(|q| q.photons).sum::<f64>() / ontime.max(1.0);
    let live = 1.0 / (1.0 + rate * DEAD_TIME_S);
    let (ny, nz) = g.detector().dim();
    let (cy, cz) = ((ny as f64 - 1.0) / 2.0, (nz as f64 - 1.0) / 2.0);
    let mut events: Vec<Event> = Vec::new();
    for part in &parts {
        let mut rng: ChaCha8Rng = stream(seed, p, part.purpose);
        let n = poisson(&mut rng, part.photons * live);
        for _ in 0..n {
            let e = part.energies.sample(&mut rng);
            let z: f64 = rng.sample(StandardNormal);
            let m = e + resolution_fwhm_kev(e) * FWHM_TO_SIGMA * z;
            let seconds = part.times.sample(&mut rng);
            let cell = part.cells.sample(&mut rng);
            let (u, w): (f64, f64) = (rng.random(), rng.random());
            // Photons from 2 keV up are recorded, whatever the pulse (its PI may fall below the
            // analysis band); only an impossible negative pulse is not.
            if m <= 0.0 {
                continue;
            }
            let (y, zc) = (cell / nz, cell % nz);
            events.push(Event {
                tick: (seconds / TIME_RESOLUTION_S) as u64,
                detx: ((y as f64 - cy + u - 0.5) * RASTER_MM) as f32,
                dety: ((zc as f64 - cz + w - 0.5) * RASTER_MM) as f32,
                pi: pi_of_energy(m) as u8,
            });
        }
    }
    events.sort_by_key(|e| e.tick);
    let tick_days = TIME_RESOLUTION_S / SECONDS_PER_DAY;
    JemxEvents {
        unit,
        header: p.header(live, EnergyScale::Calibrated),
        gti: p.gti_table(),
        time: events
            .iter()
            .map(|e| (p.scw.tstart + e.tick as f64 * tick_days).min(p.scw.tstop))
            .collect(),
        detx: events.iter().map(|e| e.detx).collect(),
        dety: events.iter().map(|e| e.dety).collect(),
        pi: events.iter().map(|e| e.pi).collect(),
        status: vec![0; events.len()],
    }
}
