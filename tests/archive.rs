//! The archive end to end: selection as ODA does it, materialisation, the same reader on a
//! real-layout tree, bad files, and an independent check of the files with astropy.

#[path = "support/astropy.rs"]
mod astropy;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use astropy::astropy_check;

use oda::archive::{Archive, INDEX_PATH, ScwId, ScwSelection, read_events, read_index};
use oda::config::Settings;
use oda::osa::OsaVersion;
use oda::simulate::{DEFAULT_SEED, Simulation};

/// One simulated archive shared by the tests of this file (its index is written once).
fn shared_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn archive() -> Archive {
    Archive::open(&Settings::simulated(shared_dir())).unwrap()
}

fn select(pairs: &[(&str, &str)]) -> oda::Result<oda::archive::Selection> {
    archive().select(&ScwSelection::from_pairs(pairs.iter().copied())?)
}

const CRAB_PAPER: [(&str, &str); 3] = [
    ("src_name", "Crab"),
    ("T1", "2003-03-15"),
    ("T2", "2018-03-16"),
];

#[test]
fn crab_selection_is_reproducible_sorted_and_within_limits() {
    let a = select(&CRAB_PAPER).unwrap();
    let b = select(&CRAB_PAPER).unwrap();
    assert_eq!(a.ids(), b.ids(), "the random pick is reproducible");
    assert_eq!(a.scws.len(), 50, "max_pointings defaults to 50");
    assert!(a.candidates > 1000);
    assert!(a.ids().windows(2).all(|w| w[0] < w[1]), "sorted");
    let t1 = oda::time::Time::from_isot("2003-03-15").unwrap().ijd();
    let t2 = oda::time::Time::from_isot("2018-03-16").unwrap().ijd();
    let crab = oda::sky::resolve("Crab").unwrap();
    for s in &a.scws {
        assert!(s.tstart >= t1 && s.tstop <= t2);
        assert!(s.attitude.pointing().separation(&crab) <= 15.0);
    }
    // The pick spreads over the years, as a random draw should.
    let years: std::collections::BTreeSet<i32> = a
        .scws
        .iter()
        .map(|s| oda::time::Time::from_ijd(s.tstart).unwrap().year() as i32)
        .collect();
    assert!(years.len() >= 8, "{years:?}");
    // Fewer pointings: a subset drawn the same way.
    let five = select(&[
        CRAB_PAPER[0],
        CRAB_PAPER[1],
        CRAB_PAPER[2],
        ("max_pointings", "5"),
    ])
    .unwrap();
    assert_eq!(five.scws.len(), 5);
    // The same selection by coordinates, in MJD.
    let by_coords = select(&[
        ("RA", "83.633"),
        ("DEC", "22.014"),
        ("T1", "52713"),
        ("T2", "58193"),
        ("T_format", "mjd"),
    ])
    .unwrap();
    assert_eq!(by_coords.candidates, a.candidates);
}

#[test]
fn osa_versions_limit_the_selection_to_their_era() {
    let late = [
        ("src_name", "Crab"),
        ("T1", "2015-01-01"),
        ("T2", "2018-12-31"),
    ];
    let all = select(&late).unwrap();
    let mut v10 = late.to_vec();
    v10.push(("osa_version", "OSA10.2"));
    let only_early = select(&v10).unwrap();
    assert!(only_early.scws.iter().all(|s| s.swid.revolution() < 1626));
    assert!(only_early.candidates < all.candidates);
    let note = only_early.comments.join(" ");
    assert!(
        note.contains("OSA10.2") && note.contains("OSA11.0"),
        "{note}"
    );
    // Only OSA11-era data under OSA10.2: an error naming the version to use.
    let e = select(&[
        ("src_name", "Crab"),
        ("T1", "2017-01-01"),
        ("T2", "2018-12-31"),
        ("osa_version", "OSA10.2"),
    ])
    .unwrap_err();
    assert!(matches!(e, oda::Error::EmptySelection { .. }));
    assert!(e.to_string().contains("osa_version=OSA11.0"), "{e}");
    let e = select(&[
        ("src_name", "Crab"),
        ("T1", "2004-01-01"),
        ("T2", "2005-01-01"),
        ("osa_version", "OSA11.0"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("OSA11.2"), "{e}");
    assert_eq!(OsaVersion::default(), OsaVersion::Osa11_2);
}

#[test]
fn bad_requests_name_the_parameter() {
    let cases: [(&[(&str, &str)], &str); 9] = [
        (
            &[
                ("src_name", "Crabb"),
                ("T1", "2004-01-01"),
                ("T2", "2005-01-01"),
            ],
            "did you mean Crab",
        ),
        (
            &[
                ("src_name", "Crab"),
                ("T1", "2005-01-01"),
                ("T2", "2004-01-01"),
            ],
            "T1",
        ),
        (
            &[
                ("RA", "360"),
                ("DEC", "0"),
                ("T1", "2004-01-01"),
                ("T2", "2005-01-01"),
            ],
            "RA",
        ),
        (
            &[
                ("RA", "10"),
                ("DEC", "-91"),
                ("T1", "2004-01-01"),
                ("T2", "2005-01-01"),
            ],
            "DEC",
        ),
        (
            &[
                ("src_name", "Crab"),
                ("radius", "0"),
                ("T1", "2004-01-01"),
                ("T2", "2005-01-01"),
            ],
            "radius",
        ),
        (
            &[
                ("src_name", "Crab"),
                ("T1", "2004-13-01"),
                ("T2", "2005-01-01"),
            ],
            "T1",
        ),
        (&[("scw_list", "15540012001")], "RRRRPPPPSSSF"),
        (
            &[
                ("src_name", "Crab"),
                ("T1", "2004-01-01"),
                ("T2", "2005-01-01"),
                ("E1_keV", "20"),
            ],
            "E1_keV",
        ),
        (&[("src_name", "Crab")], "T1"),
    ];
    for (pairs, needle) in cases {
        let e = select(pairs).unwrap_err();
        assert!(e.to_string().contains(needle), "{pairs:?}: {e}");
    }
    let e = select(&[
        ("src_name", "Crab"),
        ("T1", "2003-01-01"),
        ("T2", "2003-01-02"),
        ("radius", "0.01"),
    ])
    .unwrap_err();
    assert!(matches!(e, oda::Error::EmptySelection { .. }), "{e}");
    let e = select(&[("scw_list", "999900010010")]).unwrap_err();
    assert!(e.to_string().contains("not in the archive"), "{e}");
}

#[test]
fn materialised_scws_regenerate_bit_identically_and_read_back() {
    let ar = archive();
    let id = ar.index().scws[1234].swid;
    let path = ar.events_path(&id).unwrap();
    assert!(path.ends_with(format!(
        "scw/{}/{}/isgri_events.fits",
        id.revolution_dir(),
        id.with_version()
    )));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!ar.is_materialised(&id));
    let again = ar.events_path(&id).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&again).unwrap(),
        "regenerated bit-identically"
    );
    let ev = ar.events(&id).unwrap();
    assert_eq!(ev, ar.event_source().unwrap().events(&id).unwrap());
    assert_eq!(
        ev,
        Simulation::new(DEFAULT_SEED).unwrap().events(&id).unwrap()
    );
}

#[test]
fn another_seed_is_another_archive() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(&Settings::simulated(dir.path()).with_seed(1)).unwrap();
    let b = Archive::open(&Settings::simulated(dir.path()).with_seed(2)).unwrap();
    assert_ne!(a.root(), b.root());
    let id = a.index().scws[10].swid;
    assert_eq!(a.index(), b.index(), "same sky, same observing plan");
    assert_ne!(a.events(&id).unwrap().time, b.events(&id).unwrap().time);
}

/// Copies a materialised ScW and the index into a tree laid out like the real archive
/// (events gzipped, as they are there).
fn real_layout_copy(ar: &Archive, id: &ScwId, root: &Path) -> PathBuf {
    let src = ar.events_path(id).unwrap();
    let dir = root
        .join("scw")
        .join(id.revolution_dir())
        .join(id.with_version());
    std::fs::create_dir_all(&dir).unwrap();
    let gz = dir.join("isgri_events.fits.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&src).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let idx = root.join(INDEX_PATH);
    std::fs::create_dir_all(idx.parent().unwrap()).unwrap();
    std::fs::copy(ar.root().join(INDEX_PATH), &idx).unwrap();
    gz
}

#[test]
fn the_same_reader_works_on_a_real_archive_tree() {
    let ar = archive();
    let id = ar.index().scws[77].swid;
    let root = tempfile::tempdir().unwrap();
    let gz = real_layout_copy(&ar, &id, root.path());
    let real = Archive::open(&Settings::simulated(shared_dir()).with_archive(root.path())).unwrap();
    assert!(real.event_source().is_none() && !real.is_generated());
    assert_eq!(real.index(), ar.index());
    assert_eq!(real.events_path(&id).unwrap(), gz);
    assert_eq!(real.events(&id).unwrap(), ar.events(&id).unwrap());
    // A ScW the real tree does not hold is a clear error, not a simulation.
    let other = ar.index().scws[78].swid;
    let e = real.events(&other).unwrap_err();
    assert!(e.to_string().contains("no isgri_events.fits"), "{e}");
    // A root that is not an archive names the setting.
    let e = Archive::open(&Settings::simulated(shared_dir()).with_archive("/nonexistent/integral"))
        .unwrap_err();
    assert!(e.to_string().contains("ODA_ARCHIVE"), "{e}");

    // Calibration: none in this tree, and the error says which file is missing.
    let e = real.calibration(OsaVersion::Osa11_2).unwrap_err();
    assert!(
        e.to_string().contains("ODA_ARCHIVE") && e.to_string().contains("idx/ic/ISGR-IC-IDX.fits"),
        "{e}"
    );
    // The simulated archive's files copied in: read the same way, checksummed.
    let simulated = ar.calibration(OsaVersion::Osa11_2).unwrap();
    copy_dir(&ar.root().join("ic"), &root.path().join("ic"));
    copy_dir(&ar.root().join("idx/ic"), &root.path().join("idx/ic"));
    let again =
        Archive::open(&Settings::simulated(shared_dir()).with_archive(root.path())).unwrap();
    let read = again.calibration(OsaVersion::Osa11_2).unwrap();
    assert_eq!(read.files, simulated.files);
    assert_eq!(read.eras, simulated.eras);
    assert!(read.files.iter().all(|f| f.sha256.len() == 64));
    // A missing background file is named, with every other missing one.
    let gone = &read
        .files
        .iter()
        .find(|f| f.path.contains("bkg"))
        .unwrap()
        .path;
    std::fs::remove_file(root.path().join(gone)).unwrap();
    std::fs::remove_file(root.path().join("ic/ibis/rsp/isgr_rsp_mod_112.fits")).unwrap();
    let fresh =
        Archive::open(&Settings::simulated(shared_dir()).with_archive(root.path())).unwrap();
    let e = fresh
        .calibration(OsaVersion::Osa11_2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(gone.as_str()) && e.contains("isgr_rsp_mod_112.fits") && e.contains("OSA11.2"),
        "{e}"
    );
    // Other versions' files are still all there.
    assert!(fresh.calibration(OsaVersion::Osa10_2).is_ok());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_truncated_event_file_is_a_clear_error() {
    let ar = archive();
    let id = ar.index().scws[4321].swid;
    let path = ar.events_path(&id).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = ar.events(&id).unwrap_err();
    assert!(e.is_file_error(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("isgri_events.fits") && msg.contains("ISGR-EVTS-ALL"),
        "{msg}"
    );
    std::fs::remove_file(&path).unwrap();
    assert!(
        ar.events(&id).is_ok(),
        "deleting the broken file lets it regenerate"
    );
}

#[test]
fn files_pass_an_independent_astropy_check() {
    let ar = archive();
    // A V404 Cyg outburst pointing: bright, variable, with GTIs.
    let sel = select(&[
        ("src_name", "V404 Cyg"),
        ("T1", "2015-06-20"),
        ("T2", "2015-06-27"),
        ("max_pointings", "1"),
    ])
    .unwrap();
    let path = ar.events_path(&sel.scws[0].swid).unwrap();
    astropy_check("events", &path);
    astropy_check("index", &ar.root().join(INDEX_PATH));
    let index = read_index(&ar.root().join(INDEX_PATH)).unwrap();
    assert_eq!(&index, ar.index());
    assert!(read_events(&path).unwrap().len() > 1_000_000);
}
