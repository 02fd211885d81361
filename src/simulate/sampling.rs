//! Samplers of the event generators that cost one 64-bit random draw each.
//!
//! A Science Window has millions of events, and each needs a detector pixel, an energy and a
//! time. Drawing them with general-purpose distributions (an alias index drawing a uniform
//! integer and a uniform float, then another float within the chosen bin) took ~9 words of the
//! random stream and most of the generator's time. Here a draw takes one `u64`:
//!
//! - [`AliasTable`]: Walker's alias method with the column chosen by the high 32 bits
//!   (multiply-shift) and the column-or-alias decision by the low 32 bits against a 32-bit
//!   threshold, without a branch — for detector pixels, whose weights are arbitrary.
//! - [`PiecewiseUniform`]: a density that is uniform on each of a list of intervals (good-time
//!   slices, energy bins), sampled by its exact inverse distribution function with a guide
//!   table; the draw's remainder within the chosen interval places the value in it.
//! - [`QuantileTable`]: that inverse tabulated at equal steps in probability and interpolated
//!   (energies: one lookup, no search).
//!
//! Energies go through the distribution function rather than an alias table on purpose: a
//! draw's value then moves continuously when the density changes a little, so an instrument
//! perturbed from its calibration moves the nominal events instead of reshuffling them (an
//! alias table's pairing changes wholesale when one column crosses the mean).
//!
//! Each is checked against the probabilities computed from its tables (the slow oracle of the
//! tests): the alias table's to 2⁻³², the inverse's to 2⁻⁵³, the quantiles' to a fraction of
//! a step.

use rand::RngCore;

/// A uniform draw in [0, 1) from the 53 high bits of `u`.
pub(crate) fn unit_interval(u: u64) -> f64 {
    (u >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One uniform draw in [0, 1) from `rng`.
#[cfg(test)]
fn uniform(rng: &mut impl RngCore) -> f64 {
    unit_interval(rng.next_u64())
}

/// The sum of `weights` if there are some, fewer than 2³², each finite and non-negative, and
/// their sum is positive and finite.
fn weight_sum(weights: &[f64]) -> Option<f64> {
    if weights.is_empty() || weights.len() >= u32::MAX as usize {
        return None;
    }
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return None;
    }
    let total: f64 = weights.iter().sum();
    (total > 0.0 && total.is_finite()).then_some(total)
}

/// Walker's alias table over `n` columns: one `u64` per sample.
#[derive(Clone, Debug)]
pub(crate) struct AliasTable {
    /// Per column: keep the column when the draw's low 32 bits are below `threshold`, else take
    /// `alias`. A column that keeps all its probability is its own alias.
    cells: Vec<(u32, u32)>,
}

impl AliasTable {
    /// The table of non-negative finite `weights`, `None` if they are empty, sum to zero or
    /// are more than 2³² (Vose's construction: columns under the mean are topped up from
    /// columns over it).
    pub(crate) fn new(weights: &[f64]) -> Option<AliasTable> {
        let n = weights.len();
        let total = weight_sum(weights)?;
        // Each column's share in units of the mean: a column holds exactly 1.
        let mut share: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| share[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            share[l] -= 1.0 - share[s];
            if share[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left holds 1 up to rounding: it keeps its column.
        for i in small.into_iter().chain(large) {
            share[i] = 1.0;
            alias[i] = i as u32;
        }
        let cells = share
            .iter()
            .zip(alias)
            .enumerate()
            .map(|(i, (&s, a))| {
                let threshold = (s.clamp(0.0, 1.0) * 4_294_967_296.0).round();
                if threshold >= 4_294_967_296.0 {
                    // Always this column: make the alias the column itself.
                    (u32::MAX, i as u32)
                } else {
                    (threshold as u32, a)
                }
            })
            .collect();
        Some(AliasTable { cells })
    }

    /// The column drawn by `u`.
    #[inline]
    pub(crate) fn pick(&self, u: u64) -> usize {
        let i = (((u >> 32) * self.cells.len() as u64) >> 32) as usize;
        let (threshold, alias) = self.cells[i];
        // Without a branch: the choice is often a coin toss, and a mispredicted branch would
        // discard the work on the next events under way beside this one.
        let keep = u32::from((u as u32) < threshold).wrapping_neg();
        (alias ^ ((i as u32 ^ alias) & keep)) as usize
    }

    /// A column drawn from `rng`.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut impl RngCore) -> usize {
        self.pick(rng.next_u64())
    }

    /// The probability of each column as the table gives it (the oracle of the tests).
    #[cfg(test)]
    fn probabilities(&self) -> Vec<f64> {
        let n = self.cells.len();
        let mut p = vec![0.0; n];
        for (i, &(threshold, alias)) in self.cells.iter().enumerate() {
            let keep = if alias as usize == i {
                1.0
            } else {
                f64::from(threshold) / 4_294_967_296.0
            };
            p[i] += keep / n as f64;
            p[alias as usize] += (1.0 - keep) / n as f64;
        }
        p
    }
}

/// A density uniform on each of a list of intervals with given weights, sampled through its
/// distribution function: one `u64` per sample.
#[derive(Clone, Debug)]
pub(crate) struct PiecewiseUniform {
    /// One node per interval, then a sentinel whose `cdf` is above every draw.
    nodes: Vec<Node>,
    /// For each of `guide.len()` equal steps in probability, the interval holding its start.
    guide: Vec<u32>,
}

/// An interval of a [`PiecewiseUniform`], with what a draw needs of it side by side in memory.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The distribution function at the interval's start.
    cdf: f64,
    start: f64,
    width: f64,
    /// Width over probability: how far a draw moves per unit of probability beyond `cdf`.
    scale: f64,
}

impl PiecewiseUniform {
    /// The density with weight `weights[i]` spread evenly over `intervals[i]` (start, width);
    /// `None` if the weights are not finite and non-negative, sum to zero, or their number
    /// differs from the intervals'.
    pub(crate) fn new(intervals: Vec<(f64, f64)>, weights: &[f64]) -> Option<PiecewiseUniform> {
        let n = intervals.len();
        if weights.len() != n {
            return None;
        }
        let total = weight_sum(weights)?;
        let mut nodes = Vec::with_capacity(n + 1);
        let mut sum = 0.0;
        for (&(start, width), w) in intervals.iter().zip(weights) {
            let p = w / total;
            nodes.push(Node {
                cdf: sum / total,
                start,
                width,
                scale: if p > 0.0 { width / p } else { 0.0 },
            });
            sum += w;
        }
        nodes.push(Node {
            cdf: f64::INFINITY,
            start: 0.0,
            width: 0.0,
            scale: 0.0,
        });
        // A few guide entries per interval: the walk from the guided start is rarely a step.
        let m = (4 * n).next_power_of_two();
        let mut guide = Vec::with_capacity(m);
        let mut i = 0;
        for k in 0..m {
            let p = k as f64 / m as f64;
            while nodes[i + 1].cdf <= p {
                i += 1;
            }
            guide.push(i as u32);
        }
        Some(PiecewiseUniform { nodes, guide })
    }

    /// The value at probability `u` in [0, 1): the interval whose share of the distribution
    /// holds `u`, and the point of it as far along as `u` is through that share.
    #[inline]
    pub(crate) fn at(&self, u: f64) -> f64 {
        let g = ((u * self.guide.len() as f64) as usize).min(self.guide.len() - 1);
        let mut i = self.guide[g] as usize;
        // The sentinel's distribution function is above every draw: the walk stops there.
        while self.nodes[i + 1].cdf <= u {
            i += 1;
        }
        let node = self.nodes[i];
        node.start + ((u - node.cdf) * node.scale).min(node.width)
    }
}

/// The inverse distribution function of a [`PiecewiseUniform`] tabulated at `2^bits` equal steps in
/// probability and interpolated linearly between them: one `u64` per sample (its high bits pick the
/// step, the rest the place in it), one table of `2^bits + 1` values and no search. Exact within the
/// steps that fall inside one interval of the density (all of them where the intervals are
/// probable); a step spanning several improbable intervals (a spectrum's far tail) spreads its
/// share evenly over them. Monotone and continuous in the weights: a slightly different density
/// moves each draw's value slightly.
#[derive(Clone, Debug)]
pub(crate) struct QuantileTable {
    values: Vec<f64>,
    bits: u32,
}

impl QuantileTable {
    /// The quantiles of `density` at `2^bits` steps (`bits` from 1 to 24).
    pub(crate) fn new(density: &PiecewiseUniform, bits: u32) -> QuantileTable {
        let bits = bits.clamp(1, 24);
        let m = 1usize << bits;
        let mut values: Vec<f64> = (0..m).map(|k| density.at(k as f64 / m as f64)).collect();
        values.push(density.at(1.0 - f64::EPSILON / 2.0));
        QuantileTable { values, bits }
    }

    /// The value drawn by `u`.
    #[inline(always)]
    pub(crate) fn pick(&self, u: u64) -> f64 {
        let k = (u >> (64 - self.bits)) as usize;
        let along = unit_interval(u << self.bits);
        let (a, b) = (self.values[k], self.values[k + 1]);
        a + (b - a) * along
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_alias_table_gives_each_column_its_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in [1usize, 2, 3, 7, 1000, 17_420] {
            let weights: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 5 == 3 {
                        0.0
                    } else {
                        uniform(&mut rng) * (1 + i % 7) as f64
                    }
                })
                .collect();
            if weights.iter().sum::<f64>() == 0.0 {
                continue;
            }
            let table = AliasTable::new(&weights).expect("valid weights");
            let total: f64 = weights.iter().sum();
            for (p, w) in table.probabilities().iter().zip(&weights) {
                assert!(
                    (p - w / total).abs() < 1e-9,
                    "n {n}: {p} against {}",
                    w / total
                );
            }
        }
    }

    #[test]
    fn alias_samples_follow_the_weights() {
        let weights = [1.0, 0.0, 3.0, 6.0];
        let table = AliasTable::new(&weights).expect("valid weights");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut counts = [0u32; 4];
        let n = 200_000;
        for _ in 0..n {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for (c, w) in counts.iter().zip(weights) {
            let expected = f64::from(n) * w / 10.0;
            assert!(
                (f64::from(*c) - expected).abs() < 5.0 * expected.sqrt().max(1.0),
                "{counts:?}"
            );
        }
    }

    /// `n` log-spaced bins (start, width) from 15 to 1000 keV, as the generator's spectra have.
    fn log_bins(n: usize) -> Vec<(f64, f64)> {
        let edges = crate::simulate::events::log_edges(15.0, 1000.0, n);
        edges.windows(2).map(|w| (w[0], w[1] - w[0])).collect()
    }

    #[test]
    fn quantile_tables_follow_the_distribution_function() {
        // A power law on log-spaced bins from 15 to 1000 keV: probable bins at low energies
        // (steps inside one bin: exact), a far tail of improbable ones (steps spanning several).
        let bins = log_bins(3000);
        let weights: Vec<f64> = bins
            .iter()
            .map(|&(a, w)| w * (a + 0.5 * w).powf(-2.1))
            .collect();
        let density = PiecewiseUniform::new(bins.clone(), &weights).expect("valid");
        let table = QuantileTable::new(&density, 12);
        let mut worst: f64 = 0.0;
        for k in 0..4096u64 {
            for f in [0.0, 0.3, 0.77] {
                let u = (k << 52) | (((f * (1u64 << 52) as f64) as u64) & ((1 << 52) - 1));
                let x = table.pick(u);
                let p = unit_interval(u);
                worst = worst.max((oracle_cdf(&bins, &weights, x) - p).abs());
            }
        }
        // Off the distribution function by at most a fraction of one step (1/4096) in the tail.
        assert!(worst < 0.2 / 4096.0, "worst {worst}");
        // Draws in order give values in order (the table is monotone).
        assert!(table.values.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn invalid_weights_make_no_table() {
        assert!(AliasTable::new(&[]).is_none());
        assert!(AliasTable::new(&[0.0, 0.0]).is_none());
        assert!(AliasTable::new(&[1.0, f64::NAN]).is_none());
        assert!(AliasTable::new(&[1.0, -1.0]).is_none());
        assert!(PiecewiseUniform::new(vec![(0.0, 1.0)], &[0.0]).is_none());
        assert!(PiecewiseUniform::new(vec![(0.0, 1.0)], &[1.0, 1.0]).is_none());
    }

    /// The distribution function of the tabulated density at `x`, summed interval by interval.
    fn oracle_cdf(intervals: &[(f64, f64)], weights: &[f64], x: f64) -> f64 {
        let total: f64 = weights.iter().sum();
        intervals
            .iter()
            .zip(weights)
            .map(|(&(s, w), &p)| p * ((x - s) / w).clamp(0.0, 1.0))
            .sum::<f64>()
            / total
    }

    #[test]
    fn the_piecewise_sampler_inverts_the_distribution_function() {
        // Log-spaced contiguous bins with a power law and a line, and separate slices with gaps.
        let bins = log_bins(300);
        let spectrum: Vec<f64> = bins
            .iter()
            .map(|&(a, w)| {
                let e = a + 0.5 * w;
                w * (e.powf(-2.0) + 1e-3 * (-0.5 * ((e - 511.0) / 4.0).powi(2)).exp())
            })
            .collect();
        let slices = vec![
            (0.0, 10.0),
            (15.0, 10.0),
            (40.0, 3.0),
            (50.0, 0.0),
            (60.0, 7.0),
        ];
        let levels = vec![1.0, 0.0, 2.0, 0.0, 0.5];
        for (intervals, weights) in [(bins, spectrum), (slices, levels)] {
            let s = PiecewiseUniform::new(intervals.clone(), &weights).expect("valid");
            for k in 0..=1000 {
                let u = k as f64 / 1000.0 * (1.0 - 1e-12);
                let x = s.at(u);
                assert!(
                    (oracle_cdf(&intervals, &weights, x) - u).abs() < 1e-9,
                    "u {u}: x {x}"
                );
                // Never in a gap or an interval of no weight.
                let inside = intervals
                    .iter()
                    .zip(&weights)
                    .any(|(&(a, w), &p)| p > 0.0 && x >= a && x <= a + w);
                assert!(inside, "u {u}: {x} is outside every weighted interval");
            }
        }
    }
}
