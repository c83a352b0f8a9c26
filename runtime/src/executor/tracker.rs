//! The executor's task tracker: counts the tasks it spawned, and lets a drain wait until it is
//! closed and they have all ended. `tokio_util::task::TaskTracker`'s `close` + `wait`, in the
//! few lines this crate needs (tokio-util's `rt` feature would pull a proc-macro stack into the
//! `default-features = false` build).

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The low bit: closed. The rest: tasks spawned and not yet ended, times two.
const CLOSED: usize = 1;
const TASK: usize = 2;

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

    /// A task is about to be spawned: counted until [`Tracker::task_ended`].
    pub(crate) fn task_started(&self) {
        self.state.fetch_add(TASK, Ordering::Relaxed);
    }

    pub(crate) fn task_ended(&self) {
        if self.state.fetch_sub(TASK, Ordering::AcqRel) == CLOSED | TASK {
            self.idle.notify_waiters();
        }
    }

    /// From now on, [`Tracker::wait`] returns once no task is left. Spawning is still allowed.
    pub(crate) fn close(&self) {
        if self.state.fetch_or(CLOSED, Ordering::AcqRel) == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Resolves once the tracker is closed and every task it counted has ended.
    pub(crate) async fn wait(&self) {
        loop {
            // Registered before the check, so a task ending in between still wakes us.
            let mut notified = pin!(self.idle.notified());
            notified.as_mut().enable();
            if self.state.load(Ordering::Acquire) == CLOSED {
                return;
            }
            notified.await;
        }
    }
}
