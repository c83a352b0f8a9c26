//! Tests that measure the whole process (allocations per request, resident memory): a binary
//! of their own, so no other test's allocations are in their figures, and serialised with
//! `soak::serial()` among themselves.

mod allocations;
mod flood;
mod long_run;
