//! The HTTP client for OpenAI-compatible servers: the only module that knows reqwest and wire
//! JSON.

mod http;
mod retry;
mod wire;

pub use http::{Client, ClientOptions};
pub use retry::RetryPolicy;
