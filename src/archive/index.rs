//! The Science Window index, `idx/scw/GNRL-SCWG-GRP-IDX.fits`.
//!
//! Extension `GNRL-SCWG-GRP-IDX` holds one row per Science Window: SWID (12A), SW_TYPE (8A),
//! VERSION (3A), REVOL (1J), RA_SCX, DEC_SCX, RA_SCZ, DEC_SCZ (1D, deg), TSTART, TSTOP
//! (1D, IJD) and TELAPSE (1D, s). [`read_index`] keeps the pointings (`SW_TYPE = 'POINTING'`)
//! and ignores any other columns, so it reads the real archive's index as well.

use std::path::Path;

use fitsio::tables::ColumnDataType;
use serde::{Deserialize, Serialize};

use super::events::sky_position;
use super::{SCW_VERSION, ScwId};
use crate::error::{Error, Result};
use crate::fits::{self, Column, Table};
use crate::sky::Attitude;

/// One row of the ScW index: a pointing with its attitude and time span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScienceWindow {
    /// The identifier.
    pub swid: ScwId,
    /// Spacecraft attitude during the pointing.
    pub attitude: Attitude,
    /// Start, IJD (TT).
    pub tstart: f64,
    /// Stop, IJD (TT).
    pub tstop: f64,
    /// Elapsed time, seconds.
    pub telapse: f64,
}

/// The index of all Science Windows of an archive, sorted by identifier.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScwIndex {
    /// The rows.
    pub scws: Vec<ScienceWindow>,
}

impl ScwIndex {
    /// The row of `swid`, if the index has it.
    pub fn get(&self, swid: &ScwId) -> Option<&ScienceWindow> {
        self.scws
            .binary_search_by(|s| s.swid.cmp(swid))
            .ok()
            .and_then(|i| self.scws.get(i))
    }
}

/// EXTNAME (and file stem) of the ScW index.
const INDEX_EXTNAME: &str = "GNRL-SCWG-GRP-IDX";
/// SW_TYPE of a pointing.
const POINTING: &str = "POINTING";

/// The columns of the index, in file order.
const INDEX_COLUMNS: [Column; 11] = [
    text_column("SWID", 12),
    text_column("SW_TYPE", 8),
    text_column("VERSION", 3),
    Column {
        name: "REVOL",
        typ: ColumnDataType::Int,
        repeat: 1,
        unit: "",
    },
    double_column("RA_SCX", "deg"),
    double_column("DEC_SCX", "deg"),
    double_column("RA_SCZ", "deg"),
    double_column("DEC_SCZ", "deg"),
    double_column("TSTART", "d"),
    double_column("TSTOP", "d"),
    double_column("TELAPSE", "s"),
];

/// The columns [`read_index`] needs.
const REQUIRED_COLUMNS: [&str; 9] = [
    "SWID", "SW_TYPE", "RA_SCX", "DEC_SCX", "RA_SCZ", "DEC_SCZ", "TSTART", "TSTOP", "TELAPSE",
];

const fn text_column(name: &'static str, width: usize) -> Column {
    Column {
        name,
        typ: ColumnDataType::String,
        repeat: width,
        unit: "",
    }
}

const fn double_column(name: &'static str, unit: &'static str) -> Column {
    Column {
        name,
        typ: ColumnDataType::Double,
        repeat: 1,
        unit,
    }
}

/// Writes `index` to `path` as `GNRL-SCWG-GRP-IDX`, rows sorted by SWID.
///
/// The write is atomic (the file appears complete or not at all, an existing file is replaced
/// only on success), creates missing parent directories and gives the same bytes for the same
/// input.
///
/// # Errors
/// [`Error::Fits`] when a row is inconsistent (the same SWID twice, a slew SWID, non-finite
/// times, TSTOP before TSTART, negative TELAPSE) or cfitsio fails; [`Error::Io`] when the
/// directory cannot be created or the file cannot be renamed into place.
pub fn write_index(path: &Path, index: &ScwIndex) -> Result<()> {
    let mut rows: Vec<&ScienceWindow> = index.scws.iter().collect();
    rows.sort_by_key(|s| s.swid);
    for (i, s) in rows.iter().enumerate() {
        let bad = |m: String| {
            Error::fits(
                path,
                format!("cannot write the index: science window {}: {m}", s.swid),
            )
        };
        if i > 0 && rows[i - 1].swid == s.swid {
            return Err(bad("appears twice".into()));
        }
        if !s.swid.is_pointing() {
            return Err(bad("is not a pointing (its type digit is not 0)".into()));
        }
        check_times(s.tstart, s.tstop, s.telapse).map_err(bad)?;
    }
    let column = |f: fn(&ScienceWindow) -> f64| rows.iter().map(|s| f(s)).collect::<Vec<f64>>();
    fits::write_atomically(path, |f| {
        f.empty_primary()?;
        let hdu = f.table(INDEX_EXTNAME, &INDEX_COLUMNS)?;
        f.key_str(&hdu, "TELESCOP", "INTEGRAL", "Telescope or mission name")?;
        f.key_str(&hdu, "TIMESYS", "TT", "Terrestrial Time")?;
        f.key_str(&hdu, "TIMEUNIT", "d", "Times are in days")?;
        f.key_f64(
            &hdu,
            "MJDREF",
            crate::time::IJD_MJD_OFFSET,
            "MJD of IJD 0 (2000-01-01T00:00:00 TT)",
        )?;
        let swid: Vec<String> = rows.iter().map(|s| s.swid.to_string()).collect();
        f.column(&hdu, "SWID", &swid)?;
        f.column(&hdu, "SW_TYPE", &vec![POINTING.to_string(); rows.len()])?;
        f.column(&hdu, "VERSION", &vec![SCW_VERSION.to_string(); rows.len()])?;
        let revol: Vec<i32> = rows.iter().map(|s| s.swid.revolution() as i32).collect();
        f.column(&hdu, "REVOL", &revol)?;
        f.column(&hdu, "RA_SCX", &column(|s| s.attitude.pointing().ra()))?;
        f.column(&hdu, "DEC_SCX", &column(|s| s.attitude.pointing().dec()))?;
        f.column(&hdu, "RA_SCZ", &column(|s| s.attitude.z_axis().ra()))?;
        f.column(&hdu, "DEC_SCZ", &column(|s| s.attitude.z_axis().dec()))?;
        f.column(&hdu, "TSTART", &column(|s| s.tstart))?;
        f.column(&hdu, "TSTOP", &column(|s| s.tstop))?;
        f.column(&hdu, "TELAPSE", &column(|s| s.telapse))
    })
}

/// Checks the times of one row.
fn check_times(tstart: f64, tstop: f64, telapse: f64) -> std::result::Result<(), String> {
    for (name, v) in [("TSTART", tstart), ("TSTOP", tstop), ("TELAPSE", telapse)] {
        if !v.is_finite() {
            return Err(format!("column {name}: {v} is not a finite number"));
        }
    }
    if tstop < tstart {
        return Err(format!("column TSTOP: {tstop} is before TSTART ({tstart})"));
    }
    if telapse < 0.0 {
        return Err(format!("column TELAPSE: {telapse} s is negative"));
    }
    Ok(())
}

/// Reads the ScW index (`GNRL-SCWG-GRP-IDX.fits`, or its `.gz`): the pointings, sorted by SWID.
///
/// Rows whose SW_TYPE is not `POINTING` are skipped; columns other than those listed in the
/// module documentation are ignored.
///
/// # Errors
/// [`Error::Fits`] naming the file, and for bad values the row (counted from 1) and the column:
/// a file cfitsio cannot read, a missing extension or column, a malformed or repeated SWID,
/// non-finite times, TSTOP before TSTART, negative TELAPSE, or RA/Dec out of range.
pub fn read_index(path: &Path) -> Result<ScwIndex> {
    fits::guard(path, || {
        let mut f = fits::open_readonly_no_size_check(path)?;
        let t = Table::find(&mut f, path, INDEX_EXTNAME)?.ok_or_else(|| {
            Error::fits(
                path,
                format!("no {INDEX_EXTNAME} extension (the ScW index)"),
            )
        })?;
        t.require_columns(&REQUIRED_COLUMNS)?;
        let sw_type = t.string_values(&mut f, "SW_TYPE")?;
        let swid = t.string_values(&mut f, "SWID")?;
        let mut numbers = Vec::with_capacity(REQUIRED_COLUMNS.len() - 2);
        for name in &REQUIRED_COLUMNS[2..] {
            numbers.push(t.numeric_column::<f64>(&mut f, name)?);
        }
        let [ra_x, dec_x, ra_z, dec_z, tstart, tstop, telapse] = numbers.as_slice() else {
            return Err(t.error("internal error: unexpected number of columns"));
        };
        let mut scws = Vec::with_capacity(t.num_rows());
        for i in (0..t.num_rows()).filter(|&i| sw_type[i] == POINTING) {
            let bad = |m: String| t.error(format!("row {}, {m}", i + 1));
            let id: ScwId = swid[i].parse().map_err(|_| {
                bad(format!(
                    "column SWID: {:?} is not a ScW id (12 digits RRRRPPPPSSSF)",
                    swid[i]
                ))
            })?;
            check_times(tstart[i], tstop[i], telapse[i]).map_err(bad)?;
            let x = sky_position(ra_x[i], dec_x[i], "RA_SCX", "DEC_SCX")
                .map_err(|m| bad(format!("column {m}")))?;
            let z = sky_position(ra_z[i], dec_z[i], "RA_SCZ", "DEC_SCZ")
                .map_err(|m| bad(format!("column {m}")))?;
            scws.push((
                i,
                ScienceWindow {
                    swid: id,
                    attitude: Attitude::new(x, z),
                    tstart: tstart[i],
                    tstop: tstop[i],
                    telapse: telapse[i],
                },
            ));
        }
        scws.sort_by_key(|(_, s)| s.swid);
        if let Some(w) = scws.windows(2).find(|w| w[0].1.swid == w[1].1.swid) {
            return Err(t.error(format!(
                "rows {} and {}, column SWID: science window {} appears twice",
                w[0].0 + 1,
                w[1].0 + 1,
                w[0].1.swid
            )));
        }
        Ok(ScwIndex {
            scws: scws.into_iter().map(|(_, s)| s).collect(),
        })
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use fitsio::FitsFile;

    use super::*;
    use crate::sky::SkyCoord;

    /// `n` pointings of revolutions 100, 101, ..., in a shuffled order.
    fn sample_index(n: usize) -> ScwIndex {
        let mut scws: Vec<ScienceWindow> = (0..n)
            .map(|i| {
                let (rev, pointing) = (100 + i / 120, i % 120);
                let tstart = 1000.0 + i as f64 * 0.025 + 1e-7 * (i % 7) as f64;
                let x = SkyCoord::new(
                    (i as f64 * 7.31) % 360.0,
                    ((i as f64 * 0.37) % 170.0) - 85.0,
                )
                .unwrap();
                ScienceWindow {
                    swid: ScwId::new(rev as u32, pointing as u32, 10, 0).unwrap(),
                    attitude: Attitude::with_roll(x, (i as f64 * 13.7) % 360.0),
                    tstart,
                    tstop: tstart + 0.02,
                    telapse: 0.02 * 86_400.0,
                }
            })
            .collect();
        // A deterministic shuffle: the writer sorts.
        let len = scws.len();
        for i in 0..len {
            scws.swap(i, (i * 7_919) % len);
        }
        ScwIndex { scws }
    }

    fn sorted(mut index: ScwIndex) -> ScwIndex {
        index.scws.sort_by_key(|s| s.swid);
        index
    }

    /// Asserts equality, allowing for the re-orthogonalised Z axis (~1e-14 degrees).
    fn assert_same(a: &ScwIndex, b: &ScwIndex) {
        assert_eq!(a.scws.len(), b.scws.len());
        for (s, t) in a.scws.iter().zip(&b.scws) {
            assert_eq!(
                (s.swid, s.tstart, s.tstop, s.telapse),
                (t.swid, t.tstart, t.tstop, t.telapse)
            );
            assert_eq!(s.attitude.pointing(), t.attitude.pointing());
            assert!(s.attitude.z_axis().separation(&t.attitude.z_axis()) < 1e-12);
        }
    }

    fn fits_message(e: Error) -> String {
        assert!(
            matches!(e, Error::Fits { .. }),
            "expected Error::Fits, got {e:?}"
        );
        e.to_string()
    }

    #[test]
    fn round_trips_sorted_by_swid() {
        let dir = tempfile::tempdir().unwrap();
        for n in [0, 1, 1_000] {
            let index = sample_index(n);
            let path = dir
                .path()
                .join(format!("idx{n}/scw/GNRL-SCWG-GRP-IDX.fits"));
            write_index(&path, &index).unwrap();
            assert_same(&read_index(&path).unwrap(), &sorted(index));
        }
    }

    #[test]
    fn same_input_gives_identical_bytes_and_gzip_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let index = sample_index(500);
        let (a, b) = (dir.path().join("a.fits"), dir.path().join("b.fits"));
        write_index(&a, &index).unwrap();
        write_index(&b, &sorted(index.clone())).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());

        let gz = dir.path().join("GNRL-SCWG-GRP-IDX.fits.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&bytes).unwrap();
        enc.finish().unwrap();
        assert_same(&read_index(&gz).unwrap(), &sorted(index));
    }

    #[test]
    fn layout_matches_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("GNRL-SCWG-GRP-IDX.fits");
        write_index(&path, &sample_index(3)).unwrap();
        let mut f = FitsFile::open(&path).unwrap();
        let hdu = f.hdu(INDEX_EXTNAME).unwrap();
        let key = |f: &mut FitsFile, k: &str| hdu.read_key::<String>(f, k).unwrap();
        let forms: Vec<String> = (1..=11)
            .map(|i| key(&mut f, &format!("TFORM{i}")))
            .collect();
        assert_eq!(
            forms,
            [
                "12A", "8A", "3A", "1J", "1D", "1D", "1D", "1D", "1D", "1D", "1D"
            ]
        );
        assert_eq!(key(&mut f, "TUNIT5"), "deg");
        assert_eq!(key(&mut f, "TUNIT9"), "d");
        assert_eq!(key(&mut f, "TUNIT11"), "s");
        assert_eq!(key(&mut f, "TIMESYS"), "TT");
        assert_eq!(hdu.read_key::<i64>(&mut f, "NAXIS2").unwrap(), 3);
        let versions: Vec<String> = hdu.read_col(&mut f, "VERSION").unwrap();
        assert_eq!(versions, ["001"; 3]);
    }

    #[test]
    fn slews_are_skipped_and_bad_rows_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("GNRL-SCWG-GRP-IDX.fits");
        let index = sorted(sample_index(10));
        // Rewrites row `row` (0-based) of a string column.
        let put_str = |col: &str, row: usize, v: &str| {
            let mut f = FitsFile::edit(&path).unwrap();
            let hdu = f.hdu(INDEX_EXTNAME).unwrap();
            let mut values: Vec<String> = hdu.read_col(&mut f, col).unwrap();
            values[row] = v.to_string();
            hdu.write_col(&mut f, col, &values).unwrap();
        };
        let put_f64 = |col: &str, row: usize, v: f64| {
            let mut f = FitsFile::edit(&path).unwrap();
            let hdu = f.hdu(INDEX_EXTNAME).unwrap();
            hdu.write_col_range(&mut f, col, &[v], &(row..row + 1))
                .unwrap();
        };

        write_index(&path, &index).unwrap();
        put_str("SW_TYPE", 3, "SLEW");
        put_str("SWID", 3, "garbage");
        let back = read_index(&path).unwrap();
        assert_eq!(back.scws.len(), 9);
        assert!(!back.scws.iter().any(|s| s.swid == index.scws[3].swid));

        let cases: [(&dyn Fn(), &str); 6] = [
            (
                &|| put_str("SWID", 4, "12345"),
                "row 5, column SWID: \"12345\"",
            ),
            (
                &|| put_str("SWID", 4, &index.scws[5].swid.to_string()),
                "rows 5 and 6, column SWID",
            ),
            (
                &|| put_f64("TSTOP", 1, 0.0),
                "row 2, column TSTOP: 0 is before TSTART",
            ),
            (
                &|| put_f64("TSTART", 9, f64::NAN),
                "row 10, column TSTART: NaN",
            ),
            (
                &|| put_f64("RA_SCZ", 0, 360.0),
                "row 1, column RA_SCZ = 360",
            ),
            (
                &|| put_f64("DEC_SCX", 7, 95.0),
                "row 8, column DEC_SCX = 95",
            ),
        ];
        for (edit, expected) in cases {
            write_index(&path, &index).unwrap();
            edit();
            let m = fits_message(read_index(&path).unwrap_err());
            assert!(
                m.contains("GNRL-SCWG-GRP-IDX.fits: extension GNRL-SCWG-GRP-IDX: "),
                "{m}"
            );
            assert!(m.contains(expected), "{m:?} should contain {expected:?}");
        }

        let mut f = FitsFile::edit(&path).unwrap();
        let hdu = f.hdu(INDEX_EXTNAME).unwrap();
        hdu.delete_column(&mut f, "TELAPSE").unwrap();
        drop(f);
        let m = fits_message(read_index(&path).unwrap_err());
        assert!(m.contains("missing column TELAPSE"), "{m}");
    }

    #[test]
    fn invalid_input_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("GNRL-SCWG-GRP-IDX.fits");
        let mut index = sample_index(5);
        index.scws.push(index.scws[2].clone());
        let m = fits_message(write_index(&path, &index).unwrap_err());
        assert!(m.contains("appears twice"), "{m}");
        let mut index = sample_index(5);
        index.scws[1].tstop = index.scws[1].tstart - 1.0;
        let m = fits_message(write_index(&path, &index).unwrap_err());
        assert!(m.contains("TSTOP") && m.contains("before TSTART"), "{m}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    /// Prints write and read times for an archive-sized index:
    /// `cargo test --release --lib archive::index::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_two_hundred_thousand_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("GNRL-SCWG-GRP-IDX.fits");
        let index = sample_index(200_000);
        let t0 = Instant::now();
        write_index(&path, &index).unwrap();
        let t1 = Instant::now();
        let back = read_index(&path).unwrap();
        let t2 = Instant::now();
        assert_same(&back, &sorted(index));
        println!(
            "2e5 index rows: write {:.3} s, read {:.3} s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64()
        );
    }
}
