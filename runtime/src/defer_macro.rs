//! `defer!`: meaningful only inside `#[after_response]`, which rewrites it.

/// Registers a block to run after the response has been sent.
///
/// Only meaningful inside an `async fn` marked [`#[after_response]`](crate::after_response), which
/// rewrites every `defer!` in its body; anywhere else it is a compile error.
///
/// - `defer! { .. }`: runs only if the response was completed.
/// - `defer!(|outcome| { .. })`: runs always, given the [`Outcome`](crate::Outcome).
/// - `defer!(timeout = DURATION => { .. })` or `defer!(timeout = DURATION => |outcome| { .. })`:
///   the same, with a timeout of its own.
///
/// It evaluates to a [`DeferHandle`](crate::DeferHandle). Work that blocks its thread belongs on
/// tokio's blocking pool: see [`Registry::defer_blocking`](crate::Registry::defer_blocking).
#[macro_export]
macro_rules! defer {
    (@__after_response $registration:expr) => {
        $registration
    };
    ($($anything:tt)*) => {
        ::core::compile_error!(
            "`defer!` only works inside an `async fn` marked `#[after_response]`: add the \
             attribute to the handler, and keep `defer!` out of `fn` items nested in it (they \
             are functions of their own); `#[axum::debug_handler]` goes below `#[after_response]`"
        )
    };
}
