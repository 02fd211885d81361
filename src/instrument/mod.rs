//! Instruments of INTEGRAL. Only IBIS/ISGRI for now.
pub mod isgri;
