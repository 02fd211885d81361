//! The coded-mask analysis chain: shadowgrams → sky images → mosaics → source catalogs;
//! spectra and light curves by sky-model fits of the shadowgrams.

pub mod decode;
pub mod image;
pub mod shadowgram;
pub mod skyfit;
