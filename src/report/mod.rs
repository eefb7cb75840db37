//! Rendering results: the JSON contract, JUnit XML, the table for people, the README's markdown
//! table, and snapshot content.
//! Pure functions: no I/O.

mod estimate;
mod json;
mod junit;
mod results;
mod snapshot;
mod table;

pub use estimate::{EstimateOptions, estimate_json, estimate_table};
pub use json::{JSON_FORMAT_VERSION, to_json};
pub use junit::to_junit;
pub use results::to_markdown;
pub use snapshot::snapshot_value;
pub use table::to_table;
