//! What deferred work tells the outside world beyond logs and [`crate::Stats`]: metrics through
//! the `metrics` facade (cargo feature `metrics`), and the failure hook ([`Failure`]).
//!
//! An executor calls this module (through its own [`crate::Config`]'s [`Observer`]) at a
//! handful of points, each next to the matching [`crate::Stats`] counter update; failures go to
//! that executor's hook only, metrics to the process's one recorder:
//! - on the request path (where a response ended): [`Observer::cancelled`],
//!   [`Observer::skipped`], [`Observer::lost_unfired`], [`Observer::shed`], [`Observer::fired`];
//! - on the blocks' task: [`BatchWatch::left_queue`], [`BatchWatch::starting`],
//!   [`BatchWatch::ended`], [`BatchWatch::unfinished`], and [`Observer::report`] /
//!   [`Observer::report_timeout`] where a block fails.
//!
//! Without the `metrics` feature every metrics call is an empty inline function and
//! [`BatchWatch`] / [`BlockWatch`] hold no clock readings: nothing is measured or emitted.

mod failure;
#[cfg(feature = "metrics")]
mod metrics;

#[cfg(feature = "metrics")]
use std::sync::Arc;
use std::time::Duration;
#[cfg(feature = "metrics")]
use std::time::Instant;

pub(crate) use failure::{panic_message, Observer};
pub use failure::{Failure, FailureKind};

use crate::stats::{BlockEnd, Counters};
use crate::OutcomeKind;

/// Why a shed block did not run: what the failure hook is told (no allocation on the request
/// path).
const SHED_MESSAGE: &str =
    "deferred work was full (max_in_flight running, max_queued waiting); the block was dropped without running";

// Metrics go to the facade's global recorder, so most of these need nothing from `self`; they are
// methods so that every call goes through the configuration that owns what is observed.
#[allow(clippy::unused_self, reason = "see above")]
impl Observer {
    /// A block was cancelled through its handle before its response ended.
    #[inline]
    pub(crate) fn cancelled(&self, handler: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::of(handler).ended(metrics::CANCELLED, 1);
        #[cfg(not(feature = "metrics"))]
        let _ = handler;
    }

    /// `blocks` `defer! { .. }` blocks will not run: their response did not complete.
    #[inline]
    pub(crate) fn skipped(&self, handler: &'static str, blocks: u64) {
        #[cfg(feature = "metrics")]
        if blocks > 0 {
            metrics::of(handler).ended(metrics::ending_index(BlockEnd::Skipped), blocks);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (handler, blocks);
    }

    /// `blocks` blocks are lost before firing: there was no tokio runtime.
    #[inline]
    pub(crate) fn lost_unfired(&self, handler: &'static str, blocks: u64) {
        #[cfg(feature = "metrics")]
        metrics::of(handler).ended(metrics::ending_index(BlockEnd::Lost), blocks);
        #[cfg(not(feature = "metrics"))]
        let _ = (handler, blocks);
    }

    /// `blocks` blocks are shed (deferred work is full): counted, and each one reported to the
    /// failure hook. This runs where the response ended, on the connection.
    pub(crate) fn shed(
        &self,
        counters: &Counters,
        handler: &'static str,
        outcome: OutcomeKind,
        blocks: u64,
    ) {
        #[cfg(feature = "metrics")]
        metrics::of(handler).ended(metrics::SHED, blocks);
        if self.has_hook() {
            for _ in 0..blocks {
                self.call_hook(
                    counters,
                    &Failure::new(handler, FailureKind::Shed, outcome, SHED_MESSAGE),
                );
            }
        }
    }

    /// `blocks` blocks of one response were handed to a task (`queued`: it waits for a slot).
    /// The returned watch follows them to their end.
    #[inline]
    #[must_use]
    pub(crate) fn fired(
        &self,
        handler: &'static str,
        outcome: OutcomeKind,
        blocks: u64,
        queued: bool,
    ) -> BatchWatch {
        #[cfg(feature = "metrics")]
        let metrics = metrics::of(handler);
        #[cfg(feature = "metrics")]
        metrics.fired(outcome, blocks, queued);
        #[cfg(not(feature = "metrics"))]
        let _ = (blocks, queued);
        BatchWatch {
            handler,
            outcome,
            #[cfg(feature = "metrics")]
            metrics,
            #[cfg(feature = "metrics")]
            fired_at: Instant::now(),
        }
    }

    /// A block of `watch`'s response failed as `kind` with `message`: tells the hook, if any.
    #[inline]
    pub(crate) fn report(
        &self,
        counters: &Counters,
        watch: &BatchWatch,
        kind: FailureKind,
        message: &str,
    ) {
        if self.has_hook() {
            self.call_hook(
                counters,
                &Failure::new(watch.handler, kind, watch.outcome, message),
            );
        }
    }

    /// A block of `watch`'s response was cancelled by its `limit`: tells the hook, if any (the
    /// message is only formatted when there is one).
    #[inline]
    pub(crate) fn report_timeout(&self, counters: &Counters, watch: &BatchWatch, limit: Duration) {
        if self.has_hook() {
            let message = format!("timed out after {limit:?} and was cancelled");
            self.report(counters, watch, FailureKind::TimedOut, &message);
        }
    }
}

/// One response's fired blocks, as observability follows them: whose they are, how the
/// response ended and (with `metrics`) when they were fired.
pub(crate) struct BatchWatch {
    handler: &'static str,
    outcome: OutcomeKind,
    /// The handler's metric handles, looked up once per response.
    #[cfg(feature = "metrics")]
    metrics: Arc<metrics::HandlerMetrics>,
    #[cfg(feature = "metrics")]
    fired_at: Instant,
}

/// One started block: (with `metrics`) when it started.
#[derive(Clone, Copy)]
pub(crate) struct BlockWatch {
    #[cfg(feature = "metrics")]
    started_at: Instant,
}

#[cfg_attr(
    not(feature = "metrics"),
    allow(
        clippy::unused_self,
        reason = "without `metrics` there is nothing to record"
    )
)]
impl BatchWatch {
    /// The name of the handler whose blocks these are.
    #[inline]
    pub(crate) fn handler(&self) -> &'static str {
        self.handler
    }

    /// The response stopped waiting for a slot: it `got_slot`, or its task was dropped while
    /// it waited.
    #[inline]
    pub(crate) fn left_queue(&self, got_slot: bool) {
        #[cfg(feature = "metrics")]
        self.metrics
            .left_queue(got_slot.then(|| self.fired_at.elapsed()));
        #[cfg(not(feature = "metrics"))]
        let _ = got_slot;
    }

    /// A block is about to run its first line.
    #[inline]
    #[must_use]
    pub(crate) fn starting(&self) -> BlockWatch {
        #[cfg(feature = "metrics")]
        {
            let started_at = Instant::now();
            self.metrics.started(started_at - self.fired_at);
            BlockWatch { started_at }
        }
        #[cfg(not(feature = "metrics"))]
        BlockWatch {}
    }

    /// A started block ended as `ending`.
    #[inline]
    pub(crate) fn ended(&self, block: BlockWatch, ending: BlockEnd) {
        #[cfg(feature = "metrics")]
        self.metrics.block_ended(ending, block.started_at.elapsed());
        #[cfg(not(feature = "metrics"))]
        let _ = (block, ending);
    }

    /// `blocks` fired blocks will never end by running: `ending` is abandoned or lost.
    #[inline]
    pub(crate) fn unfinished(&self, ending: BlockEnd, blocks: u64) {
        #[cfg(feature = "metrics")]
        self.metrics.unfinished(ending, blocks);
        #[cfg(not(feature = "metrics"))]
        let _ = (ending, blocks);
    }
}
