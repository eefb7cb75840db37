//! The HTTP client for OpenAI-compatible servers: the only module that knows reqwest and wire
//! JSON.

mod http;
mod retry;
mod wire;

pub use http::{Client, ClientOptions};
pub use retry::RetryPolicy;

/// The response-body parsers, public only for the fuzz harness (`tests/suite/fuzz.rs`); not a
/// stable interface.
#[doc(hidden)]
pub mod parse {
    pub use super::wire::{
        parse_completion as completion, parse_completions as completions,
        parse_response as logprobs,
    };
    pub use crate::error::WireError;
}
