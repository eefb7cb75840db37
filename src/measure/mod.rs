//! Measuring the outcome distribution of one (model, prompt): the logprob methods.

mod enumerate;
mod measurement;
mod next_token;
mod sample;

pub use measurement::{Measurement, MeasurementTarget, measure};
pub use sample::{EntropyFigure, Sampled, entropy_figure};
