//! Instruments of INTEGRAL: the geometry of a coded-mask telescope ([`coded_mask`]), IBIS/ISGRI
//! as designed ([`isgri`]), JEM-X's two units ([`jemx`]), the responses spectra carry
//! ([`response`]), the calibration the analysis reads from the archive ([`calibration`]), and the
//! SPI anti-coincidence shield as a burst monitor ([`spiacs`]).
pub mod calibration;
pub mod coded_mask;
pub mod isgri;
pub mod jemx;
pub mod response;
pub mod spiacs;
