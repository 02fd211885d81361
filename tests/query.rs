//! The typed ODA request (`oda::query::Request`) and ODA's catalog JSON.

use std::process::Command;

use oda::analysis::catalog::{Catalog, CatalogEntry, Origin};
use oda::archive::ScwId;
use oda::fit::ModelKind;
use oda::osa::OsaVersion;
use oda::query::{
    PROTOCOL_FIELDS, ProductType, Request, catalog_from_oda_json, catalog_to_oda_json,
};
use oda::sky::SkyCoord;
use oda::time::TimeFormat;

/// A valid image request; `over` replaces (or adds) parameters, a value of `None` removes one.
fn pairs_with(over: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("instrument", "isgri"),
        ("product", "isgri_image"),
        ("src_name", "Crab"),
        ("T1", "2003-03-15"),
        ("T2", "2018-03-16"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in over {
        pairs.retain(|(name, _)| name != k);
        if let Some(v) = v {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    pairs
}

fn request(over: &[(&str, &str)]) -> Request {
    let over: Vec<(&str, Option<&str>)> = over.iter().map(|(k, v)| (*k, Some(*v))).collect();
    Request::from_pairs(pairs_with(&over)).unwrap_or_else(|e| panic!("{over:?}: {e}"))
}

/// The error of the base request with `over`; asserts that it names `name` and contains
/// every string of `contains`.
fn error_with(over: &[(&str, Option<&str>)], name: &str, contains: &[&str]) -> oda::Error {
    let err = match Request::from_pairs(pairs_with(over)) {
        Ok(r) => panic!("{over:?} accepted: {r:?}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(msg.contains(name), "{over:?}: {msg:?} does not name {name}");
    for c in contains {
        assert!(msg.contains(c), "{over:?}: {msg:?} does not contain {c:?}");
    }
    err
}

fn bad(key: &str, value: &str, contains: &[&str]) -> oda::Error {
    let err = error_with(&[(key, Some(value))], key, contains);
    assert!(err.is_invalid_parameter(), "{err}");
    assert_eq!(err.parameter(), Some(key), "{err}");
    err
}

fn lookup<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn crab_catalog() -> Catalog {
    Catalog::from_entries(vec![
        CatalogEntry {
            name: "Crab".into(),
            position: SkyCoord::new(83.633_083_333_3, 22.014_5).unwrap(),
            error_radius_arcmin: 0.012,
            significance: 935.2,
            rate: 101.5,
            rate_err: 0.3,
            is_new: false,
            origin: Origin::Mosaic,
        },
        CatalogEntry {
            name: "NEW_1".into(),
            position: SkyCoord::new(84.1, -21.5).unwrap(),
            error_radius_arcmin: 1.8,
            significance: 8.1,
            rate: 0.4,
            rate_err: 0.05,
            is_new: true,
            origin: Origin::Mosaic,
        },
        CatalogEntry {
            name: "my \"quoted\" src's twin".into(),
            position: SkyCoord::new(359.999_999_999, 89.9).unwrap(),
            error_radius_arcmin: 0.0,
            significance: 0.0,
            rate: 0.0,
            rate_err: 0.0,
            is_new: false,
            origin: Origin::User,
        },
    ])
}

// ---------------------------------------------------------------- defaults and equivalences

#[test]
fn defaults_are_odas() {
    let r = request(&[]);
    assert_eq!(r.product, ProductType::IsgriImage);
    assert_eq!((r.band.e1, r.band.e2), (20.0, 40.0));
    assert_eq!(r.detection_threshold, 7.0);
    assert_eq!(r.time_bin_s, 1000.0);
    assert_eq!(r.selection.radius, 15.0);
    assert_eq!(r.selection.max_pointings, 50);
    assert_eq!(r.selection.osa_version, OsaVersion::Osa11_2);
    assert_eq!(r.xspec_model, ModelKind::PowerLaw);
    assert!(r.selected_catalog.is_none());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let fit = request(&[("product", "spectral_fit")]);
    let p = fit.parameters();
    for (name, value) in [
        ("instrument", "isgri"),
        ("product", "spectral_fit"),
        ("E1_keV", "20"),
        ("E2_keV", "40"),
        ("detection_threshold", "7"),
        ("radius", "15"),
        ("max_pointings", "50"),
        ("osa_version", "OSA11.2"),
        ("T_format", "isot"),
        ("xspec_model", "powerlaw"),
        ("src_name", "Crab"),
    ] {
        assert_eq!(lookup(&p, name), Some(value), "{name} in {p:?}");
    }
    assert_eq!(lookup(&p, "time_bin"), None);

    let lc = request(&[("product", "isgri_lc")]);
    let p = lc.parameters();
    assert_eq!(lookup(&p, "time_bin"), Some("1000"));
    assert_eq!(lookup(&p, "time_bin_format"), Some("sec"));
    assert_eq!(lookup(&p, "xspec_model"), None);
}

#[test]
fn product_names_and_aliases() {
    for p in ProductType::all() {
        assert_eq!(p.name().parse::<ProductType>().unwrap(), *p);
        assert_eq!(p.to_string(), p.name());
        assert_eq!(
            serde_json::to_string(p).unwrap(),
            format!("\"{}\"", p.name())
        );
    }
    assert_eq!(ProductType::all().len(), 8);
    // The oda_api client sends the product as product_type and "Real" as query_type; some
    // clients send product_type=Real: the query type, ignored.
    let via_client = Request::from_pairs(pairs_with(&[
        ("product", None),
        ("product_type", Some("isgri_lc")),
        ("query_type", Some("Real")),
    ]))
    .unwrap();
    let via_product = request(&[("product", "isgri_lc"), ("product_type", "Real")]);
    assert_eq!(via_client, via_product);
    assert_eq!(via_client.product, ProductType::IsgriLc);
    assert!(
        ProductType::IsgriImage
            .parameter_names()
            .contains(&"E1_keV")
    );
    assert!(
        !ProductType::IsgriImage
            .parameter_names()
            .contains(&"time_bin")
    );
    assert!(ProductType::IsgriLc.parameter_names().contains(&"time_bin"));
    assert!(
        ProductType::SpectralFit
            .parameter_names()
            .contains(&"xspec_model")
    );
}

#[test]
fn builder_is_from_pairs() {
    let mut cat = Catalog::default();
    cat.add_named("Crab").unwrap();
    let built = Request::builder(ProductType::SpectralFit)
        .src_name("Crab")
        .position(83.63, 22.01)
        .radius(10.0)
        .time_range("2003-03-15", "2018-03-16")
        .t_format(TimeFormat::Isot)
        .energy_band(25.0, 80.0)
        .osa_version(OsaVersion::Osa10_2)
        .detection_threshold(6.5)
        .max_pointings(20)
        .selected_catalog(&cat)
        .xspec_model("cutoffpl")
        .param("T2", "2015-01-01")
        .build()
        .unwrap();
    let catalog_json = catalog_to_oda_json(&cat).to_string();
    let from_pairs = Request::from_pairs([
        ("instrument", "isgri"),
        ("product_type", "spectral_fit"),
        ("src_name", "Crab"),
        ("RA", "83.630"),
        ("DEC", "22.01"),
        ("radius", "10"),
        ("T1", "2003-03-15"),
        ("T2", "2015-01-01"),
        ("T_format", "ISOT"),
        ("E1_keV", "25.0"),
        ("E2_keV", "80"),
        ("osa_version", "OSA10.2"),
        ("detection_threshold", "6.5"),
        ("max_pointings", "20"),
        ("selected_catalog", catalog_json.as_str()),
        ("xspec_model", "cutoffpl"),
    ])
    .unwrap();
    assert_eq!(built, from_pairs);
    assert_eq!(built.parameters(), from_pairs.parameters());
    assert_eq!(built.xspec_model, ModelKind::CutoffPowerLaw);
    assert_eq!(built.selection.osa_version, OsaVersion::Osa10_2);
    assert!(!built.requires_catalog_from_image());
    // E1/E2 and the threshold only find the catalog of a spectrum: unused with a selected one.
    assert_eq!((built.band.e1, built.band.e2), (20.0, 40.0));
    assert_eq!(built.detection_threshold, 7.0);
    assert_eq!(built.warnings.len(), 3, "{:?}", built.warnings);

    let scws = Request::builder(ProductType::IsgriLc)
        .scw_list(&["066500230010.001", "066500220010"])
        .time_bin_s(300.0)
        .build()
        .unwrap();
    let ids: Vec<ScwId> = vec![
        "066500220010".parse().unwrap(),
        "066500230010".parse().unwrap(),
    ];
    assert_eq!(scws.selection.scw_list.as_deref(), Some(ids.as_slice()));
    assert_eq!(scws.time_bin_s, 300.0);
    assert!(scws.requires_catalog_from_image());
    let typed = Request::builder(ProductType::IsgriLc)
        .scw_list(&ids)
        .time_bin_s(300.0)
        .build()
        .unwrap();
    assert_eq!(typed, scws);
    assert_eq!(
        lookup(&scws.parameters(), "scw_list"),
        Some("066500220010.001,066500230010.001")
    );
}

#[test]
fn parameters_are_canonical_and_order_independent() {
    let pairs = pairs_with(&[
        ("product", Some("isgri_lc")),
        ("E1_keV", Some("30.0")),
        ("time_bin", Some("500")),
        ("osa_version", Some("11.2")),
        ("session_id", Some("abc")),
    ]);
    let a = Request::from_pairs(pairs.clone()).unwrap();
    let mut reversed = pairs.clone();
    reversed.reverse();
    let b = Request::from_pairs(reversed).unwrap();
    let mut rotated = pairs.clone();
    rotated.rotate_left(3);
    let c = Request::from_pairs(rotated).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.parameters(), b.parameters());
    assert_eq!(a.parameters(), c.parameters());
    assert_eq!(a.parameters(), a.clone().parameters());
    let p = a.parameters();
    let mut sorted = p.clone();
    sorted.sort();
    assert_eq!(p, sorted, "sorted by name");
    assert_eq!(lookup(&p, "E1_keV"), Some("30"));
    assert_eq!(lookup(&p, "osa_version"), Some("OSA11.2"));
    assert_eq!(
        lookup(&p, "session_id"),
        None,
        "protocol fields are left out"
    );
    assert_eq!(lookup(&p, "product_type"), None);

    // Spelling does not matter: the name as the catalog writes it, numbers, case.
    let spelled = request(&[
        ("src_name", "crab"),
        ("T_format", "ISOT"),
        ("radius", "15.0"),
    ]);
    assert_eq!(spelled.parameters(), request(&[]).parameters());
    assert_eq!(spelled.selection.src_name.as_deref(), Some("Crab"));
    let mjd = |t1: &str| request(&[("T1", t1), ("T2", "58193"), ("T_format", "mjd")]).parameters();
    assert_eq!(mjd("52713.0"), mjd("52713"));
    assert_eq!(lookup(&mjd("52713.000"), "T1"), Some("52713"));

    // Every change of a used parameter changes the list.
    let base = request(&[("product", "isgri_lc")]).parameters();
    for (k, v) in [
        ("src_name", "Cyg X-1"),
        ("RA", "83.7"),
        ("radius", "12"),
        ("T1", "2004-01-01"),
        ("T2", "2017-01-01"),
        ("E1_keV", "25"),
        ("E2_keV", "60"),
        ("osa_version", "OSA10.2"),
        ("detection_threshold", "8"),
        ("time_bin", "100"),
        ("time_bin_format", "jd"),
        ("max_pointings", "10"),
        ("scw_list", "066500230010"),
    ] {
        let mut over = vec![("product", "isgri_lc"), (k, v)];
        if k == "RA" {
            over.push(("DEC", "22.01"));
        }
        let changed = request(&over).parameters();
        assert_ne!(changed, base, "{k}={v} does not change parameters()");
    }
}

// ------------------------------------------------------------------------- errors

#[test]
fn instrument_and_product_errors() {
    bad("instrument", "jemx2", &["jemx2", "isgri, jemx, spi_acs"]);
    // A known instrument without the product: the product is what is wrong.
    let e = error_with(
        &[("instrument", Some("spi_acs"))],
        "product",
        &["instrument=spi_acs", "spi_acs_lc"],
    );
    assert_eq!(e.parameter(), Some("product"));
    bad(
        "product",
        "isgri_mosaic",
        &[
            "isgri_mosaic",
            "isgri_image, isgri_spectrum, isgri_lc, spectral_fit",
        ],
    );
    let e = error_with(
        &[("product", None)],
        "product",
        &[
            "missing",
            "isgri_image, isgri_spectrum, isgri_lc, spectral_fit",
        ],
    );
    assert_eq!(e.parameter(), Some("product"));
    // product_type=Real alone is a query type, not a product.
    error_with(
        &[("product", None), ("product_type", Some("Real"))],
        "product",
        &["missing"],
    );
    // Two different products.
    error_with(
        &[("product_type", Some("isgri_lc"))],
        "product",
        &["isgri_lc", "isgri_image"],
    );
}

#[test]
fn selection_errors() {
    // An unknown source names src_name, the value and close names.
    let e = bad(
        "src_name",
        "Crabb",
        &["Crabb", "reference catalog", "did you mean Crab"],
    );
    assert!(e.to_string().contains("RA and DEC"));
    bad("src_name", "  ", &["reference catalog"]);
    for (k, v, allowed) in [
        ("RA", "400", "[0, 360)"),
        ("RA", "-1", "[0, 360)"),
        ("RA", "east", "degrees"),
        ("RA", "NaN", "degrees"),
        ("DEC", "95", "[-90, 90]"),
        ("DEC", "north", "degrees"),
    ] {
        let other = if k == "RA" {
            ("DEC", "22")
        } else {
            ("RA", "83")
        };
        let err = error_with(&[(k, Some(v)), (other.0, Some(other.1))], k, &[v, allowed]);
        assert_eq!(err.parameter(), Some(k));
    }
    bad("radius", "0", &["0", "(0, 180]"]);
    bad("radius", "-3", &["-3", "(0, 180]"]);
    bad("radius", "200", &["200", "(0, 180]"]);
    bad("radius", "wide", &["wide", "(0, 180]"]);
    bad("T_format", "unix", &["unix", "isot, mjd, ijd"]);
    bad("T1", "2003-13-01", &["2003-13-01", "YYYY-MM-DD", "month"]);
    bad("T2", "yesterday", &["yesterday", "YYYY-MM-DD"]);
    // T1 after T2, in the format given.
    let e = error_with(
        &[
            ("T1", Some("58200")),
            ("T2", Some("57000")),
            ("T_format", Some("mjd")),
        ],
        "T1",
        &["58200", "57000", "before T2"],
    );
    assert_eq!(e.parameter(), Some("T1"));
    error_with(
        &[("T1", Some("2018-03-16")), ("T2", Some("2003-03-15"))],
        "T1",
        &["2018-03-16", "2003-03-15", "before T2"],
    );
    error_with(&[("T1", None)], "T1", &["missing", "scw_list"]);
    bad(
        "osa_version",
        "OSA9",
        &["OSA9", "OSA10.2, OSA11.0, OSA11.2"],
    );
    bad("max_pointings", "0", &["\"0\"", "≥ 1"]);
    bad("max_pointings", "many", &["many", "≥ 1"]);
    bad("max_pointings", "-5", &["-5", "≥ 1"]);
    bad("scw_list", "06650023001", &["06650023001", "RRRRPPPPSSSF"]);
    bad(
        "scw_list",
        "066500230010,abc",
        &["066500230010,abc", "\"abc\"", "RRRRPPPPSSSF"],
    );
    bad("scw_list", " , ", &["RRRRPPPPSSSF"]);
}

#[test]
fn energy_errors() {
    for (k, v) in [
        ("E1_keV", "10"),
        ("E1_keV", "900"),
        ("E2_keV", "1000"),
        ("E2_keV", "15"),
        ("E1_keV", "low"),
        ("E1_keV", "NaN"),
        ("E2_keV", "inf"),
    ] {
        bad(k, v, &[v, "15 - 800 keV"]);
    }
    // E1 ≥ E2.
    let e = error_with(
        &[("E1_keV", Some("60")), ("E2_keV", Some("40"))],
        "E1_keV",
        &["60", "40", "E2_keV"],
    );
    assert_eq!(e.parameter(), Some("E1_keV"));
    error_with(
        &[("E1_keV", Some("40")), ("E2_keV", Some("40"))],
        "E1_keV",
        &["40", "E2_keV"],
    );
    // Fractional bounds (ODA's known failure) are accepted as they are.
    let r = request(&[("E1_keV", "20.32"), ("E2_keV", "40.7")]);
    assert_eq!((r.band.e1, r.band.e2), (20.32, 40.7));
    assert_eq!(lookup(&r.parameters(), "E1_keV"), Some("20.32"));
}

#[test]
fn analysis_setting_errors() {
    for v in ["0", "-3", "high", "NaN", "inf"] {
        bad("detection_threshold", v, &[v, "> 0"]);
    }
    fn lc<'a>(over: &[(&'a str, &'a str)]) -> Vec<(&'a str, Option<&'a str>)> {
        let mut o = vec![("product", Some("isgri_lc"))];
        o.extend(over.iter().map(|(k, v)| (*k, Some(*v))));
        o
    }
    for v in ["0", "-100", "0.5", "2e9", "often", "NaN"] {
        error_with(&lc(&[("time_bin", v)]), "time_bin", &[v, "seconds"]);
    }
    error_with(
        &lc(&[("time_bin", "0.00001"), ("time_bin_format", "jd")]),
        "time_bin",
        &["0.00001", "days"],
    );
    let r = request(&[
        ("product", "isgri_lc"),
        ("time_bin", "0.5"),
        ("time_bin_format", "jd"),
    ]);
    assert_eq!(r.time_bin_s, 43_200.0);
    error_with(
        &lc(&[("time_bin_format", "minutes")]),
        "time_bin_format",
        &["minutes", "sec", "jd"],
    );
    bad(
        "xspec_model",
        "bbody",
        &["bbody", "powerlaw", "cutoffpl", "bknpower"],
    );
}

#[test]
fn selected_catalog_errors() {
    bad("selected_catalog", "{not json", &["{not json", "JSON"]);
    bad("selected_catalog", "[1, 2]", &["[1, 2]", "object"]);
    let missing_dec =
        r#"{"cat_column_names": ["src_names", "ra"], "cat_column_list": [["X"], [10.0]]}"#;
    bad(
        "selected_catalog",
        missing_dec,
        &["\"dec\"", "cat_lat_name", "src_names, ra"],
    );
    let bad_ra = r#"{"cat_frame": "fk5", "cat_coord_units": "deg", "cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["Crab", "far away"], [83.6, 400.0], [22.0, 10.0]], "cat_lon_name": "ra", "cat_lat_name": "dec"}"#;
    bad(
        "selected_catalog",
        bad_ra,
        &["row 1", "far away", "400", "[0, 360)"],
    );
    let galactic = r#"{"cat_frame": "galactic", "cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["X"], [1], [2]]}"#;
    bad("selected_catalog", galactic, &["galactic", "fk5 or icrs"]);
    let empty =
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [[], [], []]}"#;
    bad("selected_catalog", empty, &["at least one source"]);
    // Names end up in FITS tables, file names and figure titles.
    let greek = r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["ζ Oph"], [249.3], [-10.6]]}"#;
    bad("selected_catalog", greek, &["printable ASCII", "ζ"]);
    let markup = r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["<b>X</b>"], [249.3], [-10.6]]}"#;
    bad("selected_catalog", markup, &["without < or >"]);
    let long = r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A source name of thirty chars"], [249.3], [-10.6]]}"#;
    bad("selected_catalog", long, &["at most 24 characters"]);
}

#[test]
fn unknown_parameters_are_named_with_suggestions() {
    let e = error_with(
        &[("E1_kev", Some("20"))],
        "E1_kev",
        &["\"20\"", "did you mean E1_keV?", "E2_keV", "time_bin"],
    );
    assert_eq!(e.parameter(), Some("E1_kev"));
    error_with(&[("ra", Some("83"))], "ra", &["did you mean RA?"]);
    error_with(
        &[("timebin", Some("10"))],
        "timebin",
        &["did you mean time_bin?"],
    );
    let e = error_with(&[("colour", Some("blue"))], "colour", &["blue", "src_name"]);
    assert!(!e.to_string().contains("did you mean"), "{e}");
}

// ---------------------------------------------------------------- warnings and protocol

#[test]
fn unused_parameters_warn() {
    let image = request(&[
        ("time_bin", "100"),
        ("time_bin_format", "sec"),
        ("xspec_model", "po"),
    ]);
    assert_eq!(
        image.warnings,
        vec![
            "time_bin is not used by isgri_image and was ignored",
            "time_bin_format is not used by isgri_image and was ignored",
            "xspec_model is not used by isgri_image and was ignored",
        ]
    );
    assert_eq!(
        image.time_bin_s, 1000.0,
        "unused parameters keep the default"
    );
    assert_eq!(lookup(&image.parameters(), "time_bin"), None);
    assert_eq!(lookup(&image.parameters(), "xspec_model"), None);
    // ...but they are still validated.
    bad("time_bin", "-1", &["-1"]);

    let spectrum = request(&[("product", "isgri_spectrum"), ("time_bin", "10")]);
    assert_eq!(spectrum.warnings.len(), 1);
    assert!(spectrum.warnings[0].contains("isgri_spectrum"));
    assert!(spectrum.requires_catalog_from_image());
    let lc = request(&[("product", "isgri_lc"), ("xspec_model", "cutoffpl")]);
    assert_eq!(lc.xspec_model, ModelKind::PowerLaw);
    assert_eq!(lc.warnings.len(), 1);
    let fit = request(&[("product", "spectral_fit"), ("xspec_model", "cutoffpl")]);
    assert!(fit.warnings.is_empty());
    assert_eq!(fit.xspec_model, ModelKind::CutoffPowerLaw);

    // A selected catalog replaces the image search of spectra and light curves.
    let json = catalog_to_oda_json(&crab_catalog()).to_string();
    let lc = request(&[
        ("product", "isgri_lc"),
        ("selected_catalog", json.as_str()),
        ("detection_threshold", "5"),
        ("E1_keV", "30"),
    ]);
    assert_eq!(lc.warnings.len(), 1, "{:?}", lc.warnings);
    assert!(lc.warnings[0].starts_with("detection_threshold"));
    assert_eq!(lc.band.e1, 30.0, "the light-curve band");
    assert_eq!(lc.detection_threshold, 7.0);
    assert!(lc.uses("E1_keV") && !lc.uses("detection_threshold"));
    let image = request(&[
        ("selected_catalog", json.as_str()),
        ("detection_threshold", "5"),
    ]);
    assert!(image.warnings.is_empty());
    assert_eq!(image.detection_threshold, 5.0);
    assert!(!image.requires_catalog_from_image());

    // A scw_list replaces the time span, the radius and the number of pointings: they stay out
    // of the product's identity.
    let listed = request(&[
        ("scw_list", "066500230010"),
        ("radius", "5"),
        ("max_pointings", "3"),
    ]);
    assert_eq!(listed.warnings.len(), 4, "{:?}", listed.warnings);
    let p = listed.parameters();
    for name in ["radius", "max_pointings", "T1", "T2", "T_format"] {
        assert_eq!(lookup(&p, name), None, "{name}");
    }
}

#[test]
fn protocol_fields_are_ignored() {
    let mut over: Vec<(&str, Option<&str>)> = PROTOCOL_FIELDS
        .iter()
        .map(|k| (*k, Some("something")))
        .collect();
    over.push(("product_type", Some("Real")));
    let r = Request::from_pairs(pairs_with(&over)).unwrap();
    assert!(r.warnings.is_empty());
    assert_eq!(r, request(&[]));
    assert_eq!(r.parameters(), request(&[]).parameters());
    assert_eq!(r.to_url_query(), request(&[]).to_url_query());
}

// ---------------------------------------------------------------------- reproduction

fn rich_requests() -> Vec<Request> {
    let json = catalog_to_oda_json(&crab_catalog()).to_string();
    vec![
        request(&[]),
        request(&[
            ("product", "spectral_fit"),
            ("selected_catalog", json.as_str()),
            ("xspec_model", "bknpower"),
            ("osa_version", "OSA10.2"),
            ("T2", "2010-01-01T12:30:00"),
        ]),
        request(&[
            ("product", "isgri_lc"),
            ("src_name", "V404 Cyg"),
            ("T1", "57190"),
            ("T2", "57200.5"),
            ("T_format", "mjd"),
            ("time_bin", "0.01"),
            ("time_bin_format", "jd"),
            ("E1_keV", "20.32"),
            ("detection_threshold", "5.5"),
            ("xspec_model", "po"),
        ]),
        request(&[
            ("product", "isgri_spectrum"),
            ("src_name", "my & odd = name + 100%"),
            ("RA", "10.5"),
            ("DEC", "-45.25"),
            ("radius", "8"),
            ("max_pointings", "7"),
        ]),
    ]
}

#[test]
fn url_query_round_trips() {
    for r in rich_requests() {
        let query = r.to_url_query();
        assert_eq!(r.to_string(), query);
        assert!(
            query.starts_with("instrument=isgri&product_type="),
            "{query}"
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let back = Request::from_pairs(pairs).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(back, r, "{query}");
        assert_eq!(back.parameters(), r.parameters());
        assert_eq!(back.to_url_query(), query);
    }
}

#[test]
fn serde_round_trip() {
    for r in rich_requests() {
        let json = serde_json::to_string(&r).unwrap();
        let back: Request = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.parameters(), r.parameters());
    }
}

#[test]
fn rust_snippet() {
    let r = &rich_requests()[1];
    let code = r.to_rust_code();
    assert!(
        code.starts_with("let request = oda::query::Request::from_pairs([\n"),
        "{code}"
    );
    assert!(
        code.contains("    (\"instrument\", \"isgri\"),\n    (\"product\", \"spectral_fit\"),\n")
    );
    assert!(code.contains("(\"xspec_model\", \"bknpower\")"));
    assert!(
        code.contains("(\"selected_catalog\", r#\"{\"cat_column_list\""),
        "{code}"
    );
    assert!(code.ends_with("])?;\nlet product = oda::query::get_product(&request)?;\n"));
}

/// Runs a Python snippet against a stand-in `oda_api` that prints the keyword arguments of
/// `get_product` as JSON.
fn python_kwargs(code: &str) -> serde_json::Map<String, serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("oda_api");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    std::fs::write(
        pkg.join("api.py"),
        "import json\n\
         class DispatcherAPI:\n    \
             def __init__(self, url):\n        self.url = url\n    \
             def get_product(self, **kwargs):\n        \
                 print(json.dumps(dict(kwargs, _url=self.url)))\n",
    )
    .unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .env("PYTHONPATH", dir.path())
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "python failed on\n{code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn python_snippet_runs_and_reproduces() {
    for r in rich_requests() {
        let code = r.to_python_code();
        assert!(
            code.starts_with("from oda_api.api import DispatcherAPI\n"),
            "{code}"
        );
        assert!(code.contains(
            "disp = DispatcherAPI(url=\"https://www.astro.unige.ch/mmoda/dispatch-data\")"
        ));
        assert!(code.contains("disp.get_product("));
        assert!(code.contains("    instrument=\"isgri\",\n"));
        assert!(code.contains(&format!("    product=\"{}\",\n", r.product)));
        assert!(code.contains("    product_type=\"Real\",\n"));
        let kwargs = python_kwargs(&code);
        assert_eq!(
            kwargs["_url"],
            "https://www.astro.unige.ch/mmoda/dispatch-data"
        );
        assert_eq!(kwargs["product_type"], "Real");
        let pairs: Vec<(String, String)> = kwargs
            .iter()
            .filter(|(k, _)| *k != "_url")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let back = Request::from_pairs(pairs).unwrap();
        assert_eq!(back, r, "{code}");
    }
    // The catalog JSON, with quotes in a name, survives Python's string syntax.
    let r = &rich_requests()[1];
    let code = r.to_python_code();
    assert!(
        code.contains(r#"    selected_catalog="{\"cat_column_list\""#),
        "{code}"
    );
    let kwargs = python_kwargs(&code);
    let cat = catalog_from_oda_json(kwargs["selected_catalog"].as_str().unwrap()).unwrap();
    assert_eq!(cat.names()[2], "my \"quoted\" src's twin");
    // Without a single quote in it, the JSON is written between single quotes, unescaped.
    let mut plain = crab_catalog();
    plain.remove("my \"quoted\" src's twin").unwrap();
    let r = Request::builder(ProductType::IsgriSpectrum)
        .src_name("Crab")
        .time_range("2003-03-15", "2018-03-16")
        .selected_catalog(&plain)
        .build()
        .unwrap();
    let code = r.to_python_code();
    let json = catalog_to_oda_json(&plain).to_string();
    assert!(
        code.contains(&format!("    selected_catalog='{json}',\n")),
        "{code}"
    );
    let kwargs = python_kwargs(&code);
    assert_eq!(kwargs["selected_catalog"], json.as_str());
}

// ---------------------------------------------------------------------- catalog JSON

#[test]
fn catalog_json_round_trip() {
    let cat = crab_catalog();
    let json = catalog_to_oda_json(&cat);
    assert_eq!(json["cat_frame"], "fk5");
    assert_eq!(json["cat_coord_units"], "deg");
    assert_eq!(json["cat_lon_name"], "ra");
    assert_eq!(json["cat_lat_name"], "dec");
    assert_eq!(
        json["cat_column_names"],
        serde_json::json!([
            "meta_ID",
            "src_names",
            "significance",
            "ra",
            "dec",
            "NEW_SOURCE",
            "ISGRI_FLAG",
            "FLAG",
            "ERR_RAD"
        ])
    );
    assert_eq!(json["cat_column_list"][0], serde_json::json!([0, 1, 2]));
    assert_eq!(json["cat_column_list"][5], serde_json::json!([0, 1, 0]));
    let err_rad = json["cat_column_list"][8][1].as_f64().unwrap();
    assert!(
        (err_rad - 0.03).abs() < 1e-12,
        "ERR_RAD in degrees: {err_rad}"
    );

    let back = catalog_from_oda_json(&json.to_string()).unwrap();
    assert_eq!(back.names(), cat.names());
    for (a, b) in back.entries().iter().zip(cat.entries()) {
        assert!(
            (a.position.ra() - b.position.ra()).abs() < 1e-9,
            "{}",
            a.name
        );
        assert!(
            (a.position.dec() - b.position.dec()).abs() < 1e-9,
            "{}",
            a.name
        );
        assert_eq!(a.significance, b.significance);
        assert_eq!(a.is_new, b.is_new);
        assert!((a.error_radius_arcmin - b.error_radius_arcmin).abs() < 1e-9);
    }
    assert_eq!(back.entries()[0].origin, Origin::User);
    assert_eq!(back.entries()[1].origin, Origin::Mosaic);
    // Written again, it is the same text.
    assert_eq!(catalog_to_oda_json(&back), json);
    // Pretty-printed or doubly encoded, it reads the same.
    let pretty = serde_json::to_string_pretty(&json).unwrap();
    assert_eq!(catalog_from_oda_json(&pretty).unwrap(), back);
    let doubly = serde_json::to_string(&json.to_string()).unwrap();
    assert_eq!(catalog_from_oda_json(&doubly).unwrap(), back);
}

#[test]
fn catalog_json_as_oda_writes_it() {
    // The example of ODA's documentation, with an extra column and other lon/lat names.
    let text = r#"{"cat_frame": "icrs", "cat_coord_units": "deg",
        "cat_column_list": [[0, 1], ["Crab", "NEW_1"], [935.2, 8.1], [83.63, 84.1], [22.01, 21.5],
                            [0, 1], [2, 2], [0, 0], [0.0002, 0.03], ["x", "y"]],
        "cat_column_names": ["meta_ID", "src_names", "significance", "RA_FIN", "DEC_FIN",
                             "NEW_SOURCE", "ISGRI_FLAG", "FLAG", "ERR_RAD", "comment"],
        "cat_lon_name": "RA_FIN", "cat_lat_name": "DEC_FIN"}"#;
    let cat = catalog_from_oda_json(text).unwrap();
    assert_eq!(cat.names(), vec!["Crab", "NEW_1"]);
    let crab = cat.get("Crab").unwrap();
    assert_eq!((crab.position.ra(), crab.position.dec()), (83.63, 22.01));
    assert_eq!(crab.significance, 935.2);
    assert!((crab.error_radius_arcmin - 0.012).abs() < 1e-12);
    assert!(!crab.is_new && cat.get("NEW_1").unwrap().is_new);
    // Only names and positions are needed.
    let minimal = r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A"], [1.5], [-2.5]]}"#;
    let cat = catalog_from_oda_json(minimal).unwrap();
    assert_eq!(cat.entries()[0].significance, 0.0);
    assert_eq!(cat.entries()[0].origin, Origin::User);
}

#[test]
fn catalog_json_errors() {
    let check = |text: &str, contains: &[&str]| {
        let err = catalog_from_oda_json(text).unwrap_err();
        assert_eq!(err.parameter(), Some("selected_catalog"), "{err}");
        let msg = err.to_string();
        for c in contains {
            assert!(msg.contains(c), "{msg:?} does not contain {c:?}");
        }
    };
    check("", &["not valid JSON"]);
    check(
        "{\"cat_column_list\": [[1]]}",
        &["cat_column_names", "missing"],
    );
    check(
        "{\"cat_column_names\": [\"ra\"]}",
        &["cat_column_list", "missing"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A"], [1]]}"#,
        &["3 names", "2 columns"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A", "B"], [1], [2, 3]]}"#,
        &["equal length", "ra"],
    );
    check(
        r#"{"cat_column_names": ["name", "ra", "dec"], "cat_column_list": [["A"], [1], [2]]}"#,
        &["\"src_names\"", "name, ra, dec"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A"], [1], [-91]]}"#,
        &["row 0", "\"A\"", "-91", "[-90, 90]"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A"], ["east"], [1]]}"#,
        &["row 0", "ra", "east"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A", "A"], [1, 2], [1, 2]]}"#,
        &["row 1", "\"A\"", "twice"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [[""], [1], [1]]}"#,
        &["row 0", "non-empty"],
    );
    check(
        r#"{"cat_coord_units": "rad", "cat_column_names": ["src_names", "ra", "dec"], "cat_column_list": [["A"], [1], [1]]}"#,
        &["rad", "deg"],
    );
    check(
        r#"{"cat_column_names": ["src_names", "ra", "dec", "ERR_RAD"], "cat_column_list": [["A"], [1], [1], [-0.1]]}"#,
        &["ERR_RAD", "-0.1"],
    );
}

/// The snippet of `to_rust_code`, pasted as code: it compiles and gives back the request.
#[test]
fn rust_snippet_snapshot_compiles() -> oda::Result<()> {
    const SNIPPET: &str = r###"let request = oda::query::Request::from_pairs([
    ("instrument", "isgri"),
    ("product", "spectral_fit"),
    ("T1", "2003-03-15"),
    ("T2", "2010-01-01T12:30:00"),
    ("osa_version", "OSA10.2"),
    ("selected_catalog", r#"{"cat_column_list":[[0,1,2],["Crab","NEW_1","my \"quoted\" src's twin"],[935.2,8.1,0.0],[83.6330833333,84.1,359.999999999],[22.0145,-21.5,89.9],[0,1,0],[2,2,2],[0,0,0],[0.0002,0.03,0.0]],"cat_column_names":["meta_ID","src_names","significance","ra","dec","NEW_SOURCE","ISGRI_FLAG","FLAG","ERR_RAD"],"cat_coord_units":"deg","cat_frame":"fk5","cat_lat_name":"dec","cat_lon_name":"ra"}"#),
    ("src_name", "Crab"),
    ("xspec_model", "bknpower"),
])?;
let product = oda::query::get_product(&request)?;
"###;
    let expected = &rich_requests()[1];
    assert_eq!(expected.to_rust_code(), SNIPPET);
    let request = oda::query::Request::from_pairs([
        ("instrument", "isgri"),
        ("product", "spectral_fit"),
        ("T1", "2003-03-15"),
        ("T2", "2010-01-01T12:30:00"),
        ("osa_version", "OSA10.2"),
        (
            "selected_catalog",
            r#"{"cat_column_list":[[0,1,2],["Crab","NEW_1","my \"quoted\" src's twin"],[935.2,8.1,0.0],[83.6330833333,84.1,359.999999999],[22.0145,-21.5,89.9],[0,1,0],[2,2,2],[0,0,0],[0.0002,0.03,0.0]],"cat_column_names":["meta_ID","src_names","significance","ra","dec","NEW_SOURCE","ISGRI_FLAG","FLAG","ERR_RAD"],"cat_coord_units":"deg","cat_frame":"fk5","cat_lat_name":"dec","cat_lon_name":"ra"}"#,
        ),
        ("src_name", "Crab"),
        ("xspec_model", "bknpower"),
    ])?;
    assert_eq!(&request, expected);
    Ok(())
}
