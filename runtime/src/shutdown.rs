//! Graceful drain of deferred work at shutdown.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::executor::{executor, stats};

/// What [`shutdown`] found: every block in flight during the drain is in exactly one field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Blocks that ended before the deadline (run to the end, failed, panicked or timed out).
    pub finished: u64,
    /// Blocks still running at the deadline.
    pub abandoned: u64,
    /// Blocks still waiting for a slot at the deadline: they never started.
    pub never_started: u64,
}

impl DrainReport {
    /// `true` when nothing was left behind.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        self.abandoned == 0 && self.never_started == 0
    }
}

/// Waits up to `deadline` for all deferred work in flight, and reports what finished and what
/// was left.
///
/// Call it after `axum::serve(..).with_graceful_shutdown(..)` has returned, before the runtime
/// ends: the server has stopped producing responses, and this waits for the work they left.
/// Work fired while it waits is waited for too. Blocks left at the deadline keep running until
/// the runtime is dropped; when it drops them they are counted in [`crate::Stats::abandoned`].
pub async fn shutdown(deadline: Duration) -> DrainReport {
    let executor = executor();
    let ran_before = stats().snapshot().ran();
    executor.tracker.close();
    let drained = tokio::time::timeout(deadline, executor.tracker.wait())
        .await
        .is_ok();
    let snapshot = stats().snapshot();
    let never_started = executor.waiting_blocks.load(Relaxed);
    if !drained {
        executor.deadline_passed.store(true, Relaxed);
    }
    DrainReport {
        finished: snapshot.ran() - ran_before,
        abandoned: snapshot.in_flight.saturating_sub(never_started),
        never_started,
    }
}
