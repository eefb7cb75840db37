//! placeholder
pub mod client;
pub mod error;
pub mod record;
pub mod request;
pub mod spec;
pub mod stats;
