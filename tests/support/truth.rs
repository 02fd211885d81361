//! The simulation's truth as the analysis measures it, for tests that compare the two.

use oda::analysis::skyfit::onaxis_rate;
use oda::instrument::isgri::{MASK_DISTANCE_MM, geometry};
use oda::osa::OsaVersion;
use oda::simulate::calibration::simulated_calibration;
use oda::simulate::instrument::efficiency_map;
use oda::simulate::{PlannedScw, Simulation};
use oda::time::Time;

/// The model's on-axis equivalent rate (cts/s) of source `name` in pointing `p`, in the band
/// [e1, e2) keV of energies reconstructed with `version`'s calibrated gain: the expected counts
/// of the (possibly perturbed) instrument over the source's lit pixels, as the analysis defines
/// the rate.
pub fn onaxis_truth(
    sim: &Simulation,
    p: &PlannedScw,
    name: &str,
    (e1, e2): (f64, f64),
    version: OsaVersion,
) -> f64 {
    let t = Time::from_ijd(0.5 * (p.scw.tstart + p.scw.tstop)).unwrap();
    let g = simulated_calibration(version).unwrap().gain_estimate(t);
    let counts = sim.expected_counts(p, e1 * g, e2 * g).unwrap().source(name);
    let position = sim.sky().source(name).unwrap().position;
    let (ty, tz) = p.scw.attitude.to_tangents(&position).unwrap();
    // A displaced mask casts the shadow of a source displaced by as much.
    let [sy, sz] = sim.perturbation().mask_shift_mm;
    let (ty, tz) = (ty + sy / MASK_DISTANCE_MM, tz + sz / MASK_DISTANCE_MM);
    let g = geometry();
    let lit = (g.pif(ty, tz) * &efficiency_map(t)).sum();
    onaxis_rate(&g, counts / lit, p.exposure(), version)
}
