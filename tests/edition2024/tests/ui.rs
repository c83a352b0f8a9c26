//! The compile-fail corpus in edition 2024 (see `tests/ui/support/snapshots.rs`).

#[path = "../../ui/support/snapshots.rs"]
mod snapshots;
