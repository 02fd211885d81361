//! Instruments of INTEGRAL: IBIS/ISGRI as designed ([`isgri`]), the responses spectra carry
//! ([`response`]) and the calibration the analysis reads from the archive ([`calibration`]).
pub mod calibration;
pub mod isgri;
pub mod response;
