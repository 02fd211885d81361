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
        let mut counts = vec![vec![0u32; n_dety * n_detz]; bins.len() * nb];
        // Per pixel, for the switched-off pixels: events flagged, and good events at any time.
        let mut flagged = vec![0u32; n_dety * n_detz];
        let mut good = vec![0u32; n_dety * n_detz];
        let contiguous = self.bands.windows(2).all(|w| w[0].e2 <= w[1].e1);
        for i in 0..events.len() {
            let (y, z) = (usize::from(events.dety[i]), usize::from(events.detz[i]));
            if y >= n_dety || z >= n_detz {
                continue;
            }
            let pixel = y * n_detz + z;
            if events.select_flag[i] != 0 {
                flagged[pixel] += 1;
                continue;
            }
            good[pixel] += 1;
            let t = events.time[i];
            if !events.gti.contains(t) {
                continue;
            }
            let Some(b) = bins.iter().position(|(a, z)| t >= *a && t < *z) else {
                continue;
            };
            let e = f64::from(events.energy[i]) * corr;
            if contiguous {
                // Sorted, non-overlapping bands: one binary search instead of a scan.
                let k = self.bands.partition_point(|band| band.e1 <= e);
                if k > 0 && e < self.bands[k - 1].e2 {
                    counts[b * nb + k - 1][pixel] += 1;
                }
            } else {
                for (k, band) in self.bands.iter().enumerate() {
                    if e >= band.e1 && e < band.e2 {
                        counts[b * nb + k][pixel] += 1;
                    }
                }
            }
        }
        // The pixels the events show dead (silent) or noisy: the efficiency map is the
        // calibration's with these switched off.
        let switched_off = switched_off_pixels(
            self.calibration.efficiency(t_mid),
            &flagged,
            &good,
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
