//! Statistics: pure functions, no I/O and no async.

pub mod augmented;
pub mod divergence;
mod entropy;
pub mod estimators;
pub mod hypothesis;
pub mod intervals;
mod mass_bounds;
pub mod rng;
pub mod two_sample;

pub use entropy::{binary_entropy, entropy_nats, normalized};
pub use mass_bounds::{Chunk, Interval, MassBounds};
