//! ODA-style requests: parameters with ODA's names, validation, defaults.

mod catalog_json;
mod request;
pub use catalog_json::*;
pub use request::*;
mod session;
pub use session::{Product, ProductResult, Session, WrittenFile, default_out_dir, get_product};
