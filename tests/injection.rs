//! Injection–recovery of sources the reference catalog does not know, through the image chain
//! as the workflow runs it: shadowgrams with the archive's calibration, images cleaned of every
//! catalog position and of any other peak, a mosaic, and the source finder naming its peaks
//! against the reference catalog. The unknown sources enter the simulated sky through a sky
//! file's text (the `--sky FILE` path), so the reference catalog and the cleaning know nothing
//! of them.
//!
//! Over 40 photon seeds per case (steady and transient, faint and bright, on-axis and at the
//! edge of the field): the source is found as `NEW_n` within its 90 % error radius in ≥ 95 % of
//! the 160 injections and ≥ 90 % of each case's seeds (the radius holds 90 % by definition; a
//! per-case 95 % made the off-axis transient, whose tail of separations is the heaviest, a coin
//! flip between 2 and 3 of 40 outside from one realisation to the next); its rate's pulls against the model's on-axis equivalent rate have mean within ±0.2 and
//! standard deviation within 0.85–1.15 (all cases together, 160 pulls); no other `NEW_n` appears.

#[path = "support/truth.rs"]
mod truth;

use oda::analysis::catalog::{Catalog, CatalogEntry};
use oda::analysis::detect::SourceFinder;
use oda::analysis::mosaic::MosaicMaker;
use oda::analysis::shadowgram::{EnergyBand, ShadowgramMaker};
use oda::analysis::{cleaning_imager, image_scw};
use oda::archive::ScwId;
use oda::osa::OsaVersion;
use oda::simulate::calibration::simulated_calibration;
use oda::simulate::{CRAB_PHOTON_FLUX_20_40, ExtraSky, PlannedScw, Simulation};
use oda::sky::{Attitude, ReferenceCatalog, SkyCoord};
use oda::time::Time;
use rayon::prelude::*;

const SEEDS: u64 = 40;
const BAND: (f64, f64) = (20.0, 40.0);
/// The workflow's default detection threshold for images, σ.
const DETECTION_SIGMA: f64 = 7.0;
const SCW_SECONDS: f64 = 2000.0;
const START: &str = "2012-03-01T00:00:00";
const KEV_TO_ERG: f64 = 1.602_176_634e-9;

/// An unknown source to inject.
struct Case {
    label: &'static str,
    /// Offset from the first pointing's axis, degrees (RA-like, Dec).
    offset_deg: (f64, f64),
    /// 20–40 keV flux while active, mCrab.
    mcrab: f64,
    /// Two ScWs, the source active only during the second half of the second one.
    transient: bool,
}

const CASES: [Case; 4] = [
    Case {
        label: "bright, on-axis, steady",
        offset_deg: (0.4, -0.3),
        mcrab: 800.0,
        transient: false,
    },
    Case {
        label: "faint, on-axis, steady",
        offset_deg: (1.5, 1.0),
        mcrab: 70.0,
        transient: false,
    },
    Case {
        label: "edge of the field, steady",
        offset_deg: (0.0, 10.5),
        mcrab: 250.0,
        transient: false,
    },
    Case {
        label: "transient, off-axis",
        offset_deg: (-5.0, 3.0),
        mcrab: 600.0,
        transient: true,
    },
];

/// A high-latitude field more than 25° from every catalog source: any `NEW_n` not at the
/// injected position is a ghost or a false detection.
fn blank_field() -> SkyCoord {
    let reference = ReferenceCatalog::bundled().unwrap();
    (0..36)
        .flat_map(|i| [-60.0, -45.0, 45.0, 60.0].map(|dec| (f64::from(i) * 10.0, dec)))
        .map(|(ra, dec)| SkyCoord::new(ra, dec).unwrap())
        .find(|c| reference.nearest(c, 25.0).is_none())
        .expect("a field 25° from every catalog source")
}

/// The 20–40 keV energy flux of `mcrab` mCrab with photon index 2, erg/cm²/s.
fn energy_flux(mcrab: f64) -> f64 {
    let (a, b) = BAND;
    let mean_energy_kev = (b / a).ln() / (1.0 / a - 1.0 / b);
    mcrab / 1000.0 * CRAB_PHOTON_FLUX_20_40 * mean_energy_kev * KEV_TO_ERG
}

fn offset(center: &SkyCoord, d: (f64, f64)) -> SkyCoord {
    let dec = center.dec() + d.1;
    SkyCoord::new(center.ra() + d.0 / dec.to_radians().cos(), dec).unwrap()
}

/// The pointings of a case: one 2 ks ScW, or two (the second dithered by 2°) for a transient.
fn pointings(center: &SkyCoord, case: &Case) -> Vec<PlannedScw> {
    let start = Time::from_isot(START).unwrap();
    let n = if case.transient { 2 } else { 1 };
    (0..n)
        .map(|k| {
            let swid: ScwId = format!("99990001{:03}0", k + 1).parse().unwrap();
            let axis = offset(center, (2.0 * k as f64, -(k as f64)));
            let t =
                Time::from_ijd(start.ijd() + k as f64 * (SCW_SECONDS + 300.0) / 86_400.0).unwrap();
            PlannedScw::staring(swid, Attitude::with_roll(axis, 35.0), t, SCW_SECONDS)
        })
        .collect()
}

/// The case's sky file: one unknown power law (index 2), active during the second half of the
/// last ScW for a transient.
fn sky_file(position: &SkyCoord, case: &Case, scws: &[PlannedScw]) -> ExtraSky {
    let active = if case.transient {
        let last = &scws[scws.len() - 1].scw;
        let mjd = |ijd: f64| Time::from_ijd(ijd).unwrap().mjd_utc();
        format!(
            r#", "active_mjd": [{}, {}]"#,
            mjd(0.5 * (last.tstart + last.tstop)),
            mjd(last.tstop) + 1.0
        )
    } else {
        String::new()
    };
    ExtraSky::parse(&format!(
        r#"[{{"name": "Unknown X-1", "ra": {}, "dec": {}, "model": "powerlaw", "index": 2.0,
             "flux_erg_cm2_s": {:e}, "flux_band_kev": [20, 40]{active}}}]"#,
        position.ra(),
        position.dec(),
        energy_flux(case.mcrab)
    ))
    .unwrap()
}

/// One seed of one case.
struct Outcome {
    /// The catalog entry nearest the injected position, if any is within 30′.
    found: Option<CatalogEntry>,
    separation_arcmin: f64,
    truth: f64,
    /// `NEW_n` entries farther than 30′ from the injected source.
    ghosts: Vec<CatalogEntry>,
}

fn run(case: &Case, center: &SkyCoord, seed: u64) -> Outcome {
    let position = offset(center, case.offset_deg);
    let scws = pointings(center, case);
    let extra = sky_file(&position, case, &scws);
    let sim = Simulation::new(seed).unwrap().with_extra_sky(&extra);
    let band = EnergyBand::new(BAND.0, BAND.1).unwrap();
    let maker = ShadowgramMaker::new(
        vec![band],
        simulated_calibration(OsaVersion::Osa11_2).unwrap(),
    )
    .unwrap();
    let imager = cleaning_imager().unwrap();
    let images: Vec<_> = scws
        .iter()
        .map(|p| image_scw(&maker, &imager, &sim.events_for(p)).unwrap())
        .collect();
    let mosaic = MosaicMaker::new(*center, None).run(&images).unwrap();
    let catalog: Catalog = SourceFinder::new(DETECTION_SIGMA)
        .unwrap()
        .run(&mosaic, &images)
        .unwrap();
    let near = |e: &&CatalogEntry| e.position.separation(&position) * 60.0 < 30.0;
    let found = catalog
        .entries()
        .iter()
        .filter(near)
        .min_by(|a, b| {
            a.position
                .separation(&position)
                .total_cmp(&b.position.separation(&position))
        })
        .cloned();
    let ghosts = catalog
        .entries()
        .iter()
        .filter(|e| e.is_new && !near(e))
        .cloned()
        .collect();
    // The catalog rate is the inverse-variance mean of the ScW fits: the truth is the mean
    // over the ScWs where the source shines (all of them for a steady source, whose on-axis
    // equivalent rate is the same in each; the last for the transient).
    let shining: Vec<&PlannedScw> = if case.transient {
        vec![&scws[scws.len() - 1]]
    } else {
        scws.iter().collect()
    };
    let truth = shining
        .iter()
        .map(|p| truth::onaxis_truth(&sim, p, "Unknown X-1", BAND, OsaVersion::Osa11_2))
        .sum::<f64>()
        / shining.len() as f64;
    Outcome {
        separation_arcmin: found
            .as_ref()
            .map_or(f64::INFINITY, |e| e.position.separation(&position) * 60.0),
        found,
        truth,
        ghosts,
    }
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn unknown_sources_are_found_as_new_within_their_error_radius_with_their_rates() {
    let center = blank_field();
    let mut all_pulls = Vec::new();
    let mut all_inside = 0;
    let mut report = Vec::new();
    for case in &CASES {
        let outcomes: Vec<Outcome> = (1..=SEEDS)
            .into_par_iter()
            .map(|seed| run(case, &center, seed))
            .collect();
        let mut inside = 0;
        let mut pulls = Vec::new();
        let mut snr = Vec::new();
        let mut separation_over_r90 = Vec::new();
        for (seed, o) in (1..=SEEDS).zip(&outcomes) {
            assert!(
                o.ghosts.is_empty(),
                "{}, seed {seed}: unexpected new sources {:?}",
                case.label,
                o.ghosts
            );
            let Some(e) = &o.found else { continue };
            assert!(
                e.is_new && e.name.starts_with("NEW_"),
                "{}, seed {seed}: named {} (the catalog does not know it)",
                case.label,
                e.name
            );
            snr.push(e.significance);
            separation_over_r90.push(o.separation_arcmin / e.error_radius_arcmin);
            if o.separation_arcmin <= e.error_radius_arcmin {
                inside += 1;
            }
            pulls.push((e.rate - o.truth) / e.rate_err);
        }
        let (snr_mean, _) = mean_sd(&snr);
        assert!(
            snr_mean > 10.0,
            "{}: mean significance {snr_mean:.1}: the case must be above SNR 10",
            case.label
        );
        let fraction = f64::from(inside) / SEEDS as f64;
        let (m, s) = mean_sd(&pulls);
        separation_over_r90.sort_by(f64::total_cmp);
        report.push(format!(
            "{:<26} found {:>2}/{SEEDS}, inside r90 {:>4.0} %, separation/r90 at 90 %: {:.2}, \
             SNR {snr_mean:>5.1}, rate pulls {m:+.2} ± {s:.2}",
            case.label,
            pulls.len(),
            100.0 * fraction,
            separation_over_r90
                .get((0.9 * separation_over_r90.len() as f64) as usize)
                .copied()
                .unwrap_or(f64::NAN),
        ));
        eprintln!("{}", report[report.len() - 1]);
        // Each case on its own: a 90 % radius must hold about 90 % (36 of 40 allows the
        // binomial scatter of 40 seeds).
        assert!(
            fraction >= 0.9,
            "{}: found within the error radius in {inside} of {SEEDS} seeds",
            case.label
        );
        all_inside += inside;
        all_pulls.extend(pulls);
    }
    eprintln!("{}", report.join("\n"));
    // All injections together: the stated radius holds ≥ 95 % of the sources.
    let n_injected = SEEDS as usize * report.len();
    assert!(
        all_inside as f64 >= 0.95 * n_injected as f64,
        "found within the error radius in {all_inside} of {n_injected} injections\n{}",
        report.join("\n")
    );
    let (m, s) = mean_sd(&all_pulls);
    assert!(
        m.abs() <= 0.2 && (0.85..=1.15).contains(&s),
        "rate pulls over {} seeds and cases: mean {m:.3}, sd {s:.3}\n{}",
        all_pulls.len(),
        report.join("\n")
    );
}
