//! Rendering results: the JSON contract, the table for people, and snapshot content.
//! Pure functions: no I/O.

mod json;
mod snapshot;
mod table;

pub use json::{JSON_FORMAT_VERSION, to_json};
pub use snapshot::snapshot_value;
pub use table::to_table;
