//! The response body wrapper: forwards every frame untouched and fires the blocks on drop.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Buf;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};

use crate::executor::{self, Batch};
use crate::OutcomeKind;

pin_project_lite::pin_project! {
    /// A body that forwards `B` frame by frame and, when dropped, fires its response's deferred
    /// blocks with the outcome it observed.
    ///
    /// `size_hint` and `is_end_stream` are forwarded unchanged (so Content-Length survives), and
    /// after the end it keeps answering `None` without polling `B` again.
    pub struct DeferredBody<B> {
        #[pin]
        inner: B,
        progress: Progress,
    }
}

/// What the connection did with the body; fires the batch when dropped.
struct Progress {
    batch: Option<Batch>,
    status: StatusCode,
    body_bytes: u64,
    /// The exact length the body announced before the first poll, if any.
    exact_len: Option<u64>,
    state: State,
    /// The inner body returned an error: aborted, whatever follows.
    errored: bool,
}

/// Where the body is; decides the outcome when it is dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Never polled: discarded on purpose (HEAD, bodiless status) or empty from the start.
    Unpolled,
    /// Polled, not all bytes handed over yet.
    Sending,
    /// Every byte was handed over (end of stream, announced length reached, or trailers); the
    /// connection may still poll for `None`.
    Complete,
    /// The inner body returned `None`: it is never polled again.
    Finished,
}

impl<B: Body> DeferredBody<B> {
    pub(crate) fn new(inner: B, batch: Batch, status: StatusCode) -> Self {
        let progress = Progress {
            exact_len: inner.size_hint().exact(),
            batch: Some(batch),
            status,
            body_bytes: 0,
            state: State::Unpolled,
            errored: false,
        };
        Self { inner, progress }
    }
}

impl<B: Body> Body for DeferredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let (mut inner, progress) = (this.inner, this.progress);
        match progress.state {
            State::Finished => return Poll::Ready(None),
            State::Unpolled => progress.state = State::Sending,
            State::Sending | State::Complete => {}
        }
        let frame = ready!(inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    progress.body_bytes += data.remaining() as u64;
                }
                // hyper stops polling a body once it says it ended, its length is reached or it
                // sent trailers (the last frame of a message, both protocols), so "complete" is
                // decided here, not only on `None`.
                let ended = frame.is_trailers()
                    || inner.is_end_stream()
                    || progress.exact_len == Some(progress.body_bytes);
                if ended && progress.state == State::Sending {
                    progress.state = State::Complete;
                }
            }
            Some(Err(_)) => progress.errored = true,
            None => progress.state = State::Finished,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.progress.state == State::Finished || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Progress {
    fn outcome_kind(&self) -> OutcomeKind {
        let bodyless_status = self.status.is_informational()
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED;
        // A body dropped before its first poll was discarded on purpose: axum empties HEAD
        // responses, HTTP/1.1 skips 204/304 bodies. See the README's limits for the rare
        // client reset that also lands here.
        match self.state {
            _ if bodyless_status => OutcomeKind::Completed,
            _ if self.errored => OutcomeKind::Aborted,
            State::Unpolled | State::Complete | State::Finished => OutcomeKind::Completed,
            State::Sending => OutcomeKind::Aborted,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            executor::fire(
                batch,
                self.outcome_kind(),
                Some(self.status),
                self.body_bytes,
            );
        }
    }
}

impl<B> std::fmt::Debug for DeferredBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredBody")
            .field("body_bytes", &self.progress.body_bytes)
            .field(
                "complete",
                &matches!(self.progress.state, State::Complete | State::Finished),
            )
            .finish_non_exhaustive()
    }
}
