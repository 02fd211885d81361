//! Event generation for one Science Window: photons from every source in the field through the
//! mask and the response, plus background, noisy pixels and flagged spurious events.
//!
//! Good events (SELECT_FLAG = 0) are exactly the model's photons; flagged events are extra
//! (noisy pixels: flag 2; short spurious bursts on one module: flag 1), so a correct analysis
//! that drops flagged events recovers the model without bias.
//!
//! Counts are Poisson: the expected number of detected photons of each component is computed,
//! the number drawn, and the threshold then thins them (a thinned Poisson process is Poisson).
//! Times are quantised to the ISGRI time resolution of 2⁻¹⁴ s.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::background::Background;
use super::instrument::{
    detection_efficiency, efficiency_map, fwhm_kev, gain, threshold_efficiency, threshold_kev,
};
use super::pointing::PlannedScw;
use super::sampling::{AliasTable, PiecewiseUniform, QuantileTable, unit_interval};
use super::sky_model::{Component, SkyModel, SkySource};
use crate::archive::{EnergyScale, EventList};
use crate::config::Perturbation;
use crate::instrument::coded_mask::CodedMaskGeometry;
use crate::instrument::isgri::{
    DetectorMap, ENERGY_RANGE_KEV, MASK_DISTANCE_MM, N_DETY, N_DETZ, N_PIXELS, PIXEL_SIZE_MM,
    TIME_RESOLUTION_S, is_gap, module_of,
};
use crate::time::{SECONDS_PER_DAY, Time};

/// Sensitive area of one pixel, cm².
pub(crate) const PIXEL_AREA_CM2: f64 = PIXEL_SIZE_MM * PIXEL_SIZE_MM / 100.0;
/// Beyond this off-axis angle (degrees) no pixel sees the sky through the mask.
const MAX_OFF_AXIS_DEG: f64 = 21.0;
/// Time slice for variable sources, s.
const SLICE_S: f64 = 10.0;
/// Energy grids: number of log-spaced bins.
const N_ENERGY_BINS: usize = 3000;
/// Lowest true energy that can reach the threshold, keV.
const MIN_TRUE_KEV: f64 = 7.0;
/// σ of a Gaussian from its FWHM.
const FWHM_TO_SIGMA: f64 = 0.424_660_900_144_009_5;

/// Conditions common to the whole Science Window.
pub(crate) struct ScwConditions {
    pub t_mid: Time,
    /// The instrument's gain, perturbed if it is.
    pub gain: f64,
    /// The gain of the nominal instrument: which random draws are made depends on it alone,
    /// so that a perturbed gain moves photons without reshuffling the random streams.
    pub nominal_gain: f64,
    pub threshold: f64,
    pub efficiency: DetectorMap,
    pub live_fraction: f64,
    pub ontime: f64,
}

impl ScwConditions {
    pub(crate) fn of(p: &PlannedScw, perturbation: &Perturbation) -> ScwConditions {
        let t_mid = Time::from_ijd_unchecked(0.5 * (p.scw.tstart + p.scw.tstop));
        ScwConditions {
            t_mid,
            gain: gain(t_mid) * perturbation.gain_scale,
            nominal_gain: gain(t_mid),
            threshold: threshold_kev(t_mid),
            efficiency: efficiency_map(t_mid),
            live_fraction: p.deadc,
            ontime: p.ontime(),
        }
    }

    /// Highest measured energy that is still recorded (nominal scale ≤ 1000 keV).
    pub(crate) fn max_measured(&self) -> f64 {
        ENERGY_RANGE_KEV.1 / self.gain
    }
}

/// Log-spaced bin edges over [a, b].
pub(crate) fn log_edges(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n)
        .map(|i| a * (b / a).powf(i as f64 / n as f64))
        .collect()
}

/// Background rate density in measured energy (continuum and resolution-broadened lines),
/// cts/s/keV at reference level for the whole detector, before the threshold.
pub(crate) fn background_density(m: f64) -> f64 {
    let lines: f64 = Background::lines()
        .iter()
        .map(|(e, r)| {
            let s = fwhm_kev(*e) * FWHM_TO_SIGMA;
            let z = (m - e) / s;
            if z.abs() > 8.0 {
                0.0
            } else {
                r * (-0.5 * z * z).exp() / (s * (std::f64::consts::TAU).sqrt())
            }
        })
        .sum();
    Background::continuum(m) + lines
}

/// A sampler of energies from a tabulated density on log-spaced bins, uniform within a bin (bins
/// are 0.2 % wide, far below the resolution), by the inverse of its distribution function
/// tabulated at 8192 quantiles ([`QuantileTable`]: one random draw and one 64 kB table). A draw's
/// energy moves continuously with the density, so an instrument perturbed from its calibration
/// (a gain changing the background's threshold shape) moves the nominal events' energies rather
/// than reshuffling them: an alias table reassigned most background events to other bins under
/// a 0.5 % gain change; the exact inverse with a guide table was 20 % slower (its tables missed
/// the cache).
pub(crate) struct EnergySampler {
    quantiles: QuantileTable,
    /// Integral of the density over the grid.
    pub(crate) total: f64,
}

impl EnergySampler {
    pub(crate) fn new(edges: Vec<f64>, density: impl Fn(f64) -> f64) -> Option<EnergySampler> {
        let weights: Vec<f64> = edges
            .windows(2)
            .map(|w| density((w[0] * w[1]).sqrt()).max(0.0) * (w[1] - w[0]))
            .collect();
        let total: f64 = weights.iter().sum();
        let intervals = edges.windows(2).map(|w| (w[0], w[1] - w[0])).collect();
        let bins = PiecewiseUniform::new(intervals, &weights)?;
        Some(EnergySampler {
            quantiles: QuantileTable::new(&bins, 13),
            total,
        })
    }

    #[inline(always)]
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        self.quantiles.pick(rng.next_u64())
    }
}

/// Maps uniform draws to times within the GTIs, optionally weighted by a light curve: one
/// random draw per time.
pub(crate) struct TimeSampler {
    /// Seconds since TSTART, uniform within each slice of the good time (weighted by the
    /// light curve's level in it); `None` when no slice has any weight.
    slices: Option<PiecewiseUniform>,
    /// ∫ level dt over the good time, s.
    pub(crate) weighted_time: f64,
}

impl TimeSampler {
    /// Times within the good time of `p`, weighted by `level` (IJD → relative level) if given,
    /// for events stamped in whole ticks of `tick_s` seconds (a power of two: the stamps are
    /// then exact) as `TSTART + tick × tick_s`.
    pub(crate) fn new(
        p: &PlannedScw,
        level: Option<&dyn Fn(f64) -> f64>,
        tick_s: f64,
    ) -> TimeSampler {
        let t0 = p.scw.tstart;
        let mut slices = Vec::new();
        for (a, b) in &p.gti {
            // Each GTI in whole ticks: from the first tick stamped at or after its start to the
            // last stamped before its stop, so that no event's stamp falls outside it (a time
            // drawn just after a start that is not on a tick would be stamped just before it).
            let (first, end) = (
                first_tick_from(t0, *a, tick_s),
                first_tick_from(t0, *b, tick_s),
            );
            let (sa, sb) = (first as f64 * tick_s, end as f64 * tick_s);
            if sb <= sa {
                continue;
            }
            match level {
                None => slices.push((sa, sb - sa)),
                Some(_) => {
                    let mut s = sa;
                    while s < sb {
                        let len = SLICE_S.min(sb - s);
                        slices.push((s, len));
                        s += len;
                    }
                }
            }
        }
        let weights: Vec<f64> = slices
            .iter()
            .map(|(s, len)| match level {
                None => *len,
                Some(f) => f(t0 + (s + 0.5 * len) / SECONDS_PER_DAY).max(0.0) * len,
            })
            .collect();
        let weighted_time = weights.iter().sum();
        TimeSampler {
            slices: PiecewiseUniform::new(slices, &weights),
            weighted_time,
        }
    }

    /// Seconds since TSTART.
    #[inline(always)]
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let u = unit_interval(rng.next_u64());
        self.slices.as_ref().map_or(0.0, |s| s.at(u))
    }
}

/// The first tick (of `tick_s` seconds from `t0`, IJD) whose stamp `t0 + tick × tick_s`, computed as
/// the event lists compute it, is not before `t` (IJD).
fn first_tick_from(t0: f64, t: f64, tick_s: f64) -> u64 {
    let tick_days = tick_s / SECONDS_PER_DAY;
    let stamp = |k: u64| t0 + k as f64 * tick_days;
    let mut k = ((t - t0) / tick_days).ceil().max(0.0) as u64;
    while stamp(k) < t {
        k += 1;
    }
    while k > 0 && stamp(k - 1) >= t {
        k -= 1;
    }
    k
}

/// One event under construction (12 bytes: sorted by moving whole records).
#[derive(Clone, Copy, Default)]
struct Event {
    tick: u32,
    energy: f32,
    dety: u8,
    detz: u8,
    flag: u8,
}

/// Events under construction, and a second buffer of the same size for sorting them.
struct Columns {
    events: Vec<Event>,
    spare: Vec<Event>,
}

thread_local! {
    /// The two event buffers of this thread's last Science Window, reused by the next: with a
    /// fresh ~50 MB pair per ScW, the kernel's page faults and page clearing took ~10 % of
    /// generating it.
    static BUFFERS: std::cell::RefCell<(Vec<Event>, Vec<Event>)> = Default::default();
}

/// Buffers larger than this are not kept for the next Science Window (bytes).
const KEEP_BUFFERS_BELOW: usize = 256 << 20;

impl Columns {
    /// Empty buffers, those of the thread's previous Science Window if it kept them.
    fn new() -> Columns {
        let (mut events, mut spare) = BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()));
        events.clear();
        spare.clear();
        Columns { events, spare }
    }

    /// Gives the buffers back to the thread for its next Science Window.
    fn recycle(self) {
        if self.events.capacity().max(self.spare.capacity()) * size_of::<Event>()
            < KEEP_BUFFERS_BELOW
        {
            BUFFERS.with(|b| *b.borrow_mut() = (self.events, self.spare));
        }
    }

    fn push(&mut self, seconds: f64, energy: f64, pixel: usize, flag: u8) {
        self.events.push(Event {
            tick: (seconds / TIME_RESOLUTION_S) as u32,
            energy: energy as f32,
            dety: (pixel / N_DETZ) as u8,
            detz: (pixel % N_DETZ) as u8,
            flag,
        });
    }
}

/// Stable sort by tick: one scatter by the top 8 bits of the ticks into 256 buckets, then a
/// stable LSD radix sort of each bucket on the remaining bits ([`lsd_sort`]), which fits the
/// CPU caches. A plain
/// LSD sort over the whole list (11 bits per pass, 2048 destinations) spent most of its time
/// in cache and TLB misses: ~15 % of generating a ScW.
fn sort_by_tick(events: &mut Vec<Event>, spare: &mut Vec<Event>) {
    let max = events.iter().map(|e| e.tick).max().unwrap_or(0);
    let bits = 32 - max.leading_zeros();
    spare.clear();
    spare.resize(events.len(), Event::default());
    if bits <= 8 {
        lsd_sort(events, spare, bits);
        return;
    }
    let top = bits - 8;
    let mut counts = [0usize; 257];
    for e in events.iter() {
        counts[(e.tick >> top) as usize + 1] += 1;
    }
    for d in 0..256 {
        counts[d + 1] += counts[d];
    }
    let starts = counts;
    let sorted = spare;
    for e in events.iter() {
        let d = (e.tick >> top) as usize;
        sorted[counts[d]] = *e;
        counts[d] += 1;
    }
    // Each bucket is sorted on its low `top` bits, with the same range of `events` as scratch.
    for d in 0..256 {
        let (a, b) = (starts[d], starts[d + 1]);
        lsd_sort(&mut sorted[a..b], &mut events[a..b], top);
    }
    std::mem::swap(events, sorted);
}

/// Stable LSD radix sort of `events` by the low `bits` bits of their ticks, in as few passes of
/// at most 11 bits as cover them, using `scratch` (same length); the result is in `events`.
fn lsd_sort(events: &mut [Event], scratch: &mut [Event], bits: u32) {
    let passes = bits.div_ceil(11).max(1);
    let width = bits.div_ceil(passes);
    let mask = (1u32 << width) - 1;
    let mut counts = vec![0usize; 1 << width];
    let mut in_scratch = false;
    let mut shift = 0;
    while shift < bits {
        let (from, to) = if in_scratch {
            (&*scratch, &mut *events)
        } else {
            (&*events, &mut *scratch)
        };
        counts.fill(0);
        for e in from.iter() {
            counts[((e.tick >> shift) & mask) as usize] += 1;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for e in from.iter() {
            let d = ((e.tick >> shift) & mask) as usize;
            to[counts[d]] = *e;
            counts[d] += 1;
        }
        in_scratch = !in_scratch;
        shift += width;
    }
    if in_scratch {
        events.copy_from_slice(scratch);
    }
}

pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u64 {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return 0;
    }
    Poisson::new(lambda).map_or(0, |d| d.sample(rng) as u64)
}

/// Per-ScW, per-purpose random stream: independent for every (seed, ScW, stream).
pub(crate) fn stream(seed: u64, p: &PlannedScw, purpose: u64) -> ChaCha8Rng {
    let swid = p.scw.swid.to_string().parse::<u64>().unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ swid.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(purpose);
    rng
}

/// True when pointing `p` can record photons of `source`: in the field (within 21° of the
/// pointing) and active during the Science Window.
pub(crate) fn sees(p: &PlannedScw, source: &SkySource) -> bool {
    p.scw.attitude.off_axis_angle(&source.position) <= MAX_OFF_AXIS_DEG
        && source.active_between(p.scw.tstart, p.scw.tstop)
}

/// The direction tangents at which a mask displaced by the perturbation's shift casts the
/// shadow that the nominal mask casts for (`ty`, `tz`): the shadow moves with the mask, as it
/// would for a source `shift / MASK_DISTANCE_MM` radians away.
pub(crate) fn shifted_by_mask(ty: f64, tz: f64, perturbation: &Perturbation) -> (f64, f64) {
    let [sy, sz] = perturbation.mask_shift_mm;
    (ty + sy / MASK_DISTANCE_MM, tz + sz / MASK_DISTANCE_MM)
}

/// Random streams of the perturbations, apart from every nominal stream.
const STREAM_BACKGROUND_RAMP: u64 = 3;
const STREAM_AREA: u64 = 1 << 40;

/// Generates the events of the planned Science Window `p` under `sky`, for simulation `seed`,
/// by the instrument perturbed by `perturbation` from its calibration.
pub(crate) fn generate(
    seed: u64,
    sky: &SkyModel,
    telescope: &CodedMaskGeometry,
    p: &PlannedScw,
    perturbation: &Perturbation,
) -> EventList {
    let c = ScwConditions::of(p, perturbation);
    let mut cols = Columns::new();
    let live = c.ontime * c.live_fraction;

    // Background: spatial template on live pixels, spectrum thinned by the threshold.
    {
        let mut rng = stream(seed, p, 1);
        let map = Background::spatial_map();
        let weights: Vec<f64> = map
            .iter()
            .zip(c.efficiency.iter())
            .map(|(m, e)| m * e)
            .collect();
        let live_pixels: f64 = weights.iter().sum::<f64>() / N_PIXELS as f64;
        let level = Background::level(c.t_mid) * p.background_scale;
        let edges = log_edges(ENERGY_RANGE_KEV.0 * 0.7, c.max_measured(), N_ENERGY_BINS);
        let sampler = EnergySampler::new(edges, |m| {
            background_density(m) * threshold_efficiency(m * c.gain, c.threshold)
        });
        let times = TimeSampler::new(p, None, TIME_RESOLUTION_S);
        // A perturbed background shape: extra events, a fraction of the nominal ones, on a
        // ramp across the detector (nothing at DETY = 0), from a stream of their own. Built
        // only when asked for (an all-zero ramp has no sampler, and so no events).
        let ramp_events = (perturbation.background_ramp > 0.0)
            .then(|| {
                let ramp = weights.iter().enumerate();
                let ramp: Vec<f64> = ramp.map(|(i, w)| w * (i / N_DETZ) as f64).collect();
                AliasTable::new(&ramp)
            })
            .flatten();
        if let (Some(sampler), Some(pixels)) = (sampler, AliasTable::new(&weights)) {
            let n = poisson(&mut rng, sampler.total * level * live_pixels * live);
            // Most of the events are background: room for them and the sources' at once.
            cols.events.reserve(n as usize + n as usize / 4);
            for _ in 0..n {
                let m = sampler.sample(&mut rng);
                cols.push(
                    times.sample(&mut rng),
                    m * c.gain,
                    pixels.sample(&mut rng),
                    0,
                );
            }
            if let Some(ramp_pixels) = ramp_events {
                let mut rng = stream(seed, p, STREAM_BACKGROUND_RAMP);
                let lambda = sampler.total * level * live_pixels * live;
                let n = poisson(&mut rng, lambda * perturbation.background_ramp);
                for _ in 0..n {
                    let m = sampler.sample(&mut rng);
                    cols.push(
                        times.sample(&mut rng),
                        m * c.gain,
                        ramp_pixels.sample(&mut rng),
                        0,
                    );
                }
            }
        }
    }

    // Sources.
    for (si, source) in sky.sources().iter().enumerate() {
        if !sees(p, source) {
            continue;
        }
        let Some((ty, tz)) = p.scw.attitude.to_tangents(&source.position) else {
            continue;
        };
        let (ty, tz) = shifted_by_mask(ty, tz, perturbation);
        let lit = telescope.pif(ty, tz) * &c.efficiency;
        let lit_sum = lit.sum();
        if lit_sum <= 0.0 {
            continue;
        }
        let Some(pixels) = AliasTable::new(&lit.iter().copied().collect::<Vec<f64>>()) else {
            continue;
        };
        for (ci, comp) in source.components.iter().enumerate() {
            let purpose = 1000 + (si as u64) * 1000 + ci as u64;
            let mut rng = stream(seed, p, purpose);
            let draw = Draw {
                lit_sum,
                pixels: &pixels,
                share: 1.0,
            };
            // A perturbed area thins the nominal photons, or adds photons, on a stream of
            // its own: the nominal photons stay as they are.
            let scale = perturbation.area_scale;
            let mut thinning = stream(seed, p, STREAM_AREA + purpose);
            let keep = (scale < 1.0).then_some((&mut thinning, scale));
            add_component(&mut rng, comp, &c, p, &draw, keep, &mut cols);
            if scale > 1.0 {
                let extra = Draw {
                    share: scale - 1.0,
                    ..draw
                };
                add_component(&mut thinning, comp, &c, p, &extra, None, &mut cols);
            }
        }
    }

    add_flagged_events(&mut stream(seed, p, 2), &c, p, &mut cols);
    finish(p, cols)
}

/// Where a source's photons land: the sum of its lit-pixel weights, a sampler of them, and the
/// share of its photons to draw (1; the excess of a perturbed area).
#[derive(Clone, Copy)]
struct Draw<'a> {
    lit_sum: f64,
    pixels: &'a AliasTable,
    share: f64,
}

/// Draws the detected photons of one source component, keeping each with probability `keep.1`
/// (drawn from `keep.0`) when given.
fn add_component(
    rng: &mut ChaCha8Rng,
    comp: &Component,
    c: &ScwConditions,
    p: &PlannedScw,
    draw: &Draw<'_>,
    mut keep: Option<(&mut ChaCha8Rng, f64)>,
    cols: &mut Columns,
) {
    let Draw {
        lit_sum,
        pixels,
        share,
    } = *draw;
    let span = p.scw.telapse;
    let lc = &comp.light_curve;
    let level_fn = |t: f64| lc.at(t);
    let times = if lc.is_variable_on(span) {
        TimeSampler::new(p, Some(&level_fn), TIME_RESOLUTION_S)
    } else {
        let mut ts = TimeSampler::new(p, None, TIME_RESOLUTION_S);
        ts.weighted_time *= lc.at(c.t_mid.ijd());
        ts
    };
    if times.weighted_time <= 0.0 {
        return;
    }
    let edges = log_edges(MIN_TRUE_KEV, c.max_measured() * 1.1, N_ENERGY_BINS);
    let Some(sampler) = EnergySampler::new(edges, |e| {
        comp.spectrum.density(e) * detection_efficiency(e)
    }) else {
        return;
    };
    // Detected photons before the threshold: flux × pixel area × lit pixels × live time.
    let lambda =
        sampler.total * PIXEL_AREA_CM2 * lit_sum * times.weighted_time * c.live_fraction * share;
    let n = poisson(rng, lambda);
    let max_m = c.max_measured();
    for _ in 0..n {
        let e = sampler.sample(rng);
        let z: f64 = rng.sample(StandardNormal);
        let m = e + fwhm_kev(e) * FWHM_TO_SIGMA * z;
        let pulse = m * c.gain;
        if m <= 0.0 || m >= max_m {
            continue;
        }
        // Far above the threshold its efficiency is 1 to double precision: skip the draw.
        // Whether to draw depends on the nominal gain only (a perturbed gain of 0.9–1.1 keeps
        // such pulses ≥ 4 keV above the threshold, where the efficiency is still 1).
        if m * c.nominal_gain < c.threshold + 10.0
            && rng.random::<f64>() >= threshold_efficiency(pulse, c.threshold)
        {
            continue;
        }
        let t = times.sample(rng);
        let pixel = pixels.sample(rng);
        if let Some((thinning, fraction)) = keep.as_mut()
            && thinning.random::<f64>() >= *fraction
        {
            continue;
        }
        cols.push(t, pulse, pixel, 0);
    }
}

/// Noisy pixels (flag 2) and short spurious bursts on one module (flag 1).
fn add_flagged_events(rng: &mut ChaCha8Rng, c: &ScwConditions, p: &PlannedScw, cols: &mut Columns) {
    let times = TimeSampler::new(p, None, TIME_RESOLUTION_S);
    for &(y, z, rate) in &p.noisy_pixels {
        let (y, z) = (usize::from(y), usize::from(z));
        if is_gap(y, z) || c.efficiency[[y, z]] == 0.0 {
            continue;
        }
        let n = poisson(rng, rate * c.ontime * c.live_fraction);
        for _ in 0..n {
            let e = (c.threshold + rng.random::<f64>() * 15.0) * rng.random_range(1.0..1.3);
            cols.push(times.sample(rng), e, y * N_DETZ + z, 2);
        }
    }
    let n_bursts = poisson(rng, 0.4);
    for _ in 0..n_bursts {
        let t = times.sample(rng);
        let module = rng.random_range(0..8);
        let size = rng.random_range(200..2000);
        for _ in 0..size {
            let (y, z) = loop {
                let (y, z) = (rng.random_range(0..N_DETY), rng.random_range(0..N_DETZ));
                if module_of(y, z) == Some(module) {
                    break (y, z);
                }
            };
            let e = 15.0 + 185.0 * rng.random::<f64>();
            cols.push(t - 1e-3 * rng.random::<f64>(), e, y * N_DETZ + z, 1);
        }
    }
}

/// Sorts by time and builds the event list.
fn finish(p: &PlannedScw, mut cols: Columns) -> EventList {
    sort_by_tick(&mut cols.events, &mut cols.spare);
    let ev = &cols.events;
    let tick_days = TIME_RESOLUTION_S / SECONDS_PER_DAY;
    // One pass over the sorted events fills the five columns.
    let n = ev.len();
    let (mut time, mut energy) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut dety, mut detz, mut select_flag) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in ev {
        time.push(p.scw.tstart + f64::from(e.tick) * tick_days);
        energy.push(e.energy);
        dety.push(e.dety);
        detz.push(e.detz);
        select_flag.push(e.flag);
    }
    let list = EventList {
        header: p.header(p.deadc, EnergyScale::Nominal),
        gti: p.gti_table(),
        time,
        energy,
        dety,
        detz,
        select_flag,
    };
    cols.recycle();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_a_stable_sort_by_tick() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for max in [10u32, 5000, 1 << 26, u32::MAX] {
            let mut events: Vec<Event> = (0..20_000)
                .map(|i| Event {
                    tick: rng.random_range(0..max),
                    energy: i as f32,
                    ..Event::default()
                })
                .collect();
            let mut expected: Vec<(u32, f32)> = events.iter().map(|e| (e.tick, e.energy)).collect();
            expected.sort_by_key(|e| e.0); // stable: equal ticks keep input order
            sort_by_tick(&mut events, &mut Vec::new());
            let got: Vec<(u32, f32)> = events.iter().map(|e| (e.tick, e.energy)).collect();
            assert_eq!(got, expected);
        }
    }
}
