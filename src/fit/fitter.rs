//! [`SpectralFitter`]: the validated fit settings, and `run`, which fits one spectrum.

use super::forward::Forward;
use super::lm::{self, Problem};
use super::model::ModelKind;
use super::result::{FitParameter, SpectralFit};
use super::stats::chi2_sf;
use crate::datasets::Spectrum;
use crate::error::{Error, Result};
use crate::spectrum::SpectralModel;

/// Default lower end of the fit band, keV (as ODA's web fit: the 20–30 keV band is the most
/// affected by the threshold drift).
pub const DEFAULT_E_MIN: f64 = 30.0;
/// Default upper end of the fit band, keV.
pub const DEFAULT_E_MAX: f64 = 1000.0;
/// Default iteration limit of one Levenberg–Marquardt run.
pub const DEFAULT_MAX_ITERATIONS: usize = 200;

/// Relative tolerance when comparing channel edges with the fit band and the RMF.
const EDGE_TOLERANCE: f64 = 1e-6;

/// Settings of a χ² fit of one spectral model to ISGRI spectra: build once, then
/// [`run`](Self::run) on any number of spectra.
///
/// ```no_run
/// use oda::fit::{ModelKind, SpectralFitter};
/// // A spectrum written earlier (e.g. by `examples/crab_spectrum.rs`), with its RMF and ARF.
/// let spectrum = oda::products::read_pha(std::path::Path::new("crab-products/crab_pha.fits"))?;
/// let fitter = SpectralFitter::new("cutoffpl".parse::<ModelKind>()?).energy_range(30.0, 300.0)?;
/// let fit = fitter.run(&spectrum)?;
/// println!("{fit}");
/// let (flux, err) = fit.flux(30.0, 300.0);
/// # Ok::<(), oda::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SpectralFitter {
    kind: ModelKind,
    e_min: f64,
    e_max: f64,
    max_iterations: usize,
    start: Option<SpectralModel>,
    /// Frozen shape parameters: (index in `parameter_names`, physical value).
    frozen: Vec<(usize, f64)>,
}

impl SpectralFitter {
    /// A fitter of `kind` over the default band 30–1000 keV.
    pub fn new(kind: ModelKind) -> SpectralFitter {
        SpectralFitter {
            kind,
            e_min: DEFAULT_E_MIN,
            e_max: DEFAULT_E_MAX,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            start: None,
            frozen: Vec::new(),
        }
    }

    /// Fits only the channels lying entirely within [`e_min`, `e_max`] keV.
    ///
    /// # Errors
    /// `e_min` not finite and positive (parameter `e_min`), or `e_max` not finite or not
    /// above `e_min` (parameter `e_max`).
    ///
    /// ```
    /// use oda::fit::{ModelKind, SpectralFitter};
    /// let fitter = SpectralFitter::new(ModelKind::PowerLaw).energy_range(30.0, 300.0)?;
    /// assert_eq!(fitter.e_range(), (30.0, 300.0));
    /// let err = SpectralFitter::new(ModelKind::PowerLaw).energy_range(300.0, 30.0).unwrap_err();
    /// assert_eq!(err.parameter(), Some("e_max"));
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn energy_range(mut self, e_min: f64, e_max: f64) -> Result<SpectralFitter> {
        if !(e_min.is_finite() && e_min > 0.0) {
            return Err(Error::invalid(
                "e_min",
                e_min,
                "a finite energy above 0 keV",
            ));
        }
        if !(e_max.is_finite() && e_max > e_min) {
            return Err(Error::invalid(
                "e_max",
                e_max,
                format!("a finite energy above e_min = {e_min} keV"),
            ));
        }
        self.e_min = e_min;
        self.e_max = e_max;
        Ok(self)
    }

    /// Limits each Levenberg–Marquardt run to `n` iterations (default 200).
    ///
    /// # Errors
    /// `n` = 0 (parameter `max_iterations`).
    pub fn max_iterations(mut self, n: usize) -> Result<SpectralFitter> {
        if n == 0 {
            return Err(Error::invalid("max_iterations", n, "at least 1"));
        }
        self.max_iterations = n;
        Ok(self)
    }

    /// Adds `model` as a starting point, tried besides the best points of the built-in
    /// coarse grid.
    ///
    /// # Errors
    /// A model of another kind than the fitter's (parameter `start`), or one with a
    /// non-finite or non-positive parameter.
    pub fn start(mut self, model: SpectralModel) -> Result<SpectralFitter> {
        let kind = ModelKind::of(&model);
        if kind != self.kind {
            return Err(Error::invalid(
                "start",
                kind,
                format!("a {} model, the kind being fitted", self.kind),
            ));
        }
        self.start = Some(self.kind.model(&ModelKind::values(&model))?);
        Ok(self)
    }

    /// Holds the shape parameter `name` (`Gamma`, `Ecut`, `Gamma1`, `Ebreak`, `Gamma2`) fixed
    /// at `value` (keV for energies), as XSPEC's `freeze`: the other parameters are fitted,
    /// the frozen one is reported with error 0 and does not count as a degree of freedom.
    ///
    /// Useful when the data cannot separate two parameters — a cut-off below the ISGRI band
    /// makes Γ and Ecut nearly degenerate — and to test a published model against the data.
    ///
    /// # Errors
    /// A name that is not a shape parameter of the fitter's model (parameter `freeze`), or a
    /// value outside the parameter's allowed range (parameter named `name`).
    ///
    /// ```
    /// use oda::fit::{ModelKind, SpectralFitter};
    /// let fitter = SpectralFitter::new(ModelKind::CutoffPowerLaw).freeze("Ecut", 10.0)?;
    /// assert_eq!(fitter.frozen(), vec![("Ecut", 10.0)]);
    /// let err = SpectralFitter::new(ModelKind::PowerLaw).freeze("Ecut", 10.0).unwrap_err();
    /// assert!(err.to_string().contains("Gamma"), "{err}");
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn freeze(mut self, name: &str, value: f64) -> Result<SpectralFitter> {
        let names = self.kind.parameter_names();
        let Some(index) = names.iter().skip(1).position(|n| *n == name).map(|i| i + 1) else {
            return Err(Error::invalid(
                "freeze",
                name,
                format!(
                    "a shape parameter of {}: {}",
                    self.kind,
                    names[1..].join(", ")
                ),
            ));
        };
        let transform = self.kind.transforms()[index];
        let (lo, hi) = self.kind.bounds((self.e_min, self.e_max))[index];
        let (plo, phi) = (transform.to_physical(lo), transform.to_physical(hi));
        let internal = transform.to_internal(value);
        if !(value.is_finite() && internal.is_finite() && internal >= lo && internal <= hi) {
            return Err(Error::invalid(
                name,
                value,
                format!(
                    "a value from {plo} to {phi} to freeze {name} of {}",
                    self.kind
                ),
            ));
        }
        self.frozen.retain(|(i, _)| *i != index);
        self.frozen.push((index, value));
        self.frozen.sort_by_key(|(i, _)| *i);
        Ok(self)
    }

    /// The frozen parameters and their values.
    pub fn frozen(&self) -> Vec<(&'static str, f64)> {
        let names = self.kind.parameter_names();
        self.frozen.iter().map(|(i, v)| (names[*i], *v)).collect()
    }

    /// The model kind fitted.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The fit band (e_min, e_max), keV.
    pub fn e_range(&self) -> (f64, f64) {
        (self.e_min, self.e_max)
    }

    /// Fits the model to `spectrum` by minimising
    /// χ² = Σ (rate − pred)² / (stat_err² + (sys_err·rate)²) over the usable channels: those
    /// entirely inside the fit band, with a finite rate and a positive finite total error.
    ///
    /// The minimiser is Levenberg–Marquardt on (ln K, Γ, ln Ecut) or (ln K, Γ1, ln Ebreak, Γ2),
    /// with analytic derivatives. It starts from the best points of a coarse grid over the
    /// shape parameters (K solved linearly at each), and from [`start`](Self::start) if given,
    /// and keeps the lowest χ². The break energy is kept within the fitted band.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the spectrum has no ARF or RMF (`arf`, `rmf`), the
    /// response does not match the channels, fewer channels are usable than parameters + 1
    /// (`energy_range`), the model cannot be evaluated, or the covariance matrix at the
    /// minimum is singular (`covariance`: the data do not constrain every parameter).
    pub fn run(&self, spectrum: &Spectrum) -> Result<SpectralFit> {
        let data = FitData::new(self, spectrum)?;
        let np = self.kind.n_parameters();
        let band = (
            data.e_min.first().copied().unwrap_or(self.e_min),
            data.e_max.last().copied().unwrap_or(self.e_max),
        );
        let frozen = self.internal_frozen();
        let problem = Free::new(&data, np, &frozen);
        let all_bounds = self.kind.bounds(band);
        let bounds: Vec<(f64, f64)> = problem.free.iter().map(|&i| all_bounds[i]).collect();

        let mut starts = grid_starts(self.kind, &[&data], band, self.n_starts(), &frozen);
        if let Some(m) = &self.start {
            starts.push(self.kind.to_internal(&ModelKind::values(m)));
        }
        let (best, n_evaluations) = best_run(&problem, &starts, &bounds, self.max_iterations);
        let Some(best) = best else {
            return Err(Error::invalid(
                "spectral fit",
                format!("{} to {}", self.kind, spectrum.source),
                "a model that can be evaluated at the starting points: check rates and response",
            ));
        };
        let theta = problem.expand(&best.theta);
        let transforms = self.kind.transforms();

        // Covariance of the free internal parameters, then in the physical ones (a frozen
        // parameter has no variance).
        let nd = data.rate.len();
        let nf = problem.free.len();
        let mut values = self.kind.to_physical(&theta);
        // Report a frozen value exactly as given (not through its log round trip).
        for &(i, v) in &self.frozen {
            values[i] = v;
        }
        let Some(cov_free) = free_covariance(&problem, &best.theta) else {
            let shown: Vec<String> = self
                .kind
                .parameter_names()
                .iter()
                .zip(&values)
                .map(|(n, v)| format!("{n}={v:.4}"))
                .collect();
            return Err(Error::invalid(
                "covariance",
                format!("singular at {} ({})", self.kind, shown.join(", ")),
                "data that constrain every parameter: use a simpler model, a wider energy \
                 range, or freeze a parameter",
            ));
        };
        let mut cov_int = vec![0.0; np * np];
        for (a, &i) in problem.free.iter().enumerate() {
            for (b, &j) in problem.free.iter().enumerate() {
                cov_int[i * np + j] = cov_free[a * nf + b];
            }
        }
        let d: Vec<f64> = transforms
            .iter()
            .zip(&theta)
            .map(|(t, v)| t.derivative(*v))
            .collect();
        let covariance: Vec<Vec<f64>> = (0..np)
            .map(|i| (0..np).map(|j| cov_int[i * np + j] * d[i] * d[j]).collect())
            .collect();
        let parameters = self
            .kind
            .parameter_names()
            .iter()
            .zip(self.kind.parameter_units())
            .zip(&values)
            .enumerate()
            .map(|(i, ((name, unit), v))| FitParameter {
                name: (*name).to_string(),
                value: *v,
                error: covariance[i][i].sqrt(),
                unit: (*unit).to_string(),
                frozen: !problem.free.contains(&i),
            })
            .collect();

        let mut predicted = vec![0.0; nd];
        data.forward.predict(&theta, &mut predicted, None);
        let residuals = data
            .rate
            .iter()
            .zip(&predicted)
            .zip(&data.error)
            .map(|((d, p), e)| (d - p) / e)
            .collect();
        let dof = nd - nf;
        let message = bounds_message(&best, &problem.free, &bounds, self.kind.parameter_names());
        Ok(SpectralFit {
            detector: spectrum.detector,
            source: spectrum.source.clone(),
            kind: self.kind,
            model: self.kind.model_unchecked(&values),
            parameters,
            covariance,
            chi2: best.chi2,
            dof,
            p_value: chi2_sf(best.chi2, dof),
            n_iterations: best.n_iterations,
            n_evaluations,
            converged: best.converged,
            message,
            energy_range: (self.e_min, self.e_max),
            channels: data.channels,
            e_min: data.e_min,
            e_max: data.e_max,
            rate: data.rate,
            error: data.error,
            predicted,
            residuals,
        })
    }
}

impl SpectralFitter {
    /// The frozen parameters as (index, internal value).
    pub(super) fn internal_frozen(&self) -> Vec<(usize, f64)> {
        let transforms = self.kind.transforms();
        self.frozen
            .iter()
            .map(|&(i, v)| (i, transforms[i].to_internal(v)))
            .collect()
    }

    /// The frozen parameters as (index, physical value).
    pub(super) fn frozen_values(&self) -> &[(usize, f64)] {
        &self.frozen
    }

    /// The explicit starting model, if any.
    pub(super) fn start_model(&self) -> Option<&SpectralModel> {
        self.start.as_ref()
    }

    /// The iteration limit of one Levenberg–Marquardt run.
    pub(super) fn max_iterations_limit(&self) -> usize {
        self.max_iterations
    }

    /// How many of the best grid points start a Levenberg–Marquardt run.
    pub(super) fn n_starts(&self) -> usize {
        match self.kind {
            ModelKind::PowerLaw => 2,
            ModelKind::CutoffPowerLaw | ModelKind::BrokenPowerLaw => 3,
        }
    }
}

/// Runs Levenberg–Marquardt from every start and keeps the lowest χ² (on a tie, a converged
/// run); returns it with the number of model evaluations over all runs.
pub(super) fn best_run<P: Problem>(
    problem: &Free<'_, P>,
    starts: &[Vec<f64>],
    bounds: &[(f64, f64)],
    max_iterations: usize,
) -> (Option<lm::Outcome>, usize) {
    let mut best: Option<lm::Outcome> = None;
    let mut n_evaluations = 0;
    for s in starts {
        if let Some(out) = lm::minimize(problem, &problem.project(s), bounds, max_iterations) {
            n_evaluations += out.n_evaluations;
            // Lowest χ² wins; on a tie (same minimum) a converged run is preferred.
            let better = match &best {
                None => true,
                Some(b) => {
                    let tie = (out.chi2 - b.chi2).abs() <= 1e-9 * (1.0 + b.chi2);
                    if tie {
                        out.converged && !b.converged
                    } else {
                        out.chi2 < b.chi2
                    }
                }
            };
            if better {
                best = Some(out);
            }
        }
    }
    (best, n_evaluations)
}

/// Covariance of the free internal parameters at `theta` (row-major), the inverse of JᵀWJ;
/// `None` when it is singular.
pub(super) fn free_covariance<P: Problem>(
    problem: &Free<'_, P>,
    theta: &[f64],
) -> Option<Vec<f64>> {
    let nd = problem.n_data();
    let nf = problem.free.len();
    let mut r = vec![0.0; nd];
    let mut jac = vec![0.0; nd * nf];
    problem.eval(theta, &mut r, Some(&mut jac));
    let (a, _) = lm::normal_equations(&jac, &r, nf);
    lm::spd_inverse(&a, nf)
}

/// The run's message, with the free parameters (named by `names`) left at a bound.
pub(super) fn bounds_message(
    best: &lm::Outcome,
    free: &[usize],
    bounds: &[(f64, f64)],
    names: &[&str],
) -> String {
    let mut message = best.message.clone();
    let at_bound: Vec<&str> = free
        .iter()
        .zip(&best.theta)
        .zip(bounds)
        .filter(|((_, t), (lo, hi))| **t <= *lo || **t >= *hi)
        .map(|((i, _), _)| names[*i])
        .collect();
    if !at_bound.is_empty() {
        message.push_str(&format!(
            "; at the limit of its range: {}",
            at_bound.join(", ")
        ));
    }
    message
}

/// The usable channels of one spectrum with the folded response.
pub(super) struct FitData {
    pub(super) channels: Vec<usize>,
    pub(super) e_min: Vec<f64>,
    pub(super) e_max: Vec<f64>,
    pub(super) rate: Vec<f64>,
    pub(super) error: Vec<f64>,
    pub(super) forward: Forward,
}

impl FitData {
    pub(super) fn new(fitter: &SpectralFitter, s: &Spectrum) -> Result<FitData> {
        let n = s.n_channels();
        for (name, len) in [
            ("e_min", s.e_min.len()),
            ("e_max", s.e_max.len()),
            ("stat_err", s.stat_err.len()),
        ] {
            if len != n {
                return Err(Error::invalid(
                    format!("spectrum {name}"),
                    format!("{len} values"),
                    format!("one per channel ({n}, as the rates)"),
                ));
            }
        }
        let Some(rmf) = &s.rmf else {
            return Err(Error::invalid(
                "rmf",
                format!("none in the spectrum of {}", s.source),
                "a spectrum with its redistribution matrix (RMF)",
            ));
        };
        let Some(arf) = &s.arf else {
            return Err(Error::invalid(
                "arf",
                format!("none in the spectrum of {}", s.source),
                "a spectrum with its ancillary response (ARF)",
            ));
        };
        let nt = rmf.energ_lo.len();
        if rmf.energ_hi.len() != nt
            || rmf.matrix.len() != nt * rmf.n_channels()
            || rmf.e_max.len() != rmf.n_channels()
        {
            return Err(Error::invalid(
                "rmf",
                format!(
                    "{} × {} matrix with {} values",
                    nt,
                    rmf.n_channels(),
                    rmf.matrix.len()
                ),
                "consistent true-energy bins, channels and matrix size",
            ));
        }
        let close = |a: f64, b: f64| (a - b).abs() <= EDGE_TOLERANCE * a.abs().max(b.abs());
        if arf.specresp.len() != nt
            || arf.energ_lo.len() != nt
            || arf.energ_hi.len() != nt
            || !arf
                .energ_lo
                .iter()
                .zip(&rmf.energ_lo)
                .all(|(a, b)| close(*a, *b))
            || !arf
                .energ_hi
                .iter()
                .zip(&rmf.energ_hi)
                .all(|(a, b)| close(*a, *b))
        {
            return Err(Error::invalid(
                "arf",
                format!("{} bins", arf.specresp.len()),
                format!("the RMF's {nt} true-energy bins, with the same edges"),
            ));
        }
        if rmf.n_channels() != n
            || !s.e_min.iter().zip(&rmf.e_min).all(|(a, b)| close(*a, *b))
            || !s.e_max.iter().zip(&rmf.e_max).all(|(a, b)| close(*a, *b))
        {
            return Err(Error::invalid(
                "rmf",
                format!("{} channels", rmf.n_channels()),
                format!("the spectrum's {n} channels, with the same edges"),
            ));
        }

        let (lo, hi) = (fitter.e_min, fitter.e_max);
        let inside = |j: usize| {
            s.e_min[j] >= lo * (1.0 - EDGE_TOLERANCE) && s.e_max[j] <= hi * (1.0 + EDGE_TOLERANCE)
        };
        let channels: Vec<usize> = (0..n)
            .filter(|&j| {
                let err = s.total_error(j);
                inside(j) && s.rate[j].is_finite() && err.is_finite() && err > 0.0
            })
            .collect();
        let np = fitter.kind.n_parameters() - fitter.frozen.len();
        if channels.len() < np + 1 {
            return Err(Error::invalid(
                "energy_range",
                format!("{lo}–{hi} keV with {} usable channels", channels.len()),
                format!(
                    "at least {} channels (parameters of {} + 1) inside the band with finite \
                     rates and positive errors",
                    np + 1,
                    fitter.kind
                ),
            ));
        }
        let forward = Forward::new(
            fitter.kind,
            &rmf.energ_lo,
            &rmf.energ_hi,
            &arf.specresp,
            &rmf.matrix,
            rmf.n_channels(),
            &channels,
        );
        Ok(FitData {
            e_min: channels.iter().map(|&j| s.e_min[j]).collect(),
            e_max: channels.iter().map(|&j| s.e_max[j]).collect(),
            rate: channels.iter().map(|&j| s.rate[j]).collect(),
            error: channels.iter().map(|&j| s.total_error(j)).collect(),
            channels,
            forward,
        })
    }
}

impl Problem for FitData {
    fn n_data(&self) -> usize {
        self.rate.len()
    }

    fn eval(&self, theta: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> bool {
        let np = theta.len();
        let mut pred = vec![0.0; self.rate.len()];
        match jac {
            Some(j) => {
                self.forward.predict(theta, &mut pred, Some(&mut *j));
                for (row, e) in j.chunks_exact_mut(np).zip(&self.error) {
                    row.iter_mut().for_each(|v| *v /= e);
                }
                if !j.iter().all(|v| v.is_finite()) {
                    return false;
                }
            }
            None => self.forward.predict(theta, &mut pred, None),
        }
        for (((ri, d), p), e) in r.iter_mut().zip(&self.rate).zip(&pred).zip(&self.error) {
            *ri = (d - p) / e;
        }
        r.iter().all(|v| v.is_finite())
    }
}

/// The `n` best distinct shapes of the coarse grid, with K solved linearly for each over all
/// of `data` (K = Σ d·m/σ² / Σ m²/σ² for the unit-normalisation prediction m).
pub(super) fn grid_starts(
    kind: ModelKind,
    data: &[&FitData],
    band: (f64, f64),
    n: usize,
    frozen: &[(usize, f64)],
) -> Vec<Vec<f64>> {
    let mut pred: Vec<Vec<f64>> = data.iter().map(|d| vec![0.0; d.rate.len()]).collect();
    let mut scored: Vec<(f64, Vec<f64>)> = Vec::new();
    for mut shape in kind.start_grid(band) {
        for &(i, v) in frozen {
            shape[i] = v;
        }
        let (mut sdm, mut smm, mut sdd) = (0.0, 0.0, 0.0);
        for (data, pred) in data.iter().zip(&mut pred) {
            data.forward.predict(&shape, pred, None);
            for ((d, m), e) in data.rate.iter().zip(pred.iter()).zip(&data.error) {
                let w = 1.0 / (e * e);
                sdm += w * d * m;
                smm += w * m * m;
                sdd += w * d * d;
            }
        }
        if !(smm > 0.0 && smm.is_finite() && sdm > 0.0) {
            continue;
        }
        let k = sdm / smm;
        let chi2 = sdd - sdm * k;
        if !chi2.is_finite() {
            continue;
        }
        shape[0] = k.ln();
        scored.push((chi2, shape));
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(n);
    for (_, s) in scored {
        if out.len() == n {
            break;
        }
        // Skip neighbours of an already chosen start (same shape cell).
        let distinct = out
            .iter()
            .all(|o| o.iter().zip(&s).skip(1).any(|(a, b)| (a - b).abs() > 0.8));
        if distinct {
            out.push(s);
        }
    }
    if out.is_empty() {
        out.push(kind.to_internal(&ModelKind::values(&kind.default_start())));
    }
    out
}

/// A fit problem in the free parameters only: frozen ones are inserted at their values
/// before each evaluation and their Jacobian columns dropped.
pub(super) struct Free<'a, P> {
    data: &'a P,
    /// A full internal parameter vector holding the frozen values.
    template: Vec<f64>,
    /// Indices of the free parameters, in order.
    pub(super) free: Vec<usize>,
}

impl<'a, P: Problem> Free<'a, P> {
    pub(super) fn new(data: &'a P, np: usize, frozen: &[(usize, f64)]) -> Free<'a, P> {
        let mut template = vec![0.0; np];
        for &(i, v) in frozen {
            template[i] = v;
        }
        let free = (0..np)
            .filter(|i| frozen.iter().all(|(f, _)| f != i))
            .collect();
        Free {
            data,
            template,
            free,
        }
    }

    /// The free parameters of a full vector.
    pub(super) fn project(&self, full: &[f64]) -> Vec<f64> {
        self.free.iter().map(|&i| full[i]).collect()
    }

    /// The full vector for free parameters `theta`.
    pub(super) fn expand(&self, theta: &[f64]) -> Vec<f64> {
        let mut full = self.template.clone();
        for (&i, v) in self.free.iter().zip(theta) {
            full[i] = *v;
        }
        full
    }
}

impl<P: Problem> Problem for Free<'_, P> {
    fn n_data(&self) -> usize {
        self.data.n_data()
    }

    fn eval(&self, theta: &[f64], r: &mut [f64], jac: Option<&mut [f64]>) -> bool {
        let full = self.expand(theta);
        let Some(jac) = jac else {
            return self.data.eval(&full, r, None);
        };
        let np = full.len();
        if self.free.len() == np {
            return self.data.eval(&full, r, Some(jac));
        }
        let mut all = vec![0.0; r.len() * np];
        let ok = self.data.eval(&full, r, Some(&mut all));
        for (row, src) in jac
            .chunks_exact_mut(self.free.len())
            .zip(all.chunks_exact(np))
        {
            for (v, &i) in row.iter_mut().zip(&self.free) {
                *v = src[i];
            }
        }
        ok
    }
}
