//! Benchmarks of the analysis chain on the paper's 50 random Crab ScWs (2003-03-15 … 2018-03-16).
//!
//! `cargo bench --bench analysis`. The first run materialises the 50 ScWs under
//! `target/bench-archive` (~3 GB, ~40 s); later runs reuse them. It also writes the inputs and
//! outputs of one decoding to `target/bench-archive/decode-*.fits` for `benches/numpy_decode.py`,
//! the straightforward numpy implementation it is compared with.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use oda::analysis::catalog::Catalog;
use oda::analysis::decode::CodedMaskDecoder;
use oda::analysis::extract::{DEFAULT_CHANNELS, LightCurveExtractor, SpectrumExtractor};
use oda::analysis::image::ScwImager;
use oda::analysis::mosaic::MosaicMaker;
use oda::analysis::shadowgram::{EnergyBand, ShadowgramMaker};
use oda::analysis::{DEFAULT_CLEAN_THRESHOLD, ImageAnalyzer, MAX_CLEANED_SOURCES};
use oda::archive::{Archive, ScwSelection};
use oda::config::Settings;
use oda::fit::{ModelKind, SpectralFitter};
use oda::osa::OsaVersion;
use oda::sky::resolve;

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-archive")
}

fn write_image(path: &std::path::Path, a: &ndarray::Array2<f64>) {
    let _ = std::fs::remove_file(path);
    let (ny, nz) = a.dim();
    let desc = fitsio::images::ImageDescription {
        data_type: fitsio::images::ImageType::Double,
        dimensions: &[ny, nz],
    };
    let mut f = fitsio::FitsFile::create(path)
        .with_custom_primary(&desc)
        .open()
        .expect("create");
    let hdu = f.primary_hdu().expect("primary");
    let data: Vec<f64> = a.iter().copied().collect();
    hdu.write_image(&mut f, &data).expect("write");
}

fn bench(c: &mut Criterion) {
    let archive = Archive::open(&Settings::simulated(bench_dir())).expect("archive");
    let sel = archive
        .select(
            &ScwSelection::from_pairs([
                ("src_name", "Crab"),
                ("T1", "2003-03-15"),
                ("T2", "2018-03-16"),
            ])
            .expect("request"),
        )
        .expect("selection");
    let ids = sel.ids();
    for id in &ids {
        archive.events_path(id).expect("materialise");
    }
    let band = EnergyBand::new(20.0, 40.0).expect("band");
    let version = oda::simulate::calibration::simulated_calibration(OsaVersion::Osa11_2)
        .expect("the simulated archive's calibration");
    let crab = resolve("Crab").expect("Crab");
    let maker = ShadowgramMaker::new(vec![band], version.clone()).expect("maker");
    let events = archive.events(&ids[0]).expect("events");
    let sg = maker.run(&events).remove(0);
    let decoder = CodedMaskDecoder::for_geometry(&version.geometry);

    // Inputs and outputs of one decoding, for the numpy comparison.
    let bal = decoder.balance(&sg.efficiency);
    let (s, v) = decoder.decode(&bal, &sg.efficiency, &sg.counts);
    for (name, a) in [
        ("counts", &sg.counts),
        ("efficiency", &sg.efficiency),
        ("mask", &decoder.mask),
        ("intensity", &s),
        ("variance", &v),
    ] {
        write_image(&bench_dir().join(format!("decode-{name}.fits")), a);
    }

    let mut g = c.benchmark_group("one ScW");
    g.sample_size(20);
    g.bench_function("read events", |b| {
        b.iter(|| archive.events(&ids[0]).expect("events"))
    });
    g.bench_function("shadowgram 20-40 keV", |b| b.iter(|| maker.run(&events)));
    g.bench_function("decode (balance + S, V)", |b| {
        b.iter(|| {
            let bal = decoder.balance(&sg.efficiency);
            decoder.decode(&bal, &sg.efficiency, &sg.counts)
        })
    });
    let known = oda::sky::ReferenceCatalog::bundled()
        .expect("catalog")
        .sources()
        .iter()
        .map(|s| s.position)
        .collect();
    let imager = ScwImager::new(DEFAULT_CLEAN_THRESHOLD, MAX_CLEANED_SOURCES)
        .expect("imager")
        .with_known_sources(known);
    g.bench_function("image with cleaning", |b| {
        b.iter(|| imager.run(&sg).expect("image"))
    });
    g.finish();

    let images: Vec<_> = ids
        .iter()
        .map(|id| {
            imager
                .run(&maker.run(&archive.events(id).expect("events")).remove(0))
                .expect("image")
        })
        .collect();
    let mut catalog = Catalog::default();
    catalog.add_named("Crab").expect("Crab");
    let mut g = c.benchmark_group("50 ScWs");
    g.sample_size(10);
    g.bench_function("mosaic of 50 images", |b| {
        b.iter(|| MosaicMaker::new(crab, None).run(&images).expect("mosaic"))
    });
    let analyzer = ImageAnalyzer::new(band, 7.5, version.clone(), crab).expect("analyzer");
    g.bench_function("image + mosaic + catalog from event files", |b| {
        b.iter(|| analyzer.run(&archive, &ids).expect("analysis"))
    });
    let spectra = SpectrumExtractor::new(&DEFAULT_CHANNELS, version.clone()).expect("extractor");
    g.bench_function("spectrum (20 channels) from event files", |b| {
        b.iter(|| {
            spectra
                .run_with(&ids, |id| archive.events(id), &catalog)
                .expect("spectra")
        })
    });
    let lc = LightCurveExtractor::new(band, 1000.0, version.clone()).expect("extractor");
    g.bench_function("light curve (1000 s bins) from event files", |b| {
        b.iter(|| {
            lc.run_with(&ids, |id| archive.events(id), &catalog)
                .expect("light curve")
        })
    });
    g.finish();

    let spec = spectra
        .run(ids.iter().map(|id| archive.events(id)), &catalog)
        .expect("spectra")
        .remove(0);
    let mut g = c.benchmark_group("fit");
    for kind in [ModelKind::PowerLaw, ModelKind::CutoffPowerLaw] {
        let fitter = SpectralFitter::new(kind)
            .energy_range(30.0, 300.0)
            .expect("fitter");
        g.bench_function(format!("{kind} 30-300 keV"), |b| {
            b.iter(|| fitter.run(&spec).expect("fit"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
