//! Runners: long-lived tasks that run fired responses' [`BatchTask`]s, one at a time, so that a
//! response does not pay for a task of its own.
//!
//! A tokio task costs a 128-byte-aligned allocation, its lifecycle and several copies of its
//! future (~1 500 instructions a response: bench/RESULTS.md, "Where one `defer!` goes"). A runner
//! that has run a response's blocks waits in its thread's pool instead of ending; the next
//! response fired on that thread (on the same runtime) hands it its batch and wakes it. Waking a
//! task from a worker schedules it exactly as spawning one does (the worker's next task, after
//! the current one's poll), so the blocks still start only after the poll that released the
//! body's last bytes, in which the connection flushes them. When no runner of the runtime waits
//! on the thread, a new one is spawned with the batch.
//!
//! Each thread keeps at most [`IDLE_PER_THREAD`] runners; one that finds the pool full ends. A
//! runner's state and the hand-over are guarded by one uncontended lock: only the thread that
//! takes a runner out of its pool hands it work, and only while the runner waits.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};

use tokio::runtime::{Handle, Id};

use super::run::BatchTask;

/// How many idle runners one thread keeps for the responses fired on it.
const IDLE_PER_THREAD: usize = 32;

/// Runs `task` on `runtime`: on an idle runner of this thread, else on a new one.
///
/// Inlined with [`Mailbox::hand`], so that the task is written once, into the mailbox, rather
/// than copied through each call (~30 instructions a copy).
#[inline]
pub(crate) fn run(runtime: &Handle, mut task: BatchTask) {
    let id = runtime.id();
    while let Some(idle) = take_idle(id) {
        match idle.hand(task) {
            None => return,
            // That runner ended meanwhile (its runtime is shutting down): try the next one.
            Some(back) => task = back,
        }
    }
    drop(runtime.spawn(Runner {
        runtime: id,
        mailbox: Arc::default(),
        task,
        done: false,
    }));
}

/// Where a runner is handed its next task, and how it is woken for it.
#[derive(Default)]
struct Mailbox(Mutex<Letter>);

#[derive(Default)]
struct Letter {
    task: Option<BatchTask>,
    /// The waiting runner's waker, registered before it joins a pool.
    waker: Option<Waker>,
    /// No more tasks: the runner ended, or its thread's pool was dropped (it ends when woken).
    closed: bool,
    /// In a thread's pool. A block can leave the runner's waker with a resource that wakes it
    /// later, while it waits: such a poll must not put it in a second pool.
    pooled: bool,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Letter> {
        // No user code runs under this lock (what a task holds is dropped outside it).
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives `task` to the waiting runner and wakes it. Gives it back if the runner is gone
    /// (or, against every expectation, already has one: the task then goes elsewhere, never
    /// lost).
    #[inline]
    fn hand(&self, task: BatchTask) -> Option<BatchTask> {
        let waker = {
            let mut letter = self.lock();
            if letter.closed || letter.task.is_some() {
                return Some(task);
            }
            letter.pooled = false;
            letter.task = Some(task);
            letter.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        None
    }

    /// Ends the waiting runner: its thread no longer keeps it.
    fn close(&self) {
        let waker = {
            let mut letter = self.lock();
            letter.closed = true;
            letter.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A waiting runner, in its thread's pool.
struct Idle {
    runtime: Id,
    mailbox: Arc<Mailbox>,
}

/// A thread's idle runners; when the thread ends they are closed, so that they end too.
#[derive(Default)]
struct Pool(Vec<Idle>);

impl Drop for Pool {
    fn drop(&mut self) {
        for idle in self.0.drain(..) {
            idle.mailbox.close();
        }
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// The most recently parked idle runner of `runtime` on this thread, taken out of the pool.
fn take_idle(runtime: Id) -> Option<Arc<Mailbox>> {
    POOL.try_with(|pool| {
        let idle = &mut pool.borrow_mut().0;
        let at = idle.iter().rposition(|idle| idle.runtime == runtime)?;
        Some(idle.swap_remove(at).mailbox)
    })
    .ok()
    .flatten()
}

/// Puts a waiting runner in this thread's pool; `false` if the pool is full (it ends instead).
fn park(runtime: Id, mailbox: &Arc<Mailbox>) -> bool {
    POOL.try_with(|pool| {
        let idle = &mut pool.borrow_mut().0;
        if idle.len() >= IDLE_PER_THREAD {
            // Runners of runtimes that have ended leave their places closed: free those first.
            idle.retain(|idle| !idle.mailbox.lock().closed);
        }
        if idle.len() >= IDLE_PER_THREAD {
            return false;
        }
        idle.push(Idle {
            runtime,
            mailbox: Arc::clone(mailbox),
        });
        true
    })
    .unwrap_or(false)
}

pin_project_lite::pin_project! {
    /// The runner's future: runs its task, then waits in its thread's pool for the next.
    struct Runner {
        runtime: Id,
        mailbox: Arc<Mailbox>,
        // Pinned: a task's running block may be stored inline. Once `done`, an empty shell
        // (run.rs), replaced in place by the next task handed over.
        #[pin]
        task: BatchTask,
        done: bool,
    }

    impl PinnedDrop for Runner {
        fn drop(this: Pin<&mut Self>) {
            // The runtime dropped the runner (it is shutting down): a task handed to it and not
            // yet started is dropped here, outside the lock, and its claim counts its blocks.
            let handed = {
                let mut letter = this.mailbox.lock();
                letter.closed = true;
                letter.waker = None;
                letter.task.take()
            };
            drop(handed);
        }
    }
}

impl Future for Runner {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        loop {
            if !*this.done {
                ready!(this.task.as_mut().poll(cx));
                *this.done = true;
            }
            let mut letter = this.mailbox.lock();
            if letter.closed {
                return Poll::Ready(());
            }
            if let Some(next) = letter.task.take() {
                drop(letter);
                // The shell is dropped here: it holds nothing of the last response.
                this.task.set(next);
                *this.done = false;
                continue;
            }
            letter.waker = Some(cx.waker().clone());
            if std::mem::replace(&mut letter.pooled, true) {
                return Poll::Pending;
            }
            drop(letter);
            // Not kept (the pool is full): it ends, and its drop closes the mailbox.
            return if park(*this.runtime, this.mailbox) {
                Poll::Pending
            } else {
                Poll::Ready(())
            };
        }
    }
}
