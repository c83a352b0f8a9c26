//! Process-wide counters of the durable path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the durable-work counters of this process; read it with [`stats`].
///
/// Every job persisted here ends in one of `ran_in_process`, `failed_in_process`, `removed`,
/// `handed_back` or `left_locked` (the last two: the queue runs it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DurableStats {
    /// Jobs written to the store, locked by this process.
    pub persisted: u64,
    /// `defer_durable` calls whose write failed: the handler got the error.
    pub persist_failed: u64,
    /// Jobs run here after their response and acked `Done`.
    pub ran_in_process: u64,
    /// Jobs run here whose function failed: acked `Failed`, the queue retries them.
    pub failed_in_process: u64,
    /// Jobs whose response was not completed: acked `Killed`, never run.
    pub removed: u64,
    /// Jobs handed back to the queue unrun: shed, timed out, or left at a drain deadline.
    pub handed_back: u64,
    /// Jobs dropped where they could not be handed back (no tokio runtime, or the store
    /// failed): still locked by this process, the queue runs them once the lock expires.
    pub left_locked: u64,
    /// Acks (done, failed, killed, handed back) the store refused or did not apply, logged.
    pub settle_failed: u64,
    /// Jobs this process ran as a queue worker, through [`crate::durable::run_queued`].
    pub ran_from_queue: u64,
}

/// The durable-work counters of this process.
#[must_use]
pub fn stats() -> DurableStats {
    let c = &COUNTERS;
    DurableStats {
        persisted: c.persisted.get(),
        persist_failed: c.persist_failed.get(),
        ran_in_process: c.ran_in_process.get(),
        failed_in_process: c.failed_in_process.get(),
        removed: c.removed.get(),
        handed_back: c.handed_back.get(),
        left_locked: c.left_locked.get(),
        settle_failed: c.settle_failed.get(),
        ran_from_queue: c.ran_from_queue.get(),
    }
}

pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub(crate) fn increment(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

pub(crate) struct Counters {
    pub(crate) persisted: Counter,
    pub(crate) persist_failed: Counter,
    pub(crate) ran_in_process: Counter,
    pub(crate) failed_in_process: Counter,
    pub(crate) removed: Counter,
    pub(crate) handed_back: Counter,
    pub(crate) left_locked: Counter,
    pub(crate) settle_failed: Counter,
    pub(crate) ran_from_queue: Counter,
}

pub(crate) static COUNTERS: Counters = Counters {
    persisted: Counter::new(),
    persist_failed: Counter::new(),
    ran_in_process: Counter::new(),
    failed_in_process: Counter::new(),
    removed: Counter::new(),
    handed_back: Counter::new(),
    left_locked: Counter::new(),
    settle_failed: Counter::new(),
    ran_from_queue: Counter::new(),
};
