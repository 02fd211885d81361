//! Benchmarks of the simulated archive and the analyses that read it directly: one ISGRI
//! Science Window (generate, materialise, read); one JEM-X1 Science Window (generate, write,
//! read, image, fit the catalog's rates, extract the 16-channel spectrum); one day of the
//! SPI-ACS rate in 50 ms bins (the `spi_acs_lc` product: generate, bin, search, write).
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
    bench_jemx(c, &sim, &scw);
    bench_spiacs(c);
}

fn bench_jemx(c: &mut Criterion, sim: &Simulation, scw: &oda::simulate::PlannedScw) {
    use oda::analysis::jemx::{
        fit_jemx_rates, jemx_band, jemx_imager, jemx_imaging_shadowgram, jemx_spectrum,
    };
    use oda::archive::{read_jemx_events, write_jemx_events};
    use oda::instrument::jemx::JemxUnit;
    let unit = JemxUnit::Jmx1;
    let events = sim.jemx_events_for(scw, unit);
    let catalog: Vec<(String, SkyCoord)> = oda::sky::ReferenceCatalog::bundled()
        .expect("catalog")
        .within(&scw.scw.attitude.pointing(), 8.0)
        .into_iter()
        .map(|s| (s.name.clone(), s.position))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("jmx1_events.fits");
    write_jemx_events(&path, &events).expect("write");
    let band = jemx_band(3.04, 34.88).expect("band");
    let imager = jemx_imager(unit, 6.0, 5).expect("imager");
    let mut group = c.benchmark_group(format!("jemx1_crab_scw_{:.0}s", scw.scw.telapse));
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("generate", |b| b.iter(|| sim.jemx_events_for(scw, unit)));
    group.bench_function("write FITS", |b| {
        b.iter(|| write_jemx_events(&path, &events).expect("write"))
    });
    group.bench_function("read FITS", |b| {
        b.iter(|| read_jemx_events(&path).expect("read"))
    });
    group.bench_function("image (decode, clean)", |b| {
        b.iter(|| {
            let sg = jemx_imaging_shadowgram(&events, band).expect("shadowgram");
            imager.run(&sg).expect("image")
        })
    });
    group.bench_function("fit catalog rates, 3-35 keV", |b| {
        b.iter(|| fit_jemx_rates(&events, (46, 223), &catalog).expect("fit"))
    });
    group.bench_function("16-channel spectrum", |b| {
        b.iter(|| jemx_spectrum(std::slice::from_ref(&events), "Crab", &catalog).expect("spectrum"))
    });
    group.finish();
}

fn bench_spiacs(c: &mut Criterion) {
    use oda::config::Settings;
    use oda::query::{ProductType, Request, Session};
    let dir = tempfile::tempdir().expect("temp dir");
    let session = Session::new(Settings::simulated(dir.path())).expect("session");
    let request = Request::builder(ProductType::SpiAcsLc)
        .time_range("2017-08-17T00:00:00", "2017-08-18T00:00:00")
        .time_bin_s(0.05)
        .build()
        .expect("request");
    let out = dir.path().join("out");
    let mut group = c.benchmark_group("spi_acs_one_day_50ms");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_728_000));
    group.bench_function("get_product", |b| {
        b.iter(|| session.get_product(&request).expect("product"))
    });
    let result = session.get_product(&request).expect("product");
    group.bench_function("write FITS", |b| {
        b.iter(|| result.write(&out).expect("write"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
