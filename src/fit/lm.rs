//! Levenberg–Marquardt minimisation of χ² = Σ r_c² with box bounds, and the small dense
//! linear algebra it needs (Cholesky factorisation of the n × n normal matrix, n ≤ 8).
//!
//! The residuals are r_c = (data_c − model_c)/σ_c and the Jacobian J_ck = ∂model_c/∂θ_k / σ_c;
//! with A = JᵀJ and g = Jᵀr a step δ solves (A + λ·diag A) δ = g (Marquardt's scaling).
//! λ falls tenfold after a successful step and rises tenfold after a failed one. The fit has
//! converged when the expected further decrease of χ² from a full Gauss–Newton step,
//! EDM = gᵀA⁻¹g, is below [`EDM_TOLERANCE`] (the step is then ≲ 10⁻⁵ σ). A parameter at a
//! bound whose step points outward is held there for that step.

/// Convergence threshold on the expected χ² decrease.
const EDM_TOLERANCE: f64 = 1e-10;
/// λ above which no step can lower χ² any more.
const LAMBDA_MAX: f64 = 1e12;

/// Residuals and (optionally) Jacobian of a problem, at internal parameters θ: writes r (and
/// J, row-major n_data × n_par) and returns false if the model is not finite there.
pub(crate) trait Problem {
    /// Number of data points.
    fn n_data(&self) -> usize;
    /// Evaluates residuals and, if `jac` is given, the Jacobian of the model divided by σ.
    fn eval(&self, theta: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> bool;
}

/// Outcome of one minimisation.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// Best internal parameters.
    pub theta: Vec<f64>,
    /// χ² there.
    pub chi2: f64,
    /// Iterations (accepted or rejected Jacobian updates).
    pub n_iterations: usize,
    /// Model evaluations.
    pub n_evaluations: usize,
    /// True when the EDM criterion was met.
    pub converged: bool,
    /// How the minimisation ended.
    pub message: String,
}

/// Cholesky factor L (lower, row-major) of the symmetric n × n matrix `a`; None unless
/// positive definite with every pivot above `rel_tol` times its diagonal element.
pub(crate) fn cholesky(a: &[f64], n: usize, rel_tol: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !s.is_finite() || s <= rel_tol * a[i * n + i].abs() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L Lᵀ x = b.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// Inverse of the symmetric positive-definite matrix `a`, computed on the correlation-scaled
/// matrix for accuracy; None if it is singular (a pivot below 10⁻¹² of the scaled diagonal,
/// i.e. a condition number above ~10¹²).
pub(crate) fn spd_inverse(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let d: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
    if d.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return None;
    }
    let s: Vec<f64> = d.iter().map(|v| 1.0 / v.sqrt()).collect();
    let scaled: Vec<f64> = (0..n * n).map(|ij| a[ij] * s[ij / n] * s[ij % n]).collect();
    let l = cholesky(&scaled, n, 1e-12)?;
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = cholesky_solve(&l, n, &e);
        for i in 0..n {
            inv[i * n + j] = col[i] * s[i] * s[j];
        }
    }
    Some(inv)
}

/// Normal matrix A = JᵀJ and gradient g = Jᵀr.
pub(crate) fn normal_equations(jac: &[f64], r: &[f64], np: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = vec![0.0; np * np];
    let mut g = vec![0.0; np];
    for (row, ri) in jac.chunks_exact(np).zip(r) {
        for i in 0..np {
            g[i] += row[i] * ri;
            for j in 0..=i {
                a[i * np + j] += row[i] * row[j];
            }
        }
    }
    for i in 0..np {
        for j in 0..i {
            a[j * np + i] = a[i * np + j];
        }
    }
    (a, g)
}

/// Solves (A + λ·diag A) δ = g over the parameters not in `held` (held ones get δ = 0).
fn damped_step(a: &[f64], g: &[f64], np: usize, lambda: f64, held: &[bool]) -> Option<Vec<f64>> {
    let free: Vec<usize> = (0..np).filter(|&i| !held[i]).collect();
    let nf = free.len();
    if nf == 0 {
        return Some(vec![0.0; np]);
    }
    let max_diag = free
        .iter()
        .map(|&i| a[i * np + i])
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut m = vec![0.0; nf * nf];
    let mut b = vec![0.0; nf];
    for (p, &i) in free.iter().enumerate() {
        b[p] = g[i];
        for (q, &j) in free.iter().enumerate() {
            m[p * nf + q] = a[i * np + j];
        }
        // Marquardt's scaling, floored so that a parameter without effect stays bounded.
        m[p * nf + p] += lambda * a[i * np + i].max(1e-12 * max_diag) + 1e-14 * max_diag;
    }
    let l = cholesky(&m, nf, 1e-15)?;
    let x = cholesky_solve(&l, nf, &b);
    let mut delta = vec![0.0; np];
    for (p, &i) in free.iter().enumerate() {
        delta[i] = x[p];
    }
    Some(delta)
}

/// Parameters sitting at a bound with the Gauss–Newton step pointing out of the box.
fn held_at_bounds(theta: &[f64], step: &[f64], bounds: &[(f64, f64)]) -> Vec<bool> {
    theta
        .iter()
        .zip(step)
        .zip(bounds)
        .map(|((t, d), (lo, hi))| (*t <= *lo && *d < 0.0) || (*t >= *hi && *d > 0.0))
        .collect()
}

/// Minimises χ² of `problem` from `start` within `bounds` in at most `max_iterations`.
/// Returns None if the model is not finite at the start.
pub(crate) fn minimize(
    problem: &impl Problem,
    start: &[f64],
    bounds: &[(f64, f64)],
    max_iterations: usize,
) -> Option<Outcome> {
    let np = start.len();
    let nd = problem.n_data();
    let clamp = |t: &mut [f64]| {
        for (v, (lo, hi)) in t.iter_mut().zip(bounds) {
            *v = v.clamp(*lo, *hi);
        }
    };
    let mut theta = start.to_vec();
    clamp(&mut theta);
    let mut r = vec![0.0; nd];
    let mut jac = vec![0.0; nd * np];
    if !problem.eval(&theta, &mut r, Some(&mut jac)) {
        return None;
    }
    let mut n_evaluations = 1;
    let mut chi2: f64 = r.iter().map(|v| v * v).sum();
    let mut lambda = 1e-3;
    let mut trial = vec![0.0; nd];
    let mut n_iterations = 0;
    let mut converged = false;
    let mut message = format!("stopped after the maximum of {max_iterations} iterations");
    while n_iterations < max_iterations {
        n_iterations += 1;
        let (a, g) = normal_equations(&jac, &r, np);
        // Convergence: expected decrease of a full Gauss–Newton step over the free parameters.
        let none = vec![false; np];
        let Some(gn) = damped_step(&a, &g, np, 0.0, &none) else {
            message = "normal matrix is not positive definite".into();
            break;
        };
        let held = held_at_bounds(&theta, &gn, bounds);
        let gn = if held.iter().any(|h| *h) {
            damped_step(&a, &g, np, 0.0, &held).unwrap_or(gn)
        } else {
            gn
        };
        let edm: f64 = gn.iter().zip(&g).map(|(d, gi)| d * gi).sum();
        if edm < EDM_TOLERANCE {
            converged = true;
            message = format!("converged (EDM {edm:.1e})");
            break;
        }
        // Damped steps until χ² decreases.
        let mut accepted = false;
        while lambda <= LAMBDA_MAX {
            if let Some(delta) = damped_step(&a, &g, np, lambda, &held) {
                let mut next: Vec<f64> = theta.iter().zip(&delta).map(|(t, d)| t + d).collect();
                clamp(&mut next);
                n_evaluations += 1;
                if problem.eval(&next, &mut trial, None) {
                    let c: f64 = trial.iter().map(|v| v * v).sum();
                    if c.is_finite() && c < chi2 {
                        theta = next;
                        chi2 = c;
                        lambda = (lambda * 0.1).max(1e-12);
                        accepted = true;
                        break;
                    }
                }
            }
            lambda *= 10.0;
        }
        if !accepted {
            // No damped step lowers χ²: at a minimum to rounding precision, or stuck.
            converged = edm < 1e-6;
            message = if converged {
                format!("converged to rounding precision (EDM {edm:.1e})")
            } else {
                format!("stuck: no step lowers χ² (EDM {edm:.1e})")
            };
            break;
        }
        n_evaluations += 1;
        if !problem.eval(&theta, &mut r, Some(&mut jac)) {
            message = "model not finite at an accepted step".into();
            break;
        }
    }
    Some(Outcome {
        theta,
        chi2,
        n_iterations,
        n_evaluations,
        converged,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = a·exp(−b·x) sampled without noise: the toy problem with a known minimum.
    struct Decay {
        x: Vec<f64>,
        y: Vec<f64>,
    }

    impl Problem for Decay {
        fn n_data(&self) -> usize {
            self.x.len()
        }
        fn eval(&self, t: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> bool {
            for (i, (x, y)) in self.x.iter().zip(&self.y).enumerate() {
                r[i] = y - t[0] * (-t[1] * x).exp();
            }
            if let Some(j) = jac {
                for (i, x) in self.x.iter().enumerate() {
                    j[2 * i] = (-t[1] * x).exp();
                    j[2 * i + 1] = -t[0] * x * (-t[1] * x).exp();
                }
            }
            true
        }
    }

    #[test]
    fn toy_exponential_recovers_known_minimum() {
        let x: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let y = x.iter().map(|x| 3.0 * (-0.7 * x).exp()).collect();
        let p = Decay { x, y };
        let out = minimize(&p, &[1.0, 2.0], &[(-10.0, 10.0), (-10.0, 10.0)], 100).unwrap();
        assert!(out.converged, "{}", out.message);
        assert!((out.theta[0] - 3.0).abs() < 1e-8 && (out.theta[1] - 0.7).abs() < 1e-8);
        assert!(out.chi2 < 1e-15);
        // A bound below the true decay rate: the fit stops on the bound.
        let out = minimize(&p, &[1.0, 2.0], &[(-10.0, 10.0), (0.9, 10.0)], 100).unwrap();
        assert!((out.theta[1] - 0.9).abs() < 1e-12, "{:?}", out.theta);
        assert!(out.converged, "{}", out.message);
    }

    #[test]
    fn inverse_and_singularity() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let inv = spd_inverse(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let p: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((p - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(spd_inverse(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
        assert!(spd_inverse(&[1.0, 0.0, 0.0, 0.0], 2).is_none());
        assert!(spd_inverse(&[1e8, 0.0, 0.0, 1e-8], 2).is_some());
    }
}
