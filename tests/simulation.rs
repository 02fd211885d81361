//! Statistical checks of the simulated archive against its own model (the truth):
//! Poisson counts per band and per detector region, the Crab calibration, determinism.

use oda::archive::{EventList, ScwId};
use oda::instrument::isgri::{N_DETZ, N_PIXELS, geometry, is_gap, rate_scale};
use oda::osa::OsaVersion;
use oda::simulate::Background;
use oda::simulate::calibration::simulated_calibration;
use oda::simulate::instrument::efficiency_map;
use oda::simulate::{DEFAULT_SEED, PlannedScw, Simulation, SkyModel, sun_allows};
use oda::sky::{Attitude, SkyCoord};
use oda::time::Time;

fn crab() -> SkyCoord {
    SkyCoord::new(83.633, 22.014).unwrap()
}

fn swid() -> ScwId {
    "999900010010".parse().unwrap()
}

/// The simulation with only the Crab in the sky (background still on).
fn crab_only(seed: u64) -> Simulation {
    let sim = Simulation::new(seed).unwrap();
    let crab = sim.sky().source("Crab").unwrap().clone();
    sim.with_sky(SkyModel::from_sources(vec![crab]))
}

/// A 2 ks pointing `offset_deg` north of the Crab at `date`.
fn pointing(date: &str, offset_deg: f64) -> PlannedScw {
    let x = SkyCoord::new(83.633, 22.014 + offset_deg).unwrap();
    PlannedScw::staring(
        swid(),
        Attitude::with_roll(x, 25.0),
        Time::from_isot(date).unwrap(),
        2000.0,
    )
}

/// Good events with nominal-scale energy in [e1, e2).
fn count(ev: &EventList, e1: f64, e2: f64) -> f64 {
    ev.energy
        .iter()
        .zip(&ev.select_flag)
        .filter(|(e, f)| **f == 0 && (e1..e2).contains(&f64::from(**e)))
        .count() as f64
}

#[test]
fn band_counts_agree_with_the_model_across_seeds() {
    let bands = [
        (15.0, 20.0),
        (20.0, 30.0),
        (30.0, 40.0),
        (40.0, 60.0),
        (60.0, 100.0),
        (100.0, 200.0),
        (200.0, 600.0),
    ];
    let p = pointing("2013-03-01T00:00:00", 3.0);
    let sim = crab_only(1);
    let expected: Vec<f64> = bands
        .iter()
        .map(|(a, b)| sim.expected_counts(&p, *a, *b).unwrap().total())
        .collect();
    let mut chi2 = 0.0;
    let mut dof = 0;
    for seed in 1..=4 {
        let ev = crab_only(seed).events_for(&p);
        for ((a, b), lambda) in bands.iter().zip(&expected) {
            let pull = (count(&ev, *a, *b) - lambda) / lambda.sqrt();
            assert!(
                pull.abs() < 4.0,
                "seed {seed}, {a}–{b} keV: pull {pull:.2} (λ = {lambda:.0})"
            );
            chi2 += pull * pull;
            dof += 1;
        }
    }
    // χ² of 28 pulls: the 99.99 % point is 61.
    assert!(chi2 < 61.0, "χ² = {chi2:.1} for {dof} bands");
}

#[test]
fn a_crowded_field_agrees_with_the_model() {
    // A real planned Galactic Centre pointing with the full default sky (dozens of sources).
    let sim = Simulation::new(DEFAULT_SEED).unwrap();
    let gc = SkyCoord::new(266.417, -29.008).unwrap();
    let p = sim
        .plan()
        .scws()
        .iter()
        .find(|p| p.scw.attitude.pointing().separation(&gc) < 3.0)
        .unwrap()
        .clone();
    let ev = sim.events_for(&p);
    for (a, b) in [(20.0, 40.0), (40.0, 100.0), (100.0, 300.0)] {
        let exp = sim.expected_counts(&p, a, b).unwrap();
        let in_field = exp.sources.iter().filter(|s| s.1 > 1.0).count();
        assert!(in_field >= 10, "only {in_field} sources in the GC field");
        let pull = (count(&ev, a, b) - exp.total()) / exp.total().sqrt();
        assert!(pull.abs() < 4.0, "{a}–{b} keV: pull {pull:.2}");
    }
}

#[test]
fn source_and_background_fall_where_the_pif_and_the_map_say() {
    let p = pointing("2010-09-01T00:00:00", 0.0);
    let sim = crab_only(7);
    let ev = sim.events_for(&p);
    let (e1, e2) = (20.0, 100.0);
    let exp = sim.expected_counts(&p, e1, e2).unwrap();
    let t = Time::from_ijd(p.scw.tstart).unwrap();
    let eff = efficiency_map(t);
    let (ty, tz) = p.scw.attitude.to_tangents(&crab()).unwrap();
    let lit = geometry().pif(ty, tz) * &eff;
    let bmap = Background::spatial_map() * &eff;
    let mut counts = vec![0.0; eff.len()];
    for i in 0..ev.len() {
        let e = f64::from(ev.energy[i]);
        if ev.select_flag[i] == 0 && (e1..e2).contains(&e) {
            counts[usize::from(ev.dety[i]) * N_DETZ + usize::from(ev.detz[i])] += 1.0;
        }
    }
    let (lit_sum, bmap_sum) = (lit.sum(), bmap.sum());
    // Groups: fully lit, fully shadowed, partly lit pixels; and module-edge pixels.
    type Group = (&'static str, Box<dyn Fn(usize, f64) -> bool>);
    let groups: [Group; 4] = [
        ("lit", Box::new(|_, f| f > 0.99)),
        ("shadowed", Box::new(|_, f| f < 0.01)),
        ("partial", Box::new(|_, f| (0.01..=0.99).contains(&f))),
        (
            "module edges",
            Box::new(|k, _| {
                let (y, z) = (k / N_DETZ, k % N_DETZ);
                [
                    (y.wrapping_sub(1), z),
                    (y + 1, z),
                    (y, z.wrapping_sub(1)),
                    (y, z + 1),
                ]
                .iter()
                .any(|&(a, b)| a >= 130 || b >= N_DETZ || is_gap(a, b))
            }),
        ),
    ];
    for (name, member) in groups {
        let (mut n, mut lam) = (0.0, 0.0);
        for (k, ((l, b), c)) in lit.iter().zip(bmap.iter()).zip(&counts).enumerate() {
            if eff.as_slice().unwrap()[k] > 0.0 && member(k, *l) {
                n += c;
                lam += exp.background * b / bmap_sum + exp.source("Crab") * l / lit_sum;
            }
        }
        let pull = (n - lam) / lam.sqrt();
        assert!(
            pull.abs() < 4.0,
            "{name}: {n} events, expected {lam:.0} (pull {pull:.2})"
        );
    }
    // Gaps and dead pixels never record anything.
    for i in 0..ev.len() {
        let (y, z) = (usize::from(ev.dety[i]), usize::from(ev.detz[i]));
        assert!(
            !is_gap(y, z) && eff[[y, z]] > 0.0,
            "event {i} at ({y}, {z})"
        );
    }
}

#[test]
fn crab_rates_match_the_isgri_calibration() {
    let sim = crab_only(DEFAULT_SEED);
    let level = |date: &str| {
        let t = Time::from_isot(date).unwrap().ijd();
        sim.sky().source("Crab").unwrap().components[0]
            .light_curve
            .at(t)
    };
    // On-axis equivalent rate in reconstructed energy [e1, e2) for `version`, from the model.
    let rate = |date: &str, version: OsaVersion, e1: f64, e2: f64| {
        let p = pointing(date, 0.0);
        let t = Time::from_isot(date).unwrap();
        let g = simulated_calibration(version).unwrap().gain_estimate(t);
        let alive = efficiency_map(t).sum() / N_PIXELS as f64;
        let counts = sim
            .expected_counts(&p, e1 * g, e2 * g)
            .unwrap()
            .source("Crab");
        counts / (p.exposure() * alive) * rate_scale(version) / level(date)
    };
    // isgri.md: OSA10-era reconstructed Crab rates (2013).
    for (e1, e2, target) in [
        (20.0, 40.0, 158.0),
        (40.0, 60.0, 56.0),
        (60.0, 100.0, 41.0),
        (100.0, 200.0, 23.0),
    ] {
        let r = rate("2013-03-01", OsaVersion::Osa10_2, e1, e2);
        assert!(
            (r / target - 1.0).abs() < 0.03,
            "{e1}–{e2} keV: {r:.1} cts/s vs {target}"
        );
    }
    // 2016: OSA10.2's frozen gain loses rate (paper Fig. 6); OSA11 quotes ~210 for the same photons.
    let r10 = rate("2016-01-10", OsaVersion::Osa10_2, 20.0, 40.0);
    let r11 = rate("2016-01-10", OsaVersion::Osa11_2, 20.0, 40.0);
    assert!((r10 / 136.0 - 1.0).abs() < 0.05, "OSA10.2 2016: {r10:.1}");
    assert!((r11 / 210.0 - 1.0).abs() < 0.05, "OSA11.2 2016: {r11:.1}");

    // The sampled events give the same 20–40 keV rate within Poisson errors.
    let p = pointing("2013-03-01", 0.0);
    let t = Time::from_isot("2013-03-01").unwrap();
    let g = simulated_calibration(OsaVersion::Osa10_2)
        .unwrap()
        .gain_estimate(t);
    let ev = sim.events_for(&p);
    let exp = sim.expected_counts(&p, 20.0 * g, 40.0 * g).unwrap();
    let source = count(&ev, 20.0 * g, 40.0 * g) - exp.background;
    let alive = efficiency_map(t).sum() / N_PIXELS as f64;
    let sampled = source / (p.exposure() * alive) / level("2013-03-01");
    let sigma = exp.total().sqrt() / (p.exposure() * alive);
    assert!(
        (sampled - 158.0).abs() < 0.03 * 158.0 + 4.0 * sigma,
        "sampled {sampled:.1} ± {sigma:.2}"
    );
}

#[test]
fn events_are_deterministic_per_seed_and_well_formed() {
    let sim = Simulation::new(DEFAULT_SEED).unwrap();
    let p = sim
        .plan()
        .scws()
        .iter()
        .find(|p| !p.noisy_pixels.is_empty() && p.gti.len() == 2)
        .unwrap();
    let a = sim.events_for(p);
    let b = sim.events_for(p);
    assert_eq!(a, b, "same seed, same events");
    let other = Simulation::new(DEFAULT_SEED + 1).unwrap().events_for(p);
    assert_eq!(a.header, other.header);
    assert_eq!(a.gti, other.gti);
    assert_ne!(
        a.time, other.time,
        "another seed is another universe of photons"
    );

    assert!(a.time.windows(2).all(|w| w[0] <= w[1]), "time-sorted");
    for i in 0..a.len() {
        let t = a.time[i];
        assert!(t >= a.header.tstart && t <= a.header.tstop);
        if a.select_flag[i] == 0 {
            assert!(a.gti.contains(t), "good event outside the GTIs at {t}");
        }
        assert!(
            a.energy[i] > 10.0 && a.energy[i] < 1000.0,
            "energy {}",
            a.energy[i]
        );
    }
    // Noisy pixels are flagged (2), and flagged events are a small minority.
    for (y, z, _) in &p.noisy_pixels {
        let flags: Vec<u8> = (0..a.len())
            .filter(|&i| a.dety[i] == *y && a.detz[i] == *z && a.select_flag[i] == 2)
            .map(|i| a.select_flag[i])
            .collect();
        let dead = efficiency_map(Time::from_ijd(p.scw.tstart).unwrap())
            [[usize::from(*y), usize::from(*z)]]
            == 0.0;
        assert!(
            dead || !flags.is_empty(),
            "noisy pixel ({y}, {z}) has no flagged events"
        );
    }
    let flagged = a.select_flag.iter().filter(|f| **f != 0).count() as f64;
    assert!(flagged / (a.len() as f64) < 0.01);
    // A 1.8–3.6 ks ScW holds millions of events (tens of MB).
    assert!(a.len() > 2_000_000, "{} events", a.len());
}

#[test]
fn the_plan_covers_the_benchmark_fields() {
    let sim = Simulation::new(DEFAULT_SEED).unwrap();
    let scws = sim.plan().scws();
    let near = |ra: f64, dec: f64, r: f64, t1: &str, t2: &str| {
        let c = SkyCoord::new(ra, dec).unwrap();
        let (a, b) = (
            Time::from_isot(t1).unwrap().ijd(),
            Time::from_isot(t2).unwrap().ijd(),
        );
        scws.iter()
            .filter(|p| {
                p.scw.tstart >= a
                    && p.scw.tstop <= b
                    && p.scw.attitude.pointing().separation(&c) <= r
            })
            .count()
    };
    let all = ("2003-01-01", "2020-01-01");
    assert!(near(83.633, 22.014, 10.0, all.0, all.1) > 2000, "Crab");
    assert!(
        near(266.417, -29.008, 10.0, all.0, all.1) > 2000,
        "Galactic Centre"
    );
    assert!(near(274.006, -14.036, 10.0, all.0, all.1) > 1000, "GX 17+2");
    assert!(near(194.047, -5.789, 10.0, all.0, all.1) > 300, "3C 279");
    assert!(near(88.047, -7.456, 10.0, all.0, all.1) > 300, "NGC 2110");
    assert!(
        near(83.633, 22.014, 10.0, "2003-03-15", "2018-03-16") > 1000,
        "Crab in the paper's span"
    );
    assert!(
        near(306.016, 33.867, 10.0, "2015-06-18", "2015-06-28") > 200,
        "V404 Cyg outburst"
    );
    assert!(
        near(194.047, -5.789, 10.0, "2015-06-14", "2015-06-18") > 50,
        "3C 279 flare"
    );

    // Every pointing: 1.8–3.6 ks, under the Sun constraint, in 2003–2019, ids increasing.
    for p in scws {
        assert!((1800.0..=3600.0).contains(&p.scw.telapse));
        assert!(sun_allows(
            &p.scw.attitude.pointing(),
            Time::from_ijd(p.scw.tstart).unwrap()
        ));
        assert!(p.deadc > 0.6 && p.deadc < 0.8);
    }
    assert!(
        scws.windows(2)
            .all(|w| w[0].scw.swid < w[1].scw.swid && w[0].scw.tstop < w[1].scw.tstart)
    );
    let first = Time::from_ijd(scws[0].scw.tstart).unwrap().year();
    let last = Time::from_ijd(scws[scws.len() - 1].scw.tstop)
        .unwrap()
        .year();
    assert!(
        first < 2003.0 && last > 2019.9 && last < 2020.0,
        "{first} – {last}"
    );
}
