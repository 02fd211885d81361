//! The `oda` command line, run as a user would: `scw list` and `scw fetch`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn oda(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oda"))
        .args(["--data", data_dir().to_str().unwrap()])
        .args(args)
        .env_remove("ODA_ARCHIVE")
        .env_remove("ODA_SIM_SEED")
        .env_remove("ODA_SIM_SKY")
        .env_remove("ODA_SIM_PERTURB")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn scw_list_prints_one_scw_per_line_swid_first() {
    let args = [
        "scw",
        "list",
        "src_name=Crab",
        "T1=2003-03-15",
        "T2=2018-03-16",
    ];
    let out = oda(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50);
    for l in &lines {
        let swid = l.split_whitespace().next().unwrap();
        assert!(
            swid.len() == 12 && swid.bytes().all(|b| b.is_ascii_digit()),
            "{l}"
        );
    }
    assert!(stderr(&out).contains("random pick"), "{}", stderr(&out));
    assert_eq!(
        stdout(&oda(&args)),
        text,
        "the same request selects the same ScWs"
    );
}

#[test]
fn scw_list_json_is_machine_readable() {
    let out = oda(&[
        "scw",
        "list",
        "--json",
        "RA=306.016",
        "DEC=33.867",
        "radius=10",
        "T1=57191",
        "T2=57201",
        "T_format=mjd",
        "max_pointings=7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let scws = doc["scws"].as_array().unwrap();
    assert_eq!(scws.len(), 7);
    for s in scws {
        assert!(s["offset_deg"].as_f64().unwrap() <= 10.0);
        assert!(s["telapse_s"].as_f64().unwrap() >= 1800.0);
        assert!(s["tstart"].as_str().unwrap().starts_with("2015-06-"));
    }
    assert_eq!(doc["request"]["max_pointings"], 7);
}

/// The SWIDs of `n` NGC 2110 pointings of 2004–2011, as `oda scw list` picks them.
fn ngc_2110_scws(n: usize) -> Vec<String> {
    let max = format!("max_pointings={n}");
    let list = oda(&[
        "scw",
        "list",
        "src_name=NGC 2110",
        "T1=2004-01-01",
        "T2=2012-01-01",
        &max,
    ]);
    assert!(list.status.success(), "{}", stderr(&list));
    stdout(&list).lines().map(|l| l[..12].to_string()).collect()
}

#[test]
fn scw_fetch_materialises_and_prints_paths() {
    let ids = ngc_2110_scws(2);
    let out = oda(&["scw", "fetch", &ids[0], &format!("{}.001", ids[1])]);
    assert!(out.status.success(), "{}", stderr(&out));
    let paths: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(paths.len(), 2);
    for (p, id) in paths.iter().zip(&ids) {
        assert!(p.ends_with(&format!("{id}.001/isgri_events.fits")), "{p}");
        assert!(std::fs::metadata(p).unwrap().len() > 10_000_000);
    }
    // Selection parameters work with fetch too.
    let out = oda(&[
        "scw",
        "fetch",
        "src_name=NGC 2110",
        "T1=2004-01-01",
        "T2=2012-01-01",
        "max_pointings=2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2);
}

#[test]
fn a_perturbed_instrument_has_its_own_archive_and_events() {
    let id = ngc_2110_scws(1).remove(0);
    let nominal = oda(&["scw", "fetch", &id]);
    let perturbed = oda(&["--perturb", "area=1.05,gain=1.01", "scw", "fetch", &id]);
    assert!(perturbed.status.success(), "{}", stderr(&perturbed));
    let (a, b) = (stdout(&nominal), stdout(&perturbed));
    assert!(b.contains("/seed-20021017-perturbed-"), "{b}");
    assert!(!a.contains("perturbed"), "{a}");
    let read = |p: &str| std::fs::read(p.trim()).unwrap();
    // Same ScW, same seed, another instrument: other events.
    assert!(read(&a) != read(&b));
}

#[test]
fn bad_input_fails_clearly() {
    let cases: [(&[&str], &str); 10] = [
        (
            &[
                "scw",
                "list",
                "src_name=Cyg X-7",
                "T1=2004-01-01",
                "T2=2005-01-01",
            ],
            "did you mean Cyg X-1",
        ),
        (
            &[
                "scw",
                "list",
                "src_name=Crab",
                "T1=2005-01-01",
                "T2=2004-01-01",
            ],
            "T1",
        ),
        (
            &[
                "scw",
                "list",
                "RA=-5",
                "DEC=0",
                "T1=2004-01-01",
                "T2=2005-01-01",
            ],
            "RA",
        ),
        (
            &[
                "scw",
                "list",
                "src_name=Crab",
                "radius=-1",
                "T1=2004-01-01",
                "T2=2005-01-01",
            ],
            "radius",
        ),
        (
            &[
                "scw",
                "list",
                "src_name=Crab",
                "T1=2004-01-01",
                "T2=2005-01-01",
                "T_format=utc",
            ],
            "T_format",
        ),
        (
            &[
                "scw",
                "list",
                "src_name=Crab",
                "T1=2017-01-01",
                "T2=2018-01-01",
                "osa_version=OSA10.2",
            ],
            "osa_version=OSA11.0",
        ),
        (&["scw", "fetch", "0665003300"], "RRRRPPPPSSSF"),
        (
            &["--seed", "many", "scw", "list", "src_name=Crab"],
            "--seed",
        ),
        (
            &["--perturb", "gain=2", "scw", "list", "src_name=Crab"],
            "gain between 0.9 and 1.1",
        ),
        (
            &["--perturb", "tilt=1", "scw", "list", "src_name=Crab"],
            "--perturb",
        ),
    ];
    for (args, needle) in cases {
        let out = oda(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(
            err.contains("oda: error") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    // `oda scw list ... | head -1`: the reader goes away after one line.
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_oda"))
        .args(["--data", data_dir().to_str().unwrap()])
        .args([
            "scw",
            "list",
            "src_name=Crab",
            "T1=2003-01-01",
            "T2=2019-12-31",
            "max_pointings=5000",
        ])
        .env_remove("ODA_ARCHIVE")
        .env_remove("ODA_SIM_SEED")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}
