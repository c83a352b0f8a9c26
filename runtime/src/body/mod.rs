//! The response body wrapper: forwards the body's bytes and fires the blocks once the
//! connection is done with them.

mod announced;
mod delivery;
mod release;

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};

use crate::executor::Batch;
use delivery::{DeliveryRecord, DeliveryStage};
use release::RecordSlot;

pin_project_lite::pin_project! {
    /// A body that forwards `B`'s bytes and, once the connection is done with them, fires its
    /// response's deferred blocks with the outcome it observed.
    ///
    /// `size_hint` and `is_end_stream` are forwarded unchanged (so `Content-Length` and the
    /// transfer coding are what they would be without it); once `B` has ended (`None`, or
    /// `is_end_stream` after its last data) it answers `None` without polling `B` again. With `Bytes` data, a frame over 64 KiB is
    /// handed on in 64 KiB slices of the same buffer (no copy), so that the connection takes
    /// it as the socket drains; and the body's last bytes carry the blocks, which fire only
    /// when both the body and those bytes have been dropped by the connection.
    pub struct DeferredBody<B> {
        #[pin]
        inner: B,
        // What is left of a large data frame, handed on slice by slice before `inner` is
        // polled again.
        rest: Bytes,
        record: RecordSlot,
    }
}

impl<B: Body> DeferredBody<B> {
    pub(crate) fn new(inner: B, batch: Batch, status: StatusCode, headers: &HeaderMap) -> Self {
        let announced = announced::announced_len(&inner.size_hint(), headers);
        Self {
            inner,
            rest: Bytes::new(),
            record: RecordSlot::Inline(DeliveryRecord::new(batch, status, announced)),
        }
    }
}

impl<B> Body for DeferredBody<B>
where
    B: Body,
    B::Data: 'static,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let (mut inner, rest, record) = (this.inner, this.rest, this.record);
        if !rest.is_empty() {
            let slice = release::next_slice(rest);
            let end_stream = inner.is_end_stream();
            let slice = hand_bytes(slice, rest, end_stream, record);
            let data = release::into_data(slice).expect("only `Bytes` data is sliced");
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if record.is_handed_off() {
            return Poll::Ready(None);
        }
        let stage = record.with(|record| {
            if record.stage == DeliveryStage::Unpolled {
                record.stage = DeliveryStage::Sending;
                // Polled although it said it had ended (hyper never polls such a body; another
                // consumer may): its end was signalled before any frame.
                if inner.is_end_stream() {
                    record.ended();
                }
            }
            record.stage
        });
        if stage == DeliveryStage::Finished {
            return Poll::Ready(None);
        }
        let frame = match ready!(inner.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    let end_stream = inner.is_end_stream();
                    if let Some(bytes) = release::as_bytes(&mut data) {
                        *rest = std::mem::take(bytes);
                        let slice = release::next_slice(rest);
                        *bytes = hand_bytes(slice, rest, end_stream, record);
                    } else {
                        record.with(|record| {
                            record.handed(data.remaining());
                            if end_stream {
                                record.finished();
                            } else if record.reached_announced() {
                                record.ended();
                            }
                        });
                    }
                    Frame::data(data)
                }
                Err(frame) => {
                    // Trailers are a message's last frame, on both protocols.
                    if frame.is_trailers() {
                        record.with(DeliveryRecord::ended);
                    }
                    frame
                }
            },
            Some(Err(error)) => {
                record.with(|record| record.broken = true);
                return Poll::Ready(Some(Err(error)));
            }
            None => {
                record.with(DeliveryRecord::finished);
                return Poll::Ready(None);
            }
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        // The record first: once the body has ended it answers without a call into `B`.
        self.rest.is_empty() && (self.record.finished() || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        if self.rest.is_empty() {
            return inner;
        }
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint.set_lower(inner.lower() + rest);
        hint
    }
}

/// Counts `slice` as handed on and, if it may be the body's last data, gives it a share of the
/// record. `end_stream` is the inner body's `is_end_stream` after the frame `slice` is from.
///
/// With an announced length the last data is known when it is handed on; without one, any
/// frame's last slice may turn out to be the last (the body says so only with its next poll),
/// so each carries a share.
#[inline]
fn hand_bytes(slice: Bytes, rest: &Bytes, end_stream: bool, record: &mut RecordSlot) -> Bytes {
    let (last, may_be_last) = record.with(|record| {
        record.handed(slice.len());
        let last = rest.is_empty() && (end_stream || record.reached_announced());
        if last && end_stream {
            record.finished();
        } else if last {
            record.ended();
        }
        (
            last,
            last || (rest.is_empty() && record.announced.is_none()),
        )
    });
    if last && end_stream {
        record.hand_off_with(slice)
    } else if may_be_last {
        record.attach_to(slice)
    } else {
        slice
    }
}

impl<B> std::fmt::Debug for DeferredBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (body_bytes, complete) = self.record.progress();
        f.debug_struct("DeferredBody")
            .field("body_bytes", &body_bytes)
            .field("complete", &complete)
            .finish_non_exhaustive()
    }
}
