//! Measuring the outcome distribution of one (model, prompt), and differences between two.

mod difference;
mod enumerate;
mod measurement;
mod next_token;
mod sample;

pub use difference::{DifferenceSettings, SampledDifference, sampled_difference};
pub use measurement::{Measurement, MeasurementTarget, measure};
pub use sample::{EntropyFigure, Sampled, entropy_figure};
