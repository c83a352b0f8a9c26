//! Two one-chunk response bodies: one of unknown length (sent chunked, polled to its end), and
//! one of exact length that records when it hands out its last chunk (the start-delay probe).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::clock;

/// One chunk, length not announced: hyper sends it chunked and polls the body to `None`, so
/// end-of-stream callbacks (tower-http's `on_eos`) fire.
pub struct OneChunk(pub Option<Bytes>);

impl Body for OneChunk {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// When a [`Stamped`] body last handed out its chunk, in [`clock::now_ns`].
pub static LAST_CHUNK_NS: AtomicU64 = AtomicU64::new(0);

/// One chunk of exact length; stores [`clock::now_ns`] in [`LAST_CHUNK_NS`] as it yields it.
pub struct Stamped(pub Option<Bytes>);

impl Body for Stamped {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = self.0.take().map(|chunk| Ok(Frame::data(chunk)));
        if frame.is_some() {
            LAST_CHUNK_NS.store(clock::now_ns(), Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |chunk| chunk.len() as u64))
    }
}
