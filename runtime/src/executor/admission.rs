//! Admission: whether a response's fired blocks get a slot now, wait for one, or are shed.
//!
//! A response whose blocks fire needs one of `max_in_flight` slots to run them; its blocks run
//! one after another in that slot, so `max_in_flight` also bounds how many blocks run at once. A
//! response that finds every slot taken **waits** for one on its runner (the response has
//! already been sent: waiting holds no connection), as long as fewer
//! than `max_queued` responses already wait. Past that its blocks are **shed**. Deferred work
//! therefore holds at most `max_in_flight + max_queued` responses' blocks, whatever the request
//! rate: there is no unbounded queue.
//!
//! Neither the request path ([`Admission::admit`], when a body is dropped) nor a slot given
//! back while nobody waits ([`Admission::release`], when a task ends) takes a lock: free slots
//! are an atomic count, the queue length another. Only a slot given back while responses wait
//! goes through a semaphore, whose waiter list (with its lock) hands it to the longest-waiting
//! one. (A tokio `Semaphore` for every slot locked that list on every release: ~100
//! instructions a response with the permit's `Arc`, bench/RESULTS.md, "This session's steps".)
//!
//! Every slot is, at any time, held by one response, counted in `free`, or a permit of `handover`
//! (assigned to a waiter, or left there when its waiter took a free slot first); each release
//! adds one slot to one of the two and each taking removes one, so the bound holds. A queued
//! response counts itself in `queued` before it looks for a free slot, and a release adds to
//! `free` before it looks at `queued` (all sequentially consistent): so either the waiter sees
//! the freed slot, or the release sees the waiter and moves the slot to `handover`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use tokio::sync::Semaphore;

pub(crate) struct Admission {
    /// Slots nobody holds and nobody was handed.
    free: AtomicUsize,
    /// Responses admitted as queued that have not got a slot yet (at most `max_queued`).
    queued: AtomicUsize,
    max_queued: usize,
    /// Slots handed to queued responses, in the order they began to wait.
    handover: Semaphore,
}

/// Where a response's blocks go when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// A slot is taken: run now, then [`Admission::release`] it.
    Slot,
    /// Every slot is taken; one of the `max_queued` places was reserved:
    /// [`Admission::wait_for_slot`], then [`Admission::leave_queue`].
    Queued,
    /// Every slot and every place in the queue is taken: shed.
    Full,
}

impl Admission {
    pub(crate) fn new(max_in_flight: usize, max_queued: usize) -> Self {
        Self {
            free: AtomicUsize::new(max_in_flight),
            queued: AtomicUsize::new(0),
            max_queued,
            handover: Semaphore::new(0),
        }
    }

    /// Lock-free admission: a slot, else a place in the queue, else (after one more look for a
    /// slot freed meanwhile) full.
    pub(crate) fn admit(&self) -> Admitted {
        if self.take_slot() {
            return Admitted::Slot;
        }
        if self.queued.fetch_add(1, SeqCst) < self.max_queued {
            return Admitted::Queued;
        }
        self.queued.fetch_sub(1, SeqCst);
        if self.take_slot() {
            Admitted::Slot
        } else {
            Admitted::Full
        }
    }

    /// Takes a free slot, or one left in `handover` by a waiter that found a free one first.
    fn take_slot(&self) -> bool {
        self.take_free()
            || self
                .handover
                .try_acquire()
                .map(tokio::sync::SemaphorePermit::forget)
                .is_ok()
    }

    /// Waits for a slot, for a response admitted as [`Admitted::Queued`] (still counted in
    /// `queued`, so that a release made meanwhile hands its slot over rather than freeing it
    /// unseen). Then [`Admission::leave_queue`], and [`Admission::release`] when done.
    pub(crate) async fn wait_for_slot(&self) {
        if self.take_slot() {
            return;
        }
        self.handover
            .acquire()
            .await
            .expect("the hand-over semaphore is never closed")
            .forget();
    }

    /// Gives back a place in the queue taken by [`Admitted::Queued`].
    pub(crate) fn leave_queue(&self) {
        self.queued.fetch_sub(1, SeqCst);
    }

    /// Gives back a slot: to the longest-waiting queued response, if one waits.
    pub(crate) fn release(&self) {
        self.free.fetch_add(1, SeqCst);
        // Freed first, looked for waiters second: a response queued meanwhile either sees
        // this slot when it looks for a free one, or is seen here and handed it.
        if self.queued.load(SeqCst) > 0 && self.take_free() {
            self.handover.add_permits(1);
        }
    }

    fn take_free(&self) -> bool {
        self.free
            .fetch_update(SeqCst, SeqCst, |free| free.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Admission, Admitted};

    fn slots_back(admission: &Admission) -> usize {
        admission.free.load(SeqCst) + admission.handover.available_permits()
    }

    #[test]
    fn a_slot_given_back_goes_to_the_waiting_response_and_the_queue_bounds_the_rest() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let admission = Admission::new(1, 1);
        assert_eq!(admission.admit(), Admitted::Slot);
        assert_eq!(admission.admit(), Admitted::Queued);
        assert_eq!(admission.admit(), Admitted::Full);
        // Someone waits: the slot is handed over, not freed for a newcomer.
        admission.release();
        assert_eq!(admission.free.load(SeqCst), 0);
        runtime.block_on(admission.wait_for_slot());
        admission.leave_queue();
        assert_eq!(admission.admit(), Admitted::Queued);
        admission.leave_queue();
        admission.release();
        assert_eq!(slots_back(&admission), 1);
        assert_eq!(admission.admit(), Admitted::Slot);
    }

    /// Threads race admissions, waits and releases on two slots: never more than two held at
    /// once, every waiter gets a slot (a lost hand-over would hang a thread until the guard
    /// below fails it), and both slots come back.
    #[test]
    fn racing_admissions_and_releases_keep_the_bound_and_lose_no_waiter() {
        static QUEUED: AtomicUsize = AtomicUsize::new(0);
        const SLOTS: usize = 2;
        let admission = Arc::new(Admission::new(SLOTS, usize::MAX));
        let held = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (admission, held) = (Arc::clone(&admission), Arc::clone(&held));
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .unwrap();
                    let rounds = async {
                        for _ in 0..10_000 {
                            match admission.admit() {
                                Admitted::Slot => {}
                                Admitted::Queued => {
                                    QUEUED.fetch_add(1, SeqCst);
                                    admission.wait_for_slot().await;
                                    admission.leave_queue();
                                }
                                Admitted::Full => unreachable!("the queue is unbounded here"),
                            }
                            assert!(held.fetch_add(1, SeqCst) < SLOTS, "over the bound");
                            // Hold the slot while other threads run: they queue behind it.
                            std::thread::yield_now();
                            tokio::task::yield_now().await;
                            held.fetch_sub(1, SeqCst);
                            admission.release();
                        }
                    };
                    // A guard against hanging, not a timing assertion: the rounds take
                    // milliseconds.
                    runtime
                        .block_on(async {
                            tokio::time::timeout(Duration::from_secs(60), rounds).await
                        })
                        .expect("a queued response never got its slot");
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(
            QUEUED.load(SeqCst) > 0,
            "no round waited: nothing was raced"
        );
        assert_eq!(admission.queued.load(SeqCst), 0);
        assert_eq!(slots_back(&admission), SLOTS);
    }
}
