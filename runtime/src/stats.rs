//! Process-wide counters: lock-free atomics, read as one [`Stats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the deferred-work counters since the process started.
///
/// Every block registered ends in exactly one of `finished`, `failed`, `panicked`, `timed_out`,
/// `cancelled`, `skipped`, `shed`, `abandoned` or `lost`; until then it is `in_flight` (once fired).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Blocks fired and not yet ended (waiting for a slot or running).
    pub in_flight: u64,
    /// Blocks that ran to the end and returned `()` or `Ok(())`.
    pub finished: u64,
    /// Blocks that returned `Err` (logged).
    pub failed: u64,
    /// Blocks that panicked (logged).
    pub panicked: u64,
    /// Blocks stopped by their timeout (logged).
    pub timed_out: u64,
    /// Blocks cancelled through their handle before they ran.
    pub cancelled: u64,
    /// `defer! { .. }` blocks not run because their response did not complete.
    pub skipped: u64,
    /// Blocks dropped because the in-flight bound and its queue were full (logged).
    pub shed: u64,
    /// Blocks still running or waiting when a [`crate::shutdown`] deadline passed.
    pub abandoned: u64,
    /// Blocks that could not run: no tokio runtime, or the runtime dropped them (logged).
    pub lost: u64,
}

pub(crate) struct Counters {
    in_flight: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
    skipped: AtomicU64,
    shed: AtomicU64,
    abandoned: AtomicU64,
    lost: AtomicU64,
}

/// How one fired block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Finished,
    Failed,
    Panicked,
    TimedOut,
    Abandoned,
    Lost,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            in_flight: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            in_flight: self.in_flight.load(Relaxed),
            finished: self.finished.load(Relaxed),
            failed: self.failed.load(Relaxed),
            panicked: self.panicked.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            shed: self.shed.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
            lost: self.lost.load(Relaxed),
        }
    }

    pub(crate) fn record_cancelled(&self) {
        self.cancelled.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_skipped(&self, blocks: u64) {
        self.skipped.fetch_add(blocks, Relaxed);
    }

    pub(crate) fn record_shed(&self, blocks: u64) {
        self.shed.fetch_add(blocks, Relaxed);
    }

    /// Blocks that were never fired into a task and never will be.
    pub(crate) fn record_lost_unfired(&self, blocks: u64) {
        self.lost.fetch_add(blocks, Relaxed);
    }

    pub(crate) fn record_fired(&self, blocks: u64) {
        self.in_flight.fetch_add(blocks, Relaxed);
    }

    /// A fired block ended as `ending`: it leaves `in_flight`.
    pub(crate) fn record_ended(&self, ending: Ending, blocks: u64) {
        let counter = match ending {
            Ending::Finished => &self.finished,
            Ending::Failed => &self.failed,
            Ending::Panicked => &self.panicked,
            Ending::TimedOut => &self.timed_out,
            Ending::Abandoned => &self.abandoned,
            Ending::Lost => &self.lost,
        };
        counter.fetch_add(blocks, Relaxed);
        self.in_flight.fetch_sub(blocks, Relaxed);
    }
}

impl Stats {
    /// Blocks that ended by running: finished, failed, panicked or timed out.
    #[must_use]
    pub const fn ran(&self) -> u64 {
        self.finished + self.failed + self.panicked + self.timed_out
    }
}
