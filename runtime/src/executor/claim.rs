//! A fired response's claim on its executor, held by the future that runs its blocks
//! ([`super::run::BatchTask`]) and given back when that future lets go of it.

use super::ledger::BatchAccount;
use super::shared::SharedRef;
use crate::observe::BatchWatch;

/// A fired response's claim on its executor: its place in the tracker, its account on the
/// ledger, its slot once it has one and, while it waits for one, its place in the queue.
/// Dropping it (its blocks ended, or the runtime dropped them) gives the places back and settles
/// the account.
pub(crate) struct Claim {
    pub(super) executor: SharedRef,
    pub(super) account: BatchAccount,
    queued: bool,
    holds_slot: bool,
    /// The same books, for metrics and the failure hook.
    pub(super) watch: BatchWatch,
}

impl Claim {
    /// `queued`: admitted to wait for a slot; else admitted with one.
    pub(crate) fn new(
        executor: SharedRef,
        account: BatchAccount,
        queued: bool,
        watch: BatchWatch,
    ) -> Self {
        Self {
            executor,
            account,
            queued,
            holds_slot: !queued,
            watch,
        }
    }

    /// Whether it was admitted with a slot (else it waits in the queue for one).
    pub(super) fn holds_slot(&self) -> bool {
        self.holds_slot
    }

    /// The queued response got its slot: it holds it, and leaves the queue.
    pub(super) fn got_slot(&mut self) {
        self.holds_slot = true;
        self.leave_queue(true);
    }

    /// Gives the slot back, if held.
    fn release_slot(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.executor.admission.release();
        }
    }

    /// Gives back the place in the queue: it `got_slot`, or the task is dropped.
    fn leave_queue(&mut self, got_slot: bool) {
        if std::mem::take(&mut self.queued) {
            self.executor.admission.leave_queue();
            self.watch.left_queue(got_slot);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.leave_queue(false);
        self.release_slot();
        let watch = &self.watch;
        self.account.close(&self.executor.ledger, |end, blocks| {
            watch.unfinished(end, blocks);
        });
        self.executor.tracker.ended();
    }
}
