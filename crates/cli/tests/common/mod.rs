//! The binary's composition of the API and the web pages, for the integration tests: the same
//! source file as the binary's (`src/serve.rs`), so the tests serve exactly what `patron serve`
//! serves; [`web`] drives it over real HTTP.

#![allow(dead_code, unused_imports)]

#[path = "../../src/serve.rs"]
mod serve;

pub use serve::{router, serve_on};

pub mod sink;
pub mod web;
