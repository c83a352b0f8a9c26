//! What the connection did with a response body, and the guard that fires its blocks.

use http::StatusCode;

use crate::executor::{self, Batch};
use crate::OutcomeKind;

/// The record of how far a response body got; fires the response's batch with the outcome it
/// decides when dropped (with the body, or with the last bytes the connection released).
pub(crate) struct DeliveryRecord {
    batch: Option<Batch>,
    status: StatusCode,
    /// Data bytes handed to the connection.
    pub(crate) body_bytes: u64,
    /// The length the connection holds the body to (size hint or `Content-Length`), if any.
    pub(crate) announced: Option<u64>,
    pub(crate) stage: DeliveryStage,
    /// The client cannot have the response the handler produced: the body returned an error,
    /// or ended short of (or ran past) its announced length. Aborted, whatever follows.
    pub(crate) broken: bool,
}

/// Where the body is; decides the outcome when the record is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeliveryStage {
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

impl DeliveryRecord {
    pub(crate) fn new(batch: Batch, status: StatusCode, announced: Option<u64>) -> Self {
        Self {
            batch: Some(batch),
            status,
            body_bytes: 0,
            announced,
            stage: DeliveryStage::Unpolled,
            broken: false,
        }
    }

    /// Counts `len` data bytes handed over; past the announced length the response is broken
    /// (HTTP/1 cuts it, HTTP/2 clients reject it).
    #[inline]
    pub(crate) fn handed(&mut self, len: usize) {
        self.body_bytes += len as u64;
        if self
            .announced
            .is_some_and(|announced| self.body_bytes > announced)
        {
            self.broken = true;
        }
    }

    /// `true` once the announced length has been handed over exactly.
    #[inline]
    pub(crate) fn reached_announced(&self) -> bool {
        self.announced == Some(self.body_bytes)
    }

    /// The body ended (its last data, its trailers, or `None`): complete if nothing announced
    /// is missing, broken otherwise.
    #[inline]
    pub(crate) fn ended(&mut self) {
        if self
            .announced
            .is_some_and(|announced| self.body_bytes < announced)
        {
            self.broken = true;
        }
        if self.stage == DeliveryStage::Sending {
            self.stage = DeliveryStage::Complete;
        }
    }

    /// The body ended and said so (`None`, or `is_end_stream` after its last data): it is not
    /// polled again.
    #[inline]
    pub(crate) fn finished(&mut self) {
        self.ended();
        self.stage = DeliveryStage::Finished;
    }

    pub(crate) fn is_complete(&self) -> bool {
        matches!(
            self.stage,
            DeliveryStage::Complete | DeliveryStage::Finished
        )
    }

    fn outcome_kind(&self) -> OutcomeKind {
        let bodyless_status = self.status.is_informational()
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED;
        // A body dropped before its first poll was discarded on purpose: axum empties HEAD
        // responses, HTTP/1.1 skips 204/304 bodies. See the README's limits for the rare
        // client reset that also lands here.
        match self.stage {
            _ if bodyless_status => OutcomeKind::Completed,
            _ if self.broken => OutcomeKind::Aborted,
            DeliveryStage::Unpolled | DeliveryStage::Complete | DeliveryStage::Finished => {
                OutcomeKind::Completed
            }
            DeliveryStage::Sending => OutcomeKind::Aborted,
        }
    }
}

impl Drop for DeliveryRecord {
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
