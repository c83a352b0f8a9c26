//! The per-response completion handle: resolves when all of a response's deferred blocks ended.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::latch::{Latch, SetOnDrop};

/// Resolves once every deferred block of one response has finished (run, failed, panicked,
/// timed out, skipped or been lost).
///
/// [`crate::Registry::attach`] stores one in the response's extensions; get it with
/// [`Completion::of`]. Tests and middleware await it instead of sleeping.
#[derive(Clone, Debug)]
pub struct Completion {
    /// `None` when the response carries no deferred work: already complete.
    latch: Option<Latch>,
}

impl Completion {
    /// A handle that completes when the returned guard drops (at the end of the batch's task).
    pub(crate) fn pending() -> (Self, SetOnDrop) {
        let (latch, set) = Latch::new();
        (Self { latch: Some(latch) }, set)
    }

    /// The completion handle of `response`; a response without deferred work gives one that is
    /// already complete.
    #[must_use]
    pub fn of<B>(response: &http::Response<B>) -> Self {
        response
            .extensions()
            .get::<Self>()
            .cloned()
            .unwrap_or(Self { latch: None })
    }

    /// `true` once every deferred block of the response has finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.latch.as_ref().is_none_or(Latch::is_set)
    }

    /// Waits until every deferred block of the response has finished (the handle stays usable).
    pub fn wait(&self) -> CompletionFuture {
        self.clone().into_future()
    }
}

impl IntoFuture for Completion {
    type Output = ();
    type IntoFuture = CompletionFuture;

    fn into_future(self) -> Self::IntoFuture {
        CompletionFuture {
            wait: self.latch.map(Latch::wait_set),
        }
    }
}

pin_project_lite::pin_project! {
    /// What awaiting a [`Completion`] (or [`Completion::wait`]) gives: resolves once every
    /// deferred block of the response has finished.
    #[must_use = "futures do nothing unless awaited"]
    pub struct CompletionFuture {
        #[pin]
        wait: Option<WaitForCancellationFutureOwned>,
    }
}

impl Future for CompletionFuture {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().wait.as_pin_mut() {
            None => Poll::Ready(()),
            Some(wait) => wait.poll(cx),
        }
    }
}

impl std::fmt::Debug for CompletionFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionFuture")
            .field("has_work", &self.wait.is_some())
            .finish()
    }
}
