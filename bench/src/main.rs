//! Benchmarks for after-response: see `src/main.rs` (to be written).
fn main() {}
