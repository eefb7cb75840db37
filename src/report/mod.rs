//! Rendering results: the JSON contract, JUnit XML, the table for people, the README's markdown
//! table, snapshot content, and the HTML report with its SVG figures.
//! Pure functions: no I/O.

mod estimate;
mod html;
mod json;
mod junit;
mod ladder;
mod markup;
mod results;
mod scatter;
mod snapshot;
mod svg;
mod table;

pub use estimate::{EstimateOptions, estimate_json, estimate_table};
pub use html::{COMPACT_ABOVE_PROMPTS, HtmlReport, SvgFigure, to_html};
pub use json::{JSON_FORMAT_VERSION, to_json};
pub use junit::to_junit;
pub use results::to_markdown;
pub use snapshot::snapshot_value;
pub use table::to_table;
