//! Graceful drain of deferred work at shutdown.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::executor::{executor, stats};

/// What [`shutdown`] found. Every block that was in flight while it waited is in exactly one
/// field (see [`shutdown`] for the one instant where that can blur).
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
    /// They never will start (see [`shutdown`]).
    pub never_started: u64,
}

impl DrainReport {
    /// `true` when nothing was left behind: every block in flight ended before the deadline.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        self.abandoned == 0 && self.never_started == 0
    }
}

/// Waits up to `deadline` for all deferred work in flight, and reports what finished and what
/// was left behind.
///
/// ```no_run
/// # async fn demo(listener: tokio::net::TcpListener, app: axum::Router) {
/// # let shutdown_signal = std::future::pending::<()>();
/// use std::time::Duration;
///
/// axum::serve(listener, app)
///     .with_graceful_shutdown(shutdown_signal)
///     .await
///     .unwrap();
/// // The server has stopped producing responses; drain the work they left.
/// let report = after_response::shutdown(Duration::from_secs(30)).await;
/// if !report.is_complete() {
///     eprintln!("left {} running and {} unstarted", report.abandoned, report.never_started);
/// }
/// # }
/// ```
///
/// Call it after `axum::serve(..).with_graceful_shutdown(..)` has returned, on the runtime
/// that served, before that runtime ends: `axum::serve` waits for connections only, and a
/// runtime that ends drops whatever deferred work is still running.
///
/// # What it waits for
/// Every block fired before the drain and not yet ended, **and every block fired while it
/// waits**: work is never refused because a drain began (a response still being sent by a
/// connection that is finishing gets its blocks run, and waited for, under the same deadline).
/// Work fired after `shutdown` returned is not refused either: it runs while the runtime lives
/// and is in no report; if the runtime then drops it unfinished it is counted in
/// [`crate::Stats::lost`] and logged at ERROR, since no report told anyone about it.
///
/// # At the deadline
/// It stops waiting and reports blocks still running as [`abandoned`](DrainReport::abandoned)
/// and blocks not yet started as [`never_started`](DrainReport::never_started); it logs them
/// at WARN. A drain that completes logs at INFO.
///
/// Running blocks are not cancelled: they go on while the runtime lives; those that end are
/// counted by how they end, those the runtime drops in [`crate::Stats::abandoned`]. Blocks left
/// behind unstarted are never started (the process is on its way out, and the report said so):
/// each is dropped when it would have started, or with the runtime, and counted in
/// [`crate::Stats::abandoned`].
///
/// The report reads independent atomic counters after the wait. They are exact when nothing
/// ends at that instant (always, when the drain completes); a block that ends exactly as the
/// deadline passes may be seen in two fields or in none.
///
/// It needs a runtime with the time driver enabled (as `#[tokio::main]` gives). It can be called
/// more than once: each call reports what it waited for.
pub async fn shutdown(deadline: Duration) -> DrainReport {
    let executor = executor();
    let ran_before = stats().snapshot().ran();
    executor.tracker.close();
    let drained = tokio::time::timeout(deadline, executor.tracker.wait())
        .await
        .is_ok();
    if !drained {
        executor.deadlines_passed.fetch_add(1, Relaxed);
    }
    let snapshot = stats().snapshot();
    let finished = snapshot.ran().saturating_sub(ran_before);
    let report = if drained {
        // Anything in flight now was fired after the wait ended: not part of this drain.
        DrainReport {
            finished,
            abandoned: 0,
            never_started: 0,
        }
    } else {
        let never_started = executor.unstarted.load(Relaxed).min(snapshot.in_flight);
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
