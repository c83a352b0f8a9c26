//! Admission: whether a response's fired blocks get a slot now, wait for one, or are shed.
//!
//! Each response whose blocks fire gets one task. A task needs one of `max_in_flight` slots to
//! run; a response's blocks run one after another in that slot, so `max_in_flight` also bounds
//! how many blocks run at once. A response that finds every slot taken **waits** for one on its
//! own task (the response has already been sent: waiting holds no connection), as long as fewer
//! than `max_queued` responses already wait. Past that its blocks are **shed**. Deferred work
//! therefore holds at most `max_in_flight + max_queued` responses' blocks, whatever the request
//! rate: there is no unbounded queue.
//!
//! The request path ([`Admission::admit`], when a body is dropped) takes no lock: a slot is
//! taken with the semaphore's lock-free `try_acquire`, the queue length is an atomic. The
//! semaphore's waiter list, which has a lock, is touched only by the executor's own tasks, when
//! a queued response waits for a slot and when a slot is given back.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct Admission {
    slots: Arc<Semaphore>,
    /// Responses waiting for a slot (at most `max_queued`).
    queued: AtomicUsize,
    max_queued: usize,
}

/// Where a response's blocks go when it ends.
pub(crate) enum Admitted {
    /// A slot is free: run now.
    Slot(OwnedSemaphorePermit),
    /// Every slot is taken; one of the `max_queued` places was reserved: wait for a slot, then
    /// [`Admission::leave_queue`].
    Queued,
    /// Every slot and every place in the queue is taken: shed.
    Full,
}

impl Admission {
    pub(crate) fn new(max_in_flight: usize, max_queued: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            queued: AtomicUsize::new(0),
            max_queued,
        }
    }

    /// Lock-free admission: a slot, else a place in the queue, else (after one more look for a
    /// slot freed meanwhile) full.
    pub(crate) fn admit(&self) -> Admitted {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Admitted::Slot(permit);
        }
        if self.queued.fetch_add(1, Relaxed) < self.max_queued {
            return Admitted::Queued;
        }
        self.queued.fetch_sub(1, Relaxed);
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => Admitted::Slot(permit),
            Err(_) => Admitted::Full,
        }
    }

    /// Waits for a slot, for a response admitted as [`Admitted::Queued`]. Holds its own handle
    /// on the slots, so the waiting task can keep it (boxed: off the default path).
    pub(crate) fn wait_for_slot(
        &self,
    ) -> impl std::future::Future<Output = OwnedSemaphorePermit> + Send + 'static {
        let slots = Arc::clone(&self.slots);
        async move {
            slots
                .acquire_owned()
                .await
                .expect("the slot semaphore is never closed")
        }
    }

    /// Gives back a place in the queue taken by [`Admitted::Queued`].
    pub(crate) fn leave_queue(&self) {
        self.queued.fetch_sub(1, Relaxed);
    }
}
