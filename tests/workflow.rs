//! The provenance-cached workflow end to end: reuse of cached units across requests and
//! processes, damaged entries, concurrent processes, full and unwritable disks, batching and
//! eviction, and the products of `oda get-product` checked by astropy and Sherpa.

#[path = "support/damaged_archive.rs"]
mod damaged_archive;
use damaged_archive::damaged_archive;
use std::path::Path;
use std::process::{Command, Output};

use oda::analysis::extract::LightCurveExtractor;
use oda::analysis::shadowgram::EnergyBand;
use oda::config::Settings;
use oda::query::{Product, ProductResult, ProductType, Request, Session};
use oda::workflow::{EntryClass, Identity};
use serde_json::Value;

const CRAB: [(&str, &str); 5] = [
    ("instrument", "isgri"),
    ("src_name", "Crab"),
    ("T1", "2003-03-15"),
    ("T2", "2018-03-16"),
    ("max_pointings", "3"),
];

fn request(product: &str, extra: &[(&str, &str)]) -> Request {
    let mut pairs: Vec<(&str, &str)> = CRAB
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    pairs.push(("product", product));
    pairs.extend_from_slice(extra);
    Request::from_pairs(pairs).unwrap()
}

fn names(v: Vec<(String, usize)>) -> Vec<String> {
    v.into_iter().map(|(n, _)| n).collect()
}

fn oda(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oda"));
    c.arg("--data").arg(data);
    c.env_remove("ODA_ARCHIVE").env_remove("ODA_SIM_SEED");
    c
}

/// Writes the simulated archive's index (`oda scw list`), outside whatever is measured next.
fn write_index(data: &Path) {
    let o = oda(data)
        .args([
            "scw",
            "list",
            "src_name=Crab",
            "T1=2003-03-15",
            "T2=2018-03-16",
            "max_pointings=1",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn get_product_json(data: &Path, out: &Path, params: &[&str]) -> Value {
    let o = oda(data)
        .arg("get-product")
        .args(params)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "get-product failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

const CRAB_ARGS: [&str; 5] = [
    "instrument=isgri",
    "src_name=Crab",
    "T1=2003-03-15",
    "T2=2018-03-16",
    "max_pointings=3",
];

#[test]
fn repeated_and_near_repeated_requests_reuse_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let session = Session::new(Settings::simulated(dir.path())).unwrap();
    let image = request("isgri_image", &[]);
    let first = session.get_product(&image).unwrap();
    assert!(first.log.computed().count() >= 3 * 2 + 2, "{:?}", first.log);
    assert_eq!(first.log.reused().count(), 0);
    assert!(first.product.catalog().get("Crab").is_some());

    // The same request computes nothing and returns the same product.
    let again = session.get_product(&image).unwrap();
    assert_eq!(again.log.computed().count(), 0, "{:?}", again.log.runs);
    assert_eq!(again.identity, first.identity);
    assert_eq!(again.product.catalog(), first.product.catalog());

    // A new detection threshold: only the detection runs, on the cached mosaic.
    let lower = session
        .get_product(&request("isgri_image", &[("detection_threshold", "5")]))
        .unwrap();
    assert_eq!(names(lower.log.computed_by_name()), ["SourceDetection"]);
    assert!(names(lower.log.reused_by_name()).contains(&"Mosaic".to_string()));
    assert_ne!(lower.identity, first.identity);

    // Light curves: a new time bin reuses the events and the catalog and recomputes only the
    // time-binned units (the counts in the new bins and their fits).
    let lc1 = session
        .get_product(&request("isgri_lc", &[("time_bin", "500")]))
        .unwrap();
    assert!(names(lc1.log.reused_by_name()).contains(&"ScwEvents".to_string()));
    let lc2 = session
        .get_product(&request("isgri_lc", &[("time_bin", "1000")]))
        .unwrap();
    assert_eq!(
        names(lc2.log.computed_by_name()),
        ["ScwCounts", "ScwLightCurveFit", "LightCurve"],
        "{:?}",
        lc2.log.runs
    );
    let reused = names(lc2.log.reused_by_name());
    assert!(reused.contains(&"ScwEvents".to_string()), "{reused:?}");
    assert!(
        reused.contains(&"ExtractionCatalog".to_string()),
        "{reused:?}"
    );

    // A new energy band re-images from the cached events.
    let band = session
        .get_product(&request(
            "isgri_image",
            &[("E1_keV", "30"), ("E2_keV", "60")],
        ))
        .unwrap();
    let computed = names(band.log.computed_by_name());
    assert!(computed.contains(&"ScwImage".to_string()));
    assert!(!computed.contains(&"ScwEvents".to_string()));

    // The provenance names every unit behind the product, once.
    let counts = lc2.provenance.unit_counts();
    assert!(counts.contains(&("ScwEvents".to_string(), 3)), "{counts:?}");
    assert!(counts.contains(&("ScwLightCurveFit".to_string(), 3)));
    assert!(lc2.provenance.to_dot().starts_with("digraph"));
}

#[test]
fn identities_are_stable_across_processes_and_data_directories() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args: Vec<&str> = CRAB_ARGS
        .iter()
        .copied()
        .chain(["product=isgri_image"])
        .collect();
    let ra = get_product_json(a.path(), &a.path().join("out"), &args);
    let rb = get_product_json(b.path(), &b.path().join("out"), &args);
    assert_eq!(ra["identity"], rb["identity"]);
    assert_eq!(ra["catalog"], rb["catalog"]);
    // And in a second run in the first directory, nothing is computed.
    let again = get_product_json(a.path(), &a.path().join("out2"), &args);
    assert_eq!(again["units"]["computed"], 0);
    assert_eq!(again["identity"], ra["identity"]);
    // The provenance of the product's inputs can be listed from the cache.
    let id = ra["units"]["computed_identities"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let text = oda(a.path()).args(["provenance", &id]).output().unwrap();
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("ScwEvents@1") && text.contains("Mosaic@2"),
        "{text}"
    );
    let dot = oda(a.path())
        .args(["provenance", &id, "--dot"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dot.stdout).starts_with("digraph provenance"));
    let bad = oda(a.path()).args(["provenance", "1234"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("64 hexadecimal digits"));
}

fn entry_of(result: &ProductResult, unit: &str) -> Identity {
    result
        .provenance
        .nodes
        .iter()
        .find(|n| n.name == unit)
        .map(|n| n.identity)
        .unwrap()
}

#[test]
fn a_damaged_cache_entry_is_detected_and_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let session = Session::new(Settings::simulated(dir.path())).unwrap();
    let image = request("isgri_image", &[]);
    let first = session.get_product(&image).unwrap();
    let mosaic = entry_of(&first, "Mosaic");
    let entry = session.workflow().cache().entry_dir(&mosaic);
    let payload = entry.join(oda::workflow::PAYLOAD_FILE);
    let mut bytes = std::fs::read(&payload).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0x40;
    std::fs::write(&payload, bytes).unwrap();
    // The detection is cached, so damage the detection too to force reading the mosaic.
    let detection = entry_of(&first, "SourceDetection");
    std::fs::remove_file(
        session
            .workflow()
            .cache()
            .entry_dir(&detection)
            .join("record.json"),
    )
    .unwrap();

    let second = session.get_product(&image).unwrap();
    assert!(
        second
            .log
            .warnings
            .iter()
            .any(|w| w.contains("damaged") && w.contains("Mosaic")),
        "{:?}",
        second.log.warnings
    );
    assert!(
        second.log.runs.iter().any(|r| r.name == "Mosaic"
            && matches!(r.outcome, oda::workflow::Outcome::Recomputed { .. })),
        "{:?}",
        second.log.runs
    );
    assert_eq!(second.product.catalog(), first.product.catalog());
    let (Product::Image(a), Product::Image(b)) = (&first.product, &second.product) else {
        panic!("image products expected")
    };
    assert_eq!(a.mosaic.intensity, b.mosaic.intensity);

    // `oda cache verify` finds damage too, removes it and exits with failure.
    let scw_image = entry_of(&first, "ScwImage");
    let p = session
        .workflow()
        .cache()
        .entry_dir(&scw_image)
        .join(oda::workflow::PAYLOAD_FILE);
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let o = oda(dir.path()).args(["cache", "verify"]).output().unwrap();
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("damaged") && text.contains("ScwImage"),
        "{text}"
    );
    let o = oda(dir.path()).args(["cache", "verify"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn two_processes_asking_at_once_compute_each_unit_once() {
    let dir = tempfile::tempdir().unwrap();
    // Write the simulated archive's index first, so both start on the analysis together.
    write_index(dir.path());
    let spawn = |out: &str| {
        oda(dir.path())
            .arg("get-product")
            .args(CRAB_ARGS)
            .arg("product=isgri_lc")
            .arg("--out")
            .arg(dir.path().join(out))
            .arg("--json")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b): (Output, Output) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (ja, jb): (Value, Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(ja["identity"], jb["identity"]);
    assert_eq!(ja["light_curves"], jb["light_curves"]);
    let mut computed: Vec<String> = [&ja, &jb]
        .iter()
        .flat_map(|j| {
            j["units"]["computed_identities"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let n = computed.len();
    computed.sort();
    computed.dedup();
    assert_eq!(computed.len(), n, "a unit was computed by both processes");
    assert!(n >= 3 * 3, "every unit computed by one of them: {n}");
}

#[test]
fn an_unwritable_cache_or_a_full_disk_is_a_clear_error_and_harms_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the cache directory should be: even root cannot create it.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("cache"), b"not a directory").unwrap();
    let o = oda(&blocked)
        .arg("get-product")
        .args(CRAB_ARGS)
        .arg("product=isgri_image")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cache") && err.contains("cannot create the cache directory"),
        "{err}"
    );

    // A full disk: the process may write at most 1 MiB per file (RLIMIT_FSIZE, with SIGXFSZ
    // ignored, makes writes fail with EFBIG as on a full disk); the 60 MB event files cannot be
    // stored.
    let data = dir.path().join("data");
    write_index(&data);
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2048; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_oda"))
        .arg("--data")
        .arg(&data)
        .arg("get-product")
        .args(CRAB_ARGS)
        .arg("product=isgri_image")
        .arg("--out")
        .arg(dir.path().join("out"))
        .env_remove("ODA_ARCHIVE");
    let o = sh.output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("could not store") && err.contains("unchanged"),
        "{err}"
    );
    // Nothing half-written is left, and every entry that is there is intact.
    let tmp: Vec<_> = std::fs::read_dir(data.join("cache/tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    let v = oda(&data).args(["cache", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // With room again, the same request succeeds.
    let j = get_product_json(
        &data,
        &dir.path().join("out"),
        &CRAB_ARGS
            .iter()
            .copied()
            .chain(["product=isgri_image"])
            .collect::<Vec<_>>(),
    );
    assert!(
        j["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "Crab")
    );
}

#[test]
fn batched_requests_equal_whole_ones_and_stay_inside_the_cache_limit() {
    let dir = tempfile::tempdir().unwrap();
    let five = [("max_pointings", "5")];
    // Mosaics built in batches of 2 equal the one-batch mosaic (up to summation order).
    let whole = Session::new(Settings::simulated(dir.path().join("a")))
        .unwrap()
        .get_product(&request("isgri_image", &five))
        .unwrap();
    // The events cost ~60–100 MB per ScW: a 250 MB limit forces eviction during the run.
    let limit = 250 << 20;
    let small = Session::new(Settings::simulated(dir.path().join("b")).with_cache_limit(limit))
        .unwrap()
        .with_mosaic_batch(2);
    let batched = small.get_product(&request("isgri_image", &five)).unwrap();
    assert_eq!(batched.scws.len(), 5);
    let counts = batched.provenance.unit_counts();
    assert!(
        counts.contains(&("MosaicBatch".to_string(), 3)),
        "{counts:?}"
    );
    let (Product::Image(a), Product::Image(b)) = (&whole.product, &batched.product) else {
        panic!("image products expected")
    };
    let scale = a
        .mosaic
        .intensity
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.mosaic.intensity.iter().zip(&b.mosaic.intensity) {
        assert!((x - y).abs() <= 1e-9 * scale, "{x} vs {y}");
    }
    assert_eq!(
        whole.product.catalog().names(),
        batched.product.catalog().names()
    );

    // A light curve over the same ScWs in the small cache: the per-ScW fits combined equal the
    // library's extractor run over all events at once, and the cache stays under its limit.
    let lc = small.get_product(&request("isgri_lc", &five)).unwrap();
    let Product::LightCurve {
        light_curves,
        catalog,
    } = &lc.product
    else {
        panic!("light curves expected")
    };
    let archive = small.archive().unwrap();
    let sim = archive.event_source().unwrap();
    let direct = LightCurveExtractor::new(
        EnergyBand::new(20.0, 40.0).unwrap(),
        1000.0,
        archive
            .calibration(request("isgri_lc", &five).selection.osa_version)
            .unwrap(),
    )
    .unwrap()
    .run(lc.scws.iter().map(|id| sim.events(id)), catalog)
    .unwrap();
    assert_eq!(light_curves, &direct);
    let stats = small.workflow().cache().stats();
    assert!(stats.total.bytes <= limit, "{stats:?}");
    let events = stats
        .by_class
        .iter()
        .find(|(c, _)| *c == EntryClass::Events)
        .map_or(0, |(_, u)| u.entries);
    assert!(events < 5, "events evicted first: {stats:?}");
    let fits = stats
        .by_unit
        .iter()
        .find(|(n, _)| n == "ScwLightCurveFit")
        .map_or(0, |(_, u)| u.entries);
    assert_eq!(fits, 5, "small per-ScW results kept: {stats:?}");
}

#[test]
fn products_open_in_astropy_and_the_spectrum_fits_in_sherpa() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for product in ["isgri_image", "isgri_lc", "spectral_fit"] {
        let out = dir.path().join(product);
        let args: Vec<String> = CRAB_ARGS
            .iter()
            .map(|s| s.to_string())
            .chain([format!("product={product}")])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let j = get_product_json(&data, &out, &args);
        assert_eq!(j["product"], product);
        let o = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/check_products.py"
            ))
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{product}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // A bad parameter names itself, its value and the allowed range.
    let o = oda(&data)
        .arg("get-product")
        .args(CRAB_ARGS)
        .args(["product=isgri_image", "E1_keV=10"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("E1_keV") && err.contains("10") && err.contains("15"),
        "{err}"
    );
}

#[test]
fn the_request_travels_with_the_product() {
    let dir = tempfile::tempdir().unwrap();
    let session = Session::new(Settings::simulated(dir.path())).unwrap();
    let fit = session.get_product(&request("spectral_fit", &[])).unwrap();
    assert_eq!(fit.request.product, ProductType::SpectralFit);
    let Product::SpectralFit { fit: f, .. } = &fit.product else {
        panic!("a fit expected")
    };
    let gamma = f.parameter("Gamma").unwrap();
    assert!(
        (gamma.value - 2.09).abs() < 5.0 * gamma.error + 0.02,
        "{gamma:?}"
    );
    // The URL form rebuilds the same request, hence the same product identity.
    let url = fit.request.to_url_query();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(url.as_bytes())
        .into_owned()
        .collect();
    let again = session
        .get_product(&Request::from_pairs(pairs).unwrap())
        .unwrap();
    assert_eq!(again.identity, fit.identity);
    assert_eq!(again.log.computed().count(), 0, "{:?}", again.log.runs);
    assert!(fit.request.to_python_code().contains("disp.get_product("));
    // Serialised with serde and back.
    let text = serde_json::to_string(&fit.product).unwrap();
    let back: Product = serde_json::from_str(&text).unwrap();
    assert_eq!(back.catalog(), fit.product.catalog());
}

#[test]
fn a_failing_science_window_is_named_and_the_others_are_used() {
    let dir = tempfile::tempdir().unwrap();
    // Three ScWs of the simulated archive read as a real archive, one event file damaged.
    let image = request("isgri_image", &[]);
    let (archive, ids, bad) = damaged_archive(&dir.path().join("sim"), &image, 1);
    assert_eq!(ids.len(), 3);
    let real = Settings::simulated(dir.path().join("data")).with_archive(archive.root());
    let session = Session::new(real).unwrap();
    let r = session.get_product(&image).unwrap();
    assert_eq!(r.scws.len(), 3);
    assert!(
        r.log.warnings.iter().any(|w| w.contains(&bad.to_string())),
        "{:?}",
        r.log.warnings
    );
    assert!(r.product.catalog().get("Crab").is_some());
    let Product::Image(img) = &r.product else {
        panic!("an image expected")
    };
    assert_eq!(img.mosaic.n_images, 2);
    // A result missing a ScW is not cached: the next request tries the ScW again.
    let again = session.get_product(&image).unwrap();
    assert!(names(again.log.computed_by_name()).contains(&"Mosaic".to_string()));
    assert!(
        again
            .log
            .warnings
            .iter()
            .any(|w| w.contains(&bad.to_string()))
    );
    // The real archive's events are read in place, never copied into the cache.
    let stats = session.workflow().cache().stats();
    assert!(
        stats.by_class.iter().all(|(c, _)| *c != EntryClass::Events),
        "{stats:?}"
    );
}

/// Every unit of an extraction's provenance graph: (name, identity), inputs first.
fn graph_of(unit: &impl oda::workflow::Unit) -> Vec<(String, Identity)> {
    unit.node()
        .graph()
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.identity))
        .collect()
}

/// The names of the units whose identities differ between two graphs of the same shape.
fn changed(a: &[(String, Identity)], b: &[(String, Identity)]) -> Vec<String> {
    assert_eq!(a.len(), b.len(), "graphs of different shapes");
    let mut out: Vec<String> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| x.0.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn identities_change_exactly_downstream_of_a_changed_setting_catalog_or_sky() {
    use oda::analysis::detect::SourceFinder;
    use oda::archive::Archive;
    use oda::osa::OsaVersion;
    use oda::sky::{ReferenceCatalog, SkyCoord};
    use oda::workflow::units::{
        CatalogUnit, DetectionUnit, Extraction, ExtractionUnit, MosaicUnit, ScwEvents,
    };
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let crab = SkyCoord::new(83.633, 22.014).unwrap();
    let band = EnergyBand::new(20.0, 40.0).unwrap();
    let v = OsaVersion::Osa11_2;
    let build = |settings: &Settings, finder: SourceFinder| {
        let archive = Arc::new(Archive::open(settings).unwrap());
        let sel = oda::archive::ScwSelection::from_pairs([
            ("src_name", "Crab"),
            ("T1", "2005-01-01"),
            ("T2", "2012-01-01"),
            ("max_pointings", "3"),
        ])
        .unwrap();
        let ids: Vec<_> = archive
            .select(&sel)
            .unwrap()
            .scws()
            .iter()
            .map(|s| s.swid)
            .collect();
        let events: Vec<ScwEvents> = ids
            .iter()
            .map(|id| ScwEvents::new(&archive, *id).unwrap())
            .collect();
        let mosaic = MosaicUnit::new(&events, band, v, crab, 50).unwrap();
        let catalog = CatalogUnit::detected(DetectionUnit::new(mosaic, finder), None);
        let spectra = ExtractionUnit::new(
            &events,
            catalog,
            Extraction::Spectrum(vec![20.0, 40.0, 80.0]),
            v,
        )
        .unwrap();
        (graph_of(&spectra), archive, ids)
    };
    let settings = Settings::simulated(dir.path());
    let (base, archive, ids) = build(&settings, SourceFinder::new(7.0).unwrap());
    assert_eq!(
        base.iter().filter(|n| n.0 == "ScwEvents").count(),
        3,
        "{base:?}"
    );

    // A unit setting: the detection threshold changes the detection and what uses it.
    let (other, ..) = build(&settings, SourceFinder::new(6.0).unwrap());
    assert_eq!(
        changed(&base, &other),
        [
            "ExtractionCatalog",
            "ScwSpectrumFit",
            "SourceDetection",
            "Spectrum"
        ]
    );

    // Another reference catalog (one source renamed): detection and downstream change, the
    // images and the mosaic (which use only the known positions) do not.
    let text =
        include_str!("../src/sky/reference_catalog.tsv").replacen("\nCrab\t", "\nCrab Nebula\t", 1);
    let renamed: &'static ReferenceCatalog =
        Box::leak(Box::new(ReferenceCatalog::parse(&text).unwrap()));
    assert_ne!(
        renamed.digest(),
        ReferenceCatalog::bundled().unwrap().digest()
    );
    let (other, ..) = build(
        &settings,
        SourceFinder::new(7.0).unwrap().with_reference(renamed),
    );
    assert_eq!(
        changed(&base, &other),
        [
            "ExtractionCatalog",
            "ScwSpectrumFit",
            "SourceDetection",
            "Spectrum"
        ]
    );

    // An unknown source added to the simulated sky next to the first ScW's pointing only:
    // that ScW's events and everything made from them change; the other ScWs' events don't.
    let first = archive.index().get(&ids[0]).unwrap().attitude.pointing();
    let far: Vec<f64> = ids[1..]
        .iter()
        .map(|id| {
            archive
                .index()
                .get(id)
                .unwrap()
                .attitude
                .pointing()
                .separation(&first)
        })
        .collect();
    let sky_file = dir.path().join("sky.json");
    let seen_by_first_only = far.iter().all(|d| *d > 1.0);
    std::fs::write(
        &sky_file,
        format!(
            r#"[{{"name": "Unknown X-1", "ra": {}, "dec": {}, "model": "powerlaw", "index": 2,
                 "flux_erg_cm2_s": 1e-10, "flux_band_kev": [20, 40],
                 "active_mjd": [{}, {}]}}]"#,
            first.ra(),
            first.dec(),
            oda::time::Time::from_ijd(archive.index().get(&ids[0]).unwrap().tstart)
                .unwrap()
                .mjd_utc(),
            oda::time::Time::from_ijd(archive.index().get(&ids[0]).unwrap().tstop)
                .unwrap()
                .mjd_utc(),
        ),
    )
    .unwrap();
    let with_sky = settings.clone().with_sky_file(&sky_file).unwrap();
    assert_ne!(with_sky.archive_root(), settings.archive_root());
    let (other, ..) = build(&with_sky, SourceFinder::new(7.0).unwrap());
    let events_changed: Vec<bool> = base
        .iter()
        .zip(&other)
        .filter(|(a, _)| a.0 == "ScwEvents")
        .map(|(a, b)| a.1 != b.1)
        .collect();
    // A transient active only during the first ScW: only its events change.
    assert_eq!(
        events_changed,
        [true, false, false],
        "separations {far:?}, {seen_by_first_only}"
    );
    assert!(changed(&base, &other).contains(&"Mosaic".to_string()));

    // A new calibration file (OSA11.2's effective area 1 % higher): the events keep their
    // identities, everything made with the calibration gets new ones.
    let versions = [
        OsaVersion::Osa10_2,
        OsaVersion::Osa11_0,
        OsaVersion::Osa11_2,
    ];
    let mut cals: Vec<_> = versions
        .iter()
        .map(|v| archive.calibration(*v).unwrap().as_ref().clone())
        .collect();
    for a in &mut cals[2].area {
        a.1 *= 1.01;
    }
    oda::archive::write_calibration(archive.root(), &cals).unwrap();
    let (other, ..) = build(&settings, SourceFinder::new(7.0).unwrap());
    assert_eq!(
        changed(&base, &other),
        [
            "ExtractionCatalog",
            "Mosaic",
            "MosaicBatch",
            "ScwCounts",
            "ScwImage",
            "ScwSpectrumFit",
            "SourceDetection",
            "Spectrum"
        ]
    );
    let team = oda::simulate::calibration::simulated_calibration(v).unwrap();
    let mine = Archive::open(&settings).unwrap().calibration(v).unwrap();
    let differ: Vec<&str> = mine
        .files
        .iter()
        .zip(&team.files)
        .filter(|(a, b)| a.sha256 != b.sha256)
        .map(|(a, _)| a.path.as_str())
        .collect();
    assert_eq!(differ, ["ic/ibis/rsp/isgr_rsp_mod_112.fits"]);
}

/// The number of units named `name` a request computed.
fn computed(result: &ProductResult, name: &str) -> usize {
    result
        .log
        .computed_by_name()
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, c)| c)
}

/// Entries of unit `name` in a session's cache.
fn entries(session: &Session, name: &str) -> (usize, u64) {
    session
        .workflow()
        .cache()
        .stats()
        .by_unit
        .iter()
        .find(|(n, _)| n == name)
        .map_or((0, 0), |(_, u)| (u.entries, u.bytes))
}

/// Issue 14, item 3: a request whose events do not fit the cache streams them. Each ScW's
/// events are generated once (in the pass that images the ScW and counts what its light-curve
/// or spectral fits need), neither they nor the per-ScW images are stored, the cache stays under
/// its limit, and the products equal those of a cache that holds everything.
#[test]
fn a_request_larger_than_the_cache_streams_its_events_once_with_identical_products() {
    let dir = tempfile::tempdir().unwrap();
    let six = [("max_pointings", "6")];
    let whole = Session::new(Settings::simulated(dir.path().join("a"))).unwrap();
    // 6 ScWs × 60–85 MB of events do not fit three quarters of 300 MB.
    let limit = 300 << 20;
    let small =
        Session::new(Settings::simulated(dir.path().join("b")).with_cache_limit(limit)).unwrap();
    for product in ["isgri_lc", "isgri_spectrum"] {
        let reference = whole.get_product(&request(product, &six)).unwrap();
        let streamed = small.get_product(&request(product, &six)).unwrap();
        assert_eq!(streamed.scws.len(), 6);
        assert_eq!(streamed.identity, reference.identity, "{product}");
        match (&reference.product, &streamed.product) {
            (
                Product::LightCurve {
                    light_curves: a, ..
                },
                Product::LightCurve {
                    light_curves: b, ..
                },
            ) => assert_eq!(a, b),
            (Product::Spectrum { spectra: a, .. }, Product::Spectrum { spectra: b, .. }) => {
                assert_eq!(a, b)
            }
            _ => panic!("{product}: unexpected products"),
        }
        assert_eq!(
            reference.product.catalog(),
            streamed.product.catalog(),
            "{product}"
        );
        // Streamed: once per ScW and request. The whole cache generates them for the first
        // request and keeps them.
        assert_eq!(
            computed(&streamed, "ScwEvents"),
            6,
            "{product}: {:?}",
            streamed.log.runs
        );
        assert_eq!(
            computed(&reference, "ScwEvents"),
            if product == "isgri_lc" { 6 } else { 0 },
            "{product}"
        );
        for r in [&reference, &streamed] {
            assert_eq!(computed(r, "ScwCounts"), 6, "{product}");
        }
        let (events, _) = entries(&small, "ScwEvents");
        let (images, _) = entries(&small, "ScwImage");
        assert_eq!((events, images), (0, 0), "{product}: streamed units stored");
        assert_eq!(entries(&whole, "ScwEvents").0, 6, "{product}");
    }
    // The first request imaged the ScWs and counted for the light curves in the same pass;
    // the spectrum reused the mosaic, so it counted from events generated for it alone.
    let (counts, bytes) = entries(&small, "ScwCounts");
    assert_eq!(counts, 12);
    assert!(
        bytes / 12 < 2 << 20,
        "counts stay small: {} kB per ScW",
        bytes / 12 / 1000
    );
    let stats = small.workflow().cache().stats();
    assert!(stats.total.bytes <= limit, "{stats:?}");
}
