//! Panic isolation: user code (a block, or the `Drop` of what it captured) must never unwind
//! into hyper or the executor; a panic is logged with the handler's name and counted instead.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use crate::stats::BlockEnd;

/// Drops `value`, whose captured values' `Drop` is user code, without letting a panic in it
/// unwind: the panic is logged with the handler's name instead.
pub(crate) fn drop_isolated<T>(value: T, handler: &str) {
    run_isolated(handler, move || drop(value));
}

/// Runs `f`, which drops user values (in place, or by value), without letting a panic in it
/// unwind: the panic is logged with the handler's name instead.
pub(crate) fn run_isolated(handler: &str, f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
        log_panic(handler, payload.as_ref());
    }
}

pub(crate) fn log_panic(handler: &str, payload: &(dyn Any + Send)) -> BlockEnd {
    let message = crate::observe::panic_message(payload);
    tracing::error!(
        handler,
        panic = message,
        "after-response: deferred block panicked"
    );
    BlockEnd::Panicked
}
