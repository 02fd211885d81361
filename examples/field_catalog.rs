//! Images a field of the simulated archive and prints its catalog, like ODA's `isgri_image`.
//!
//! `cargo run --release --example field_catalog -- "3C 279" 600 4.0 20 40`
//! (source, max pointings, detection threshold σ, E1, E2). Events are generated in memory.

use oda::analysis::ImageAnalyzer;
use oda::analysis::shadowgram::EnergyBand;
use oda::archive::{ScwSelection, select};
use oda::osa::OsaVersion;
use oda::simulate::{DEFAULT_SEED, Simulation};

fn main() -> oda::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let (name, n, threshold) = (arg(0, "Crab"), arg(1, "50"), arg(2, "7.5"));
    let band = EnergyBand::new(
        arg(3, "20").parse().unwrap_or(20.0),
        arg(4, "40").parse().unwrap_or(40.0),
    )?;
    let threshold: f64 = threshold.parse().unwrap_or(7.5);
    let sim = Simulation::new(DEFAULT_SEED)?;
    let request = ScwSelection::from_pairs([
        ("src_name", name.as_str()),
        ("T1", "2003-01-01"),
        ("T2", "2019-12-31"),
        ("max_pointings", n.as_str()),
    ])?;
    let selection = select(&sim.index(), &request)?;
    let t = std::time::Instant::now();
    let target = oda::sky::resolve(&name)?;
    let calibration = oda::simulate::calibration::simulated_calibration(OsaVersion::Osa11_2)?;
    let result = ImageAnalyzer::new(band, threshold, calibration, target)?
        .run_with(&selection.ids(), |id| sim.events(id))?;
    let exposure: f64 = result.scw_images.iter().map(|i| i.exposure).sum();
    println!(
        "{name}: {} ScWs, {:.0} ks live, {band}, threshold {threshold}σ, {:.1} s",
        selection.scws.len(),
        exposure / 1000.0,
        t.elapsed().as_secs_f64()
    );
    print!("{}", result.catalog);
    Ok(())
}
