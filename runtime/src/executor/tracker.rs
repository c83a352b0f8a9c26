//! The executor's tracker: counts the responses whose blocks it runs, and lets a drain wait
//! until it is closed and they have all ended. `tokio_util::task::TaskTracker`'s `close` +
//! `wait`, in the few lines this crate needs (tokio-util's `rt` feature would pull a proc-macro
//! stack into the `default-features = false` build).

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The low bit: closed. The rest: responses fired and not yet ended, times two.
const CLOSED: usize = 1;
const RESPONSE: usize = 2;

pub(crate) struct Tracker {
    state: AtomicUsize,
    idle: Notify,
}

impl Tracker {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            idle: Notify::const_new(),
        }
    }

    /// A response's blocks are about to be handed to a runner: counted until
    /// [`Tracker::ended`].
    pub(crate) fn fired(&self) {
        self.state.fetch_add(RESPONSE, Ordering::Relaxed);
    }

    pub(crate) fn ended(&self) {
        if self.state.fetch_sub(RESPONSE, Ordering::AcqRel) == CLOSED | RESPONSE {
            self.idle.notify_waiters();
        }
    }

    /// From now on, [`Tracker::wait`] returns once no response is left. Firing is still
    /// allowed.
    pub(crate) fn close(&self) {
        if self.state.fetch_or(CLOSED, Ordering::AcqRel) == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Resolves once the tracker is closed and every response it counted has ended.
    pub(crate) async fn wait(&self) {
        loop {
            // Registered before the check, so a response ending in between still wakes us.
            let mut notified = pin!(self.idle.notified());
            notified.as_mut().enable();
            if self.state.load(Ordering::Acquire) == CLOSED {
                return;
            }
            notified.await;
        }
    }
}
