//! The simulated mission's calibration team: it makes the calibration files of the simulated
//! archive the way a team makes them for the real one — from data, with realistic errors —
//! and never by copying the simulated instrument's truth into them.
//!
//! From **blank-sky pointings** of the simulated instrument (dedicated 2 ks pointings at fields
//! with no reference-catalog source within [`BLANK_FIELD_RADIUS_DEG`], [`BLANK_SCWS_PER_ERA`] per
//! era, spread evenly in time, simulated with the default sky and the team's own photon seed
//! [`CALIBRATION_SEED`], so that the calibration's noise is independent of any archive's):
//! - the **gain** over time: in each blank pointing, the centroid of the tungsten Kα
//!   fluorescence line of the background (Kα1 59.32 keV, Kα2 57.98 keV, blend 58.83 keV) in the
//!   stored pulse heights, above a linear continuum from side bands (one node per pointing; the
//!   estimator's small bias from the continuum's slope is the calibration's systematic error).
//!   OSA10.2's estimate stops following the drift at MJD 56 800 (mid-2014), as that version's
//!   calibration did; OSA11's follows it.
//! - the **dead pixels** of an era: pixels that recorded nothing in any of its blank pointings
//!   (so a pixel that dies during the era is off for all of it).
//! - the **background maps** of each era and band: the blank pointings' good counts per pixel
//!   (energies corrected with the version's gain estimate) over their live time, cts/s per
//!   pixel: the all-energy map (< 1 % Poisson noise per pixel) scaled module by module to each
//!   band's counts — with its noise, and with whatever faint sources lay in the fields.
//!
//! From the **instrument model with realistic uncertainty** (a team cannot measure these without
//! a known sky, and the real ones come from ground calibration and the Crab):
//! - the effective area: the model's × (1 + δ(E)), δ a smooth curve with 1.5 % rms drawn from the
//!   calibration seed at the model's nodes;
//! - the resolution: the cited 8 % FWHM at 60 keV (∝ √E) × (1 + δ), δ drawn with 3 % rms;
//! - the threshold: the commanded settings (known from housekeeping), with a turn-on width of
//!   1.0 keV (the instrument's is 0.8 keV).
//!
//! Making the files takes a minute or two (some hundred Science Windows of events), so they are
//! made once per machine into a shared directory ([`shared_calibration_dir`]) and copied into
//! each simulated archive.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::instrument::{detection_efficiency, threshold_kev};
use super::{MODEL_VERSION, PlannedScw, Simulation};
use crate::archive::ScwId;
use crate::archive::{
    CALIBRATION_INDEX_PATH, EventList, jemx_calibration_path, write_calibration,
    write_jemx_calibration,
};
use crate::error::{Error, Result};
use crate::instrument::calibration::{BackgroundMap, Calibration, Era};
use crate::instrument::isgri::{
    DETECTOR_AREA_CM2, DetectorMap, N_DETY, N_DETZ, is_gap, module_of, on_axis_open_fraction,
    rate_scale,
};
use crate::instrument::jemx::{JemxCalibration, JemxUnit};
use crate::osa::OsaVersion;
use crate::sky::{Attitude, ReferenceCatalog, SkyCoord};
use crate::time::Time;

/// The team's own photon seed for the blank-sky pointings.
pub const CALIBRATION_SEED: u64 = 0xCA11_B2A7_E0DA_0001;
/// Blank-sky pointings stacked per era.
pub const BLANK_SCWS_PER_ERA: usize = 60;
/// Duration of a blank-sky pointing, s.
const BLANK_SCW_S: f64 = 2000.0;
/// A blank field has no reference-catalog source within this angle of the pointing, degrees.
pub const BLANK_FIELD_RADIUS_DEG: f64 = 12.0;
/// Era boundaries, MJD: launch, 2008-01-01, 2014-01-01, end of the simulated mission.
const ERA_BOUNDS_MJD: [f64; 4] = [52_560.0, 54_466.0, 56_658.0, 58_900.0];
/// Background map bands, keV (this version's energies).
const BANDS_KEV: [f64; 9] = [13.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0, 200.0, 1000.0];
/// The W Kα1/Kα2 blend in true energy, keV: (59.32·100 + 57.98·58)/158.
const W_KALPHA_KEV: f64 = 58.83;
/// MJD after which OSA10.2's gain estimate stays frozen (*cited*: mid-2014).
pub const OSA10_FREEZE_MJD: f64 = 56_800.0;
/// rms of the effective-area error, and of the resolution error.
const AREA_ERROR_RMS: f64 = 0.015;
const RESOLUTION_ERROR_RMS: f64 = 0.03;
/// The team's threshold turn-on width, keV.
const THRESHOLD_WIDTH_KEV: f64 = 1.0;
/// Energies of the area and resolution tables, keV.
const TABLE_ENERGIES_KEV: [f64; 16] = [
    10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0, 200.0, 300.0, 500.0,
    1000.0, 2000.0,
];

/// Where this machine keeps the simulated archive's calibration files (made once, copied into
/// each simulated archive): `ODA_SIM_IC_DIR`, else `$XDG_CACHE_HOME/oda/simulated-ic/v<model>`.
pub fn shared_calibration_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ODA_SIM_IC_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("oda")
        .join("simulated-ic")
        .join(format!("v{MODEL_VERSION}"))
}

/// The shared directory with the calibration files made (once per machine: other threads and
/// processes wait on a lock file meanwhile, then find them).
fn ensure_shared() -> Result<PathBuf> {
    static MAKING: Mutex<()> = Mutex::new(());
    let shared = shared_calibration_dir();
    let index = shared.join(CALIBRATION_INDEX_PATH);
    if index.is_file() {
        return Ok(shared);
    }
    let _in_process = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    std::fs::create_dir_all(&shared).map_err(|e| Error::io(&shared, e))?;
    let lock_path = shared.join(".making.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    lock.lock().map_err(|e| Error::io(&lock_path, e))?;
    if !index.is_file() {
        // Files are written atomically and the index last: a reader sees either no index or
        // a complete set.
        write_calibration(&shared, &made_off_the_pool()?)?;
    }
    Ok(shared)
}

/// [`team_calibrations`] made by a private thread pool driven from a plain thread. This is
/// called with locks held, possibly from a worker of rayon's global pool (a per-ScW unit
/// asking for its calibration): had it used the global pool, the waiting worker could steal
/// another unit that asks for the same lock and deadlock, or find every global worker blocked
/// on that lock. A plain `join` waits without stealing, and the private pool's workers are free.
fn made_off_the_pool() -> Result<Vec<Calibration>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("oda-calibration-{i}"))
        .build()
        .map_err(|e| Error::Setting {
            name: "calibration threads".into(),
            message: format!("cannot start a thread pool to make the calibration: {e}"),
        })?;
    std::thread::scope(|s| {
        s.spawn(|| pool.install(team_calibrations))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The simulated archive's calibration of `version` as the analysis reads it (from the shared
/// directory, made first if needed), for analyses of simulated events outside an archive.
///
/// # Errors
/// Errors making or reading the files.
pub fn simulated_calibration(version: OsaVersion) -> Result<Arc<Calibration>> {
    static READ: Mutex<Vec<Arc<Calibration>>> = Mutex::new(Vec::new());
    let shared = ensure_shared()?;
    let mut read = READ.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = read.iter().find(|c| c.osa_version == version) {
        return Ok(c.clone());
    }
    let c = Arc::new(crate::archive::read_calibration(&shared, version)?);
    read.push(c.clone());
    Ok(c)
}

/// Makes sure the simulated calibration files exist below `root` (an archive root): ISGRI's
/// copied from the shared directory, which is filled first if needed (once per machine); JEM-X's
/// responses (the design's, small) written directly.
///
/// # Errors
/// I/O errors; errors making the calibration.
pub fn install_calibration(root: &Path) -> Result<()> {
    for unit in [JemxUnit::Jmx1, JemxUnit::Jmx2] {
        if !root.join(jemx_calibration_path(unit)).is_file() {
            write_jemx_calibration(root, &JemxCalibration::design(unit))?;
        }
    }
    if root.join(CALIBRATION_INDEX_PATH).is_file() {
        return Ok(());
    }
    let shared = ensure_shared()?;
    copy_tree(&shared.join("ic"), &root.join("ic"))?;
    let index = root.join(CALIBRATION_INDEX_PATH);
    if let Some(dir) = index.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    copy_atomically(&shared.join(CALIBRATION_INDEX_PATH), &index)
}

fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    crate::fits::write_bytes_atomically(to, &bytes)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else if !target.exists() {
            copy_atomically(&path, &target)?;
        }
    }
    Ok(())
}

/// The team's blank-sky pointings of each era: dedicated 2 ks pointings at fields with no
/// reference-catalog source within [`BLANK_FIELD_RADIUS_DEG`] (a 15° grid of candidates, taken
/// in turn), evenly spaced in time through the era.
fn blank_pointings() -> Result<Vec<Vec<PlannedScw>>> {
    let catalog = ReferenceCatalog::bundled()?;
    let mut fields = Vec::new();
    for dec in (-75..=75).step_by(15) {
        for ra in (0..360).step_by(15) {
            let c = SkyCoord::new(f64::from(ra), f64::from(dec))?;
            if catalog.within(&c, BLANK_FIELD_RADIUS_DEG).is_empty() {
                fields.push(c);
            }
        }
    }
    if fields.len() < 10 {
        return Err(Error::invalid(
            "calibration blank fields",
            fields.len(),
            "at least 10 fields without a catalog source",
        ));
    }
    let mut eras = Vec::new();
    for (k, w) in ERA_BOUNDS_MJD.windows(2).enumerate() {
        let (a, b) = (mjd_to_ijd(w[0]), mjd_to_ijd(w[1]));
        let mut era = Vec::with_capacity(BLANK_SCWS_PER_ERA);
        for i in 0..BLANK_SCWS_PER_ERA {
            let t = a + (b - a) * (i as f64 + 0.5) / BLANK_SCWS_PER_ERA as f64;
            // Revolutions 9001–9003 are the team's: no plan pointing has them.
            let swid: ScwId = format!("{:04}{:04}0010", 9001 + k, i + 1).parse()?;
            let field = fields[(k * BLANK_SCWS_PER_ERA + i) % fields.len()];
            era.push(PlannedScw::staring(
                swid,
                Attitude::with_roll(field, (i * 37 % 360) as f64),
                Time::from_ijd(t)?,
                BLANK_SCW_S,
            ));
        }
        eras.push(era);
    }
    Ok(eras)
}

fn mjd_to_ijd(mjd: f64) -> f64 {
    mjd - crate::time::IJD_MJD_OFFSET
}

/// The centroid of the W Kα blend in the good events' pulse heights, divided by its true
/// energy: the gain. `None` without a clear line.
fn measure_gain(ev: &EventList) -> Option<f64> {
    // Pulse-height histogram, 0.25 keV bins over 40–80 keV (the line sits at 46–59 keV for gains
    // 0.78–1).
    let (lo, width, n) = (40.0, 0.25, 160usize);
    let mut h = vec![0.0f64; n];
    for i in 0..ev.len() {
        if ev.select_flag[i] != 0 {
            continue;
        }
        let e = f64::from(ev.energy[i]);
        let k = ((e - lo) / width).floor();
        if k >= 0.0 && (k as usize) < n {
            h[k as usize] += 1.0;
        }
    }
    // The peak of the 1 keV running sum, below the lead lines (searched over 44–62 keV).
    let smooth = |k: usize| h[k.saturating_sub(2)..(k + 2).min(n)].iter().sum::<f64>();
    let peak = (16..88).max_by(|a, b| smooth(*a).total_cmp(&smooth(*b)))?;
    let center = lo + (peak as f64 + 0.5) * width;
    // Linear continuum from side bands 4–6 keV either side; centroid within ±3 keV.
    let bin_of = |e: f64| ((e - lo) / width).floor().clamp(0.0, (n - 1) as f64) as usize;
    let mean_in = |a: f64, b: f64| {
        let (i, j) = (bin_of(a), bin_of(b));
        let s: f64 = h[i..=j].iter().sum();
        (s / (j - i + 1) as f64, 0.5 * (a + b))
    };
    let (left, xl) = mean_in(center - 6.0, center - 4.0);
    let (right, xr) = mean_in(center + 4.0, center + 6.0);
    let (mut sw, mut swx) = (0.0, 0.0);
    let (first, last) = (bin_of(center - 3.0), bin_of(center + 3.0));
    for (k, counts) in h.iter().enumerate().take(last + 1).skip(first) {
        let x = lo + (k as f64 + 0.5) * width;
        let cont = left + (right - left) * (x - xl) / (xr - xl);
        let net = counts - cont;
        sw += net;
        swx += net * x;
    }
    (sw > 100.0).then(|| swx / sw / W_KALPHA_KEV)
}

/// What the team keeps of one blank pointing: its time, live time, its gain measure, the good
/// counts per pixel (all energies) and, per distinct gain estimate (OSA11's, and OSA10.2's
/// where it differs), the good counts per pixel and background band.
struct Reduced {
    t_mid: f64,
    live_s: f64,
    gain: f64,
    counts: DetectorMap,
    bands11: Vec<DetectorMap>,
    bands10: Vec<DetectorMap>,
}

/// Good counts per pixel in each background band, energies = pulse height / `gain`.
fn band_counts(ev: &EventList, gain: f64) -> Vec<DetectorMap> {
    let nb = BANDS_KEV.len() - 1;
    let mut counts = vec![DetectorMap::zeros((N_DETY, N_DETZ)); nb];
    for i in 0..ev.len() {
        if ev.select_flag[i] != 0 || !ev.gti.contains(ev.time[i]) {
            continue;
        }
        let e = f64::from(ev.energy[i]) / gain;
        let k = BANDS_KEV.partition_point(|x| *x <= e);
        let (y, z) = (usize::from(ev.dety[i]), usize::from(ev.detz[i]));
        if k > 0 && k <= nb && y < N_DETY && z < N_DETZ {
            counts[k - 1][[y, z]] += 1.0;
        }
    }
    counts
}

/// The background maps of one era from its stacked band counts: the all-energy map (the best
/// measured spatial structure) scaled, module by module, to each band's counts. The team assumes
/// that the structure within a module does not depend on energy (what the stacks show within
/// their noise); the per-band maps straight from the counts would carry 2–3 % Poisson noise per
/// pixel into every analysis, the all-energy map carries < 1 %.
fn band_maps(counts: &[DetectorMap], eff: &DetectorMap, live: f64) -> Vec<BackgroundMap> {
    let mut total = DetectorMap::zeros((N_DETY, N_DETZ));
    for c in counts {
        total += c;
    }
    total *= eff;
    counts
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut sums = [(0.0f64, 0.0f64); 8];
            for ((y, z), t) in total.indexed_iter() {
                if let Some(m) = module_of(y, z) {
                    sums[m].0 += c[[y, z]] * eff[[y, z]];
                    sums[m].1 += t;
                }
            }
            let rate =
                DetectorMap::from_shape_fn((N_DETY, N_DETZ), |(y, z)| match module_of(y, z) {
                    Some(m) if sums[m].1 > 0.0 => {
                        total[[y, z]] * sums[m].0 / sums[m].1 / live.max(1.0)
                    }
                    _ => 0.0,
                });
            BackgroundMap {
                e_min: BANDS_KEV[k],
                e_max: BANDS_KEV[k + 1],
                rate,
            }
        })
        .collect()
}

/// The calibrations of every OSA version, made from the simulation (see the module docs).
///
/// # Errors
/// No blank fields; no W line found in a blank pointing.
pub fn team_calibrations() -> Result<Vec<Calibration>> {
    let sim = Simulation::new(CALIBRATION_SEED)?;
    let eras = blank_pointings()?;
    let freeze = mjd_to_ijd(OSA10_FREEZE_MJD);
    let no_line = |p: &PlannedScw| {
        Error::invalid(
            "calibration gain",
            p.scw.swid,
            "a blank pointing whose background shows the W Kα line",
        )
    };
    // OSA10.2's frozen gain: the measure of the last blank pointing before the freeze.
    let last_before = eras
        .iter()
        .flatten()
        .filter(|p| p.scw.tstop <= freeze)
        .max_by(|a, b| a.scw.tstart.total_cmp(&b.scw.tstart))
        .ok_or_else(|| {
            Error::invalid(
                "calibration blank pointings",
                "none",
                "one before the OSA10.2 freeze",
            )
        })?;
    let frozen = measure_gain(&sim.events_for(last_before)).ok_or_else(|| no_line(last_before))?;
    // Simulate and reduce the blank pointings, one era at a time (in parallel within an era;
    // results in a fixed order): only the reductions are kept, never the events.
    let reduced: Vec<Vec<Reduced>> = eras
        .iter()
        .map(|ps| {
            ps.par_iter()
                .map(|p| {
                    let ev = sim.events_for(p);
                    let gain = measure_gain(&ev).ok_or_else(|| no_line(p))?;
                    let t_mid = 0.5 * (p.scw.tstart + p.scw.tstop);
                    let mut counts = DetectorMap::zeros((N_DETY, N_DETZ));
                    for i in 0..ev.len() {
                        let (y, z) = (usize::from(ev.dety[i]), usize::from(ev.detz[i]));
                        if y < N_DETY && z < N_DETZ && ev.select_flag[i] == 0 {
                            counts[[y, z]] += 1.0;
                        }
                    }
                    let bands11 = band_counts(&ev, gain);
                    let bands10 = if t_mid > freeze {
                        band_counts(&ev, frozen)
                    } else {
                        Vec::new()
                    };
                    Ok(Reduced {
                        t_mid,
                        live_s: p.exposure(),
                        gain,
                        counts,
                        bands11,
                        bands10,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    // The gain: one node per blank pointing (OSA11), frozen after mid-2014 (OSA10.2).
    let gain11: Vec<(f64, f64)> = reduced
        .iter()
        .flatten()
        .map(|r| (r.t_mid, r.gain))
        .collect();
    let gain10: Vec<(f64, f64)> = gain11
        .iter()
        .map(|&(t, g)| (t, if t <= freeze { g } else { frozen }))
        .collect();

    // Model quantities with the team's errors, drawn once from the calibration seed.
    let mut rng = ChaCha8Rng::seed_from_u64(CALIBRATION_SEED);
    let mut draw = |rms: f64| {
        let z: f64 = StandardNormal.sample(&mut rng);
        1.0 + rms * z
    };
    let area_error: Vec<f64> = TABLE_ENERGIES_KEV
        .iter()
        .map(|_| draw(AREA_ERROR_RMS))
        .collect();
    let resolution_error = draw(RESOLUTION_ERROR_RMS);
    let resolution: Vec<(f64, f64)> = TABLE_ENERGIES_KEV
        .iter()
        .map(|&e| (e, 0.08 * 60.0 * (e / 60.0).sqrt() * resolution_error))
        .collect();
    let threshold: Vec<(f64, f64)> = ERA_BOUNDS_MJD
        .iter()
        .map(|&mjd| {
            let t = Time::from_ijd_unchecked(mjd_to_ijd(mjd));
            (t.ijd(), threshold_kev(t))
        })
        .collect();

    // Dead pixels per era: those that recorded nothing in any of the era's blank pointings
    // (each gives a live pixel hundreds of counts): a pixel that dies during the era is off for
    // the whole era, as the background map cannot describe it before its death.
    let efficiency: Vec<DetectorMap> = reduced
        .iter()
        .map(|era| {
            DetectorMap::from_shape_fn((N_DETY, N_DETZ), |(y, z)| {
                if is_gap(y, z) || era.iter().any(|r| r.counts[[y, z]] == 0.0) {
                    0.0
                } else {
                    1.0
                }
            })
        })
        .collect();

    let mut out = Vec::new();
    for v in [
        OsaVersion::Osa10_2,
        OsaVersion::Osa11_0,
        OsaVersion::Osa11_2,
    ] {
        let osa10 = v == OsaVersion::Osa10_2;
        let eras_out: Vec<Era> = reduced
            .iter()
            .zip(ERA_BOUNDS_MJD.windows(2))
            .zip(&efficiency)
            .map(|((era, w), eff)| {
                let nb = BANDS_KEV.len() - 1;
                let mut counts = vec![DetectorMap::zeros((N_DETY, N_DETZ)); nb];
                let mut live = 0.0;
                for r in era {
                    live += r.live_s;
                    let bands = if osa10 && !r.bands10.is_empty() {
                        &r.bands10
                    } else {
                        &r.bands11
                    };
                    for (c, b) in counts.iter_mut().zip(bands) {
                        *c += b;
                    }
                }
                Era {
                    start: mjd_to_ijd(w[0]),
                    stop: mjd_to_ijd(w[1]),
                    efficiency: eff.clone(),
                    background: band_maps(&counts, eff, live),
                }
            })
            .collect();
        let area: Vec<(f64, f64)> = TABLE_ENERGIES_KEV
            .iter()
            .zip(&area_error)
            .map(|(&e, err)| {
                (
                    e,
                    DETECTOR_AREA_CM2
                        * on_axis_open_fraction()
                        * detection_efficiency(e)
                        * rate_scale(v)
                        * err,
                )
            })
            .collect();
        out.push(Calibration {
            geometry: crate::instrument::isgri::geometry(),
            imaging: crate::instrument::isgri::imaging_calibration(),
            osa_version: v,
            eras: eras_out,
            gain: if osa10 {
                gain10.clone()
            } else {
                gain11.clone()
            },
            threshold: threshold.clone(),
            threshold_width_kev: THRESHOLD_WIDTH_KEV,
            resolution: resolution.clone(),
            area,
            files: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_w_line_gives_the_gain_of_a_blank_pointing() {
        let sim = Simulation::new(CALIBRATION_SEED)
            .unwrap()
            .with_sky(super::super::SkyModel::from_sources(vec![]));
        for (date, truth) in [("2005-03-01", None), ("2017-06-01", None::<f64>)] {
            let t = Time::from_isot(date).unwrap();
            let p = PlannedScw::staring(
                "999900010010".parse().unwrap(),
                crate::sky::Attitude::with_roll(
                    crate::sky::SkyCoord::new(150.0, 60.0).unwrap(),
                    0.0,
                ),
                t,
                2000.0,
            );
            let g = measure_gain(&sim.events_for(&p)).unwrap();
            let truth = truth.unwrap_or_else(|| super::super::instrument::gain(t));
            // A realistic calibration: right to a few per mille, not exactly.
            assert!((g / truth - 1.0).abs() < 0.005, "{date}: {g} vs {truth}");
        }
    }
}
