//! The macro's UI suite (axum-macros' layout): every handler shape in `ui/pass` compiles (and
//! runs, asserting what it can observe); every misuse in `ui/fail` fails with the error kept
//! next to it in a `.stderr` file.
//!
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p after-response-tests --test ui`, then review the diff:
//! each error must point at the user's code and say what to do.

// The every-form pass case, compiled again here so that `cargo clippy --workspace
// --all-targets -- -D warnings` lints the expansion under `clippy::pedantic`.
#[path = "../ui/pass/deny_warnings.rs"]
mod deny_warnings;

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}

#[test]
fn every_form_builds_its_router() {
    deny_warnings::main();
}
