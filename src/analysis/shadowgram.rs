//! Shadowgrams: detector images of one Science Window in an energy band (and time bin).
//!
//! A [`ShadowgramMaker`] holds the settings (energy bands and the calibration of an OSA version,
//! read from the archive) and turns the events of a ScW into one [`Shadowgram`] per band, or per
//! band and time bin. Energies are reconstructed with the calibration's gain estimate when the
//! file stores them on the nominal scale. Only good events (SELECT_FLAG = 0) inside the GTIs
//! count; the efficiency map is 0 in the module gaps, on the pixels the calibration lists as dead
//! for the era, and on pixels this ScW's own events show dead (silent) or noisy (many flagged
//! events). Each shadowgram carries the calibration's background map for its band and time.

use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::archive::{EnergyScale, EventList, Gti, ScwHeader, ScwId};
use crate::error::{Error, Result};
use crate::instrument::calibration::Calibration;
use crate::instrument::coded_mask::DetectorMap;
use crate::osa::OsaVersion;
use crate::sky::Attitude;
use crate::time::{SECONDS_PER_DAY, Time};

/// ISGRI energy range accepted in requests, keV (ODA's limits).
pub const ISGRI_BAND_LIMITS: (f64, f64) = crate::instrument::isgri::BAND_LIMITS_KEV;
/// A pixel with more flagged events than this in a ScW is treated as noisy and switched off.
const NOISY_PIXEL_FLAGGED: u32 = 20;

/// An energy band in reconstructed keV, validated against an instrument's range (ISGRI's for
/// [`EnergyBand::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyBand {
    /// Lower edge, keV.
    pub e1: f64,
    /// Upper edge, keV.
    pub e2: f64,
}

impl EnergyBand {
    /// A band [e1, e2) keV.
    ///
    /// # Errors
    /// `E1_keV` ≥ `E2_keV`, or either outside 15–800 keV (ODA's ISGRI range).
    pub fn new(e1: f64, e2: f64) -> Result<EnergyBand> {
        EnergyBand::within(e1, e2, "ISGRI", ISGRI_BAND_LIMITS)
    }

    /// A band [e1, e2) keV of `instrument`, whose range is `limits` keV.
    ///
    /// # Errors
    /// `E1_keV` ≥ `E2_keV`, or either outside `limits`.
    pub fn within(e1: f64, e2: f64, instrument: &str, limits: (f64, f64)) -> Result<EnergyBand> {
        let (lo, hi) = limits;
        if !(e1.is_finite() && (lo..hi).contains(&e1)) {
            return Err(Error::invalid(
                "E1_keV",
                e1,
                format!("{instrument} energy range is restricted to {lo} - {hi} keV"),
            ));
        }
        if !(e2.is_finite() && e2 > lo && e2 <= hi) {
            return Err(Error::invalid(
                "E2_keV",
                e2,
                format!("{instrument} energy range is restricted to {lo} - {hi} keV"),
            ));
        }
        if e1 >= e2 {
            return Err(Error::invalid(
                "E1_keV",
                e1,
                format!("a lower bound below E2_keV = {e2}"),
            ));
        }
        Ok(EnergyBand { e1, e2 })
    }

    /// Consecutive bands from channel edges.
    ///
    /// # Errors
    /// As [`EnergyBand::new`] for any pair, or fewer than two edges.
    pub fn from_edges(edges: &[f64]) -> Result<Vec<EnergyBand>> {
        if edges.len() < 2 {
            return Err(Error::invalid(
                "energy bins",
                format!("{edges:?}"),
                "at least two edges",
            ));
        }
        edges
            .windows(2)
            .map(|w| EnergyBand::new(w[0], w[1]))
            .collect()
    }
}

impl std::fmt::Display for EnergyBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}–{} keV", self.e1, self.e2)
    }
}

/// Counts per detector pixel of one Science Window, in one band and time interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Shadowgram {
    /// The Science Window.
    pub swid: ScwId,
    /// Spacecraft attitude.
    pub attitude: Attitude,
    /// Energy band.
    pub band: EnergyBand,
    /// Time interval covered, IJD.
    pub time_range: (f64, f64),
    /// Good counts per detector position `[dety, detz]`.
    pub counts: DetectorMap,
    /// Efficiency per position: 0 in gaps and on dead or noisy pixels, 1 elsewhere.
    pub efficiency: DetectorMap,
    /// The calibration's background template for this band and time: relative count rate per
    /// position, mean 1 over the pixels with background.
    pub background: DetectorMap,
    /// Live exposure, s (good time × DEADC).
    pub exposure: f64,
    /// OSA version whose calibration reconstructed the energies.
    pub osa_version: OsaVersion,
    /// Middle of the Science Window (where gain, threshold and dead pixels are evaluated).
    pub t_mid: Time,
}

/// The counts of one Science Window's events per detector pixel, in a maker's bands and some
/// time bins ([`ShadowgramMaker::count`]): what the spectra and light curves need of the
/// events, independent of the source catalog, a few hundred kB where the events take ~70 MB.
/// [`ShadowgramMaker::shadowgrams`] turns it into the shadowgrams, bit-identical to those made
/// from the events directly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwCounts {
    /// The events' header (attitude, times, DEADC).
    pub header: ScwHeader,
    /// The good time intervals.
    pub gti: Gti,
    /// Time bins, [start, stop) IJD.
    pub bins: Vec<(f64, f64)>,
    /// The bands counted.
    pub bands: Vec<EnergyBand>,
    /// Pixels the events show dead or noisy (`y * n_detz + z`).
    pub switched_off: Vec<u32>,
    /// Good counts per pixel (`y * n_detz + z`), per time bin (outer) and band (inner).
    pub counts: Vec<Vec<u32>>,
}

/// Which time bins a maker counts a Science Window's events in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum TimeBinning {
    /// One bin: the whole Science Window (spectra, images).
    WholeScw,
    /// Bins of this many seconds on a fixed grid from IJD 0 (light curves): the bins of the grid
    /// the Science Window overlaps.
    Grid(f64),
}

impl TimeBinning {
    /// The bins of the Science Window of `header`, [start, stop) IJD, with the index of the first
    /// (0 for [`TimeBinning::WholeScw`]).
    pub fn bins(&self, header: &ScwHeader) -> (i64, Vec<(f64, f64)>) {
        match *self {
            TimeBinning::WholeScw => (0, vec![(header.tstart, header.tstop)]),
            TimeBinning::Grid(seconds) => {
                let width = seconds / SECONDS_PER_DAY;
                let first = (header.tstart / width).floor() as i64;
                let last = (header.tstop / width).ceil() as i64;
                (
                    first,
                    (first..last)
                        .map(|b| (b as f64 * width, (b + 1) as f64 * width))
                        .collect(),
                )
            }
        }
    }
}

/// Builds shadowgrams from event lists.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowgramMaker {
    bands: Vec<EnergyBand>,
    calibration: Arc<Calibration>,
}

/// The settings that make a maker's output: the bands and the calibration (its version and
/// the checksums of its files).
impl Serialize for ShadowgramMaker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ShadowgramMaker", 2)?;
        st.serialize_field("bands", &self.bands)?;
        st.serialize_field("calibration", self.calibration.as_ref())?;
        st.end()
    }
}

impl ShadowgramMaker {
    /// A maker for `bands` with `calibration` (one OSA version's, from the archive).
    ///
    /// # Errors
    /// No bands, or a band outside the calibrated instrument's range.
    pub fn new(bands: Vec<EnergyBand>, calibration: Arc<Calibration>) -> Result<ShadowgramMaker> {
        if bands.is_empty() {
            return Err(Error::invalid("energy bands", "none", "at least one band"));
        }
        let limits = calibration.imaging.band_limits_kev;
        for b in &bands {
            EnergyBand::within(b.e1, b.e2, calibration.geometry.name(), limits)?;
        }
        Ok(ShadowgramMaker { bands, calibration })
    }

    /// The calibration.
    pub fn calibration(&self) -> &Arc<Calibration> {
        &self.calibration
    }

    /// The OSA version of the calibration.
    pub fn version(&self) -> OsaVersion {
        self.calibration.osa_version
    }

    /// The bands.
    pub fn bands(&self) -> &[EnergyBand] {
        &self.bands
    }

    /// One shadowgram per band over the whole Science Window.
    pub fn run(&self, events: &EventList) -> Vec<Shadowgram> {
        let h = &events.header;
        self.run_binned(events, &[(h.tstart, h.tstop)])
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// Shadowgrams per time bin (outer) and band (inner); bins are [start, stop) in IJD.
    /// Each bin's exposure is its overlap with the GTIs times DEADC.
    pub fn run_binned(&self, events: &EventList, bins: &[(f64, f64)]) -> Vec<Vec<Shadowgram>> {
        self.shadowgrams(&self.count(events, bins))
    }

    /// The counts of `events` per pixel in each band and time bin (`bins`, [start, stop) in
    /// IJD): one pass over the events, whose result (small beside the events: a few bytes per
    /// pixel and bin) rebuilds exactly the shadowgrams of [`ShadowgramMaker::run_binned`]
    /// through [`ShadowgramMaker::shadowgrams`]. The workflow keeps it instead of the events.
    pub fn count(&self, events: &EventList, bins: &[(f64, f64)]) -> ScwCounts {
        let h = &events.header;
        // Header times are validated when the file is read.
        let t_mid = Time::from_ijd_unchecked(0.5 * (h.tstart + h.tstop));
        let corr = match h.energy_scale {
            EnergyScale::Nominal => self.calibration.energy_correction(t_mid),
            EnergyScale::Calibrated => 1.0,
        };
        let nb = self.bands.len();
        let (n_dety, n_detz) = self.calibration.geometry.detector().dim();
        let npix = n_dety * n_detz;
        // Per pixel, for the switched-off pixels: good events at any time, then flagged ones.
        let mut tallies = vec![0u32; 2 * npix];
        for ((&y, &z), &flag) in events
            .dety
            .iter()
            .zip(&events.detz)
            .zip(&events.select_flag)
        {
            let (y, z) = (usize::from(y), usize::from(z));
            if y < n_dety && z < n_detz {
                tallies[usize::from(flag != 0) * npix + y * n_detz + z] += 1;
            }
        }
        let (good, flagged) = tallies.split_at(npix);
        let tally = Tally {
            events,
            corr,
            dims: (n_dety, n_detz),
            lower: self.bands.iter().map(|b| b.e1).collect(),
            upper: self.bands.iter().map(|b| b.e2).collect(),
            contiguous: self.bands.windows(2).all(|w| w[0].e2 <= w[1].e1),
        };
        // Maps of (bin, band) one after the other.
        let mut maps = vec![0u32; bins.len() * nb * npix];
        match good_time_segments(&events.time, &events.gti, bins) {
            // Time-ordered events, GTIs and bins: each bin's good time is a few index ranges.
            Some(segments) => {
                for (b, range) in segments {
                    tally.add(&mut maps[b * nb * npix..(b + 1) * nb * npix], range);
                }
            }
            // Otherwise event by event, as the definition says (the oracle of the ranges).
            None => {
                for (i, &t) in events.time.iter().enumerate() {
                    if !events.gti.contains(t) {
                        continue;
                    }
                    if let Some(b) = bins.iter().position(|(a, z)| t >= *a && t < *z) {
                        tally.add(&mut maps[b * nb * npix..(b + 1) * nb * npix], i..i + 1);
                    }
                }
            }
        }
        let counts = maps.chunks(npix.max(1)).map(<[u32]>::to_vec).collect();
        // The pixels the events show dead (silent) or noisy: the efficiency map is the
        // calibration's with these switched off.
        let switched_off = switched_off_pixels(
            self.calibration.efficiency(t_mid),
            flagged,
            good,
            events.len(),
        );
        ScwCounts {
            header: h.clone(),
            gti: events.gti.clone(),
            bins: bins.to_vec(),
            bands: self.bands.clone(),
            switched_off,
            counts,
        }
    }

    /// [`ShadowgramMaker::count`] in the bins of `binning` over the events' Science Window.
    pub fn count_in(&self, events: &EventList, binning: TimeBinning) -> ScwCounts {
        let (_, bins) = binning.bins(&events.header);
        self.count(events, &bins)
    }

    /// Whether `counts` were made by a maker with these bands in the bins of `binning`, one
    /// full detector map per bin and band: the shadowgrams then rebuild exactly.
    pub fn matches_counts(&self, counts: &ScwCounts, binning: TimeBinning) -> bool {
        let (n_dety, n_detz) = self.calibration.geometry.detector().dim();
        counts.bands == self.bands
            && counts.bins == binning.bins(&counts.header).1
            && counts.counts.len() == counts.bins.len() * self.bands.len()
            && counts.counts.iter().all(|c| c.len() == n_dety * n_detz)
    }

    /// The shadowgrams of `counts` (made by [`ShadowgramMaker::count`] of a maker with the same
    /// bands and calibration), per time bin (outer) and band (inner).
    pub fn shadowgrams(&self, counts: &ScwCounts) -> Vec<Vec<Shadowgram>> {
        let h = &counts.header;
        let t_mid = Time::from_ijd_unchecked(0.5 * (h.tstart + h.tstop));
        let (n_dety, n_detz) = self.calibration.geometry.detector().dim();
        let mut efficiency = self.calibration.efficiency(t_mid).clone();
        for p in &counts.switched_off {
            let p = *p as usize;
            if let Some(w) = efficiency.get_mut((p / n_detz, p % n_detz)) {
                *w = 0.0;
            }
        }
        let templates: Vec<DetectorMap> = self
            .bands
            .iter()
            .map(|b| self.calibration.background(t_mid, b.e1, b.e2))
            .collect();
        let mut out = Vec::with_capacity(counts.bins.len());
        let mut it = counts.counts.iter();
        for &(a, z) in &counts.bins {
            let good: f64 = counts
                .gti
                .start
                .iter()
                .zip(&counts.gti.stop)
                .map(|(s, e)| (e.min(z) - s.max(a)).max(0.0) * SECONDS_PER_DAY)
                .sum();
            let row = self
                .bands
                .iter()
                .zip(&templates)
                .map(|(band, template)| Shadowgram {
                    swid: h.swid,
                    attitude: h.attitude,
                    band: *band,
                    time_range: (a.max(h.tstart), z.min(h.tstop)),
                    counts: it
                        .next()
                        .filter(|c| c.len() == n_dety * n_detz)
                        .map(|c| {
                            let c = Array2::from_shape_fn((n_dety, n_detz), |(y, z)| {
                                f64::from(c[y * n_detz + z])
                            });
                            &c * &efficiency
                        })
                        .unwrap_or_else(|| Array2::zeros((n_dety, n_detz))),
                    efficiency: efficiency.clone(),
                    background: template.clone(),
                    exposure: good * h.deadc,
                    osa_version: self.version(),
                    t_mid,
                })
                .collect();
            out.push(row);
        }
        out
    }
}

/// A pixel with at least this many good events per pixel on average in the ScW, but none of its
/// own, is dead (a live pixel would see none with probability below e⁻²⁰).
const DEAD_PIXEL_MIN_MEAN_COUNTS: f64 = 20.0;

/// Adds good events to the (band) maps of a time bin: what [`ShadowgramMaker::count`] does per
/// event, kept apart from the loops that say which bin an event is in.
struct Tally<'a> {
    events: &'a EventList,
    /// The energy correction of the events' scale.
    corr: f64,
    /// The detector's dimensions (DETY, DETZ).
    dims: (usize, usize),
    /// Each band's lower and upper edges.
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// Sorted, non-overlapping bands: one binary search instead of a scan.
    contiguous: bool,
}

impl Tally<'_> {
    /// The good events of `range` that are on the detector into the map of their band (of
    /// every band holding them, when bands overlap) among `maps` (one detector map per band, in
    /// order).
    fn add(&self, maps: &mut [u32], range: std::ops::Range<usize>) {
        let ev = self.events;
        let (n_dety, n_detz) = self.dims;
        let npix = n_dety * n_detz;
        let columns = ev.dety[range.clone()]
            .iter()
            .zip(&ev.detz[range.clone()])
            .zip(&ev.select_flag[range.clone()])
            .zip(&ev.energy[range]);
        let events = columns.filter_map(|(((&y, &z), &flag), &energy)| {
            let (y, z) = (usize::from(y), usize::from(z));
            (flag == 0 && y < n_dety && z < n_detz)
                .then(|| (y * n_detz + z, f64::from(energy) * self.corr))
        });
        match (
            self.contiguous,
            self.lower.as_slice(),
            self.upper.as_slice(),
        ) {
            // One band (images, light curves): without a branch on it (about as many events
            // are in as out), an event outside adds 0.
            (_, &[e1], &[e2]) => {
                for (pixel, e) in events {
                    maps[pixel] += u32::from(e >= e1) & u32::from(e < e2);
                }
            }
            // Sorted, non-overlapping bands: one binary search; outside every band adds 0 to
            // the first map.
            (true, lower, upper) => {
                for (pixel, e) in events {
                    let k = lower.partition_point(|&e1| e1 <= e);
                    let band = k.saturating_sub(1);
                    let inside = u32::from(k > 0) & u32::from(e < upper[band]);
                    maps[band * npix * inside as usize + pixel] += inside;
                }
            }
            (false, lower, upper) => {
                for (pixel, e) in events {
                    for (k, (&e1, &e2)) in lower.iter().zip(upper).enumerate() {
                        if e >= e1 && e < e2 {
                            maps[k * npix + pixel] += 1;
                        }
                    }
                }
            }
        }
    }
}

/// The events of each time bin within the good time, as ranges of event indices (bin, range),
/// when the event times are sorted and the GTIs and the bins are each sorted and disjoint;
/// `None` otherwise. An event at `t` is in a range of bin `b` exactly when some GTI holds it
/// (`start <= t < stop`) and `b` is the bin holding it (`a <= t < z`).
fn good_time_segments(
    time: &[f64],
    gti: &Gti,
    bins: &[(f64, f64)],
) -> Option<Vec<(usize, std::ops::Range<usize>)>> {
    // Each interval after the previous one's end, none reversed (NaN fails).
    let ordered = |pairs: &[(f64, f64)]| {
        let mut end = f64::NEG_INFINITY;
        pairs.iter().all(|&(a, z)| {
            let ok = a >= end && z >= a;
            end = z;
            ok
        })
    };
    let gtis: Vec<(f64, f64)> = gti
        .start
        .iter()
        .copied()
        .zip(gti.stop.iter().copied())
        .collect();
    if !ordered(&gtis) || !ordered(bins) || !time.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let mut segments = Vec::new();
    for (b, &(a, z)) in bins.iter().enumerate() {
        for &(start, stop) in &gtis {
            let (lo, hi) = (a.max(start), z.min(stop));
            if lo < hi {
                let first = time.partition_point(|&t| t < lo);
                let end = time.partition_point(|&t| t < hi);
                segments.push((b, first..end));
            }
        }
    }
    Some(segments)
}

/// The pixels to switch off in the calibration's map of live pixels `live`: the noisy pixels
/// (many flagged events) and the pixels that recorded nothing in a ScW where every live pixel
/// should have (pixels that died during the era, after the calibration's map was made); as
/// indices `y * n_detz + z`.
fn switched_off_pixels(
    live: &DetectorMap,
    flagged: &[u32],
    good: &[u32],
    n_events: usize,
) -> Vec<u32> {
    let n_live = live.iter().filter(|v| **v > 0.0).count().max(1);
    let mean = n_events as f64 / n_live as f64;
    flagged
        .iter()
        .zip(good)
        .enumerate()
        .filter(|(_, (f, g))| {
            **f > NOISY_PIXEL_FLAGGED || (**g == 0 && mean >= DEAD_PIXEL_MIN_MEAN_COUNTS)
        })
        .filter_map(|(k, _)| u32::try_from(k).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_time_segments_hold_the_events_the_definition_assigns() {
        // Sorted times with repeats and events on the edges of GTIs and bins.
        let mut time: Vec<f64> = (0..2000)
            .map(|i| f64::from((i * 7919) % 1000) / 10.0)
            .collect();
        time.extend([10.0, 20.0, 35.0, 50.0, 99.9]);
        time.sort_by(f64::total_cmp);
        let gti = Gti {
            start: vec![5.0, 20.0, 60.0],
            stop: vec![15.0, 50.0, 60.0],
        };
        let bins = [(0.0, 10.0), (10.0, 35.0), (35.0, 35.0), (35.0, 90.0)];
        let segments = good_time_segments(&time, &gti, &bins).expect("ordered input");
        let mut assigned = vec![None; time.len()];
        for (b, range) in segments {
            for i in range {
                assert!(assigned[i].is_none(), "event {i} in two segments");
                assigned[i] = Some(b);
            }
        }
        for (i, &t) in time.iter().enumerate() {
            let expected = gti
                .contains(t)
                .then(|| bins.iter().position(|(a, z)| t >= *a && t < *z))
                .flatten();
            assert_eq!(assigned[i], expected, "event {i} at {t}");
        }
        // Unsorted events or overlapping bins: no segments (counted event by event).
        let mut shuffled = time.clone();
        shuffled.swap(3, 1500);
        assert!(good_time_segments(&shuffled, &gti, &bins).is_none());
        assert!(good_time_segments(&time, &gti, &[(0.0, 20.0), (10.0, 30.0)]).is_none());
    }

    #[test]
    fn silent_and_noisy_pixels_are_switched_off() {
        use crate::instrument::isgri::{N_DETY, N_DETZ};
        let model = crate::instrument::isgri::layout_map();
        let live = model.iter().filter(|v| **v > 0.0).count();
        let mut good = vec![300u32; N_DETY * N_DETZ];
        let mut flagged = vec![0u32; N_DETY * N_DETZ];
        let (silent, noisy) = (10 * N_DETZ + 10, 20 * N_DETZ + 20);
        assert!(model[[10, 10]] > 0.0 && model[[20, 20]] > 0.0);
        good[silent] = 0;
        flagged[noisy] = 500;
        let mut w = model.clone();
        for p in switched_off_pixels(&model, &flagged, &good, 300 * live) {
            w[[p as usize / N_DETZ, p as usize % N_DETZ]] = 0.0;
        }
        assert_eq!(w[[10, 10]], 0.0);
        assert_eq!(w[[20, 20]], 0.0);
        assert_eq!(w.sum(), model.sum() - 2.0);
        // A short, faint interval says nothing about dead pixels.
        let off = switched_off_pixels(
            &model,
            &vec![0; N_DETY * N_DETZ],
            &vec![0; N_DETY * N_DETZ],
            1000,
        );
        assert!(off.is_empty());
    }

    #[test]
    fn band_validation_names_the_parameter() {
        assert!(EnergyBand::new(20.0, 40.0).is_ok());
        assert_eq!(
            EnergyBand::new(10.0, 40.0).unwrap_err().parameter(),
            Some("E1_keV")
        );
        assert_eq!(
            EnergyBand::new(20.0, 900.0).unwrap_err().parameter(),
            Some("E2_keV")
        );
        let e = EnergyBand::new(40.0, 40.0).unwrap_err();
        assert!(e.to_string().contains("E2_keV = 40"), "{e}");
        assert!(
            EnergyBand::new(20.32, 40.7).is_ok(),
            "fractional bounds are fine"
        );
        assert!(EnergyBand::from_edges(&[20.0]).is_err());
    }
}
