//! ODA-style requests: parameters with ODA's names, validation, defaults.

mod accessors;
mod catalog_json;
mod request;
pub use accessors::{MeasuredCatalog, RateMethod};
pub use catalog_json::*;
pub use request::*;
mod session;
mod worker;
pub use session::{
    ACS_BACKGROUND_SPAN_S, ACS_SEARCH_HALF_WIDTH_S, MIN_ACS_SEARCH_SPAN_S, Product, ProductResult,
    Session, WrittenFile, default_out_dir, get_product,
};
pub use worker::run_worker_task;
