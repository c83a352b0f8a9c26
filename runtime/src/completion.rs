//! The per-response completion handle: resolves when all of a response's deferred blocks ended.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use tokio_util::sync::{CancellationToken, DropGuard};

/// Resolves once every deferred block of one response has finished (run, failed, panicked,
/// timed out, skipped or been lost).
///
/// [`crate::Registry::attach`] stores one in the response's extensions; get it with
/// [`Completion::of`]. Tests and middleware await it instead of sleeping.
#[derive(Clone, Debug)]
pub struct Completion {
    /// `None` when the response carries no deferred work: already complete.
    token: Option<CancellationToken>,
}

impl Completion {
    pub(crate) fn pending() -> (Self, CompletionSignal) {
        let token = CancellationToken::new();
        let signal = CompletionSignal(token.clone().drop_guard());
        (Self { token: Some(token) }, signal)
    }

    /// The completion handle of `response`; a response without deferred work gives one that is
    /// already complete.
    #[must_use]
    pub fn of<B>(response: &http::Response<B>) -> Self {
        response
            .extensions()
            .get::<Self>()
            .cloned()
            .unwrap_or(Self { token: None })
    }

    /// `true` once every deferred block of the response has finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        !matches!(&self.token, Some(token) if !token.is_cancelled())
    }

    /// Waits until every deferred block of the response has finished.
    pub async fn wait(&self) {
        if let Some(token) = &self.token {
            token.cancelled().await;
        }
    }
}

impl IntoFuture for Completion {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.wait().await })
    }
}

/// Marks the [`Completion`] done when dropped, so a task dropped at runtime shutdown still
/// releases its waiters.
pub(crate) struct CompletionSignal(#[allow(dead_code)] DropGuard);
