//! Benchmarks of the simulated archive: generating and materialising one Science Window.
//!
//! `cargo bench --bench simulate`. The ScW is a ~2 ks pointing of the Crab field from the plan.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oda::archive::write_events;
use oda::simulate::{DEFAULT_SEED, Simulation};
use oda::sky::SkyCoord;

fn crab_scw(sim: &Simulation) -> oda::simulate::PlannedScw {
    let crab = SkyCoord::new(83.633, 22.014).expect("valid position");
    sim.plan()
        .scws()
        .iter()
        .filter(|p| p.scw.attitude.pointing().separation(&crab) < 3.0)
        .find(|p| (1900.0..2300.0).contains(&p.scw.telapse))
        .cloned()
        .expect("the plan has ~2 ks Crab pointings")
}

fn bench(c: &mut Criterion) {
    let sim = Simulation::new(DEFAULT_SEED).expect("simulation");
    let scw = crab_scw(&sim);
    let n = sim.events_for(&scw).len() as u64;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("isgri_events.fits");
    let mut group = c.benchmark_group(format!("crab_scw_{:.0}s", scw.scw.telapse));
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function("generate", |b| b.iter(|| sim.events_for(&scw)));
    group.bench_function("materialise (generate + write FITS)", |b| {
        b.iter(|| {
            let ev = sim.events_for(&scw);
            write_events(&path, &ev).expect("write");
        })
    });
    group.bench_function("read FITS", |b| {
        b.iter(|| oda::archive::read_events(&path).expect("read"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
