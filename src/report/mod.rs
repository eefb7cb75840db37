//! Rendering results: the JSON contract, the table for people, and snapshot content.
//! Pure functions: no I/O.

mod estimate;
mod json;
mod snapshot;
mod table;

pub use estimate::{EstimateOptions, estimate_json, estimate_table};
pub use json::{JSON_FORMAT_VERSION, to_json};
pub use snapshot::snapshot_value;
pub use table::to_table;
