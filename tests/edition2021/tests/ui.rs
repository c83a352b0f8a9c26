//! The compile-fail corpus in edition 2021 (see `tests/ui/support/snapshots.rs`).

#[path = "../../ui/support/snapshots.rs"]
mod snapshots;
