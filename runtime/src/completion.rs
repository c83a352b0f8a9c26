//! The per-response completion handle: resolves when all of a response's deferred blocks ended.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::latch::{Latch, SetOnDrop};

/// Resolves once every deferred block of one response has finished (run, failed, panicked,
/// timed out, skipped or been lost).
///
/// [`crate::Registry::attach`] stores one in the response's extensions when its executor has
/// completion handles on; get it with [`Completion::of`]. Tests and middleware await it
/// instead of sleeping.
///
/// # Turning handles on
/// Handles cost 4 allocations and about 1,900 instructions per response with deferred work,
/// more than the rest of a `defer!` together, so they are off by default. Turn them on:
/// - in tests, with the `test-util` feature in `[dev-dependencies]`
///   (`after-response = { version = "0.1", features = ["test-util"] }`): every executor,
///   the process default included, then attaches them;
/// - for one executor (middleware that awaits completions in production), with
///   [`Config::completion_handles`](crate::Config::completion_handles).
///
/// A wait that could never be signalled fails loudly instead of passing at once: while an
/// executor without handles has been created in the process and none with them,
/// [`Completion::of`] panics and says how to turn them on. (In a process with both kinds, a
/// response from an executor without handles reads as complete: give a test one kind.)
///
/// A response that passed through several registries (an `#[after_response]` middleware
/// around an `#[after_response]` handler) has one handle for all of them: it resolves once
/// the blocks of every registry attached to it have finished.
#[derive(Clone, Debug)]
pub struct Completion {
    /// One latch per registry attached to the response, innermost first; none when the
    /// response carries no deferred work: already complete.
    latches: Vec<Latch>,
}

impl Completion {
    /// A handle that completes when the returned guard drops (at the end of the batch's task)
    /// and, first, `inner` (the handle of a registry attached to the response before) has.
    pub(crate) fn pending_after(inner: Option<Self>) -> (Self, SetOnDrop) {
        let (latch, set) = Latch::new();
        let mut latches = inner.map(|inner| inner.latches).unwrap_or_default();
        latches.push(latch);
        (Self { latches }, set)
    }

    /// The completion handle of `response`; a response without deferred work gives one that is
    /// already complete.
    ///
    /// # Panics
    /// If `response` has no handle and executors of this process run blocks without handles
    /// while none attaches them (see "Turning handles on" above): its blocks, if any, could not
    /// be waited for.
    #[must_use]
    pub fn of<B>(response: &http::Response<B>) -> Self {
        if let Some(completion) = response.extensions().get::<Self>() {
            return completion.clone();
        }
        assert!(
            !crate::executor::completions_unseen(),
            "after-response: `Completion::of` needs completion handles, and no executor in this \
             process has them on, so this response's blocks cannot be waited for. In tests, enable the `test-util` feature \
             (`after-response = {{ version = \"0.1\", features = [\"test-util\"] }}` in \
             [dev-dependencies]); elsewhere, build the executor with \
             `Config::default().completion_handles(true)`."
        );
        Self {
            latches: Vec::new(),
        }
    }

    /// `true` once every deferred block of the response has finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.latches.iter().all(Latch::is_set)
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
            waiting: None,
            rest: self.latches.into_iter(),
        }
    }
}

/// What awaiting a [`Completion`] (or [`Completion::wait`]) gives: resolves once every
/// deferred block of the response has finished.
#[must_use = "futures do nothing unless awaited"]
pub struct CompletionFuture {
    /// The latch being waited for (boxed: the handle is for tests and middleware, not the hot
    /// path, and this keeps the future `Unpin`).
    waiting: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    rest: std::vec::IntoIter<Latch>,
}

impl Future for CompletionFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(waiting) = self.waiting.as_mut() {
                std::task::ready!(waiting.as_mut().poll(cx));
                self.waiting = None;
            }
            match self.rest.next() {
                Some(latch) => self.waiting = Some(Box::pin(latch.wait_set())),
                None => return Poll::Ready(()),
            }
        }
    }
}

impl std::fmt::Debug for CompletionFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionFuture")
            .field(
                "registries_left",
                &(self.rest.len() + usize::from(self.waiting.is_some())),
            )
            .finish()
    }
}
