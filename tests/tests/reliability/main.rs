//! The reliability suite (see tests/RELIABILITY.md): chaos, fuzzing, storms, shutdown, a
//! runtime that is gone. Scaled up with `AFTER_RESPONSE_SOAK=full`.

mod chaos;
mod fuzz;
mod fuzz_registry;
mod runtime_gone;
mod shutdown;
mod storms;
