//! Spec and model-set files: YAML types, parsing with locations, and validation.

mod claim;
mod classifier;
mod dataset;
mod expectation;
mod load;
mod model_set;
mod outcome;
mod role;
pub mod schema;
mod version;

pub use claim::{
    ClaimSpec, ClaimStatus, Dataset, Expectation, Method, Multiplicity, Over, PromptSpec,
    UntestableSpec, UntestableStatus,
};
pub use classifier::Classifier;
pub use expectation::{CmpOp, Condition, Operand, RealMetric, Selector, parse_condition};
pub(crate) use load::outcome_ref;
pub use load::{
    Catalog, LoadedModelSet, LoadedSpec, LoadedUntestable, ParsedSpec, load_catalog,
    parse_any_spec, parse_model_set, parse_spec, recorded_versions, valid_version,
};
pub use model_set::{
    Api, ModelEntry, ModelSet, ModelStatus, NotRecorded, Provider, TokenizerKind, TokenizerSpec,
};
pub use outcome::{
    Category, CategoryList, ChoiceList, IntegerRange, MAX_OUTCOMES, OutcomeRef, OutcomeSet,
    PrefixState,
};
pub use role::Role;
pub use version::{CURRENT_VERSION, Version};
