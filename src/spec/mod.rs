//! Spec and model-set files: YAML types, parsing with locations, and validation.

mod claim;
mod expectation;
mod load;
mod model_set;
mod outcome;
mod role;
mod version;

pub use claim::{ClaimSpec, ClaimStatus, Expectation, Method, PromptSpec};
pub use expectation::{CmpOp, Condition, Operand, RealMetric, Selector, parse_condition};
pub use load::{Catalog, LoadedModelSet, LoadedSpec, load_catalog, parse_model_set, parse_spec};
pub use model_set::{Api, ModelEntry, ModelSet, ModelStatus, Provider};
pub use outcome::{IntegerRange, MAX_OUTCOMES, OutcomeSet, PrefixState};
pub use role::Role;
pub use version::{CURRENT_VERSION, Version};
