//! Balanced cross-correlation decoding of ISGRI shadowgrams, with FFTs.
//!
//! The decoding array is the mask resampled on the detector pitch (4.6 mm): each cell holds the
//! open fraction M ∈ [0, 1] of the mask over it, and G = 2M − 1 splits into G⁺ = max(G, 0) and
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
//! **Grid convention.** The correlation covers every shift with overlap: image index
//! (iy, iz) is the shift (iy − 129, iz − 133) in detector pixels, and the on-axis direction is at
//! [`ON_AXIS`] = (180, 182). Image pixels are uniform in the off-axis tangents:
//! tan θ = (i − on-axis) × 4.6 mm / 3200 mm, i.e. a gnomonic projection with 4.94′ pixels along
//! the spacecraft Y (first axis) and Z (second axis).
//!
//! The FFT plans and the spectra of the decoding arrays are computed once ([`CodedMaskDecoder::new`])
//! and shared by every Science Window; a direct summation beside them (in the tests) is the slow,
//! obviously correct oracle.

use std::sync::{Arc, OnceLock};

use ndarray::Array2;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::instrument::isgri::{
    DetectorMap, MASK_DISTANCE_MM, MASK_ELEMENT_MM, MASK_THICKNESS_MM, Mask, N_DETY, N_DETZ,
    PIXEL_PITCH_MM,
};

/// Mask samples per side on the detector pitch (232 × 4.6 mm = 1067 mm ≥ the 1064 mm mask).
pub const MASK_SAMPLES: usize = 232;
/// Image size along the first (Y) axis: every shift with overlap.
pub const IMAGE_NY: usize = N_DETY + MASK_SAMPLES - 1;
/// Image size along the second (Z) axis.
pub const IMAGE_NZ: usize = N_DETZ + MASK_SAMPLES - 1;
/// Image index of the on-axis direction.
pub const ON_AXIS: (usize, usize) = (
    (N_DETY - 1) + (MASK_SAMPLES / 2) - N_DETY / 2,
    (N_DETZ - 1) + (MASK_SAMPLES / 2) - N_DETZ / 2,
);
/// FFT size (both axes): ≥ IMAGE_NY, IMAGE_NZ, so circular correlation equals linear here.
const FFT_N: usize = 384;
/// Image pixels where the normalisation A is below this fraction of its on-axis value are not
/// imaged (the extreme edge of the partially coded field).
const MIN_RELATIVE_A: f64 = 0.03;

/// Angular size of an image pixel at the centre, degrees: atan(4.6/3200) = 0.0824° = 4.94′.
pub fn pixel_deg() -> f64 {
    (PIXEL_PITCH_MM / MASK_DISTANCE_MM).atan().to_degrees()
}

/// Step of the tangent-plane coordinate per image pixel, in degrees of the gnomonic plane
/// (4.6/3200 rad): the CDELT of the image's TAN projection.
pub fn tangent_step_deg() -> f64 {
    (PIXEL_PITCH_MM / MASK_DISTANCE_MM).to_degrees()
}

/// Off-axis tangents (tan θy, tan θz) of fractional image position (iy, iz).
pub fn pixel_to_tangents(iy: f64, iz: f64) -> (f64, f64) {
    let k = PIXEL_PITCH_MM / MASK_DISTANCE_MM;
    ((iy - ON_AXIS.0 as f64) * k, (iz - ON_AXIS.1 as f64) * k)
}

/// Fractional image position of off-axis tangents.
pub fn tangents_to_pixel(tan_y: f64, tan_z: f64) -> (f64, f64) {
    let k = MASK_DISTANCE_MM / PIXEL_PITCH_MM;
    (ON_AXIS.0 as f64 + tan_y * k, ON_AXIS.1 as f64 + tan_z * k)
}

/// Open fraction of the mask over a 4.6 mm cell centred at (y, z) mm (exact overlap).
fn cell_open_fraction(mask: &Mask, y: f64, z: f64) -> f64 {
    let h = PIXEL_PITCH_MM / 2.0;
    let half = Mask::half_size_mm();
    let cuts = |c: f64| {
        let (a, b) = (c - h, c + h);
        let mut v = vec![a, b];
        let k = ((a + half) / MASK_ELEMENT_MM).floor() + 1.0;
        let edge = -half + k * MASK_ELEMENT_MM;
        if edge > a && edge < b {
            v.insert(1, edge);
        }
        v
    };
    let (ys, zs) = (cuts(y), cuts(z));
    let mut open = 0.0;
    for yw in ys.windows(2) {
        for zw in zs.windows(2) {
            if mask.is_open_at_mm(0.5 * (yw[0] + yw[1]), 0.5 * (zw[0] + zw[1])) {
                open += (yw[1] - yw[0]) * (zw[1] - zw[0]);
            }
        }
    }
    open / (PIXEL_PITCH_MM * PIXEL_PITCH_MM)
}

/// The mask sampled on the detector pitch: open fraction per cell, `[MASK_SAMPLES; 2]`.
pub(crate) fn sampled_mask(mask: &Mask) -> Array2<f64> {
    let c = (MASK_SAMPLES as f64 - 1.0) / 2.0;
    Array2::from_shape_fn((MASK_SAMPLES, MASK_SAMPLES), |(k, l)| {
        cell_open_fraction(
            mask,
            (k as f64 - c) * PIXEL_PITCH_MM,
            (l as f64 - c) * PIXEL_PITCH_MM,
        )
    })
}

/// Slow oracle: `(g⋆x)(s) = Σ_d x(d)·g(d + s)` for all image shifts, by direct summation.
#[cfg(test)]
fn correlate_direct(g: &Array2<f64>, x: &DetectorMap) -> Array2<f64> {
    let mut out = Array2::zeros((IMAGE_NY, IMAGE_NZ));
    for iy in 0..IMAGE_NY {
        for iz in 0..IMAGE_NZ {
            let (sy, sz) = (
                iy as i64 - (N_DETY as i64 - 1),
                iz as i64 - (N_DETZ as i64 - 1),
            );
            let mut acc = 0.0;
            for y in 0..N_DETY {
                let gy = y as i64 + sy;
                if gy < 0 || gy >= MASK_SAMPLES as i64 {
                    continue;
                }
                for z in 0..N_DETZ {
                    let gz = z as i64 + sz;
                    if gz < 0 || gz >= MASK_SAMPLES as i64 {
                        continue;
                    }
                    acc += x[[y, z]] * g[[gy as usize, gz as usize]];
                }
            }
            out[[iy, iz]] = acc;
        }
    }
    out
}

/// A 2-D real FFT of size FFT_N × FFT_N: rows real-to-complex, then columns complex.
struct Fft2 {
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

/// Half-spectrum width of a real row.
const HALF: usize = FFT_N / 2 + 1;

impl Fft2 {
    fn new() -> Fft2 {
        let mut rp = RealFftPlanner::<f64>::new();
        let mut cp = FftPlanner::<f64>::new();
        Fft2 {
            r2c: rp.plan_fft_forward(FFT_N),
            c2r: rp.plan_fft_inverse(FFT_N),
            col_fwd: cp.plan_fft_forward(FFT_N),
            col_inv: cp.plan_fft_inverse(FFT_N),
        }
    }

    /// Forward transform of `x` (placed at the origin of an FFT_N² zero array), optionally
    /// index-reversed (x(−d)) so that a product of spectra gives a correlation.
    fn forward(&self, x: &Array2<f64>) -> Vec<Complex<f64>> {
        let (ny, nz) = x.dim();
        let mut spec = vec![Complex::new(0.0, 0.0); FFT_N * HALF];
        let mut row = vec![0.0; FFT_N];
        let mut out = vec![Complex::new(0.0, 0.0); HALF];
        let mut scratch = self.r2c.make_scratch_vec();
        for y in 0..FFT_N {
            if y < ny {
                row.iter_mut().for_each(|v| *v = 0.0);
                for z in 0..nz {
                    row[z] = x[[y, z]];
                }
                // Lengths are fixed by construction; an error here would be a programming bug.
                let _ = self
                    .r2c
                    .process_with_scratch(&mut row, &mut out, &mut scratch);
                spec[y * HALF..(y + 1) * HALF].copy_from_slice(&out);
            }
        }
        self.columns(&mut spec, &*self.col_fwd);
        spec
    }

    /// Column transforms over the half-spectrum (stored row-major, FFT_N rows of HALF).
    fn columns(&self, spec: &mut [Complex<f64>], fft: &dyn Fft<f64>) {
        let mut col = vec![Complex::new(0.0, 0.0); FFT_N];
        let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        for k in 0..HALF {
            for y in 0..FFT_N {
                col[y] = spec[y * HALF + k];
            }
            fft.process_with_scratch(&mut col, &mut scratch);
            for y in 0..FFT_N {
                spec[y * HALF + k] = col[y];
            }
        }
    }

    /// Inverse transform, normalised, returning the full FFT_N² real array.
    fn inverse(&self, mut spec: Vec<Complex<f64>>) -> Vec<f64> {
        self.columns(&mut spec, &*self.col_inv);
        let mut out = vec![0.0; FFT_N * FFT_N];
        let mut row_in = vec![Complex::new(0.0, 0.0); HALF];
        let mut row_out = vec![0.0; FFT_N];
        let mut scratch = self.c2r.make_scratch_vec();
        let norm = 1.0 / (FFT_N * FFT_N) as f64;
        for y in 0..FFT_N {
            row_in.copy_from_slice(&spec[y * HALF..(y + 1) * HALF]);
            // The DC and Nyquist bins of a real signal's spectrum are real; clear rounding noise.
            row_in[0].im = 0.0;
            row_in[HALF - 1].im = 0.0;
            let _ = self
                .c2r
                .process_with_scratch(&mut row_in, &mut row_out, &mut scratch);
            for z in 0..FFT_N {
                out[y * FFT_N + z] = row_out[z] * norm;
            }
        }
        out
    }
}

/// `(g⋆x)` from spectra: `G·conj(X)` transformed back, read out on the image grid.
fn correlation(fft: &Fft2, g_spec: &[Complex<f64>], x_spec: &[Complex<f64>]) -> Array2<f64> {
    let prod: Vec<Complex<f64>> = g_spec
        .iter()
        .zip(x_spec)
        .map(|(g, x)| g * x.conj())
        .collect();
    let full = fft.inverse(prod);
    Array2::from_shape_fn((IMAGE_NY, IMAGE_NZ), |(iy, iz)| {
        let sy = (iy as i64 - (N_DETY as i64 - 1)).rem_euclid(FFT_N as i64) as usize;
        let sz = (iz as i64 - (N_DETZ as i64 - 1)).rem_euclid(FFT_N as i64) as usize;
        full[sy * FFT_N + sz]
    })
}

/// The decoding arrays and FFT plans, prepared once and shared.
pub struct CodedMaskDecoder {
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
}

impl std::fmt::Debug for CodedMaskDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodedMaskDecoder").finish_non_exhaustive()
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
    /// Prepares the decoder for the IBIS mask.
    pub fn new() -> CodedMaskDecoder {
        let mask_model = Mask::isgri();
        let m = sampled_mask(&mask_model);
        let g = m.mapv(|v| 2.0 * v - 1.0);
        let gp = g.mapv(|v| v.max(0.0));
        let gm = g.mapv(|v| (-v).max(0.0));
        let fft = Fft2::new();
        let spec = |a: &Array2<f64>| fft.forward(a);
        CodedMaskDecoder {
            g_plus: spec(&gp),
            g_minus: spec(&gm),
            g_plus_sq: spec(&gp.mapv(|v| v * v)),
            g_minus_sq: spec(&gm.mapv(|v| v * v)),
            g_plus_m: spec(&(&gp * &m)),
            g_minus_m: spec(&(&gm * &m)),
            wall_loss: wall_loss(&mask_model),
            mask: m,
            fft,
        }
    }

    /// The shared decoder of this process (built on first use, ~50 ms).
    pub fn shared() -> Arc<CodedMaskDecoder> {
        static D: OnceLock<Arc<CodedMaskDecoder>> = OnceLock::new();
        D.get_or_init(|| Arc::new(CodedMaskDecoder::new())).clone()
    }

    /// Balance and normalisation for efficiency map `w`.
    pub fn balance(&self, w: &DetectorMap) -> Balance {
        let ws = self.fft.forward(w);
        let c1 = correlation(&self.fft, &self.g_plus, &ws);
        let c2 = correlation(&self.fft, &self.g_minus, &ws);
        let c3 = correlation(&self.fft, &self.g_plus_m, &ws);
        let c4 = correlation(&self.fft, &self.g_minus_m, &ws);
        let b = Array2::from_shape_fn(
            c1.dim(),
            |ij| if c2[ij] > 1e-9 { c1[ij] / c2[ij] } else { 0.0 },
        );
        let mut a = &c3 - &(&b * &c4);
        let a_max = a[[ON_AXIS.0, ON_AXIS.1]].max(1e-9);
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
        let c5 = correlation(&self.fft, &self.g_plus, &s);
        let c6 = correlation(&self.fft, &self.g_minus, &s);
        let c7 = correlation(&self.fft, &self.g_plus_sq, &s);
        let c8 = correlation(&self.fft, &self.g_minus_sq, &s);
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
        let c5 = correlation(&self.fft, &self.g_plus, &s);
        let c6 = correlation(&self.fft, &self.g_minus, &s);
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
    /// ideal thin mask: cos θ times the open area the mask walls leave at that angle.
    pub fn off_axis_response(&self, iy: f64, iz: f64) -> f64 {
        let (ty, tz) = pixel_to_tangents(iy, iz);
        let cos = 1.0 / (1.0 + ty * ty + tz * tz).sqrt();
        cos * (1.0 - self.wall_loss.0 * ty.abs()).max(0.0)
            * (1.0 - self.wall_loss.1 * tz.abs()).max(0.0)
    }
}

impl Default for CodedMaskDecoder {
    fn default() -> Self {
        CodedMaskDecoder::new()
    }
}

/// Open area lost per unit |tan θ|, per axis: each open→closed transition along an axis hides
/// a strip of width (mask thickness × |tan θ|) of the open element next to it.
fn wall_loss(mask: &Mask) -> (f64, f64) {
    use crate::instrument::isgri::MASK_ELEMENTS as N;
    let (mut ty, mut tz, mut open) = (0usize, 0usize, 0usize);
    for i in 0..N {
        for j in 0..N {
            if mask.element(i, j) {
                open += 1;
                if i + 1 < N && !mask.element(i + 1, j) {
                    ty += 1;
                }
                if j + 1 < N && !mask.element(i, j + 1) {
                    tz += 1;
                }
            }
        }
    }
    let per = |t: usize| t as f64 * MASK_THICKNESS_MM / (open as f64 * MASK_ELEMENT_MM);
    (per(ty), per(tz))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri::{is_gap, layout_map, pif};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    #[test]
    fn fft_correlation_matches_the_direct_oracle() {
        let d = CodedMaskDecoder::shared();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((N_DETY, N_DETZ), |_| rand::Rng::random::<f64>(&mut rng));
        let g = d.mask.mapv(|v| 2.0 * v - 1.0);
        let direct = correlate_direct(&g, &x);
        let fast = correlation(&d.fft, &d.fft.forward(&g), &d.fft.forward(&x));
        let max = direct.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let err = direct
            .iter()
            .zip(fast.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-9 * max, "max error {err} of {max}");
    }

    #[test]
    fn sampled_mask_keeps_the_open_fraction() {
        let d = CodedMaskDecoder::shared();
        let mean = d.mask.sum() / (MASK_SAMPLES * MASK_SAMPLES) as f64;
        assert!((mean - 0.4998).abs() < 0.01, "{mean}");
        assert_eq!(ON_AXIS, (180, 182));
        let (ty, tz) = pixel_to_tangents(200.5, 150.0);
        let (iy, iz) = tangents_to_pixel(ty, tz);
        assert!((iy - 200.5).abs() < 1e-12 && (iz - 150.0).abs() < 1e-12);
    }

    /// Decodes a noiseless point source at (ty, tz) and returns the image and the peak.
    fn decode_point(
        ty: f64,
        tz: f64,
        r: f64,
        bkg: f64,
    ) -> (Array2<f64>, Array2<f64>, (usize, usize)) {
        let d = CodedMaskDecoder::shared();
        let w = layout_map();
        let p = pif(&Mask::isgri(), ty, tz);
        let counts = Array2::from_shape_fn((N_DETY, N_DETZ), |ij| {
            if is_gap(ij.0, ij.1) {
                0.0
            } else {
                r * p[ij] + bkg
            }
        });
        let bal = d.balance(&w);
        let (s, v) = d.decode(&bal, &w, &counts);
        // The most significant pixel: ghosts a mask period (129 pixels, 10.6°) away can be as
        // intense, but with less of the detector behind them they are less significant.
        let sig = Array2::from_shape_fn(s.dim(), |ij| {
            if v[ij] > 0.0 {
                s[ij] / v[ij].sqrt()
            } else {
                0.0
            }
        });
        let peak = sig
            .indexed_iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(ij, _)| ij)
            .unwrap();
        (s, v, peak)
    }

    #[test]
    fn a_point_source_decodes_at_its_position_with_its_intensity() {
        let d = CodedMaskDecoder::shared();
        for (ty, tz) in [(0.0, 0.0), (0.03, -0.02), (-0.1, 0.12)] {
            let r = 50.0;
            let (s, _, peak) = decode_point(ty, tz, r, 10.0);
            let (iy, iz) = tangents_to_pixel(ty, tz);
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
        let d = CodedMaskDecoder::shared();
        let w = layout_map();
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
}
