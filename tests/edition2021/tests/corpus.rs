//! The pass corpus (`tests/ui/pass`) compiled as edition 2021 code: every handler shape builds
//! with `#[after_response]` unchanged and warning-free (`#![deny(warnings)]` here, clippy
//! pedantic through the workspace lints), and answers a real request over a real server.
#![deny(warnings)]

#[path = "../../ui/support/harness.rs"]
mod support;

#[path = "../../ui/pass/mod.rs"]
mod pass;
