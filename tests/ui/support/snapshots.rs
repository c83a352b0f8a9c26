//! The compile-fail corpus (`tests/ui/fail`, reached as `fail/` through a link in each edition
//! crate, so that trybuild keeps line numbers): every misuse fails with the one error kept next
//! to it in a `.stderr` file. Both editions share the snapshots.
//!
//! The snapshots are rustc's own words, so they hold for the compiler that recorded them only:
//! on any other toolchain this test is skipped (it says so), never failed. After a toolchain
//! change, set the version below and refresh the snapshots with
//! `TRYBUILD=overwrite cargo test -p after-response-edition2021 -p after-response-edition2024 --test ui`,
//! then review the diff: each error must point at the user's code and say what to do.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "UI snapshots were recorded with stable rustc 1.95; see tests/ui/support/snapshots.rs to refresh them"
)]
#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("fail/*.rs");
}
