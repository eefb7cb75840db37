//! Expectations evaluated on measurements: the verdicts and the evidence behind them.

mod differs;
mod evidence;
mod expectations;
mod family;
mod kl;
mod over_prompts;

pub use evidence::{DivergenceEvidence, Evidence, ExpectationResult, Figure, Instance, Tested};
pub use expectations::evaluate_set;
