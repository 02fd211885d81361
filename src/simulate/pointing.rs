//! The simulated observing plan, 2003–2019: revolutions, campaigns, dithering, Science Windows.
//!
//! Every revolution of three days spends its first and last hours in the radiation belts; in
//! between, the spacecraft carries out one to three observations. An observation points at a
//! campaign target with a 5 × 5 square dither pattern (2.17° steps) or a 7-point hexagonal
//! pattern (2°), one Science Window of 1.8–3.6 ks per dither position, with short slews between.
//! Targets must respect the Sun constraint (the solar aspect angle within 40° of 90°), which gives
//! each field its seasonal visibility windows; fixed targets of opportunity reproduce the June 2015
//! campaigns on 3C 279 and V404 Cyg. The Z axis is rolled towards the Sun, as the solar panels need.
//!
//! Everything here is drawn from the plan's own fixed seed: the pointings, GTIs and dead time of
//! a Science Window are the same in every simulation seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::archive::{EnergyScale, Gti, ScienceWindow, ScwHeader, ScwId};
use crate::sky::{Attitude, SkyCoord, cross, dot, normalize};
use crate::time::{SECONDS_PER_DAY, Time, revolution_start};

/// Seed of the observing plan.
const PLAN_SEED: u64 = 0x0B5E_2F1A_7000_2002;
/// First and last simulated revolutions: December 2002 to the end of 2019.
pub const FIRST_REVOLUTION: u32 = 25;
/// Last simulated revolution.
pub const LAST_REVOLUTION: u32 = 2094;
/// Observing window within a revolution, days from its start (outside: radiation belts).
const OBSERVING_WINDOW: (f64, f64) = (0.13, 2.85);
/// Dither steps, degrees.
const RECT_STEP_DEG: f64 = 2.17;
const HEX_STEP_DEG: f64 = 2.0;
/// Allowed solar aspect: |angle(pointing, Sun) − 90°| ≤ 40°.
const SUN_ASPECT_LIMIT_DEG: f64 = 40.0;

/// A dither pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dither {
    /// 5 × 5 square, 2.17° steps.
    Rectangular,
    /// Centre and 6 points on a 2° hexagon.
    Hexagonal,
    /// Staring at the target.
    Staring,
}

impl Dither {
    /// Offsets (east, north) in degrees of each position of the pattern.
    fn offsets(self) -> Vec<(f64, f64)> {
        match self {
            Dither::Rectangular => (0..25)
                .map(|k| {
                    (
                        ((k % 5) as f64 - 2.0) * RECT_STEP_DEG,
                        ((k / 5) as f64 - 2.0) * RECT_STEP_DEG,
                    )
                })
                .collect(),
            Dither::Hexagonal => std::iter::once((0.0, 0.0))
                .chain((0..6).map(|k| {
                    let a = (k as f64 * 60.0).to_radians();
                    (HEX_STEP_DEG * a.cos(), HEX_STEP_DEG * a.sin())
                }))
                .collect(),
            Dither::Staring => vec![(0.0, 0.0)],
        }
    }
}

/// A campaign target.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: &'static str,
    ra: f64,
    dec: f64,
    weight: f64,
    dither: Dither,
}

/// The key programme fields; the rest of the time goes to catalog sources.
const FIELDS: [(&str, f64, f64, f64, Dither); 9] = [
    ("Crab", 83.633, 22.014, 5.0, Dither::Rectangular),
    (
        "Galactic Centre",
        266.417,
        -29.008,
        9.0,
        Dither::Rectangular,
    ),
    (
        "Galactic bulge (GX 17+2)",
        274.006,
        -14.036,
        4.0,
        Dither::Rectangular,
    ),
    ("Cygnus region", 304.0, 37.5, 6.0, Dither::Rectangular),
    ("3C 279", 194.047, -5.789, 0.7, Dither::Rectangular),
    ("3C 273", 187.278, 2.052, 0.6, Dither::Rectangular),
    ("NGC 2110", 89.0, -4.5, 0.9, Dither::Rectangular),
    ("Vela region", 135.529, -40.555, 2.0, Dither::Rectangular),
    ("Norma arm", 248.5, -47.4, 2.0, Dither::Rectangular),
];
/// Weight of each other catalog source as a target.
const CATALOG_TARGET_WEIGHT: f64 = 0.12;

/// Targets of opportunity: (target, start ISOT, stop ISOT, dither).
const TOOS: [(&str, f64, f64, &str, &str, Dither); 2] = [
    (
        "3C 279",
        194.047,
        -5.789,
        "2015-06-14T06:00:00",
        "2015-06-17T22:00:00",
        Dither::Hexagonal,
    ),
    (
        "V404 Cyg",
        306.016,
        33.867,
        "2015-06-18T00:30:00",
        "2015-06-28T00:00:00",
        Dither::Hexagonal,
    ),
];

/// Everything the plan fixes about one Science Window.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedScw {
    /// The index row (identifier, attitude, times).
    pub scw: ScienceWindow,
    /// Good time intervals, IJD.
    pub gti: Vec<(f64, f64)>,
    /// Dead-time correction factor.
    pub deadc: f64,
    /// Relative background level of this ScW (orbital phase, particle environment).
    pub background_scale: f64,
    /// Noisy pixels: (dety, detz, rate cts/s).
    pub noisy_pixels: Vec<(u8, u8, f64)>,
}

impl PlannedScw {
    /// A made-up pointing: `attitude` from `start` for `duration_s` seconds, one GTI, nominal
    /// dead time and background, no noisy pixels. For tests and what-if simulations.
    pub fn staring(swid: ScwId, attitude: Attitude, start: Time, duration_s: f64) -> PlannedScw {
        let tstop = start.ijd() + duration_s / 86_400.0;
        PlannedScw {
            scw: ScienceWindow {
                swid,
                attitude,
                tstart: start.ijd(),
                tstop,
                telapse: duration_s,
            },
            gti: vec![(start.ijd(), tstop)],
            deadc: crate::instrument::isgri::NOMINAL_DEADC,
            background_scale: 1.0,
            noisy_pixels: Vec::new(),
        }
    }

    /// Good time, seconds (the events' ONTIME).
    pub fn ontime(&self) -> f64 {
        self.gti
            .iter()
            .map(|(a, b)| (b - a) * SECONDS_PER_DAY)
            .sum::<f64>()
    }

    /// Live exposure: good time × DEADC, seconds.
    pub fn exposure(&self) -> f64 {
        self.ontime() * self.deadc
    }

    /// The good time intervals as an event file holds them.
    pub fn gti_table(&self) -> Gti {
        Gti {
            start: self.gti.iter().map(|g| g.0).collect(),
            stop: self.gti.iter().map(|g| g.1).collect(),
        }
    }

    /// The event header of this pointing with live fraction `deadc` and energies on
    /// `energy_scale` (ISGRI's and JEM-X's event lists share it).
    pub fn header(&self, deadc: f64, energy_scale: EnergyScale) -> ScwHeader {
        ScwHeader {
            swid: self.scw.swid,
            tstart: self.scw.tstart,
            tstop: self.scw.tstop,
            ontime: self.ontime(),
            deadc,
            attitude: self.scw.attitude,
            energy_scale,
        }
    }
}

/// Approximate apparent Sun direction at `t` (Astronomical Almanac low-precision formulae, ~0.01°).
pub fn sun_position(t: Time) -> SkyCoord {
    let n = t.mjd_tt() - 51_544.5;
    let l = (280.460 + 0.985_647_4 * n).to_radians();
    let g = (357.528 + 0.985_600_3 * n).to_radians();
    let lambda = l + (1.915f64.to_radians()) * g.sin() + (0.020f64.to_radians()) * (2.0 * g).sin();
    let eps = (23.439 - 0.000_000_4 * n).to_radians();
    let v = [
        lambda.cos(),
        eps.cos() * lambda.sin(),
        eps.sin() * lambda.sin(),
    ];
    SkyCoord::from_vector(v)
}

/// True when `target` may be observed at `t` under the Sun constraint.
pub fn sun_allows(target: &SkyCoord, t: Time) -> bool {
    (target.separation(&sun_position(t)) - 90.0).abs() <= SUN_ASPECT_LIMIT_DEG
}

/// Margin kept when choosing a field at mid-revolution, degrees: the dither pattern reaches
/// 6.1° from the centre and the Sun moves 1.5° in half a revolution.
const FIELD_SUN_MARGIN_DEG: f64 = 8.0;

/// Attitude for pointing `x` at `t`: Z axis towards the Sun's projection (solar panels).
fn attitude_at(x: SkyCoord, t: Time) -> Attitude {
    let xv = x.to_unit_vector();
    let s = sun_position(t).to_unit_vector();
    let z = cross(cross(xv, s), xv);
    if dot(z, z) < 1e-12 {
        Attitude::with_roll(x, 0.0)
    } else {
        Attitude::new(x, SkyCoord::from_vector(normalize(z)))
    }
}

/// Offsets a position by (east, north) degrees in the tangent plane.
fn offset(center: &SkyCoord, east: f64, north: f64) -> SkyCoord {
    let (sd, cd) = center.dec().to_radians().sin_cos();
    let (sa, ca) = center.ra().to_radians().sin_cos();
    let c = center.to_unit_vector();
    let e = [-sa, ca, 0.0];
    let n = [-sd * ca, -sd * sa, cd];
    let (te, tn) = (east.to_radians().tan(), north.to_radians().tan());
    SkyCoord::from_vector([0, 1, 2].map(|i| c[i] + te * e[i] + tn * n[i]))
}

/// The observing plan of the simulated mission.
#[derive(Clone, Debug)]
pub struct PointingPlan {
    scws: Vec<PlannedScw>,
}

impl PointingPlan {
    /// The plan for revolutions `first..=last`, with `targets` (name, position) as the
    /// non-key-programme targets.
    pub fn generate(first: u32, last: u32, targets: &[(String, SkyCoord)]) -> PointingPlan {
        let mut fields: Vec<Field> = FIELDS
            .iter()
            .map(|&(name, ra, dec, weight, dither)| Field {
                name,
                ra,
                dec,
                weight,
                dither,
            })
            .collect();
        let others = targets.iter().filter(|(_, pos)| {
            !fields
                .iter()
                .any(|f| SkyCoord::wrapped(f.ra, f.dec).separation(pos) < 8.0)
        });
        let others: Vec<Field> = others
            .map(|(_, pos)| Field {
                name: "catalog target",
                ra: pos.ra(),
                dec: pos.dec(),
                weight: CATALOG_TARGET_WEIGHT,
                dither: Dither::Hexagonal,
            })
            .collect();
        fields.extend(others);
        let toos: Vec<(Field, f64, f64)> = TOOS
            .iter()
            .map(|&(name, ra, dec, a, b, dither)| {
                let t = |s: &str| Time::from_isot(s).map(Time::ijd).unwrap_or(f64::NAN);
                (
                    Field {
                        name,
                        ra,
                        dec,
                        weight: 0.0,
                        dither,
                    },
                    t(a),
                    t(b),
                )
            })
            .collect();

        let mut scws = Vec::new();
        for rev in first..=last {
            let mut rng = ChaCha8Rng::seed_from_u64(PLAN_SEED ^ (u64::from(rev) << 20));
            let r0 = revolution_start(rev).ijd();
            let (w0, w1) = (r0 + OBSERVING_WINDOW.0, r0 + OBSERVING_WINDOW.1);
            let mid = Time::from_ijd_unchecked(0.5 * (w0 + w1));
            // Split the window into observations: ToOs where they apply, otherwise 1–3 campaigns.
            let mut blocks: Vec<(f64, f64, Field)> = Vec::new();
            let too = toos.iter().find(|(_, a, b)| *a < w1 && *b > w0);
            if let Some((field, a, b)) = too {
                let (a, b) = (a.max(w0), b.min(w1));
                if a - w0 > 0.1 {
                    blocks.push((w0, a, pick_field(&fields, mid, &mut rng).clone()));
                }
                blocks.push((a, b, field.clone()));
                if w1 - b > 0.1 {
                    blocks.push((b, w1, pick_field(&fields, mid, &mut rng).clone()));
                }
            } else {
                let u: f64 = rng.random();
                let n = if u < 0.5 {
                    1
                } else if u < 0.85 {
                    2
                } else {
                    3
                };
                let mut cuts: Vec<f64> = (1..n)
                    .map(|_| w0 + (w1 - w0) * rng.random::<f64>())
                    .collect();
                cuts.sort_by(f64::total_cmp);
                let mut edges = vec![w0];
                edges.extend(cuts);
                edges.push(w1);
                for e in edges.windows(2) {
                    blocks.push((e[0], e[1], pick_field(&fields, mid, &mut rng).clone()));
                }
            }
            let mut pointing = 1u32;
            for (a, b, field) in blocks {
                let offsets = field.dither.offsets();
                let mut k = rng.random_range(0..offsets.len());
                let center = SkyCoord::wrapped(field.ra, field.dec);
                let mut t = a;
                loop {
                    let duration = scw_duration(&mut rng);
                    let stop = t + duration / 86_400.0;
                    if stop > b || pointing > 9999 {
                        break;
                    }
                    let (de, dn) = offsets[k % offsets.len()];
                    let x = offset(&center, de, dn);
                    let attitude = attitude_at(x, Time::from_ijd_unchecked(t));
                    let Ok(swid) = ScwId::new(rev, pointing, 1, 0) else {
                        break;
                    };
                    scws.push(plan_conditions(
                        ScienceWindow {
                            swid,
                            attitude,
                            tstart: t,
                            tstop: stop,
                            telapse: duration,
                        },
                        &mut rng,
                    ));
                    pointing += 1;
                    k += 1;
                    t = stop + rng.random_range(100.0..300.0) / 86_400.0; // slew
                }
            }
        }
        PointingPlan { scws }
    }

    /// All planned Science Windows, in identifier order.
    pub fn scws(&self) -> &[PlannedScw] {
        &self.scws
    }

    /// The planned Science Window `swid`.
    pub fn get(&self, swid: &ScwId) -> Option<&PlannedScw> {
        self.scws
            .binary_search_by(|p| p.scw.swid.cmp(swid))
            .ok()
            .map(|i| &self.scws[i])
    }
}

fn pick_field<'a>(fields: &'a [Field], t: Time, rng: &mut ChaCha8Rng) -> &'a Field {
    let visible: Vec<&Field> = fields
        .iter()
        .filter(|f| {
            let sep = SkyCoord::wrapped(f.ra, f.dec).separation(&sun_position(t));
            (sep - 90.0).abs() <= SUN_ASPECT_LIMIT_DEG - FIELD_SUN_MARGIN_DEG
        })
        .collect();
    let pool = if visible.is_empty() {
        fields.iter().collect()
    } else {
        visible
    };
    let total: f64 = pool.iter().map(|f| f.weight).sum();
    let mut u = rng.random::<f64>() * total;
    for f in &pool {
        u -= f.weight;
        if u <= 0.0 {
            return f;
        }
    }
    pool[pool.len() - 1]
}

/// ScW length: mostly ~2.2 ks, a third spread over 1.8–3.6 ks.
fn scw_duration(rng: &mut ChaCha8Rng) -> f64 {
    if rng.random::<f64>() < 0.65 {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        (2200.0 + 250.0 * z).clamp(1800.0, 3600.0)
    } else {
        rng.random_range(1800.0..3600.0)
    }
}

/// GTIs (settling at the start, occasional telemetry gaps), dead time, background scale, noisy pixels.
fn plan_conditions(scw: ScienceWindow, rng: &mut ChaCha8Rng) -> PlannedScw {
    let day = 86_400.0;
    let settle = rng.random_range(20.0..120.0) / day;
    let mut gti = vec![(scw.tstart + settle, scw.tstop)];
    if rng.random::<f64>() < 0.12 {
        let len = rng.random_range(30.0..600.0) / day;
        let (a, b) = gti[0];
        let at = a + (b - a - len) * rng.random::<f64>();
        gti = vec![(a, at), (at + len, b)];
    }
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    let deadc = (crate::instrument::isgri::NOMINAL_DEADC + 0.015 * z).clamp(0.62, 0.78);
    let zb: f64 = rng.sample(rand_distr::StandardNormal);
    let background_scale = (1.0 + 0.03 * zb).clamp(0.9, 1.1);
    let n_noisy = rng.random_range(0..4);
    let noisy_pixels = (0..n_noisy)
        .map(|_| {
            let (y, z) = loop {
                let (y, z) = (rng.random_range(0..130u8), rng.random_range(0..134u8));
                if !crate::instrument::isgri::is_gap(usize::from(y), usize::from(z)) {
                    break (y, z);
                }
            };
            (y, z, rng.random_range(0.5..5.0))
        })
        .collect();
    PlannedScw {
        scw,
        gti,
        deadc,
        background_scale,
        noisy_pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sun_position_known_values() {
        // Near the March equinox the Sun is at RA ≈ 0, Dec ≈ 0; at the June solstice Dec ≈ +23.44.
        let eq = sun_position(Time::from_isot("2015-03-20T22:45:00").unwrap());
        assert!(
            eq.dec().abs() < 0.05 && (eq.ra() < 0.1 || eq.ra() > 359.9),
            "{eq}"
        );
        let sol = sun_position(Time::from_isot("2015-06-21T16:38:00").unwrap());
        assert!(
            (sol.dec() - 23.44).abs() < 0.02 && (sol.ra() - 90.0).abs() < 0.1,
            "{sol}"
        );
    }

    #[test]
    fn dither_offsets_have_the_documented_steps() {
        let c = SkyCoord::new(83.633, 22.014).unwrap();
        let hex = Dither::Hexagonal.offsets();
        for (e, n) in &hex[1..] {
            assert!((offset(&c, *e, *n).separation(&c) - 2.0).abs() < 0.01);
        }
        let rect = Dither::Rectangular.offsets();
        assert_eq!(rect.len(), 25);
        assert!((offset(&c, rect[13].0, rect[13].1).separation(&c) - 2.17).abs() < 0.01);
    }
}
