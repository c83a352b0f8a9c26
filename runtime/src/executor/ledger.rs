//! The executor's books: its counters, plus what a drain needs to tell running blocks from
//! unstarted ones at its deadline, and abandoned blocks from lost ones afterwards.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::stats::{BlockEnd, Counters};

pub(crate) struct Ledger {
    pub(crate) counters: Counters,
    /// Fired blocks that have not started: their response waits for a slot, or an earlier block
    /// of the same response is still running. Reported as never started at a drain deadline.
    unstarted: AtomicU64,
    /// How many drain deadlines have passed. A block in flight when one passed was left behind:
    /// if the runtime drops it, it is abandoned; a block fired later and dropped is lost.
    deadlines_passed: AtomicU64,
}

impl Ledger {
    pub(crate) const fn new() -> Self {
        Self {
            counters: Counters::new(),
            unstarted: AtomicU64::new(0),
            deadlines_passed: AtomicU64::new(0),
        }
    }

    pub(crate) fn unstarted(&self) -> u64 {
        self.unstarted.load(Relaxed)
    }

    /// A drain gave up waiting: whatever is in flight now is left behind.
    pub(crate) fn pass_deadline(&self) {
        self.deadlines_passed.fetch_add(1, Relaxed);
    }

    /// Books `blocks` fired blocks of one response as in flight and unstarted.
    pub(crate) fn open(&self, blocks: u64) -> BatchAccount {
        self.counters.record_fired(blocks);
        self.unstarted.fetch_add(blocks, Relaxed);
        BatchAccount {
            fired_after_deadlines: self.deadlines_passed.load(Relaxed),
            remaining: blocks,
            unstarted: blocks,
        }
    }
}

/// One response's fired blocks on the [`Ledger`]: counted out of `unstarted` as they start and
/// out of `in_flight` as they end. [`close`](BatchAccount::close) settles whatever is left.
pub(crate) struct BatchAccount {
    /// `deadlines_passed` when the blocks were fired.
    fired_after_deadlines: u64,
    /// Blocks not yet ended.
    remaining: u64,
    /// Blocks not yet started (always `<= remaining`).
    unstarted: u64,
}

impl BatchAccount {
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    /// A drain deadline passed since these blocks were fired.
    pub(crate) fn left_behind(&self, ledger: &Ledger) -> bool {
        ledger.deadlines_passed.load(Relaxed) > self.fired_after_deadlines
    }

    pub(crate) fn starting(&mut self, ledger: &Ledger) {
        self.unstarted -= 1;
        ledger.unstarted.fetch_sub(1, Relaxed);
    }

    pub(crate) fn ended(&mut self, ledger: &Ledger, end: BlockEnd) {
        self.remaining -= 1;
        ledger.counters.record_ended(end, 1);
    }

    /// Settles the blocks that did not end (the runtime dropped the task, or it stopped before
    /// blocks a drain deadline left behind): abandoned if a drain deadline passed while they
    /// were in flight, else lost (and logged), and tells `unfinished` of them. Idempotent.
    pub(crate) fn close(&mut self, ledger: &Ledger, unfinished: impl FnOnce(BlockEnd, u64)) {
        if self.unstarted > 0 {
            ledger
                .unstarted
                .fetch_sub(std::mem::take(&mut self.unstarted), Relaxed);
        }
        if self.remaining > 0 {
            let end = if self.left_behind(ledger) {
                BlockEnd::Abandoned
            } else {
                tracing::error!(
                    blocks = self.remaining,
                    "after-response: the runtime dropped deferred blocks before they ended; they are lost"
                );
                BlockEnd::Lost
            };
            let blocks = std::mem::take(&mut self.remaining);
            ledger.counters.record_ended(end, blocks);
            unfinished(end, blocks);
        }
    }
}
