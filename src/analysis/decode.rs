//! Balanced cross-correlation decoding of coded-mask shadowgrams, with FFTs.
//!
//! The decoding array is the mask resampled on the detector pitch: each cell holds the open
//! fraction M ∈ [0, 1] of the mask over it, and G = 2M − 1 splits into G⁺ = max(G, 0) and
//! G⁻ = max(−G, 0). For detector counts D with efficiency W (0 in gaps and on dead pixels):
//!
//! ```text
//! B = (G⁺⋆W)/(G⁻⋆W)            A = (G⁺·M)⋆W − B·(G⁻·M)⋆W
//! S = [G⁺⋆(W·D) − B·G⁻⋆(W·D)]/A  V = [G⁺²⋆(W·D) + B²·G⁻²⋆(W·D)]/A²
//! ```
//!
//! where `(X⋆Y)(s) = Σ_d Y(d)·X(d + s)`. B balances the decoding so that a flat background gives
//! zero; S estimates, for every shift s, the counts per fully lit pixel of a source in that
//! direction, and V its Poisson variance.
//!
//! **Grid convention** ([`ImageGrid`]). The correlation covers every shift with overlap: for a
//! detector of ny × nz positions and a mask sampled on my × mz cells, image index (iy, iz) is the
//! shift (iy − (ny − 1), iz − (nz − 1)) in detector pixels, and the image is
//! (ny + my − 1) × (nz + mz − 1). Image pixels are uniform in the off-axis tangents:
//! tan θ = (i − on-axis) × pitch / distance, a gnomonic projection along the spacecraft Y (first
//! axis) and Z (second axis). For ISGRI (130 × 134 positions of 4.6 mm, a 1064 mm mask sampled
//! on 232 cells, 3200 mm away) the image is 361 × 365 pixels of 4.94′ with the on-axis direction
//! at (180, 182).
//!
//! The FFT plans and the spectra of the decoding arrays are computed once per telescope
//! ([`CodedMaskDecoder::for_geometry`]) and shared by every Science Window; a direct summation
//! beside them (in the tests) is the slow, obviously correct oracle.

use std::sync::{Arc, Mutex};

use ndarray::Array2;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use crate::instrument::coded_mask::{CodedMaskGeometry, Collimator, DetectorMap, Mask};

/// Image pixels where the normalisation A is below this fraction of its on-axis value are not
/// imaged (the extreme edge of the partially coded field).
const MIN_RELATIVE_A: f64 = 0.03;

/// The sky grid of a telescope's decoded images: their shape, the on-axis pixel and the
/// projection from image pixels to off-axis tangents (see the module documentation).
///
/// ```
/// use oda::analysis::decode::ImageGrid;
/// let grid = ImageGrid::of(&oda::instrument::isgri::geometry());
/// assert_eq!(grid.dim(), (361, 365));
/// assert_eq!(grid.on_axis(), (180, 182));
/// assert!((grid.pixel_deg() * 60.0 - 4.94).abs() < 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageGrid {
    shape: (usize, usize),
    on_axis: (usize, usize),
    pitch_mm: f64,
    distance_mm: f64,
}

impl ImageGrid {
    /// The image grid of `geometry`.
    pub fn of(geometry: &CodedMaskGeometry) -> ImageGrid {
        let (ny, nz) = geometry.detector().dim();
        let (my, mz) = mask_samples(geometry);
        ImageGrid {
            shape: (ny + my - 1, nz + mz - 1),
            on_axis: ((ny - 1) + my / 2 - ny / 2, (nz - 1) + mz / 2 - nz / 2),
            pitch_mm: geometry.detector().pitch_mm(),
            distance_mm: geometry.distance_mm(),
        }
    }

    /// Image size (along Y, along Z).
    pub fn dim(&self) -> (usize, usize) {
        self.shape
    }

    /// Image index of the on-axis direction.
    pub fn on_axis(&self) -> (usize, usize) {
        self.on_axis
    }

    /// Angular size of an image pixel at the centre, degrees: atan(pitch / distance).
    pub fn pixel_deg(&self) -> f64 {
        (self.pitch_mm / self.distance_mm).atan().to_degrees()
    }

    /// Step of the tangent-plane coordinate per image pixel, in degrees of the gnomonic plane
    /// (pitch / distance rad): the CDELT of the image's TAN projection.
    pub fn tangent_step_deg(&self) -> f64 {
        (self.pitch_mm / self.distance_mm).to_degrees()
    }

    /// Off-axis tangents (tan θy, tan θz) of fractional image position (iy, iz).
    pub fn pixel_to_tangents(&self, iy: f64, iz: f64) -> (f64, f64) {
        let k = self.pitch_mm / self.distance_mm;
        (
            (iy - self.on_axis.0 as f64) * k,
            (iz - self.on_axis.1 as f64) * k,
        )
    }

    /// Fractional image position of off-axis tangents.
    pub fn tangents_to_pixel(&self, tan_y: f64, tan_z: f64) -> (f64, f64) {
        let k = self.distance_mm / self.pitch_mm;
        (
            self.on_axis.0 as f64 + tan_y * k,
            self.on_axis.1 as f64 + tan_z * k,
        )
    }
}

/// Cells of the detector pitch that cover the mask, per axis (232 × 232 for ISGRI:
/// 232 × 4.6 mm = 1067 mm ≥ the 1064 mm mask).
fn mask_samples(geometry: &CodedMaskGeometry) -> (usize, usize) {
    let (hy, hz) = geometry.mask().half_size_mm();
    let pitch = geometry.detector().pitch_mm();
    let n = |h: f64| ((2.0 * h / pitch).ceil() as usize).max(1);
    (n(hy), n(hz))
}

/// The FFT length for `n` points: the smallest 2ᵃ·3ᵇ ≥ n (384 for ISGRI's 361 and 365), so that
/// circular correlation equals linear correlation on the image grid.
fn fft_len(n: usize) -> usize {
    let mut best = usize::MAX;
    let mut p2 = 1usize;
    while p2 < 2 * n.max(1) {
        let mut m = p2;
        while m < n {
            m *= 3;
        }
        best = best.min(m);
        p2 *= 2;
    }
    best
}

/// Open fraction of the mask over a pitch-sized cell centred at (y, z) mm (exact overlap).
fn cell_open_fraction(mask: &Mask, pitch: f64, y: f64, z: f64) -> f64 {
    let h = pitch / 2.0;
    let (half_y, half_z) = mask.half_size_mm();
    let e = mask.element_mm();
    let cuts = |c: f64, half: f64| {
        let (a, b) = (c - h, c + h);
        let mut v = vec![a, b];
        // Elements may be smaller than the pitch: every edge inside the cell cuts it.
        let mut k = ((a + half) / e).floor() + 1.0;
        loop {
            let edge = -half + k * e;
            if edge >= b {
                break;
            }
            if edge > a {
                v.insert(v.len() - 1, edge);
            }
            k += 1.0;
        }
        v
    };
    let (ys, zs) = (cuts(y, half_y), cuts(z, half_z));
    let mut open = 0.0;
    for yw in ys.windows(2) {
        for zw in zs.windows(2) {
            if mask.is_open_at_mm(0.5 * (yw[0] + yw[1]), 0.5 * (zw[0] + zw[1])) {
                open += (yw[1] - yw[0]) * (zw[1] - zw[0]);
            }
        }
    }
    open / (pitch * pitch)
}

/// The mask sampled on the detector pitch: open fraction per cell.
pub(crate) fn sampled_mask(geometry: &CodedMaskGeometry) -> Array2<f64> {
    let (my, mz) = mask_samples(geometry);
    let pitch = geometry.detector().pitch_mm();
    let (cy, cz) = ((my as f64 - 1.0) / 2.0, (mz as f64 - 1.0) / 2.0);
    Array2::from_shape_fn((my, mz), |(k, l)| {
        cell_open_fraction(
            geometry.mask(),
            pitch,
            (k as f64 - cy) * pitch,
            (l as f64 - cz) * pitch,
        )
    })
}

/// Slow oracle: `(g⋆x)(s) = Σ_d x(d)·g(d + s)` for all image shifts, by direct summation.
#[cfg(test)]
fn correlate_direct(grid: &ImageGrid, g: &Array2<f64>, x: &DetectorMap) -> Array2<f64> {
    Array2::from_shape_fn(grid.dim(), |(iy, iz)| correlate_direct_at(g, x, iy, iz))
}

/// The slow oracle at one image pixel (iy, iz).
#[cfg(test)]
fn correlate_direct_at(g: &Array2<f64>, x: &DetectorMap, iy: usize, iz: usize) -> f64 {
    let (ny, nz) = x.dim();
    let (my, mz) = g.dim();
    let (sy, sz) = (iy as i64 - (ny as i64 - 1), iz as i64 - (nz as i64 - 1));
    let mut acc = 0.0;
    for y in 0..ny {
        let gy = y as i64 + sy;
        if gy < 0 || gy >= my as i64 {
            continue;
        }
        for z in 0..nz {
            let gz = z as i64 + sz;
            if gz < 0 || gz >= mz as i64 {
                continue;
            }
            acc += x[[y, z]] * g[[gy as usize, gz as usize]];
        }
    }
    acc
}

/// A 2-D real FFT of size ny × nz: rows (length nz) real-to-complex, then columns (length ny)
/// complex.
struct Fft2 {
    ny: usize,
    nz: usize,
    /// Half-spectrum width of a real row.
    half: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    fn new(ny: usize, nz: usize) -> Fft2 {
        let mut rp = RealFftPlanner::<f64>::new();
        let mut cp = FftPlanner::<f64>::new();
        Fft2 {
            ny,
            nz,
            half: nz / 2 + 1,
            r2c: rp.plan_fft_forward(nz),
            c2r: rp.plan_fft_inverse(nz),
            col_fwd: cp.plan_fft_forward(ny),
            col_inv: cp.plan_fft_inverse(ny),
        }
    }

    /// Forward transform of `x`, placed at the origin of an ny × nz zero array.
    fn forward(&self, x: &Array2<f64>) -> Vec<Complex<f64>> {
        let (xy, xz) = x.dim();
        let half = self.half;
        let mut spec = vec![Complex::new(0.0, 0.0); self.ny * half];
        let mut row = vec![0.0; self.nz];
        let mut out = vec![Complex::new(0.0, 0.0); half];
        let mut scratch = self.r2c.make_scratch_vec();
        for y in 0..self.ny {
            if y < xy {
                row.iter_mut().for_each(|v| *v = 0.0);
                for z in 0..xz {
                    row[z] = x[[y, z]];
                }
                // Lengths are fixed by construction; an error here would be a programming bug.
                let _ = self
                    .r2c
                    .process_with_scratch(&mut row, &mut out, &mut scratch);
                spec[y * half..(y + 1) * half].copy_from_slice(&out);
            }
        }
        self.columns(&mut spec, &*self.col_fwd);
        spec
    }

    /// Column transforms over the half-spectrum (stored row-major, ny rows of `half`).
    fn columns(&self, spec: &mut [Complex<f64>], fft: &dyn Fft<f64>) {
        let half = self.half;
        let mut col = vec![Complex::new(0.0, 0.0); self.ny];
        let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        for k in 0..half {
            for y in 0..self.ny {
                col[y] = spec[y * half + k];
            }
            fft.process_with_scratch(&mut col, &mut scratch);
            for y in 0..self.ny {
                spec[y * half + k] = col[y];
            }
        }
    }

    /// Inverse transform, normalised, returning the full ny × nz real array (row-major).
    fn inverse(&self, mut spec: Vec<Complex<f64>>) -> Vec<f64> {
        let half = self.half;
        self.columns(&mut spec, &*self.col_inv);
        let mut out = vec![0.0; self.ny * self.nz];
        let mut row_in = vec![Complex::new(0.0, 0.0); half];
        let mut row_out = vec![0.0; self.nz];
        let mut scratch = self.c2r.make_scratch_vec();
        let norm = 1.0 / (self.ny * self.nz) as f64;
        for y in 0..self.ny {
            row_in.copy_from_slice(&spec[y * half..(y + 1) * half]);
            // The DC bin of a real signal's spectrum is real, and so is the Nyquist bin of an
            // even length; clear rounding noise.
            row_in[0].im = 0.0;
            if self.nz.is_multiple_of(2) {
                row_in[half - 1].im = 0.0;
            }
            let _ = self
                .c2r
                .process_with_scratch(&mut row_in, &mut row_out, &mut scratch);
            for z in 0..self.nz {
                out[y * self.nz + z] = row_out[z] * norm;
            }
        }
        out
    }
}

/// The decoding arrays and FFT plans of one telescope, prepared once and shared.
pub struct CodedMaskDecoder {
    grid: ImageGrid,
    /// Detector positions (along Y, along Z).
    detector: (usize, usize),
    fft: Fft2,
    g_plus: Vec<Complex<f64>>,
    g_minus: Vec<Complex<f64>>,
    g_plus_sq: Vec<Complex<f64>>,
    g_minus_sq: Vec<Complex<f64>>,
    g_plus_m: Vec<Complex<f64>>,
    g_minus_m: Vec<Complex<f64>>,
    /// The sampled mask (open fraction per cell).
    pub mask: Array2<f64>,
    /// Fraction of the open area lost per unit |tan θ| along each axis by the mask walls.
    wall_loss: (f64, f64),
    /// The telescope's collimator, if any.
    collimator: Option<Collimator>,
}

impl std::fmt::Debug for CodedMaskDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodedMaskDecoder")
            .field("grid", &self.grid)
            .finish_non_exhaustive()
    }
}

/// The per-Science-Window part of the decoding that depends only on the efficiency map.
#[derive(Clone, Debug)]
pub struct Balance {
    /// Balance factor B per image pixel.
    pub b: Array2<f64>,
    /// Normalisation A per image pixel (0 where the direction is not imaged).
    pub a: Array2<f64>,
}

impl CodedMaskDecoder {
    /// Prepares the decoder of `geometry` (~50 ms for ISGRI); see
    /// [`CodedMaskDecoder::for_geometry`] for the shared one.
    pub fn new(geometry: &CodedMaskGeometry) -> CodedMaskDecoder {
        let grid = ImageGrid::of(geometry);
        let m = sampled_mask(geometry);
        let g = m.mapv(|v| 2.0 * v - 1.0);
        let gp = g.mapv(|v| v.max(0.0));
        let gm = g.mapv(|v| (-v).max(0.0));
        let (iy, iz) = grid.dim();
        let fft = Fft2::new(fft_len(iy), fft_len(iz));
        let spec = |a: &Array2<f64>| fft.forward(a);
        CodedMaskDecoder {
            grid,
            detector: geometry.detector().dim(),
            g_plus: spec(&gp),
            g_minus: spec(&gm),
            g_plus_sq: spec(&gp.mapv(|v| v * v)),
            g_minus_sq: spec(&gm.mapv(|v| v * v)),
            g_plus_m: spec(&(&gp * &m)),
            g_minus_m: spec(&(&gm * &m)),
            wall_loss: wall_loss(geometry),
            collimator: geometry.collimator().copied(),
            mask: m,
            fft,
        }
    }

    /// The decoder of `geometry`, built on first use and shared by the whole process (one per
    /// telescope: plan once, decode many).
    pub fn for_geometry(geometry: &CodedMaskGeometry) -> Arc<CodedMaskDecoder> {
        type Cache = Mutex<Vec<(String, Arc<CodedMaskDecoder>)>>;
        static DECODERS: Cache = Mutex::new(Vec::new());
        let key = geometry.digest();
        let mut cache = DECODERS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, d)) = cache.iter().find(|(k, _)| k == key) {
            return d.clone();
        }
        let d = Arc::new(CodedMaskDecoder::new(geometry));
        cache.push((key.to_string(), d.clone()));
        d
    }

    /// The sky grid of the images this decoder makes.
    pub fn grid(&self) -> ImageGrid {
        self.grid
    }

    /// `(g⋆x)` from spectra: `G·conj(X)` transformed back, read out on the image grid.
    fn correlation(&self, g_spec: &[Complex<f64>], x_spec: &[Complex<f64>]) -> Array2<f64> {
        let prod: Vec<Complex<f64>> = g_spec
            .iter()
            .zip(x_spec)
            .map(|(g, x)| g * x.conj())
            .collect();
        let full = self.fft.inverse(prod);
        let (ny, nz) = self.detector;
        let (fy, fz) = (self.fft.ny as i64, self.fft.nz as i64);
        Array2::from_shape_fn(self.grid.dim(), |(iy, iz)| {
            let sy = (iy as i64 - (ny as i64 - 1)).rem_euclid(fy) as usize;
            let sz = (iz as i64 - (nz as i64 - 1)).rem_euclid(fz) as usize;
            full[sy * self.fft.nz + sz]
        })
    }

    /// Balance and normalisation for efficiency map `w`.
    pub fn balance(&self, w: &DetectorMap) -> Balance {
        let ws = self.fft.forward(w);
        let c1 = self.correlation(&self.g_plus, &ws);
        let c2 = self.correlation(&self.g_minus, &ws);
        let c3 = self.correlation(&self.g_plus_m, &ws);
        let c4 = self.correlation(&self.g_minus_m, &ws);
        let b = Array2::from_shape_fn(
            c1.dim(),
            |ij| if c2[ij] > 1e-9 { c1[ij] / c2[ij] } else { 0.0 },
        );
        let mut a = &c3 - &(&b * &c4);
        let a_max = a[self.grid.on_axis].max(1e-9);
        a.mapv_inplace(|v| if v > MIN_RELATIVE_A * a_max { v } else { 0.0 });
        Balance { b, a }
    }

    /// Decodes `counts` (with efficiency already applied as weights `w`): intensity S in
    /// counts per fully lit pixel and its variance V. Pixels that are not imaged are 0 in both.
    pub fn decode(
        &self,
        balance: &Balance,
        w: &DetectorMap,
        counts: &DetectorMap,
    ) -> (Array2<f64>, Array2<f64>) {
        let wd = w * counts;
        let s = self.fft.forward(&wd);
        let c5 = self.correlation(&self.g_plus, &s);
        let c6 = self.correlation(&self.g_minus, &s);
        let c7 = self.correlation(&self.g_plus_sq, &s);
        let c8 = self.correlation(&self.g_minus_sq, &s);
        let mut intensity = Array2::zeros(c5.dim());
        let mut variance = Array2::zeros(c5.dim());
        for ((ij, a), b) in balance.a.indexed_iter().zip(balance.b.iter()) {
            if *a > 0.0 {
                intensity[ij] = (c5[ij] - b * c6[ij]) / a;
                variance[ij] = ((c7[ij] + b * b * c8[ij]) / (a * a)).max(0.0);
            }
        }
        (intensity, variance)
    }

    /// Decodes the intensity only (for the residuals of iterative cleaning).
    pub fn decode_intensity(
        &self,
        balance: &Balance,
        w: &DetectorMap,
        counts: &DetectorMap,
    ) -> Array2<f64> {
        let s = self.fft.forward(&(w * counts));
        let c5 = self.correlation(&self.g_plus, &s);
        let c6 = self.correlation(&self.g_minus, &s);
        Array2::from_shape_fn(c5.dim(), |ij| {
            let a = balance.a[ij];
            if a > 0.0 {
                (c5[ij] - balance.b[ij] * c6[ij]) / a
            } else {
                0.0
            }
        })
    }

    /// Response of the decoded intensity to a source at image position (iy, iz) relative to an
    /// ideal thin mask: cos θ times the open area the mask walls leave at that angle, times the
    /// collimator's transmission when the telescope has one.
    pub fn off_axis_response(&self, iy: f64, iz: f64) -> f64 {
        let (ty, tz) = self.grid.pixel_to_tangents(iy, iz);
        let cos = 1.0 / (1.0 + ty * ty + tz * tz).sqrt();
        let collimator = self.collimator.map_or(1.0, |c| c.transmission(ty, tz));
        cos * collimator
            * (1.0 - self.wall_loss.0 * ty.abs()).max(0.0)
            * (1.0 - self.wall_loss.1 * tz.abs()).max(0.0)
    }
}

/// Open area lost per unit |tan θ|, per axis: each open→closed transition along an axis hides
/// a strip of width (mask thickness × |tan θ|) of the open element next to it.
fn wall_loss(geometry: &CodedMaskGeometry) -> (f64, f64) {
    let mask = geometry.mask();
    let (ny, nz) = mask.elements();
    let (mut ty, mut tz, mut open) = (0usize, 0usize, 0usize);
    for i in 0..ny {
        for j in 0..nz {
            if mask.element(i, j) {
                open += 1;
                if i + 1 < ny && !mask.element(i + 1, j) {
                    ty += 1;
                }
                if j + 1 < nz && !mask.element(i, j + 1) {
                    tz += 1;
                }
            }
        }
    }
    let per =
        |t: usize| t as f64 * geometry.thickness_mm() / (open.max(1) as f64 * mask.element_mm());
    (per(ty), per(tz))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri;
    use rand::SeedableRng;

    use rand_distr::{Distribution, Poisson};

    fn isgri_decoder() -> Arc<CodedMaskDecoder> {
        CodedMaskDecoder::for_geometry(&isgri::geometry())
    }

    /// The FFT correlation of random detector values with the decoding array against the
    /// direct sums.
    fn assert_fft_matches_the_oracle(d: &CodedMaskDecoder, seed: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn(d.detector, |_| rand::Rng::random::<f64>(&mut rng));
        let g = d.mask.mapv(|v| 2.0 * v - 1.0);
        let direct = correlate_direct(&d.grid, &g, &x);
        let fast = d.correlation(&d.fft.forward(&g), &d.fft.forward(&x));
        let max = direct.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let err = direct
            .iter()
            .zip(fast.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-9 * max, "max error {err} of {max}");
    }

    #[test]
    fn fft_correlation_matches_the_direct_oracle() {
        assert_fft_matches_the_oracle(&isgri_decoder(), 3);
    }

    #[test]
    fn sampled_mask_keeps_the_open_fraction() {
        let d = isgri_decoder();
        assert_eq!(d.mask.dim(), (232, 232));
        let mean = d.mask.sum() / (232 * 232) as f64;
        assert!((mean - 0.4998).abs() < 0.01, "{mean}");
        assert_eq!(d.grid().on_axis(), (180, 182));
        assert_eq!((d.fft.ny, d.fft.nz), (384, 384));
        let (ty, tz) = d.grid().pixel_to_tangents(200.5, 150.0);
        let (iy, iz) = d.grid().tangents_to_pixel(ty, tz);
        assert!((iy - 200.5).abs() < 1e-12 && (iz - 150.0).abs() < 1e-12);
    }

    /// Decodes a noiseless point source at (ty, tz) and returns the image and the peak.
    fn decode_point(
        ty: f64,
        tz: f64,
        r: f64,
        bkg: f64,
    ) -> (Array2<f64>, Array2<f64>, (usize, usize)) {
        let d = isgri_decoder();
        let g = isgri::geometry();
        let w = g.detector().layout().clone();
        let p = g.pif(ty, tz);
        let counts = Array2::from_shape_fn(d.detector, |ij| {
            if g.detector().is_gap(ij.0, ij.1) {
                0.0
            } else {
                r * p[ij] + bkg
            }
        });
        let bal = d.balance(&w);
        let (s, v) = d.decode(&bal, &w, &counts);
        // The most significant pixel: ghosts a mask period (129 pixels, 10.6°) away can be as
        // intense, but with less of the detector behind them they are less significant.
        let sig = crate::analysis::image::significance_map(&s, &v);
        let peak = sig
            .indexed_iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(ij, _)| ij)
            .unwrap();
        (s, v, peak)
    }

    #[test]
    fn a_point_source_decodes_at_its_position_with_its_intensity() {
        let d = isgri_decoder();
        for (ty, tz) in [(0.0, 0.0), (0.03, -0.02), (-0.1, 0.12)] {
            let r = 50.0;
            let (s, _, peak) = decode_point(ty, tz, r, 10.0);
            let (iy, iz) = d.grid().tangents_to_pixel(ty, tz);
            assert!(
                (peak.0 as f64 - iy).abs() <= 0.5 && (peak.1 as f64 - iz).abs() <= 0.5,
                "{peak:?} vs ({iy}, {iz})"
            );
            // The peak recovers r times the off-axis response (cos θ and wall vignetting).
            let expect = r * d.off_axis_response(iy, iz);
            let got = s[peak];
            assert!(
                (got / expect - 1.0).abs() < 0.08,
                "({ty}, {tz}): {got} vs {expect}"
            );
        }
    }

    #[test]
    fn flat_background_decodes_to_zero_and_noise_to_unit_significance() {
        let d = isgri_decoder();
        let w = isgri::layout_map();
        let bal = d.balance(&w);
        let flat = w.mapv(|v| v * 200.0);
        let (s, _) = d.decode(&bal, &w, &flat);
        assert!(
            s.iter().all(|v| v.abs() < 1e-6),
            "flat background leaves residuals"
        );
        // Poisson noise on a flat background: significance mean 0, standard deviation 1.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let pois = Poisson::new(200.0).unwrap();
        let noisy = w.mapv(|v| if v > 0.0 { pois.sample(&mut rng) } else { 0.0 });
        let (s, v) = d.decode(&bal, &w, &noisy);
        let sig: Vec<f64> = s
            .iter()
            .zip(v.iter())
            .filter(|(_, v)| **v > 0.0)
            .map(|(s, v)| s / v.sqrt())
            .collect();
        let n = sig.len() as f64;
        let mean = sig.iter().sum::<f64>() / n;
        let sd = (sig.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.05 && (sd - 1.0).abs() < 0.05,
            "mean {mean}, sd {sd}"
        );
    }

    #[test]
    fn fft_lengths_are_the_smallest_products_of_2_and_3() {
        for (n, len) in [
            (1, 1),
            (5, 6),
            (97, 108),
            (361, 384),
            (365, 384),
            (385, 432),
        ] {
            assert_eq!(fft_len(n), len, "{n}");
        }
    }

    /// A telescope that is not ISGRI: a 30 × 31 detector of 3 mm pitch under a 25 × 25 tiled
    /// MURA of order 13 with 7 mm elements, 400 mm above it.
    fn small_telescope() -> CodedMaskGeometry {
        use crate::instrument::coded_mask::{DetectorGrid, Mura};
        let mura = Mura::new(13).unwrap();
        let mask = Mask::from_fn(25, 25, 7.0, |i, j| mura.is_open(i + 7, j + 7)).unwrap();
        let det = DetectorGrid::new(3.0, 2.6, Array2::ones((30, 31))).unwrap();
        CodedMaskGeometry::new("small", det, mask, 400.0, 2.0).unwrap()
    }

    #[test]
    fn another_telescope_decodes_on_its_own_grid() {
        let g = small_telescope();
        let d = CodedMaskDecoder::for_geometry(&g);
        assert_eq!(d.mask.dim(), (59, 59));
        assert_eq!(d.grid().dim(), (88, 89));
        assert_eq!((d.fft.ny, d.fft.nz), (96, 96));
        assert!(Arc::ptr_eq(&d, &CodedMaskDecoder::for_geometry(&g)));
        assert!(!Arc::ptr_eq(&d, &isgri_decoder()));
        assert_fft_matches_the_oracle(&d, 5);
        // A point source in the fully coded field decodes at its position.
        let w = g.detector().layout().clone();
        let bal = d.balance(&w);
        for (ty, tz) in [(0.0, 0.0), (0.03, -0.045)] {
            let counts = g.pif(ty, tz).mapv(|p| 40.0 * p + 5.0);
            let (s, v) = d.decode(&bal, &w, &counts);
            let peak = s
                .indexed_iter()
                .filter(|(ij, _)| v[*ij] > 0.0)
                .max_by(|a, b| (a.1 / v[a.0].sqrt()).total_cmp(&(b.1 / v[b.0].sqrt())))
                .map(|(ij, _)| ij)
                .unwrap();
            let (iy, iz) = d.grid().tangents_to_pixel(ty, tz);
            assert!(
                (peak.0 as f64 - iy).abs() <= 0.5 && (peak.1 as f64 - iz).abs() <= 0.5,
                "({ty}, {tz}): {peak:?} vs ({iy}, {iz})"
            );
        }
    }

    /// JEM-X's hexagonal mask through the same decoder: the FFT path against the direct sums at
    /// pixels spread over the image (the whole oracle would take 3·10¹⁰ operations), and point
    /// sources decoding at their positions with the width of a mask element.
    #[test]
    fn jemx_hexagonal_mask_decodes_point_sources() {
        use crate::instrument::jemx::{self, JemxUnit};
        let g = jemx::geometry(JemxUnit::Jmx1);
        let d = CodedMaskDecoder::for_geometry(&g);
        let (iy_n, iz_n) = d.grid().dim();
        assert!(d.fft.ny >= iy_n && d.fft.nz >= iz_n);
        // The oracle at 40 pixels.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_fn(d.detector, |_| rand::Rng::random::<f64>(&mut rng));
        let gm = d.mask.mapv(|v| 2.0 * v - 1.0);
        let fast = d.correlation(&d.fft.forward(&gm), &d.fft.forward(&x));
        let scale = fast.iter().map(|v| v.abs()).fold(0.0, f64::max);
        for k in 0..40 {
            let (iy, iz) = ((k * 97 + 13) % iy_n, (k * 61 + 7) % iz_n);
            let direct = correlate_direct_at(&gm, &x, iy, iz);
            assert!(
                (direct - fast[[iy, iz]]).abs() < 1e-9 * scale,
                "pixel ({iy}, {iz}): {direct} vs {}",
                fast[[iy, iz]]
            );
        }
        // Point sources: on axis, in the fully coded field and partially coded.
        let w = g.detector().layout().clone();
        let bal = d.balance(&w);
        let element_px = jemx::MASK_ELEMENT_MM / jemx::RASTER_MM;
        for (deg_y, deg_z) in [(0.0f64, 0.0f64), (1.5, -1.0), (3.5, 0.8)] {
            let (ty, tz) = (deg_y.to_radians().tan(), deg_z.to_radians().tan());
            let counts = g.pif(ty, tz).mapv(|p| 20.0 * p + 2.0) * &w;
            let (s, v) = d.decode(&bal, &w, &counts);
            let sig = crate::analysis::image::significance_map(&s, &v);
            let (peak, best) = sig
                .indexed_iter()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(ij, v)| (ij, *v))
                .unwrap();
            let (iy, iz) = d.grid().tangents_to_pixel(ty, tz);
            assert!(
                (peak.0 as f64 - iy).abs() <= 0.5 && (peak.1 as f64 - iz).abs() <= 0.5,
                "({deg_y}°, {deg_z}°): peak {peak:?} vs ({iy:.2}, {iz:.2})"
            );
            // The response is a mask element wide: the full width at half maximum along each
            // axis, by linear interpolation of the intensity.
            let fwhm = |along_y: bool| {
                let at = |k: i64| {
                    let (y, z) = if along_y {
                        ((peak.0 as i64 + k) as usize, peak.1)
                    } else {
                        (peak.0, (peak.1 as i64 + k) as usize)
                    };
                    s[[y, z]]
                };
                let half = at(0) / 2.0;
                let side = |dir: i64| {
                    let mut k = 0;
                    while at(dir * (k + 1)) > half {
                        k += 1;
                    }
                    let (a, b) = (at(dir * k), at(dir * (k + 1)));
                    k as f64 + (a - half) / (a - b)
                };
                side(1) + side(-1)
            };
            let (wy, wz) = (fwhm(true), fwhm(false));
            assert!(
                (0.8 * element_px..1.3 * element_px).contains(&wy)
                    && (0.8 * element_px..1.3 * element_px).contains(&wz),
                "({deg_y}°, {deg_z}°): FWHM {wy:.2} × {wz:.2} px for {element_px} px elements"
            );
            // Sidelobes of the noiseless image stay well below the peak.
            let side = sig
                .indexed_iter()
                .filter(|(ij, _)| {
                    (ij.0 as i64 - peak.0 as i64).abs() > 4
                        || (ij.1 as i64 - peak.1 as i64).abs() > 4
                })
                .map(|(_, v)| v.abs())
                .fold(0.0, f64::max);
            println!(
                "({deg_y}°, {deg_z}°): peak {best:.1}σ, largest sidelobe {side:.1}σ, FWHM {wy:.2} × {wz:.2} px"
            );
            assert!(
                side < 0.25 * best,
                "({deg_y}°, {deg_z}°): sidelobe {side} vs peak {best}"
            );
        }
    }
}
