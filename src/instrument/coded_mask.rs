//! The geometry of a coded-mask telescope, as the analysis needs it: a plane of square pixels on
//! a regular grid (with dead gaps between modules), and a mask of square elements at a given
//! distance above it, centred on the same axis.
//!
//! A [`CodedMaskGeometry`] is what the imaging, the extraction and the simulation take instead of
//! one instrument's constants: the pixel illumination function ([`CodedMaskGeometry::pif`]), the
//! fully coded and zero-response field, the on-axis open fraction, and (in
//! [`crate::analysis::decode`]) the decoding arrays and the sky grid of the images are all derived
//! from it. IBIS/ISGRI is one ([`crate::instrument::isgri::geometry`]); an instrument whose mask
//! is not made of square elements (the hexagonal JEM-X mask) is described by its pattern
//! rasterised on square cells finer than its elements.
//!
//! Conventions: millimetre coordinates are measured from the detector centre along the
//! spacecraft Y and Z axes; detector positions are indexed `[y, z]`; a source at off-axis
//! tangents (tan θy, tan θz) lights the detector point d through the mask point d + H·tan θ.
//!
//! ```
//! use oda::instrument::isgri;
//! let g = isgri::geometry();
//! assert_eq!(g.detector().dim(), (130, 134));
//! assert_eq!(g.detector().n_pixels(), 16_384);
//! assert!((g.fully_coded_half_angle() - 4.1).abs() < 0.1);
//! // On axis every pixel sees the mask straight on: the mean PIF is the open fraction.
//! assert!((g.on_axis_open_fraction() - g.mask().open_fraction()).abs() < 0.01);
//! ```

use std::sync::Arc;

use ndarray::Array2;

use crate::error::{Error, Result};

/// A value per detector position, indexed `[y, z]`.
pub type DetectorMap = Array2<f64>;

/// A Modified Uniformly Redundant Array of prime order p.
///
/// MURA construction for a prime p ≡ 1 (mod 4) (Gottesman & Fenimore 1989): with
/// C_i = +1 when i is a non-zero quadratic residue mod p and −1 otherwise,
/// A(0, j) = 0, A(i, 0) = 1 for i ≠ 0, and A(i, j) = 1 iff C_i·C_j = +1. The decoding array
/// is G = 2A − 1 with G(0, 0) = +1; the periodic correlation of A with G is a delta function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mura {
    p: usize,
    open: Vec<bool>,
}

impl Mura {
    /// The MURA of order `p`.
    ///
    /// # Errors
    /// `p` not a prime with p ≡ 1 (mod 4).
    pub fn new(p: usize) -> Result<Mura> {
        let is_prime = p >= 2
            && (2..)
                .take_while(|d| d * d <= p)
                .all(|d| !p.is_multiple_of(d));
        if !is_prime || p % 4 != 1 {
            return Err(Error::invalid(
                "MURA order",
                p,
                "a prime p with p ≡ 1 (mod 4), e.g. 5, 13, 53",
            ));
        }
        let mut residue = vec![false; p];
        for k in 1..p {
            residue[k * k % p] = true;
        }
        let c = |i: usize| if residue[i] { 1 } else { -1 };
        let mut open = vec![false; p * p];
        for i in 0..p {
            for j in 0..p {
                open[i * p + j] = match (i, j) {
                    (0, _) => false,
                    (_, 0) => true,
                    _ => c(i) * c(j) == 1,
                };
            }
        }
        Ok(Mura { p, open })
    }

    /// The order p.
    pub fn order(&self) -> usize {
        self.p
    }

    /// True when element (i, j) is open (indices taken modulo p).
    pub fn is_open(&self, i: usize, j: usize) -> bool {
        self.open[(i % self.p) * self.p + j % self.p]
    }

    /// The decoding array G(i, j) = 2A − 1, with G(0, 0) = +1.
    pub fn decoding(&self, i: usize, j: usize) -> i8 {
        let (i, j) = (i % self.p, j % self.p);
        if (i, j) == (0, 0) || self.is_open(i, j) {
            1
        } else {
            -1
        }
    }

    /// Fraction of open elements (just under one half).
    pub fn open_fraction(&self) -> f64 {
        self.open.iter().filter(|&&o| o).count() as f64 / (self.p * self.p) as f64
    }
}

/// A mask of `ny × nz` square elements of side `element_mm`, centred on the telescope axis;
/// its frame and the shielding beyond it are opaque.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    ny: usize,
    nz: usize,
    element_mm: f64,
    open: Vec<bool>,
}

impl Mask {
    /// A mask whose element (i, j) (i along Y, j along Z) is open when `open(i, j)`.
    ///
    /// # Errors
    /// No elements, or an element size that is not positive and finite.
    pub fn from_fn(
        ny: usize,
        nz: usize,
        element_mm: f64,
        open: impl Fn(usize, usize) -> bool,
    ) -> Result<Mask> {
        if ny == 0 || nz == 0 {
            return Err(Error::invalid(
                "mask elements",
                format!("{ny} × {nz}"),
                "at least one element per axis",
            ));
        }
        if !(element_mm.is_finite() && element_mm > 0.0) {
            return Err(Error::invalid(
                "mask element size",
                element_mm,
                "a positive size in mm",
            ));
        }
        Ok(Mask {
            ny,
            nz,
            element_mm,
            open: (0..ny * nz).map(|k| open(k / nz, k % nz)).collect(),
        })
    }

    /// Elements along Y and Z.
    pub fn elements(&self) -> (usize, usize) {
        (self.ny, self.nz)
    }

    /// Side of an element, mm.
    pub fn element_mm(&self) -> f64 {
        self.element_mm
    }

    /// True when element (i, j), i along Y and j along Z, is open; false outside the mask.
    pub fn element(&self, i: usize, j: usize) -> bool {
        i < self.ny && j < self.nz && self.open[i * self.nz + j]
    }

    /// Half the mask's extent along Y and Z, mm.
    pub fn half_size_mm(&self) -> (f64, f64) {
        (
            self.ny as f64 * self.element_mm / 2.0,
            self.nz as f64 * self.element_mm / 2.0,
        )
    }

    /// True when the mask is open at (y, z) mm from its centre.
    pub fn is_open_at_mm(&self, y: f64, z: f64) -> bool {
        let (hy, hz) = self.half_size_mm();
        let (fi, fj) = ((y + hy) / self.element_mm, (z + hz) / self.element_mm);
        fi >= 0.0 && fj >= 0.0 && self.element(fi as usize, fj as usize)
    }

    /// Fraction of open elements.
    pub fn open_fraction(&self) -> f64 {
        self.open.iter().filter(|&&o| o).count() as f64 / self.open.len() as f64
    }
}

/// The detector plane: a grid of square pixels at a fixed pitch, with the positions that hold
/// no pixel (gaps between modules) marked.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorGrid {
    pitch_mm: f64,
    pixel_mm: f64,
    layout: DetectorMap,
    /// Positions holding a pixel (counted once: the on-axis rate convention uses it per fit).
    n_pixels: usize,
}

impl DetectorGrid {
    /// A grid of `layout.dim()` positions at `pitch_mm`, with sensitive squares of side
    /// `pixel_mm`; `layout` is 1 where there is a pixel and 0 in gaps.
    ///
    /// # Errors
    /// An empty grid, a pitch or pixel size that is not positive and finite or a pixel larger
    /// than the pitch, or a layout with values other than 0 and 1.
    pub fn new(pitch_mm: f64, pixel_mm: f64, layout: DetectorMap) -> Result<DetectorGrid> {
        if layout.is_empty() || !layout.iter().any(|v| *v == 1.0) {
            return Err(Error::invalid(
                "detector layout",
                format!("{:?}", layout.dim()),
                "a grid with at least one pixel",
            ));
        }
        if layout.iter().any(|v| *v != 0.0 && *v != 1.0) {
            return Err(Error::invalid(
                "detector layout",
                "values other than 0 and 1",
                "1 where there is a pixel, 0 in gaps",
            ));
        }
        if !(pitch_mm.is_finite() && pixel_mm.is_finite() && pixel_mm > 0.0 && pixel_mm <= pitch_mm)
        {
            return Err(Error::invalid(
                "detector pitch and pixel size",
                format!("{pitch_mm} mm, {pixel_mm} mm"),
                "positive sizes in mm with the pixel no larger than the pitch",
            ));
        }
        let n_pixels = layout.iter().filter(|v| **v == 1.0).count();
        Ok(DetectorGrid {
            pitch_mm,
            pixel_mm,
            layout,
            n_pixels,
        })
    }

    /// Positions along Y and Z, gaps included.
    pub fn dim(&self) -> (usize, usize) {
        self.layout.dim()
    }

    /// Pixel pitch, mm.
    pub fn pitch_mm(&self) -> f64 {
        self.pitch_mm
    }

    /// Side of a pixel's sensitive square, mm.
    pub fn pixel_mm(&self) -> f64 {
        self.pixel_mm
    }

    /// The layout's own efficiency: 1 on every pixel, 0 in the gaps.
    pub fn layout(&self) -> &DetectorMap {
        &self.layout
    }

    /// True when (y, z) holds no pixel (a gap, or off the grid).
    pub fn is_gap(&self, y: usize, z: usize) -> bool {
        self.layout.get([y, z]).is_none_or(|v| *v == 0.0)
    }

    /// Number of pixels.
    pub fn n_pixels(&self) -> usize {
        self.n_pixels
    }

    /// Centre of position (y, z) in mm from the detector centre.
    pub fn pixel_center_mm(&self, y: usize, z: usize) -> (f64, f64) {
        let (ny, nz) = self.dim();
        (
            (y as f64 - (ny as f64 - 1.0) / 2.0) * self.pitch_mm,
            (z as f64 - (nz as f64 - 1.0) / 2.0) * self.pitch_mm,
        )
    }
}

/// A collimator of square cells in front of the detector (JEM-X's): a source at off-axis
/// tangents (tan θy, tan θz) is transmitted (1 − h·|tan θy|/p)·(1 − h·|tan θz|/p) (thin walls),
/// nothing beyond tan θ = p/h along either axis.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Collimator {
    /// Pitch of the cells, mm.
    pub pitch_mm: f64,
    /// Height of the cells, mm.
    pub height_mm: f64,
}

impl Collimator {
    /// The transmission at off-axis tangents (`tan_y`, `tan_z`).
    pub fn transmission(&self, tan_y: f64, tan_z: f64) -> f64 {
        let k = self.height_mm / self.pitch_mm;
        (1.0 - k * tan_y.abs()).max(0.0) * (1.0 - k * tan_z.abs()).max(0.0)
    }
}

/// A coded-mask telescope: detector, mask, the distance between them and the mask's thickness
/// (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct CodedMaskGeometry {
    name: String,
    detector: DetectorGrid,
    mask: Mask,
    distance_mm: f64,
    thickness_mm: f64,
    collimator: Option<Collimator>,
    on_axis_open_fraction: f64,
    /// SHA-256 of the description (computed once: identities and the decoder cache use it).
    digest: String,
}

impl CodedMaskGeometry {
    /// The telescope `name` with `mask` at `distance_mm` (to its mid-plane) above `detector`,
    /// `thickness_mm` thick.
    ///
    /// # Errors
    /// A distance that is not positive and finite, or a thickness that is negative, not finite
    /// or not smaller than the distance.
    pub fn new(
        name: &str,
        detector: DetectorGrid,
        mask: Mask,
        distance_mm: f64,
        thickness_mm: f64,
    ) -> Result<CodedMaskGeometry> {
        if !(distance_mm.is_finite()
            && distance_mm > 0.0
            && thickness_mm.is_finite()
            && thickness_mm >= 0.0
            && thickness_mm < distance_mm)
        {
            return Err(Error::invalid(
                "mask distance and thickness",
                format!("{distance_mm} mm, {thickness_mm} mm"),
                "a positive distance and a thickness between 0 and the distance",
            ));
        }
        let mut g = CodedMaskGeometry {
            name: name.to_string(),
            detector,
            mask,
            distance_mm,
            thickness_mm,
            collimator: None,
            on_axis_open_fraction: 0.0,
            digest: String::new(),
        };
        g.on_axis_open_fraction = g.pif(0.0, 0.0).sum() / g.detector.n_pixels() as f64;
        g.digest = g.compute_digest();
        Ok(g)
    }

    /// The same telescope with `collimator` in front of its detector: its transmission then
    /// multiplies every pixel illumination (and so every fitted rate is corrected for it).
    ///
    /// # Errors
    /// A pitch or height that is not positive and finite.
    pub fn with_collimator(mut self, collimator: Collimator) -> Result<CodedMaskGeometry> {
        let Collimator {
            pitch_mm,
            height_mm,
        } = collimator;
        if !(pitch_mm.is_finite() && pitch_mm > 0.0 && height_mm.is_finite() && height_mm > 0.0) {
            return Err(Error::invalid(
                "collimator",
                format!("pitch {pitch_mm} mm, height {height_mm} mm"),
                "a positive pitch and height in mm",
            ));
        }
        self.collimator = Some(collimator);
        self.digest = self.compute_digest();
        Ok(self)
    }

    /// The collimator in front of the detector, if any.
    pub fn collimator(&self) -> Option<&Collimator> {
        self.collimator.as_ref()
    }

    /// The collimator's transmission at off-axis tangents (1 without a collimator).
    pub fn collimator_transmission(&self, tan_y: f64, tan_z: f64) -> f64 {
        self.collimator
            .map_or(1.0, |c| c.transmission(tan_y, tan_z))
    }

    /// The same telescope with another mask (for studies of the geometry).
    ///
    /// # Errors
    /// As [`CodedMaskGeometry::new`].
    pub fn with_mask(&self, mask: Mask) -> Result<CodedMaskGeometry> {
        let g = CodedMaskGeometry::new(
            &self.name,
            self.detector.clone(),
            mask,
            self.distance_mm,
            self.thickness_mm,
        )?;
        match self.collimator {
            Some(c) => g.with_collimator(c),
            None => Ok(g),
        }
    }

    /// The telescope's name, e.g. "ISGRI".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The detector plane.
    pub fn detector(&self) -> &DetectorGrid {
        &self.detector
    }

    /// The mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Mask (mid-plane) to detector distance, mm.
    pub fn distance_mm(&self) -> f64 {
        self.distance_mm
    }

    /// Mask thickness, mm.
    pub fn thickness_mm(&self) -> f64 {
        self.thickness_mm
    }

    /// Mean on-axis PIF over all pixels: the open fraction an on-axis source sees.
    pub fn on_axis_open_fraction(&self) -> f64 {
        self.on_axis_open_fraction
    }

    /// SHA-256 of everything that shapes the telescope's response (dimensions and pattern), hex:
    /// two geometries with the same digest image identically.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The digest's computation (see [`CodedMaskGeometry::digest`]).
    fn compute_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        let (dy, dz) = self.detector.dim();
        let (my, mz) = self.mask.elements();
        for n in [dy, dz, my, mz] {
            h.update((n as u64).to_le_bytes());
        }
        for x in [
            self.detector.pitch_mm,
            self.detector.pixel_mm,
            self.mask.element_mm,
            self.distance_mm,
            self.thickness_mm,
        ] {
            h.update(x.to_le_bytes());
        }
        h.update(
            self.detector
                .layout
                .iter()
                .map(|v| u8::from(*v == 1.0))
                .collect::<Vec<_>>(),
        );
        h.update(
            self.mask
                .open
                .iter()
                .map(|v| u8::from(*v))
                .collect::<Vec<_>>(),
        );
        // Telescopes without a collimator keep the digest they always had.
        if let Some(c) = &self.collimator {
            h.update(b"collimator");
            h.update(c.pitch_mm.to_le_bytes());
            h.update(c.height_mm.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The pixel illumination fraction (PIF) of a source at off-axis tangents (`tan_y`,
    /// `tan_z`): how much of each pixel it lights through the mask, times cos θ.
    ///
    /// The detector point d receives light if the mask is open both at its top surface,
    /// d + (H + w/2)·t, and at its bottom surface, d + (H − w/2)·t, w being the thickness: the
    /// element walls vignette oblique rays, which is the off-axis attenuation by the mask. The
    /// lit area of each pixel is exact: it is cut into rectangles at every element edge of
    /// either surface. A collimator's transmission multiplies it. Values lie in [0, cos θ]; 0 in
    /// gaps and outside the mask's reach; on
    /// axis the mean over the pixels is the open fraction.
    pub fn pif(&self, tan_y: f64, tan_z: f64) -> DetectorMap {
        let (ny, nz) = self.detector.dim();
        let top = self.distance_mm + self.thickness_mm / 2.0;
        let bottom = self.distance_mm - self.thickness_mm / 2.0;
        let (ty_top, tz_top) = (top * tan_y, top * tan_z);
        let (ty_bot, tz_bot) = (bottom * tan_y, bottom * tan_z);
        // A collimator's transmission multiplies every pixel alike.
        let cos_theta = 1.0 / (1.0 + tan_y * tan_y + tan_z * tan_z).sqrt()
            * self.collimator_transmission(tan_y, tan_z);
        if cos_theta <= 0.0 {
            return Array2::zeros((ny, nz));
        }
        let half = self.detector.pixel_mm / 2.0;
        let area = self.detector.pixel_mm * self.detector.pixel_mm;
        // Early exit: no part of the detector can see the mask.
        let (hy, hz) = self.mask.half_size_mm();
        let reach = hy.max(hz) + (ny.max(nz) as f64) * self.detector.pitch_mm / 2.0;
        if ty_bot.abs().min(ty_top.abs()) > reach || tz_bot.abs().min(tz_top.abs()) > reach {
            return Array2::zeros((ny, nz));
        }
        let (ey, ez) = self.mask.elements();
        let ycuts: Vec<Vec<f64>> = (0..ny)
            .map(|y| {
                let (c, _) = self.detector.pixel_center_mm(y, 0);
                self.breakpoints(c - half, c + half, hy, ey, ty_top, ty_bot)
            })
            .collect();
        let zcuts: Vec<Vec<f64>> = (0..nz)
            .map(|z| {
                let (_, c) = self.detector.pixel_center_mm(0, z);
                self.breakpoints(c - half, c + half, hz, ez, tz_top, tz_bot)
            })
            .collect();
        Array2::from_shape_fn((ny, nz), |(y, z)| {
            if self.detector.is_gap(y, z) {
                return 0.0;
            }
            let mut lit = 0.0;
            for yw in ycuts[y].windows(2) {
                let ym = 0.5 * (yw[0] + yw[1]);
                for zw in zcuts[z].windows(2) {
                    let zm = 0.5 * (zw[0] + zw[1]);
                    if self.mask.is_open_at_mm(ym + ty_top, zm + tz_top)
                        && self.mask.is_open_at_mm(ym + ty_bot, zm + tz_bot)
                    {
                        lit += (yw[1] - yw[0]) * (zw[1] - zw[0]);
                    }
                }
            }
            (lit / area).min(1.0) * cos_theta
        })
    }

    /// Cuts [a, b] at the element edges of both mask surfaces (an axis of half-size `h` and `n`
    /// elements, the surfaces' projections shifted by `shift_top` and `shift_bottom` mm);
    /// returns the sorted breakpoints.
    fn breakpoints(
        &self,
        a: f64,
        b: f64,
        h: f64,
        n: usize,
        shift_top: f64,
        shift_bottom: f64,
    ) -> Vec<f64> {
        let e = self.mask.element_mm;
        let edges_within = |shift: f64, out: &mut Vec<f64>| {
            // Mask edges at −h + k·e project to detector coordinate −h + k·e − shift.
            let k0 = ((a + shift + h) / e).floor() as i64 + 1;
            let mut k = k0.max(0);
            loop {
                let x = -h + k as f64 * e - shift;
                if x >= b || k > n as i64 {
                    break;
                }
                if x > a {
                    out.push(x);
                }
                k += 1;
            }
        };
        let mut v = vec![a, b];
        edges_within(shift_top, &mut v);
        edges_within(shift_bottom, &mut v);
        v.sort_by(f64::total_cmp);
        v
    }

    /// Half-angle (degrees, along the detector's longer axis) within which a source is fully
    /// coded: the whole detector sees the mask.
    pub fn fully_coded_half_angle(&self) -> f64 {
        let (mask_half, det_half) = self.half_extents();
        ((mask_half - det_half) / self.distance_mm)
            .atan()
            .to_degrees()
    }

    /// Half-angle (degrees, along the detector's longer axis) beyond which no pixel sees the
    /// mask.
    pub fn zero_response_half_angle(&self) -> f64 {
        let (mask_half, det_half) = self.half_extents();
        ((mask_half + det_half) / self.distance_mm)
            .atan()
            .to_degrees()
    }

    /// Half extents (mask, detector) along the detector's longer axis, mm.
    fn half_extents(&self) -> (f64, f64) {
        let (ny, nz) = self.detector.dim();
        let (hy, hz) = self.mask.half_size_mm();
        let mask_half = if nz >= ny { hz } else { hy };
        (mask_half, ny.max(nz) as f64 * self.detector.pitch_mm / 2.0)
    }
}

/// A shared handle, as makers hold it.
pub type SharedGeometry = Arc<CodedMaskGeometry>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri;

    fn mean_over_pixels(g: &CodedMaskGeometry, m: &DetectorMap) -> f64 {
        m.sum() / g.detector().n_pixels() as f64
    }

    /// Slow oracle: the lit fraction by brute-force sampling of each pixel on a fine grid.
    fn pif_sampled(g: &CodedMaskGeometry, ty: f64, tz: f64, y: usize, z: usize, n: usize) -> f64 {
        let (cy, cz) = g.detector().pixel_center_mm(y, z);
        let top = g.distance_mm() + g.thickness_mm() / 2.0;
        let bottom = g.distance_mm() - g.thickness_mm() / 2.0;
        let s = g.detector().pixel_mm();
        let mut lit = 0;
        for i in 0..n {
            for j in 0..n {
                let py = cy - s / 2.0 + s * (i as f64 + 0.5) / n as f64;
                let pz = cz - s / 2.0 + s * (j as f64 + 0.5) / n as f64;
                if g.mask().is_open_at_mm(py + top * ty, pz + top * tz)
                    && g.mask().is_open_at_mm(py + bottom * ty, pz + bottom * tz)
                {
                    lit += 1;
                }
            }
        }
        lit as f64 / (n * n) as f64 / (1.0 + ty * ty + tz * tz).sqrt()
    }

    /// Periodic correlation Σ A(k,l)·G(k+i, l+j) for all shifts (the slow oracle).
    fn correlation(m: &Mura) -> Vec<i64> {
        let p = m.order();
        let mut out = vec![0i64; p * p];
        for i in 0..p {
            for j in 0..p {
                let mut s = 0i64;
                for k in 0..p {
                    for l in 0..p {
                        if m.is_open(k, l) {
                            s += i64::from(m.decoding(k + i, l + j));
                        }
                    }
                }
                out[i * p + j] = s;
            }
        }
        out
    }

    #[test]
    fn mura_correlation_is_a_delta_function() {
        for p in [5, 13, 29, 53] {
            let m = Mura::new(p).unwrap();
            let c = correlation(&m);
            let peak = ((p * p - 1) / 2) as i64;
            assert_eq!(c[0], peak, "p = {p}");
            assert!(
                c[1..].iter().all(|&v| v == 0),
                "p = {p}: sidelobes not flat"
            );
        }
    }

    #[test]
    fn mura_open_fraction_and_rows() {
        let m = Mura::new(53).unwrap();
        // (p² − 1)/2 + ... : 1352 from the interior plus 52 in column 0 = 1404 of 2809.
        assert_eq!((m.open_fraction() * 2809.0).round() as usize, 1404);
        assert!((0..53).all(|j| !m.is_open(0, j)));
        assert!((1..53).all(|i| m.is_open(i, 0)));
        // Symmetric: A(i, j) = A(j, i) away from the first row/column.
        assert!((1..53).all(|i| (1..53).all(|j| m.is_open(i, j) == m.is_open(j, i))));
        for bad in [0, 1, 4, 7, 51, 57] {
            assert!(Mura::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn on_axis_mean_is_the_open_fraction() {
        let g = isgri::geometry();
        let p = g.pif(0.0, 0.0);
        assert!((mean_over_pixels(&g, &p) - g.mask().open_fraction()).abs() < 0.01);
        assert_eq!(mean_over_pixels(&g, &p), g.on_axis_open_fraction());
        assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Fully coded off axis: still close to the open fraction, reduced by walls and cos θ.
        let t = 3.0f64.to_radians().tan();
        let q = mean_over_pixels(&g, &g.pif(t, 0.0));
        assert!(q < mean_over_pixels(&g, &p) && q > 0.45, "{q}");
    }

    #[test]
    fn outside_the_field_of_view_is_zero() {
        let g = isgri::geometry();
        for deg in [15.0f64, 20.0, 45.0] {
            let t = deg.to_radians().tan();
            assert_eq!(g.pif(t, 0.0).sum(), 0.0, "{deg}");
            assert_eq!(g.pif(0.0, -t).sum(), 0.0, "{deg}");
        }
        assert!((g.fully_coded_half_angle() - 4.1).abs() < 0.2);
        assert!((g.zero_response_half_angle() - 14.6).abs() < 0.2);
        // Partially coded: half way out the response is roughly half.
        let t = (g.fully_coded_half_angle() + g.zero_response_half_angle()) / 2.0;
        let f = mean_over_pixels(&g, &g.pif(t.to_radians().tan(), 0.0)) / g.mask().open_fraction();
        assert!((0.35..0.55).contains(&f), "{f}");
    }

    #[test]
    fn exact_overlap_matches_brute_force() {
        let g = isgri::geometry();
        for (ty, tz) in [(0.0, 0.0), (0.0123, -0.0456), (-0.1, 0.07), (0.2, 0.15)] {
            let p = g.pif(ty, tz);
            for (y, z) in [(3, 5), (40, 99), (77, 17), (129, 133), (66, 68), (100, 35)] {
                let oracle = pif_sampled(&g, ty, tz, y, z, 200);
                assert!(
                    (p[[y, z]] - oracle).abs() < 0.011,
                    "{ty} {tz} {y} {z}: {} vs {oracle}",
                    p[[y, z]]
                );
            }
        }
    }

    #[test]
    fn a_small_telescope_matches_brute_force_too() {
        // Not ISGRI: a 20 × 16 detector of 2.5 mm pixels at 3 mm pitch under a 13 × 13 MURA of
        // 7 mm elements (a rectangular detector, elements not a multiple of the pitch).
        let mura = Mura::new(13).unwrap();
        let mask = Mask::from_fn(26, 26, 7.0, |i, j| mura.is_open(i, j)).unwrap();
        let layout = Array2::from_shape_fn((20, 16), |(y, _)| if y == 10 { 0.0 } else { 1.0 });
        let det = DetectorGrid::new(3.0, 2.5, layout).unwrap();
        let g = CodedMaskGeometry::new("small", det, mask, 400.0, 1.0).unwrap();
        assert_eq!(g.detector().n_pixels(), 19 * 16);
        for (ty, tz) in [(0.0, 0.0), (0.031, -0.017), (-0.12, 0.05)] {
            let p = g.pif(ty, tz);
            for (y, z) in [(0, 0), (3, 15), (11, 7), (19, 9)] {
                let oracle = pif_sampled(&g, ty, tz, y, z, 300);
                assert!((p[[y, z]] - oracle).abs() < 0.01, "{ty} {tz} {y} {z}");
            }
            assert!(p.row(10).iter().all(|v| *v == 0.0), "the gap is dark");
        }
        assert_ne!(g.digest(), isgri::geometry().digest());
    }

    #[test]
    fn mirrored_directions_give_mirrored_shadows() {
        // The detector grid (and its gaps) is symmetric under y → 129 − y, z → 133 − z. With a
        // mask symmetric about its centre, a source at −t must cast the mirror image of the
        // shadow of a source at +t.
        let g = isgri::geometry();
        let (n, _) = g.mask().elements();
        let e = g.mask().element_mm();
        let pattern = |i: usize, j: usize| (i / 3 + j / 2).is_multiple_of(2) && i != 40;
        let checker = g
            .with_mask(Mask::from_fn(n, n, e, pattern).unwrap())
            .unwrap();
        let mirrored = g
            .with_mask(Mask::from_fn(n, n, e, |i, j| pattern(n - 1 - i, n - 1 - j)).unwrap())
            .unwrap();
        let (ny, nz) = g.detector().dim();
        for (ty, tz) in [(0.0, 0.0), (0.031, -0.012), (0.15, 0.09)] {
            let a = checker.pif(ty, tz);
            let b = mirrored.pif(-ty, -tz);
            for y in 0..ny {
                for z in 0..nz {
                    assert!((a[[y, z]] - b[[ny - 1 - y, nz - 1 - z]]).abs() < 1e-9);
                }
            }
        }
        // On the real mask the totals for ±t agree closely (the MURA is nearly centro-symmetric).
        let t = 0.03;
        let (a, c) = (g.pif(t, 0.0).sum(), g.pif(-t, 0.0).sum());
        assert!((a - c).abs() / a < 0.02, "{a} {c}");
    }

    #[test]
    fn bad_geometries_are_refused_by_name() {
        let e = Mask::from_fn(0, 3, 1.0, |_, _| true).unwrap_err();
        assert!(e.to_string().contains("mask elements"), "{e}");
        let e = DetectorGrid::new(2.0, 3.0, Array2::ones((2, 2))).unwrap_err();
        assert!(e.to_string().contains("pitch"), "{e}");
        let e = DetectorGrid::new(2.0, 1.0, Array2::from_elem((2, 2), 0.5)).unwrap_err();
        assert!(e.to_string().contains("detector layout"), "{e}");
        let g = isgri::geometry();
        let e = CodedMaskGeometry::new("x", g.detector().clone(), g.mask().clone(), -1.0, 1.0)
            .unwrap_err();
        assert!(e.to_string().contains("mask distance"), "{e}");
    }
}
