//! The SPI-ACS count rate for the whole mission, simulated on demand in 50 ms bins.
//!
//! Counts in bin i are Poisson with mean `B(t)·Δt·(1 + xᵢ) + spikes + bursts`:
//! - `B(t)` is [`spiacs::background_rate`] (solar cycle, radiation belts);
//! - `xᵢ` is a slow multiplicative fluctuation (a first-order autoregressive series, correlation
//!   0.748 between neighbouring bins, 0.65 % rms), which makes the noise super-Poissonian as
//!   the real shield's is: the rms of the rate is ≈ 1.17 × the Poisson error in 0.1 s bins and
//!   ≈ 1.57 × in bins of a second or more at B = 1e5 cts/s (the cited ratios);
//! - cosmic-ray spikes: heavy nuclei depositing a burst of counts that decays within ~0.25 s
//!   (the cited template), on average one a minute (*assumed*), peak heights from 500 to 20 000
//!   counts per 50 ms bin with a power-law distribution (*assumed*);
//! - gamma-ray bursts from [`AcsBurst::default_list`] (the simulated sky's bursts).
//!
//! The rate is made in chunks of 100 s on a grid of 50 ms bins fixed to the mission's time
//! origin, each chunk from its own random stream: any span gives the same counts however it is
//! requested, and the same seed gives the same mission.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use crate::error::{Error, Result};
use crate::instrument::spiacs::{self, BIN_S};
use crate::time::Time;

/// Version of the shield's model: changes whenever the same seed would give other counts.
pub const MODEL_VERSION: &str = "1";
/// Bins per chunk (100 s).
const CHUNK_BINS: i64 = 2000;
/// Correlation of the multiplicative fluctuation between neighbouring 50 ms bins.
const NOISE_PHI: f64 = 0.748;
/// Its rms.
const NOISE_RMS: f64 = 0.0065;
/// Mean number of cosmic-ray spikes per second (*assumed*: one a minute).
const SPIKES_PER_S: f64 = 1.0 / 60.0;
/// Range of spike peak heights, counts per 50 ms bin (*assumed*).
const SPIKE_PEAK: (f64, f64) = (500.0, 20_000.0);
/// Bins a spike's tail is followed for (the template is negligible after 1 s).
const SPIKE_BINS: i64 = 20;
/// Salt separating the shield's random streams from the event simulation's.
const SALT: u64 = 0x5b1a_c5e0_0000_0001;

/// One pulse of a burst's light curve: rising as exp((t − peak)/rise) before its peak and
/// decaying as exp(−(t − peak)/decay) after, holding `fraction` of the burst's counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Pulse {
    /// Peak time after the burst's reference time, s.
    pub peak_s: f64,
    /// Rise time, s.
    pub rise_s: f64,
    /// Decay time, s.
    pub decay_s: f64,
    /// Share of the burst's counts.
    pub fraction: f64,
}

/// A gamma-ray burst of the simulated sky as the shield sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct AcsBurst {
    /// Name.
    pub name: String,
    /// Reference time (the trigger time of the burst it imitates).
    pub t0: Time,
    /// Fluence, erg/cm² (75 keV–1 MeV).
    pub fluence_erg_cm2: f64,
    /// Angle between the burst's direction and INTEGRAL's pointing axis, degrees.
    pub angle_deg: f64,
    /// The light curve's pulses (fractions summing to 1).
    pub pulses: Vec<Pulse>,
}

impl AcsBurst {
    /// Expected excess counts of the burst.
    pub fn expected_counts(&self) -> f64 {
        self.fluence_erg_cm2 * spiacs::counts_per_fluence(self.angle_deg)
    }

    /// Expected excess counts between `a` and `b` seconds after `t0`.
    pub fn expected_counts_between(&self, a: f64, b: f64) -> f64 {
        let total = self.expected_counts();
        self.pulses
            .iter()
            .map(|p| total * p.fraction * pulse_integral(p, a, b))
            .sum()
    }

    /// The simulated sky's bursts: a GRB 230307A-like bright long burst at its date (peak
    /// 1.74e6 cts/s in 0.1 s bins over a 9.1e4 cts/s background, ~1.5e7 excess counts, as the
    /// shield recorded it), a GRB 170817A-like faint short burst at 2017-08-17T12:41:06.47 UTC
    /// (fluence 1.4e-7 erg/cm², seen at S/N ≈ 4.6), and three short bursts (*assumed* dates
    /// and fluences).
    pub fn default_list() -> Vec<AcsBurst> {
        let t = |s: &str| Time::from_isot(s).unwrap_or_else(|_| unreachable!("constant date {s}"));
        let short = |name: &str, date: &str, fluence: f64, angle: f64| AcsBurst {
            name: name.into(),
            t0: t(date),
            fluence_erg_cm2: fluence,
            angle_deg: angle,
            pulses: vec![Pulse {
                peak_s: 0.1,
                rise_s: 0.03,
                decay_s: 0.12,
                fraction: 1.0,
            }],
        };
        vec![
            short("SIM-SGRB 060601", "2006-06-01T03:12:40", 2.0e-6, 70.0),
            short("SIM-SGRB 120910", "2012-09-10T20:05:30", 8.0e-7, 110.0),
            AcsBurst {
                name: "GRB 170817A".into(),
                t0: t("2017-08-17T12:41:06.47"),
                fluence_erg_cm2: 1.4e-7,
                angle_deg: 100.0,
                pulses: vec![Pulse {
                    peak_s: 0.3,
                    rise_s: 0.04,
                    decay_s: 0.16,
                    fraction: 1.0,
                }],
            },
            short("SIM-SGRB 200214", "2020-02-14T11:11:11", 3.0e-6, 45.0),
            AcsBurst {
                name: "GRB 230307A".into(),
                t0: t("2023-03-07T15:44:06"),
                // 1.5e7 counts perpendicular to the axis.
                fluence_erg_cm2: 1.5e-3,
                angle_deg: 90.0,
                pulses: vec![
                    Pulse {
                        peak_s: 3.0,
                        rise_s: 1.0,
                        decay_s: 4.0,
                        fraction: 0.56,
                    },
                    Pulse {
                        peak_s: 12.0,
                        rise_s: 1.0,
                        decay_s: 7.0,
                        fraction: 0.24,
                    },
                    Pulse {
                        peak_s: 25.0,
                        rise_s: 2.0,
                        decay_s: 10.0,
                        fraction: 0.20,
                    },
                ],
            },
        ]
    }
}

/// Fraction of a normalised two-sided exponential pulse between `a` and `b` s after t0.
fn pulse_integral(p: &Pulse, a: f64, b: f64) -> f64 {
    // Cumulative distribution of the pulse.
    let cdf = |t: f64| {
        let w = p.rise_s + p.decay_s;
        if t <= p.peak_s {
            p.rise_s / w * ((t - p.peak_s) / p.rise_s).exp()
        } else {
            (p.rise_s + p.decay_s * (1.0 - (-(t - p.peak_s) / p.decay_s).exp())) / w
        }
    };
    (cdf(b) - cdf(a)).max(0.0)
}

/// The cosmic-ray spike template (x = 20 t, t in s from its onset), normalised to peak 1.
fn spike_shape(t: f64) -> f64 {
    let x = 20.0 * t;
    let f = |x: f64| {
        0.3429 / ((x / 0.253).exp() + (-x / 0.1).exp())
            + 0.003 / ((x / 15.0).exp() + (-x / 0.1).exp())
            + 0.003 / ((x / 2.0).exp() + (-x / 0.1).exp())
    };
    // The template's maximum, at x = 0.068.
    const PEAK: f64 = 0.192_86;
    f(x) / PEAK
}

/// The shield's rate for the whole mission, made on demand.
#[derive(Clone, Debug)]
pub struct AcsSimulation {
    seed: u64,
    bursts: Vec<AcsBurst>,
}

impl AcsSimulation {
    /// The shield with the simulated sky's bursts ([`AcsBurst::default_list`]) and `seed`.
    pub fn new(seed: u64) -> AcsSimulation {
        AcsSimulation {
            seed,
            bursts: AcsBurst::default_list(),
        }
    }

    /// The same shield with `bursts` instead.
    pub fn with_bursts(mut self, bursts: Vec<AcsBurst>) -> AcsSimulation {
        self.bursts = bursts;
        self
    }

    /// The bursts.
    pub fn bursts(&self) -> &[AcsBurst] {
        &self.bursts
    }

    /// Index of the 50 ms bin holding `t` on the mission's grid.
    pub fn bin_index(t: Time) -> i64 {
        spiacs::bin_index(t)
    }

    /// Start of bin `k`.
    pub fn bin_start(k: i64) -> Time {
        spiacs::bin_start(k)
    }

    /// Counts in `n` consecutive 50 ms bins from bin `first`.
    ///
    /// # Errors
    /// More than 10 days of bins at once (`n`).
    pub fn counts(&self, first: i64, n: usize) -> Result<Vec<u32>> {
        const MAX_BINS: usize = 10 * 86_400 * 20;
        if n > MAX_BINS {
            return Err(Error::invalid(
                "SPI-ACS bins",
                n,
                format!("at most {MAX_BINS} bins (10 days of 50 ms) per call"),
            ));
        }
        let mut out = Vec::with_capacity(n);
        let last = first + n as i64;
        let mut chunk = first.div_euclid(CHUNK_BINS);
        while chunk * CHUNK_BINS < last {
            let counts = self.chunk(chunk);
            let start = chunk * CHUNK_BINS;
            for (k, c) in counts.into_iter().enumerate() {
                let bin = start + k as i64;
                if bin >= first && bin < last {
                    out.push(c);
                }
            }
            chunk += 1;
        }
        Ok(out)
    }

    /// Expected counts (without noise, spikes or bursts) in bin `k`.
    pub fn expected_background(k: i64) -> f64 {
        spiacs::background_rate(Self::bin_start(k).add_seconds(BIN_S / 2.0)) * BIN_S
    }

    /// The random stream `purpose` of chunk `c`.
    fn stream(&self, c: i64, purpose: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ SALT);
        rng.set_stream((c as u64).wrapping_mul(4).wrapping_add(purpose));
        rng
    }

    /// Spikes starting in chunk `c`: (onset in s from the chunk start, peak counts per bin).
    fn spikes(&self, c: i64) -> Vec<(f64, f64)> {
        let mut rng = self.stream(c, 1);
        let length = CHUNK_BINS as f64 * BIN_S;
        let mut out = Vec::new();
        let mut t = 0.0;
        let (lo, hi) = SPIKE_PEAK;
        loop {
            let u: f64 = rng.random();
            t += -(1.0 - u).ln() / SPIKES_PER_S;
            if t >= length {
                break;
            }
            // Peak heights ∝ h⁻² between lo and hi (inverse transform).
            let v: f64 = rng.random();
            let h = 1.0 / (1.0 / lo - v * (1.0 / lo - 1.0 / hi));
            out.push((t, h));
        }
        out
    }

    /// The counts of chunk `c`.
    fn chunk(&self, c: i64) -> Vec<u32> {
        let start = c * CHUNK_BINS;
        let n = CHUNK_BINS as usize;
        let mut mean: Vec<f64> = (0..CHUNK_BINS)
            .map(|k| Self::expected_background(start + k))
            .collect();
        // The multiplicative fluctuation, started from its stationary distribution.
        let mut rng = self.stream(c, 0);
        let innovation = NOISE_RMS * (1.0 - NOISE_PHI * NOISE_PHI).sqrt();
        let z0: f64 = StandardNormal.sample(&mut rng);
        let mut x = NOISE_RMS * z0;
        for m in &mut mean {
            *m *= 1.0 + x;
            let z: f64 = StandardNormal.sample(&mut rng);
            x = NOISE_PHI * x + innovation * z;
        }
        // Spikes of this chunk and the tails of the previous one's.
        let length = CHUNK_BINS as f64 * BIN_S;
        for (offset, spikes) in [(-length, self.spikes(c - 1)), (0.0, self.spikes(c))] {
            for (onset, peak) in spikes {
                let onset = onset + offset;
                let first = (onset / BIN_S).floor() as i64;
                for k in first.max(0)..(first + SPIKE_BINS).min(CHUNK_BINS) {
                    // Mean of the template over the bin, by the midpoint of two halves.
                    let t = k as f64 * BIN_S - onset;
                    let v = 0.5
                        * (spike_shape((t + BIN_S / 4.0).max(0.0))
                            + spike_shape((t + 3.0 * BIN_S / 4.0).max(0.0)));
                    mean[k as usize] += peak * v;
                }
            }
        }
        // Bursts overlapping the chunk.
        let (t_start, t_end) = (Self::bin_start(start), Self::bin_start(start + CHUNK_BINS));
        for b in &self.bursts {
            let (from, to) = (t_start.seconds_since(b.t0), t_end.seconds_since(b.t0));
            if to < -60.0 || from > 600.0 {
                continue;
            }
            for (k, m) in mean.iter_mut().enumerate() {
                let a = from + k as f64 * BIN_S;
                *m += b.expected_counts_between(a, a + BIN_S);
            }
        }
        let mut counts = Vec::with_capacity(n);
        let mut rng = self.stream(c, 2);
        for m in mean {
            let m = m.max(0.0);
            let c = if m > 0.0 {
                Poisson::new(m).map_or(0.0, |p| p.sample(&mut rng))
            } else {
                0.0
            };
            counts.push(c as u32);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::revolution_start;

    /// Robust rms (1.4826 × median absolute deviation): cosmic-ray spikes are rare, large
    /// outliers that a plain rms would count as noise.
    fn robust_rms(x: &mut [f64]) -> f64 {
        let med = |v: &mut [f64]| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let m = med(x);
        let mut dev: Vec<f64> = x.iter().map(|v| (v - m).abs()).collect();
        1.4826 * med(&mut dev)
    }

    /// The middle of the revolution in progress at `date`, far from the belts.
    fn mid_orbit(date: &str) -> Time {
        let t = Time::from_isot(date).unwrap();
        revolution_start(crate::time::revolution_at(t)).add_seconds(1.5 * 86_400.0)
    }

    #[test]
    fn the_background_follows_the_solar_cycle_and_the_belts() {
        let sim = AcsSimulation::new(1);
        for (date, level) in [("2008-11-20", 1.16e5), ("2023-03-07", 9.1e4)] {
            let t = mid_orbit(date);
            let first = AcsSimulation::bin_index(t);
            let counts = sim.counts(first, 4000).unwrap();
            let rate = counts.iter().map(|c| f64::from(*c)).sum::<f64>() / (4000.0 * BIN_S);
            assert!((rate / level - 1.0).abs() < 0.02, "{date}: {rate}");
        }
        // Near perigee the rate climbs.
        let t = Time::from_isot("2010-05-01").unwrap();
        let start = revolution_start(crate::time::revolution_at(t));
        let near = spiacs::background_rate(start.add_seconds(600.0));
        let far = spiacs::background_rate(start.add_seconds(1.5 * 86_400.0));
        assert!(near > 1.5 * far, "{near} vs {far}");
    }

    #[test]
    fn the_noise_is_super_poissonian_as_the_shields() {
        let sim = AcsSimulation::new(2).with_bursts(Vec::new());
        let first = AcsSimulation::bin_index(mid_orbit("2012-04-01"));
        let n = 40_000; // 2000 s
        let counts = sim.counts(first, n).unwrap();
        let expected: Vec<f64> = (0..n as i64)
            .map(|k| AcsSimulation::expected_background(first + k))
            .collect();
        let mut ratios = Vec::new();
        for bins in [2usize, 20, 100] {
            let mut z: Vec<f64> = counts
                .chunks_exact(bins)
                .zip(expected.chunks_exact(bins))
                .map(|(c, e)| {
                    let (c, e): (f64, f64) =
                        (c.iter().map(|v| f64::from(*v)).sum(), e.iter().sum());
                    (c - e) / e.sqrt()
                })
                .collect();
            ratios.push(robust_rms(&mut z));
        }
        println!("noise / Poisson at 0.1, 1, 5 s: {ratios:?}");
        assert!((1.08..1.3).contains(&ratios[0]), "{ratios:?}");
        assert!((1.4..1.75).contains(&ratios[1]), "{ratios:?}");
        assert!((1.35..1.8).contains(&ratios[2]), "{ratios:?}");
    }

    #[test]
    fn counts_do_not_depend_on_how_they_are_asked_for() {
        let sim = AcsSimulation::new(3);
        let first = AcsSimulation::bin_index(mid_orbit("2015-01-01")) - 1234;
        let all = sim.counts(first, 5000).unwrap();
        let mut parts = sim.counts(first, 1777).unwrap();
        parts.extend(sim.counts(first + 1777, 5000 - 1777).unwrap());
        assert_eq!(all, parts);
        assert_eq!(all, AcsSimulation::new(3).counts(first, 5000).unwrap());
        assert_ne!(all, AcsSimulation::new(4).counts(first, 5000).unwrap());
        assert!(sim.counts(first, 20_000_000).is_err());
    }

    #[test]
    fn the_bright_burst_has_its_peak_and_fluence() {
        let sim = AcsSimulation::new(5);
        let burst = sim
            .bursts()
            .iter()
            .find(|b| b.name == "GRB 230307A")
            .unwrap()
            .clone();
        let first = AcsSimulation::bin_index(burst.t0.add_seconds(-50.0));
        let n = 250 * 20;
        let counts = sim.counts(first, n).unwrap();
        let peak = counts
            .chunks_exact(2)
            .map(|c| f64::from(c[0] + c[1]) / 0.1)
            .fold(0.0, f64::max);
        assert!((peak / 1.74e6 - 1.0).abs() < 0.05, "peak {peak}");
        let excess: f64 = counts
            .iter()
            .enumerate()
            .map(|(k, c)| f64::from(*c) - AcsSimulation::expected_background(first + k as i64))
            .sum();
        // Over 250 s the background's noise is ~3e3 counts and spikes add ~1e4.
        assert!((excess / 1.5e7 - 1.0).abs() < 0.01, "excess {excess}");
        assert!((burst.expected_counts() - 1.5e7).abs() < 1.0);
    }

    #[test]
    fn pulses_hold_their_fractions() {
        for b in AcsBurst::default_list() {
            let total: f64 = b.pulses.iter().map(|p| p.fraction).sum();
            assert!((total - 1.0).abs() < 1e-12, "{}", b.name);
            let all = b.expected_counts_between(-100.0, 1000.0);
            assert!((all / b.expected_counts() - 1.0).abs() < 1e-9, "{}", b.name);
        }
    }
}
