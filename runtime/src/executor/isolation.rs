//! Panic isolation: user code (a block, or the `Drop` of what it captured) must never unwind
//! into hyper or the executor; a panic is logged with the handler's name and counted instead.

use std::panic::AssertUnwindSafe;

use crate::stats::BlockEnd;

/// Drops `value`, whose captured values' `Drop` is user code, without letting a panic in it
/// unwind: the panic is logged with the handler's name instead.
pub(crate) fn drop_isolated<T>(value: T, handler: &str) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        log_panic(handler, payload.as_ref());
    }
}

/// Calls `f` (user code); a panic in it is logged and becomes [`BlockEnd::Panicked`].
pub(crate) fn call_isolated<T>(f: impl FnOnce() -> T, handler: &str) -> Result<T, BlockEnd> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| log_panic(handler, payload.as_ref()))
}

pub(crate) fn log_panic(handler: &str, payload: &(dyn std::any::Any + Send)) -> BlockEnd {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>");
    tracing::error!(
        handler,
        panic = message,
        "after-response: deferred block panicked"
    );
    BlockEnd::Panicked
}
