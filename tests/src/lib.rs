//! Integration and UI tests for `after-response`: see the `tests/` folder of this crate.
