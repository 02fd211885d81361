use oda::analysis::shadowgram::EnergyBand;
use oda::analysis::*;
use oda::archive::select;
use oda::prelude::*;
use oda::simulate::Simulation;
use std::time::Instant;

fn run(name: &str, pairs: &[(&str, &str)], thr: f64, clean: bool, e: (f64, f64)) {
    let sim = Simulation::new(oda::simulate::DEFAULT_SEED).unwrap();
    let idx = sim.index();
    let sel = select(
        &idx,
        &ScwSelection::from_pairs(pairs.iter().copied()).unwrap(),
    )
    .unwrap();
    let t = Instant::now();
    let mut an = ImageAnalyzer::new(
        EnergyBand::new(e.0, e.1).unwrap(),
        thr,
        OsaVersion::Osa11_2,
        resolve(name).unwrap(),
    )
    .unwrap();
    if !clean {
        an = an.without_cleaning();
    }
    let res = an.run_with(&sel.ids(), |id| sim.events(id)).unwrap();
    let exp: f64 = res.scw_images.iter().map(|i| i.exposure).sum();
    eprintln!(
        "== {name} clean={clean} thr={thr}: {} ScWs, {:.0} ks live, {:?}",
        sel.scws.len(),
        exp / 1000.0,
        t.elapsed()
    );
    eprint!("{}", res.catalog);
}
#[test]
fn crab() {
    run(
        "Crab",
        &[
            ("src_name", "Crab"),
            ("T1", "2003-03-15"),
            ("T2", "2018-03-16"),
        ],
        7.5,
        true,
        (20.0, 40.0),
    );
}
#[test]
fn ngc2110() {
    run(
        "NGC 2110",
        &[
            ("src_name", "NGC 2110"),
            ("T1", "2003-01-01"),
            ("T2", "2019-12-31"),
        ],
        5.0,
        true,
        (20.0, 40.0),
    );
}
#[test]
fn c279() {
    run(
        "3C 279",
        &[
            ("src_name", "3C 279"),
            ("T1", "2003-01-01"),
            ("T2", "2019-12-31"),
        ],
        4.0,
        true,
        (20.0, 40.0),
    );
}
#[test]
fn v404() {
    run(
        "V404 Cyg",
        &[
            ("src_name", "V404 Cyg"),
            ("T1", "2015-06-20"),
            ("T2", "2015-06-27"),
        ],
        5.0,
        true,
        (20.0, 40.0),
    );
    run(
        "V404 Cyg",
        &[
            ("src_name", "V404 Cyg"),
            ("T1", "2015-06-20"),
            ("T2", "2015-06-27"),
        ],
        5.0,
        false,
        (20.0, 40.0),
    );
}
#[test]
fn gx17() {
    run(
        "GX 17+2",
        &[
            ("src_name", "GX 17+2"),
            ("T1", "2003-01-01"),
            ("T2", "2019-12-31"),
        ],
        7.0,
        true,
        (20.0, 60.0),
    );
}
#[test]
fn empty_mosaic() {
    let sim = Simulation::new(oda::simulate::DEFAULT_SEED)
        .unwrap()
        .with_sky(oda::simulate::SkyModel::from_sources(vec![]));
    let idx = sim.index();
    let sel = select(
        &idx,
        &ScwSelection::from_pairs([
            ("src_name", "3C 279"),
            ("T1", "2003-01-01"),
            ("T2", "2019-12-31"),
            ("max_pointings", "30"),
        ])
        .unwrap(),
    )
    .unwrap();
    let an = ImageAnalyzer::new(
        EnergyBand::new(20.0, 40.0).unwrap(),
        4.0,
        OsaVersion::Osa11_2,
        resolve("3C 279").unwrap(),
    )
    .unwrap();
    let res = an.run_with(&sel.ids(), |id| sim.events(id)).unwrap();
    let sig = res.mosaic.significance();
    let v: Vec<f64> = sig
        .iter()
        .zip(res.mosaic.variance.iter())
        .filter(|(_, v)| **v > 0.0)
        .map(|(s, _)| *s)
        .collect();
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
    let f4 = v.iter().filter(|x| x.abs() > 4.0).count() as f64 / n;
    eprintln!(
        "mosaic empty: n {n} mean {m:.3} sd {sd:.3} frac>4 {f4:.2e} NEW {}",
        res.catalog.len()
    );
    for img in &res.scw_images[..3] {
        let s = img.significance();
        let v: Vec<f64> = s
            .iter()
            .zip(img.variance.iter())
            .filter(|(_, v)| **v > 0.0)
            .map(|(s, _)| *s)
            .collect();
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
        let f4 = v.iter().filter(|x| x.abs() > 4.0).count() as f64 / n;
        eprintln!("scw: mean {m:.3} sd {sd:.3} frac>4 {f4:.2e}");
    }
}
