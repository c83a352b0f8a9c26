//! Graceful drain of one executor's deferred work, with a deadline.

use std::time::Duration;

use super::shared::Shared;

/// What [`Executor::shutdown`](crate::Executor::shutdown) found. Every block of that executor
/// that was in flight while it waited is in exactly one field (see `shutdown` for the one
/// instant where that can blur).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Blocks that ended while the drain waited: ran to the end, or failed, panicked or timed
    /// out (each logged, and counted in its own field of [`crate::Stats`]).
    pub finished: u64,
    /// Blocks **abandoned**: running when the deadline passed. They were started and had not
    /// ended; the drain stopped waiting for them.
    pub abandoned: u64,
    /// Blocks not yet started when the deadline passed: their response was waiting for one of
    /// the `max_in_flight` slots, or an earlier block of the same response was still running.
    /// They never will start.
    pub never_started: u64,
}

impl DrainReport {
    /// `true` when nothing was left behind: every block in flight ended before the deadline.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        self.abandoned == 0 && self.never_started == 0
    }
}

pub(crate) async fn drain(shared: &Shared, deadline: Duration) -> DrainReport {
    let counters = &shared.ledger.counters;
    let ran_before = counters.snapshot().ran();
    shared.tracker.close();
    let drained = tokio::time::timeout(deadline, shared.tracker.wait())
        .await
        .is_ok();
    if !drained {
        shared.ledger.pass_deadline();
    }
    let snapshot = counters.snapshot();
    let finished = snapshot.ran().saturating_sub(ran_before);
    let report = if drained {
        // Anything in flight now was fired after the wait ended: not part of this drain.
        DrainReport {
            finished,
            abandoned: 0,
            never_started: 0,
        }
    } else {
        let never_started = shared.ledger.unstarted().min(snapshot.in_flight);
        DrainReport {
            finished,
            abandoned: snapshot.in_flight - never_started,
            never_started,
        }
    };
    if report.is_complete() {
        tracing::info!(
            finished = report.finished,
            "after-response: drained all deferred work"
        );
    } else {
        tracing::warn!(
            finished = report.finished,
            abandoned = report.abandoned,
            never_started = report.never_started,
            deadline = ?deadline,
            "after-response: drain deadline passed; deferred work left behind"
        );
    }
    report
}
