//! The paper's Crab analysis end to end on the simulated archive: 50 random ScWs over
//! 2003-03-15 … 2018-03-16, a 20–40 keV image and catalog at 7.5σ, the Crab's spectrum with a
//! 30–300 keV power-law fit, written as OGIP files (PHA, RMF, ARF) that XSPEC or Sherpa can read.
//!
//! `cargo run --release --example crab_spectrum -- OUT_DIR` (events are generated in memory).

use oda::analysis::ImageAnalyzer;
use oda::analysis::extract::{DEFAULT_CHANNELS, SpectrumExtractor};
use oda::analysis::shadowgram::EnergyBand;
use oda::archive::{ScwSelection, select};
use oda::fit::{ModelKind, SpectralFitter};
use oda::osa::OsaVersion;
use oda::products::write_spectrum_files;
use oda::simulate::{DEFAULT_SEED, Simulation};

fn main() -> oda::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crab-products".to_string());
    let sim = Simulation::new(DEFAULT_SEED)?;
    let request = ScwSelection::from_pairs([
        ("src_name", "Crab"),
        ("T1", "2003-03-15"),
        ("T2", "2018-03-16"),
    ])?;
    let ids = select(&sim.index(), &request)?.ids();
    let crab = oda::sky::resolve("Crab")?;
    // The calibration the simulated archive carries (made once per machine by its team).
    let calibration = oda::simulate::calibration::simulated_calibration(OsaVersion::Osa11_2)?;

    let image = ImageAnalyzer::new(EnergyBand::new(20.0, 40.0)?, 7.5, calibration.clone(), crab)?
        .run_with(&ids, |id| sim.events(id))?;
    println!(
        "{} ScWs; catalog at 7.5σ, 20–40 keV:\n{}",
        ids.len(),
        image.catalog
    );

    let mut catalog = image.catalog.clone();
    catalog.drop_new();
    let spectra = SpectrumExtractor::new(&DEFAULT_CHANNELS, calibration)?.run_with(
        &ids,
        |id| sim.events(id),
        &catalog,
    )?;
    let Some(spectrum) = spectra.iter().find(|s| s.source == "Crab") else {
        return Err(oda::Error::invalid(
            "catalog",
            catalog.names().join(", "),
            "a catalog with the Crab",
        ));
    };
    let fit = SpectralFitter::new(ModelKind::PowerLaw)
        .energy_range(30.0, 300.0)?
        .run(spectrum)?;
    println!("{fit}");
    let files = write_spectrum_files(std::path::Path::new(&out), "crab", spectrum)?;
    println!(
        "written: {}, {}, {}",
        files.pha.display(),
        files.rmf.display(),
        files.arf.display()
    );
    Ok(())
}
