//! ODA-style requests: parameters with ODA's names, validation, defaults.

mod accessors;
mod catalog_json;
mod request;
pub use accessors::{MeasuredCatalog, RateMethod};
pub use catalog_json::*;
pub use request::*;
mod session;
pub use session::{Product, ProductResult, Session, WrittenFile, default_out_dir, get_product};
