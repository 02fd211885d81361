//! The sky-model fit of a shadowgram: source intensities and a background scale, positions fixed.
//!
//! The model of the counts in pixel d is `D(d) = W(d)·[β·T(d) + Σ_k r_k·PIF_k(d)]`, with T the
//! background template (the instrument's spatial map), PIF_k the pixel illumination of source k
//! and W the efficiency. The fit is weighted linear least squares with Poisson weights taken from
//! the model itself (two passes: background-only first, then the full model), which stays
//! unbiased down to a fraction of a count per pixel. r_k is in counts per fully lit pixel; see
//! [`onaxis_rate`] for the conversion to on-axis equivalent count rates. The fit itself is internal
//! to the spectral and light-curve extraction and the imager's cleaning.

use crate::error::{Error, Result};
use crate::instrument::coded_mask::{CodedMaskGeometry, DetectorMap};
use crate::instrument::isgri::rate_scale;
use crate::osa::OsaVersion;

/// Result of a sky-model fit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ShadowgramFit {
    /// Source intensities r_k, counts per fully lit pixel.
    pub rates: Vec<f64>,
    /// Their 1σ errors.
    pub errors: Vec<f64>,
    /// Background scale β (counts per pixel for template value 1).
    pub background: f64,
    /// χ² of the fit with the model variances.
    pub chi2: f64,
    /// Degrees of freedom.
    pub dof: usize,
}

/// On-axis equivalent count rate (cts/s) of a source with intensity `r` counts per fully lit
/// pixel of the telescope `geometry` in `exposure` live seconds, in the rate convention of
/// `version`: r × pixels × on-axis open fraction / exposure × the version's scale.
pub fn onaxis_rate(
    geometry: &CodedMaskGeometry,
    r: f64,
    exposure: f64,
    version: OsaVersion,
) -> f64 {
    if exposure <= 0.0 {
        return 0.0;
    }
    r * geometry.detector().n_pixels() as f64 * geometry.on_axis_open_fraction() / exposure
        * rate_scale(version)
}

/// Fits `counts` with the background `template` and the source `pifs` (all on the detector
/// grid), weighting by the efficiency `w`.
///
/// # Errors
/// No usable pixel, or a singular system (for example two sources at the same position).
pub(crate) fn fit_shadowgram(
    counts: &DetectorMap,
    w: &DetectorMap,
    template: &DetectorMap,
    pifs: &[DetectorMap],
) -> Result<ShadowgramFit> {
    let n = pifs.len() + 1;
    // Gather the used pixels once: value, template, PIFs.
    let mut rows: Vec<(f64, Vec<f64>)> = Vec::new();
    for (ij, &wv) in w.indexed_iter() {
        if wv <= 0.0 {
            continue;
        }
        let mut x = Vec::with_capacity(n);
        x.push(wv * template[ij]);
        for p in pifs {
            x.push(wv * p[ij]);
        }
        rows.push((counts[ij], x));
    }
    if rows.len() <= n {
        return Err(Error::invalid(
            "shadowgram",
            format!("{} live pixels", rows.len()),
            "more live pixels than fitted parameters",
        ));
    }
    let total: f64 = rows.iter().map(|r| r.0).sum();
    let tsum: f64 = rows.iter().map(|r| r.1[0]).sum();
    let beta0 = if tsum > 0.0 { total / tsum } else { 0.0 };
    let mut params = vec![0.0; n];
    params[0] = beta0;
    let mut cov = vec![0.0; n * n];
    for _pass in 0..2 {
        let mut a = vec![0.0; n * n];
        let mut b = vec![0.0; n];
        for (d, x) in &rows {
            let model: f64 = x.iter().zip(&params).map(|(xi, p)| xi * p).sum();
            let var = model.max(0.25);
            for i in 0..n {
                let xi = x[i] / var;
                if xi == 0.0 {
                    continue;
                }
                b[i] += xi * d;
                for j in i..n {
                    a[i * n + j] += xi * x[j];
                }
            }
        }
        for i in 0..n {
            for j in 0..i {
                a[i * n + j] = a[j * n + i];
            }
        }
        cov = invert(&a, n).ok_or_else(|| {
            Error::invalid("sky model", format!("{} sources", n - 1), "sources whose shadows differ (a singular fit: two sources at one position, or one outside the field)")
        })?;
        params = (0..n)
            .map(|i| (0..n).map(|j| cov[i * n + j] * b[j]).sum())
            .collect();
    }
    let chi2 = rows
        .iter()
        .map(|(d, x)| {
            let m: f64 = x.iter().zip(&params).map(|(xi, p)| xi * p).sum();
            (d - m).powi(2) / m.max(0.25)
        })
        .sum();
    Ok(ShadowgramFit {
        rates: params[1..].to_vec(),
        errors: (1..n).map(|i| cov[i * n + i].max(0.0).sqrt()).collect(),
        background: params[0],
        chi2,
        dof: rows.len() - n,
    })
}

/// Inverse of a symmetric positive-definite n × n matrix by Gauss–Jordan elimination with
/// partial pivoting; `None` when it is singular.
pub(crate) fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let scale = (0..n)
        .map(|i| a[i * n + i].abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let piv =
            (col..n).max_by(|&x, &y| m[x * n + col].abs().total_cmp(&m[y * n + col].abs()))?;
        if m[piv * n + col].abs() < 1e-13 * scale {
            return None;
        }
        if piv != col {
            for k in 0..n {
                m.swap(piv * n + k, col * n + k);
                inv.swap(piv * n + k, col * n + k);
            }
        }
        let d = m[col * n + col];
        for k in 0..n {
            m[col * n + k] /= d;
            inv[col * n + k] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        m[r * n + k] -= f * m[col * n + k];
                        inv[r * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::isgri::{N_DETY, geometry, layout_map};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    #[test]
    fn inverse_of_a_small_matrix() {
        let a = [4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 5.0];
        let inv = invert(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2).is_none());
    }

    #[test]
    fn two_overlapping_sources_and_background_are_recovered_within_errors() {
        let w = layout_map();
        let g = geometry();
        let p1 = g.pif(0.02, -0.01);
        let p2 = g.pif(0.035, 0.0); // 50′ away: overlapping shadows
        // A background template with structure: a gradient across DETY.
        let tmpl = ndarray::Array2::from_shape_fn(w.dim(), |(y, z)| {
            w[[y, z]] * (1.0 + 0.06 * (y as f64 / (N_DETY - 1) as f64 - 0.5))
        });
        let (r1, r2, beta) = (3.0, 0.8, 20.0);
        let mut pulls = Vec::new();
        for seed in 0..30 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let counts = ndarray::Array2::from_shape_fn(w.dim(), |ij| {
                let lam = w[ij] * (beta * tmpl[ij] + r1 * p1[ij] + r2 * p2[ij]);
                if lam > 0.0 {
                    Poisson::new(lam).unwrap().sample(&mut rng)
                } else {
                    0.0
                }
            });
            let fit = fit_shadowgram(&counts, &w, &tmpl, &[p1.clone(), p2.clone()]).unwrap();
            pulls.push((fit.rates[0] - r1) / fit.errors[0]);
            pulls.push((fit.rates[1] - r2) / fit.errors[1]);
            assert!((fit.background / beta - 1.0).abs() < 0.01);
            assert!(
                (fit.chi2 / fit.dof as f64 - 1.0).abs() < 0.05,
                "χ²/dof {}",
                fit.chi2 / fit.dof as f64
            );
        }
        let n = pulls.len() as f64;
        let mean = pulls.iter().sum::<f64>() / n;
        let sd = (pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.35 && (0.75..1.3).contains(&sd),
            "pulls mean {mean}, sd {sd}"
        );
        let e = fit_shadowgram(&w, &w, &tmpl, &[p1.clone(), p1.clone()]).unwrap_err();
        assert!(e.to_string().contains("singular"), "{e}");
    }
}
