//! Panic isolation: user code (a block, or the `Drop` of what it captured) must never unwind
//! into hyper or the executor; a panic is logged with the handler's name and counted instead.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::stats::BlockEnd;

/// Drops `value`, whose captured values' `Drop` is user code, without letting a panic in it
/// unwind: the panic is logged with the handler's name instead.
pub(crate) fn drop_isolated<T>(value: T, handler: &str) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
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

/// Resolves to the output of `future`, or to the payload of a panic in any of its polls.
pub(crate) fn catch_unwind<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind { future }
}

pin_project_lite::pin_project! {
    /// See [`catch_unwind`].
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
