//! A real-layout archive with one damaged event file, made from the simulated archive.

use std::path::Path;

use oda::archive::{Archive, ScwId};
use oda::config::Settings;
use oda::query::Request;

/// Materialises the Science Windows `request` selects from the simulated archive under `dir`
/// (with the calibration files a real archive carries) and truncates the event file of the
/// `bad`-th one to half its size. Returns the archive (read it with `--archive archive.root()`),
/// the selected ScWs and the damaged one.
pub fn damaged_archive(dir: &Path, request: &Request, bad: usize) -> (Archive, Vec<ScwId>, ScwId) {
    let archive = Archive::open(&Settings::simulated(dir)).unwrap();
    archive.calibration(request.selection.osa_version).unwrap();
    let ids = archive.select(&request.selection).unwrap().ids();
    for id in &ids {
        archive.events_path(id).unwrap();
    }
    let damaged = ids[bad];
    let path = archive.events_path(&damaged).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    (archive, ids, damaged)
}
