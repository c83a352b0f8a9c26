//! One executor's counters: lock-free atomics, read as one [`Stats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of one executor's deferred-work counters since it was built; read it with
/// [`Executor::stats`](crate::Executor::stats) (or [`crate::stats()`] for the process default).
/// Each executor counts only the blocks that ran on it.
///
/// Every block registered ends in exactly one of `finished`, `failed`, `panicked`, `timed_out`,
/// `cancelled`, `skipped`, `shed`, `abandoned` or `lost`; between firing and that end it is
/// counted in `in_flight`. So, once nothing is in flight, the sum of those nine fields is the
/// number of blocks ever registered.
///
/// The counters are independent lock-free atomics, cheap to update on every request and to
/// read at any time; a snapshot taken while blocks are ending may see one block in two fields
/// (or in none) for an instant. Compare snapshots taken when the work of interest has settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Blocks fired and not yet ended: waiting for a slot, waiting behind an earlier block of
    /// their response, or running.
    pub in_flight: u64,
    /// Blocks that ran to the end and returned `()` or `Ok(())`.
    pub finished: u64,
    /// Blocks that returned `Err` (logged at ERROR).
    pub failed: u64,
    /// Blocks that panicked (logged at ERROR).
    pub panicked: u64,
    /// Blocks cancelled by their timeout, [`crate::Config::block_timeout`] or their own
    /// (logged at ERROR).
    pub timed_out: u64,
    /// Blocks cancelled through their [`crate::DeferHandle`] before they ran.
    pub cancelled: u64,
    /// `defer! { .. }` blocks not run because their response did not complete.
    pub skipped: u64,
    /// Blocks dropped without running because deferred work was full: `max_in_flight`
    /// responses running and `max_queued` waiting (logged at WARN). See [`crate::Config`].
    pub shed: u64,
    /// Blocks a drain ([`Executor::shutdown`](crate::Executor::shutdown)) left behind at its deadline: the running ones the runtime
    /// then dropped (running ones that go on to end are counted by how they end), and the
    /// unstarted ones, which are never started.
    pub abandoned: u64,
    /// Blocks that could not run or finish and that no drain reported: there was no tokio
    /// runtime when their response ended, or the runtime dropped them unfinished without a
    /// drain deadline having passed while they were in flight (no drain at all,
    /// or fired after the drain). Logged at ERROR.
    pub lost: u64,
    /// Panics caught in the failure hook ([`crate::Config::on_failure`]), logged at ERROR. Not
    /// a block ending: the block is counted by how it failed.
    pub failure_hook_panicked: u64,
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
    failure_hook_panicked: AtomicU64,
}

/// How one fired block ended (the response's own end is an [`crate::OutcomeKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockEnd {
    Finished,
    Failed,
    Panicked,
    TimedOut,
    /// Fired, then found not to run after all (not expected: `runs_on` and `start` agree).
    Skipped,
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
            failure_hook_panicked: AtomicU64::new(0),
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
            failure_hook_panicked: self.failure_hook_panicked.load(Relaxed),
        }
    }

    pub(crate) fn record_cancelled(&self) {
        self.cancelled.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_failure_hook_panicked(&self) {
        self.failure_hook_panicked.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_skipped(&self, blocks: u64) {
        self.skipped.fetch_add(blocks, Relaxed);
    }

    /// Counts shed blocks; returns the new total, for the warning.
    pub(crate) fn record_shed(&self, blocks: u64) -> u64 {
        self.shed.fetch_add(blocks, Relaxed) + blocks
    }

    /// Blocks that were never fired into a task and never will be.
    pub(crate) fn record_lost_unfired(&self, blocks: u64) {
        self.lost.fetch_add(blocks, Relaxed);
    }

    pub(crate) fn record_fired(&self, blocks: u64) {
        self.in_flight.fetch_add(blocks, Relaxed);
    }

    /// Fired blocks ended as `end`: it leaves `in_flight`.
    pub(crate) fn record_ended(&self, end: BlockEnd, blocks: u64) {
        let counter = match end {
            BlockEnd::Finished => &self.finished,
            BlockEnd::Failed => &self.failed,
            BlockEnd::Panicked => &self.panicked,
            BlockEnd::TimedOut => &self.timed_out,
            BlockEnd::Skipped => &self.skipped,
            BlockEnd::Abandoned => &self.abandoned,
            BlockEnd::Lost => &self.lost,
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
