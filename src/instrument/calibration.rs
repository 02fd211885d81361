//! Calibration: what the analysis knows about the instrument beyond its design, as read from
//! the archive's calibration files (see [`crate::archive::read_calibration`]).
//!
//! One [`Calibration`] holds everything one OSA version says about a telescope (ISGRI) over the
//! mission, on its [`CodedMaskGeometry`]:
//! - per era, the **efficiency map** (0 on pixels known dead for the whole era and in the gaps;
//!   pixels that die or turn noisy within a Science Window are found from its own events) and the
//!   **background maps** per energy band (the detector's count rate per pixel on blank sky, used
//!   to flat-field and as the background term of the sky-model fits);
//! - the **gain estimate** over time, which turns stored pulse heights into this version's
//!   energies, and the low **threshold** on the pulse-height scale;
//! - the **energy resolution** and the on-axis **effective area**, from which the ARF and RMF
//!   of any binning are made.
//!
//! The checksums of the files it was read from are part of every product's identity, so a new
//! calibration file never reuses products made with another.

use std::sync::Arc;

use serde::Serialize;

use super::coded_mask::{CodedMaskGeometry, DetectorMap};
use super::response::{Arf, Redistribution, Rmf};
use crate::error::{Error, Result};
use crate::osa::OsaVersion;
use crate::time::Time;

/// The imaging side of a coded-mask telescope's calibration: the energies its analysis accepts,
/// its point-spread functions and its location accuracy. OSA keeps these in its imaging code
/// rather than in calibration files, and so does this project: they are filled in from the
/// instrument's module ([`crate::instrument::isgri::imaging_calibration`]) for every calibration
/// read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImagingCalibration {
    /// Lowest and highest energies requests may ask for, keV.
    pub band_limits_kev: (f64, f64),
    /// σ of the clean point-spread function put back into cleaned single-ScW images, image
    /// pixels.
    pub psf_sigma_px: f64,
    /// σ of a point source the images were not cleaned of, in a mosaic, image pixels.
    pub mosaic_psf_sigma_px: f64,
    /// Peak of that point-spread function per unit rate.
    pub mosaic_psf_peak: f64,
    /// The 90 % point-source location error.
    pub location_error: LocationErrorLaw,
    /// Noise correlation of a decoded single-ScW image between pixels Δ apart,
    /// ρ(Δ) = exp(−|Δ|²/2s²): s², image pixels². Mosaics propagate it into their variances.
    pub noise_correlation_px2: f64,
    /// How far beyond the farthest pointing a mosaic must reach to hold the partially coded
    /// field, degrees.
    pub field_margin_deg: f64,
}

/// A 90 % location error radius falling as a power of the significance S:
/// r90 = scale·S^slope + floor, arcmin (S below 1 taken as 1).
///
/// ```
/// use oda::instrument::isgri;
/// let law = isgri::imaging_calibration().location_error;
/// assert!((law.radius_arcmin(10.0) - 2.67).abs() < 0.05);
/// assert!(law.radius_arcmin(100.0) < 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LocationErrorLaw {
    /// Radius at S = 1 above the floor, arcmin.
    pub scale_arcmin: f64,
    /// Power of the significance (negative).
    pub slope: f64,
    /// Systematic floor, arcmin.
    pub floor_arcmin: f64,
}

impl LocationErrorLaw {
    /// The 90 % error radius at significance `s`, arcmin.
    pub fn radius_arcmin(&self, s: f64) -> f64 {
        self.scale_arcmin * s.max(1.0).powf(self.slope) + self.floor_arcmin
    }
}

/// The background rate map of one energy band, cts/s per pixel (0 on dead pixels and gaps).
#[derive(Clone, Debug, PartialEq)]
pub struct BackgroundMap {
    /// Lower band edge, keV (this version's energies).
    pub e_min: f64,
    /// Upper band edge, keV.
    pub e_max: f64,
    /// Count rate per pixel, cts/s.
    pub rate: DetectorMap,
}

/// The calibration of one era: the pixels and the background between two dates.
#[derive(Clone, Debug, PartialEq)]
pub struct Era {
    /// Start of validity, IJD.
    pub start: f64,
    /// End of validity, IJD.
    pub stop: f64,
    /// Pixel efficiency: 1 on live pixels, 0 on pixels dead through the era and in gaps.
    pub efficiency: DetectorMap,
    /// Background maps, by increasing band.
    pub background: Vec<BackgroundMap>,
}

/// A calibration file the calibration was read from: its path below the archive root and the
/// SHA-256 of its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CalibrationFile {
    /// Path below the archive root.
    pub path: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// Everything one OSA version's calibration says about ISGRI (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// The telescope calibrated: its maps are on this geometry's detector grid.
    pub geometry: Arc<CodedMaskGeometry>,
    /// Its imaging calibration.
    pub imaging: ImagingCalibration,
    /// The OSA version.
    pub osa_version: OsaVersion,
    /// The eras, by time.
    pub eras: Vec<Era>,
    /// Gain estimate nodes (IJD, pulse height per keV), by time; linear in between.
    pub gain: Vec<(f64, f64)>,
    /// Low threshold nodes (IJD, keV on the pulse-height scale), by time.
    pub threshold: Vec<(f64, f64)>,
    /// Width (σ) of the threshold's turn-on, keV.
    pub threshold_width_kev: f64,
    /// Energy resolution nodes (keV, FWHM keV), by energy; linear in log–log.
    pub resolution: Vec<(f64, f64)>,
    /// On-axis effective area nodes (keV, cm², this version's rate convention), by energy;
    /// linear in log–log.
    pub area: Vec<(f64, f64)>,
    /// The files it was read from.
    pub files: Vec<CalibrationFile>,
}

/// The provenance of a calibration: which version, from which files (by checksum).
#[derive(Serialize)]
struct CalibrationId<'a> {
    instrument: &'a str,
    osa_version: &'static str,
    files: &'a [CalibrationFile],
}

impl Serialize for Calibration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        CalibrationId {
            instrument: self.geometry.name(),
            osa_version: self.osa_version.name(),
            files: &self.files,
        }
        .serialize(s)
    }
}

/// Linear interpolation in a table of (x, y) nodes sorted by x, constant beyond its ends.
pub(crate) fn interp(nodes: &[(f64, f64)], x: f64) -> f64 {
    match nodes {
        [] => f64::NAN,
        [only] => only.1,
        _ => {
            let (first, last) = (nodes[0], nodes[nodes.len() - 1]);
            if x <= first.0 {
                return first.1;
            }
            if x >= last.0 {
                return last.1;
            }
            let i = nodes.partition_point(|n| n.0 <= x);
            let (a, b) = (nodes[i - 1], nodes[i]);
            a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
        }
    }
}

/// Interpolation linear in log–log in a table of positive (x, y) nodes, clamped to its ends.
pub(crate) fn interp_loglog(nodes: &[(f64, f64)], x: f64) -> f64 {
    match nodes {
        [] => f64::NAN,
        [only] => only.1,
        _ => {
            let (first, last) = (nodes[0], nodes[nodes.len() - 1]);
            let x = x.clamp(first.0, last.0);
            let i = nodes
                .partition_point(|n| n.0 <= x)
                .clamp(1, nodes.len() - 1);
            let (a, b) = (nodes[i - 1], nodes[i]);
            let f = (x / a.0).ln() / (b.0 / a.0).ln();
            (a.1.ln() + f * (b.1 / a.1).ln()).exp()
        }
    }
}

/// Checks a table of nodes: at least one, finite, positive abscissae strictly increasing and
/// positive values.
fn check_nodes(name: &str, nodes: &[(f64, f64)]) -> Result<()> {
    if nodes.is_empty() {
        return Err(Error::invalid(name, "no rows", "at least one row"));
    }
    for (i, w) in nodes.iter().enumerate() {
        if !(w.0.is_finite() && w.1.is_finite() && w.1 > 0.0) || (i > 0 && nodes[i - 1].0 >= w.0) {
            return Err(Error::invalid(
                name,
                format!("row {}: ({}, {})", i + 1, w.0, w.1),
                "finite rows with increasing abscissae and positive values",
            ));
        }
    }
    Ok(())
}

impl Calibration {
    /// Checks the tables (see [`Calibration`]): eras in time order with maps of the detector's
    /// shape and bands in increasing order, and node tables that can be interpolated.
    ///
    /// # Errors
    /// The first problem, naming the table and the row.
    pub fn validate(&self) -> Result<()> {
        if self.eras.is_empty() {
            return Err(Error::invalid(
                "calibration eras",
                "none",
                "at least one era",
            ));
        }
        let shape = self.geometry.detector().dim();
        for (k, era) in self.eras.iter().enumerate() {
            let name = format!("calibration era {}", k + 1);
            if era.start.partial_cmp(&era.stop) != Some(std::cmp::Ordering::Less)
                || (k > 0 && self.eras[k - 1].stop > era.start)
            {
                return Err(Error::invalid(
                    name,
                    format!("{} .. {}", era.start, era.stop),
                    "eras in time order, each with start < stop",
                ));
            }
            if era.efficiency.dim() != shape || era.background.is_empty() {
                return Err(Error::invalid(
                    name,
                    format!(
                        "{:?} efficiency map, {} bands",
                        era.efficiency.dim(),
                        era.background.len()
                    ),
                    format!("a {shape:?} efficiency map and at least one background band"),
                ));
            }
            for (j, b) in era.background.iter().enumerate() {
                if b.rate.dim() != shape
                    || !(b.e_min > 0.0 && b.e_max > b.e_min)
                    || (j > 0 && era.background[j - 1].e_max > b.e_min)
                    || b.rate.iter().any(|v| !v.is_finite() || *v < 0.0)
                {
                    return Err(Error::invalid(
                        format!("{name}, background band {}", j + 1),
                        format!("{}–{} keV", b.e_min, b.e_max),
                        format!(
                            "increasing bands with {shape:?} maps of finite, non-negative rates"
                        ),
                    ));
                }
            }
        }
        check_nodes("calibration gain", &self.gain)?;
        check_nodes("calibration threshold", &self.threshold)?;
        check_nodes("calibration resolution", &self.resolution)?;
        check_nodes("calibration effective area", &self.area)?;
        if !(self.threshold_width_kev.is_finite() && self.threshold_width_kev > 0.0) {
            return Err(Error::invalid(
                "calibration threshold width",
                self.threshold_width_kev,
                "a positive width in keV",
            ));
        }
        Ok(())
    }

    /// The era valid at `t` (the first or last one outside the covered span).
    pub fn era(&self, t: Time) -> &Era {
        let x = t.ijd();
        let i = self
            .eras
            .partition_point(|e| e.stop <= x)
            .min(self.eras.len().saturating_sub(1));
        &self.eras[i]
    }

    /// The efficiency map valid at `t`.
    pub fn efficiency(&self, t: Time) -> &DetectorMap {
        &self.era(t).efficiency
    }

    /// The background template for reconstructed energies [e1, e2) at `t`: the era's band
    /// maps weighted by their overlap with the band, normalised to mean 1 over the pixels with a
    /// positive rate. A band outside every map takes the nearest map's shape.
    pub fn background(&self, t: Time, e1: f64, e2: f64) -> DetectorMap {
        let era = self.era(t);
        let mut sum = DetectorMap::zeros(era.efficiency.dim());
        for b in &era.background {
            let overlap = (e2.min(b.e_max) - e1.max(b.e_min)).max(0.0) / (b.e_max - b.e_min);
            if overlap > 0.0 {
                sum.scaled_add(overlap, &b.rate);
            }
        }
        if sum.iter().all(|v| *v <= 0.0) {
            let mid = (e1 * e2).sqrt();
            if let Some(b) = era.background.iter().min_by(|a, b| {
                let d = |m: &BackgroundMap| ((m.e_min * m.e_max).sqrt() / mid).ln().abs();
                d(a).total_cmp(&d(b))
            }) {
                sum = b.rate.clone();
            }
        }
        let positive: Vec<f64> = sum.iter().copied().filter(|v| *v > 0.0).collect();
        let mean = positive.iter().sum::<f64>() / positive.len().max(1) as f64;
        if mean > 0.0 {
            sum.mapv_inplace(|v| v / mean);
        }
        sum
    }

    /// This version's gain estimate at `t` (pulse height per keV).
    pub fn gain_estimate(&self, t: Time) -> f64 {
        interp(&self.gain, t.ijd())
    }

    /// The factor turning a pulse height recorded at `t` into this version's energy.
    pub fn energy_correction(&self, t: Time) -> f64 {
        1.0 / self.gain_estimate(t)
    }

    /// The low threshold at `t` on the pulse-height scale, keV.
    pub fn threshold_kev(&self, t: Time) -> f64 {
        interp(&self.threshold, t.ijd())
    }

    /// The energy resolution (FWHM, keV) at `e_kev`.
    pub fn fwhm_kev(&self, e_kev: f64) -> f64 {
        interp_loglog(&self.resolution, e_kev)
    }

    /// The on-axis effective area at `e_kev`, cm², in this version's rate convention.
    pub fn area_cm2(&self, e_kev: f64) -> f64 {
        interp_loglog(&self.area, e_kev)
    }

    /// The on-axis ARF on true-energy bins `edges` (keV).
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn arf(&self, edges: &[f64]) -> Result<Arf> {
        Arf::from_area(edges, |e| self.area_cm2(e))
    }

    /// The RMF at `t` on true-energy bins `true_edges` and channels `channel_edges` (keV): the
    /// calibration's resolution and threshold, with its own gain estimate taken as the gain.
    ///
    /// # Errors
    /// Edges that are not finite, positive and increasing.
    pub fn rmf(&self, true_edges: &[f64], channel_edges: &[f64], t: Time) -> Result<Rmf> {
        let fwhm = |e: f64| self.fwhm_kev(e);
        Rmf::from_redistribution(
            true_edges,
            channel_edges,
            &Redistribution {
                fwhm_kev: &fwhm,
                pulse_per_kev: self.gain_estimate(t),
                threshold_kev: self.threshold_kev(t),
                threshold_width_kev: self.threshold_width_kev,
                measured_per_reconstructed: 1.0,
            },
        )
    }
}
