//! Runs fired blocks on a crate-owned `TaskTracker`: bounded, isolated, counted.
//!
//! # The bound, and the policy when it is reached
//! Each response whose blocks fire gets one task. A task needs one of `max_in_flight` slots to
//! run; a response's blocks run one after another in that slot, so `max_in_flight` also bounds
//! how many blocks run at once. A response that finds every slot taken **waits** for one on its
//! own task (the response has already been sent: waiting holds no connection), as long as fewer
//! than `max_queued` responses already wait. Past that its blocks are **shed**: dropped at once
//! (their captured values are freed), logged at WARN with the handler's name and counted in
//! `Stats::shed`. Deferred work therefore holds at most `max_in_flight + max_queued` responses'
//! blocks, whatever the request rate: there is no unbounded queue.
//!
//! The request path (a body dropped: `fire`) takes no lock: a slot is taken with the
//! semaphore's lock-free `try_acquire`, the queue length and the counters are atomics. The
//! semaphore's waiter list, which has a lock, is touched only by the executor's own tasks, when
//! a queued response waits for a slot and when a slot is given back.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::block::{BlockFuture, Entries};
use crate::completion::CompletionSignal;
use crate::config::{AlreadyInstalled, Config};
use crate::observe::{self, BatchWatch, FailureKind};
use crate::stats::{Counters, Ending};
use crate::{Outcome, OutcomeKind};

/// Everything one response registered, on its way to the executor.
pub(crate) struct Batch {
    pub(crate) entries: Entries,
    pub(crate) handler: &'static str,
    pub(crate) started: Instant,
    pub(crate) span: Option<tracing::Span>,
    /// Marks the response's [`crate::Completion`] done when dropped; `None` when nobody can
    /// await it (handles off, or no response was produced).
    pub(crate) signal: Option<CompletionSignal>,
}

pub(crate) struct Executor {
    pub(crate) config: Config,
    pub(crate) tracker: TaskTracker,
    slots: Arc<Semaphore>,
    /// Responses waiting for a slot (bounded by `config.max_queued`).
    queued: AtomicUsize,
    /// Fired blocks that have not started: their response waits for a slot, or an earlier block
    /// of the same response is still running. Reported as never started at a drain deadline.
    pub(crate) unstarted: AtomicU64,
    /// How many drain deadlines have passed. A block in flight when one passed was left behind:
    /// if the runtime drops it, it is abandoned; a block fired later and dropped is lost.
    pub(crate) deadlines_passed: AtomicU64,
}

static EXECUTOR: OnceLock<Executor> = OnceLock::new();
static COUNTERS: Counters = Counters::new();

impl Executor {
    fn new(config: Config) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            config,
            tracker: TaskTracker::new(),
            queued: AtomicUsize::new(0),
            unstarted: AtomicU64::new(0),
            deadlines_passed: AtomicU64::new(0),
        }
    }
}

/// Where a response's blocks go when it ends.
enum Admission {
    /// A slot is free: run now.
    Slot(OwnedSemaphorePermit),
    /// Every slot is taken; one of the `max_queued` places was reserved: wait for a slot.
    Queued,
    /// Every slot and every place in the queue is taken: shed.
    Full,
}

impl Executor {
    /// Lock-free admission: a slot, else a place in the queue, else (after one more look for a
    /// slot freed meanwhile) full.
    fn admit(&self) -> Admission {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Admission::Slot(permit);
        }
        if self.queued.fetch_add(1, Relaxed) < self.config.max_queued {
            return Admission::Queued;
        }
        self.queued.fetch_sub(1, Relaxed);
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => Admission::Slot(permit),
            Err(_) => Admission::Full,
        }
    }
}

pub(crate) fn executor() -> &'static Executor {
    EXECUTOR.get_or_init(|| Executor::new(Config::default()))
}

pub(crate) fn stats() -> &'static Counters {
    &COUNTERS
}

pub(crate) fn install(config: Config) -> Result<(), AlreadyInstalled> {
    let mut installed = false;
    EXECUTOR.get_or_init(|| {
        installed = true;
        Executor::new(config)
    });
    if installed {
        Ok(())
    } else {
        Err(AlreadyInstalled)
    }
}

/// Hands a response's blocks to the executor. Never runs user code: it only spawns (or, when
/// work is full, drops the blocks, which frees what they captured).
pub(crate) fn fire(batch: Batch, kind: OutcomeKind, status: Option<StatusCode>, body_bytes: u64) {
    let outcome = Outcome {
        kind,
        status,
        body_bytes,
        elapsed: batch.started.elapsed(),
    };
    let runnable = batch.entries.iter().filter(|e| e.runs_on(kind)).count() as u64;
    let cancelled = batch.entries.iter().filter(|e| e.is_cancelled()).count() as u64;
    let executor = executor();
    let skipped = batch.entries.len() as u64 - runnable - cancelled;
    COUNTERS.record_skipped(skipped);
    executor.config.observe.skipped(batch.handler, skipped);
    if runnable == 0 {
        discard(batch);
        return;
    }
    // Logs about this response's blocks carry the handler's span (its request id).
    let parent = batch.span.as_ref().and_then(tracing::Span::id);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        COUNTERS.record_lost_unfired(runnable);
        executor
            .config
            .observe
            .lost_unfired(batch.handler, runnable);
        tracing::error!(
            parent: parent,
            handler = batch.handler,
            blocks = runnable,
            outcome = %kind,
            "after-response: no tokio runtime when the response ended; its deferred blocks are lost"
        );
        discard(batch);
        return;
    };
    let slot = match executor.admit() {
        Admission::Slot(permit) => Some(permit),
        Admission::Queued => None,
        Admission::Full => {
            let shed_total = COUNTERS.record_shed(runnable);
            executor.config.observe.shed(batch.handler, kind, runnable);
            tracing::warn!(
                parent: parent,
                handler = batch.handler,
                blocks = runnable,
                shed_total,
                max_in_flight = executor.config.max_in_flight,
                max_queued = executor.config.max_queued,
                "after-response: deferred work is full; this response's blocks are shed"
            );
            discard(batch);
            return;
        }
    };
    COUNTERS.record_fired(runnable);
    let watch = executor
        .config
        .observe
        .fired(batch.handler, kind, runnable, slot.is_none());
    let tally = Tally::new(executor, runnable, slot.is_none(), watch);
    executor
        .tracker
        .spawn_on(run_batch(batch, outcome, slot, tally), &runtime);
}

/// Drops blocks that will not run. This runs where the response body or the handler future is
/// dropped (on the connection): a panic there must not unwind into hyper, which would lose the
/// response (HTTP/1.1) or the connection.
fn discard(batch: Batch) {
    let handler = batch.handler;
    drop_isolated(batch, handler);
}

/// Drops `value`, whose captured values' `Drop` is user code, without letting a panic in it
/// unwind: the panic is logged with the handler's name instead.
fn drop_isolated<T>(value: T, handler: &str) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        log_panic(handler, payload.as_ref());
    }
}

async fn run_batch(
    batch: Batch,
    outcome: Outcome,
    slot: Option<OwnedSemaphorePermit>,
    mut tally: Tally,
) {
    let executor = tally.executor;
    let slot = if let Some(permit) = slot {
        permit
    } else {
        // Queued: wait on this task for a slot; the response has already been sent.
        let permit = Arc::clone(&executor.slots).acquire_owned().await;
        tally.leave_queue(true);
        permit.expect("the slot semaphore is never closed")
    };
    // Let the connection flush the response's last bytes before any user code runs.
    tokio::task::yield_now().await;
    let Batch {
        entries,
        handler,
        span,
        signal,
        ..
    } = batch;
    let span = block_span(span, handler, outcome.kind);
    let observer = &executor.config.observe;
    for entry in entries {
        if !entry.runs_on(outcome.kind) {
            // Counted as skipped or cancelled when fired.
            span.in_scope(|| drop_isolated(entry, handler));
            continue;
        }
        if tally.left_behind() {
            // A drain reported this block never started: keep it so. The rest of the batch is
            // counted as abandoned when `tally` drops.
            tracing::debug!(
                parent: &span,
                blocks = tally.remaining,
                "after-response: not starting blocks a drain deadline left behind"
            );
            return;
        }
        let timeout = entry.timeout.or(executor.config.block_timeout);
        tally.starting();
        let block_watch = tally.watch.starting();
        let ending = match std::panic::catch_unwind(AssertUnwindSafe(|| entry.start(outcome))) {
            Ok(Some(block)) => {
                run_block(block, timeout, handler, observer, &tally.watch)
                    .instrument(span.clone())
                    .await
            }
            // `runs_on` and `start` agree, so this is not reached; count it honestly if it is.
            Ok(None) => Ending::Skipped,
            Err(payload) => span.in_scope(|| {
                let message = observe::panic_message(payload.as_ref());
                observer.report(&tally.watch, FailureKind::Panicked, message);
                log_panic(handler, payload.as_ref())
            }),
        };
        tally.ended(ending, &block_watch);
    }
    // Close the blocks' span (and with it the handler's, if nothing else holds it) and give the
    // slot back before the completion resolves: whoever awaits it sees the spans exported and
    // the slot free.
    drop(span);
    drop(slot);
    drop(signal);
}

/// The span blocks run in: a child of the handler's span (so its fields, such as a request id,
/// appear on the blocks' events) that also records it follows from it. Its `handler` field
/// names the handler (span names must be static, so the name itself is `after_response`).
///
/// It takes the handler's span by value and lets it go once the blocks' span exists: from then
/// on the blocks' span alone keeps it open, so both close together when the blocks end.
fn block_span(
    handler_span: Option<tracing::Span>,
    handler: &str,
    kind: OutcomeKind,
) -> tracing::Span {
    let parent = handler_span.as_ref().and_then(tracing::Span::id);
    let span = tracing::info_span!(
        parent: parent.clone(),
        "after_response",
        handler = %handler,
        outcome = %kind
    );
    span.follows_from(parent);
    drop(handler_span);
    span
}

async fn run_block(
    mut block: BlockFuture,
    timeout: Option<Duration>,
    handler: &str,
    observer: &observe::Observer,
    watch: &BatchWatch,
) -> Ending {
    let guarded = AssertUnwindSafe(&mut block).catch_unwind();
    let result = match timeout {
        None => guarded.await,
        Some(limit) => {
            let Ok(result) = tokio::time::timeout(limit, guarded).await else {
                tracing::error!(
                    handler,
                    timeout = ?limit,
                    "after-response: deferred block timed out and was cancelled"
                );
                observer.report_timeout(watch, limit);
                // Cancel it: dropping the block runs its locals' `Drop`s.
                drop_isolated(block, handler);
                return Ending::TimedOut;
            };
            result
        }
    };
    match result {
        Ok(Ok(())) => Ending::Finished,
        Ok(Err(error)) => {
            tracing::error!(handler, %error, "after-response: deferred block returned an error");
            observer.report(watch, FailureKind::Failed, &error);
            Ending::Failed
        }
        Err(payload) => {
            let message = observe::panic_message(payload.as_ref());
            observer.report(watch, FailureKind::Panicked, message);
            log_panic(handler, payload.as_ref())
        }
    }
}

fn log_panic(handler: &str, payload: &(dyn std::any::Any + Send)) -> Ending {
    let message = observe::panic_message(payload);
    tracing::error!(
        handler,
        panic = message,
        "after-response: deferred block panicked"
    );
    Ending::Panicked
}

/// One response's share of the executor's books: counts its blocks out of `in_flight` as they
/// end, out of `unstarted` as they start, and gives back its place in the queue. Whatever is
/// left when it drops with blocks unfinished (the runtime dropped the task, or the task stopped
/// before blocks a drain deadline left behind) is counted as abandoned if a drain deadline
/// passed while they were in flight, else as lost (and logged).
struct Tally {
    executor: &'static Executor,
    /// `deadlines_passed` when the blocks were fired.
    fired_after_deadlines: u64,
    /// Blocks not yet ended.
    remaining: u64,
    /// Blocks not yet started (always `<= remaining`).
    unstarted: u64,
    /// Holds one of the `max_queued` places until it gets a slot.
    queued: bool,
    /// The same books, for metrics and the failure hook.
    watch: BatchWatch,
}

impl Tally {
    fn new(executor: &'static Executor, blocks: u64, queued: bool, watch: BatchWatch) -> Self {
        executor.unstarted.fetch_add(blocks, Relaxed);
        Self {
            executor,
            fired_after_deadlines: executor.deadlines_passed.load(Relaxed),
            remaining: blocks,
            unstarted: blocks,
            queued,
            watch,
        }
    }

    /// A drain deadline passed since these blocks were fired.
    fn left_behind(&self) -> bool {
        self.executor.deadlines_passed.load(Relaxed) > self.fired_after_deadlines
    }

    /// Gives back the place in the queue: it `got_slot`, or the task is dropped.
    fn leave_queue(&mut self, got_slot: bool) {
        if std::mem::take(&mut self.queued) {
            self.executor.queued.fetch_sub(1, Relaxed);
            self.watch.left_queue(got_slot);
        }
    }

    fn starting(&mut self) {
        self.unstarted -= 1;
        self.executor.unstarted.fetch_sub(1, Relaxed);
    }

    fn ended(&mut self, ending: Ending, block: &observe::BlockWatch) {
        self.remaining -= 1;
        COUNTERS.record_ended(ending, 1);
        self.watch.ended(block, ending);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.leave_queue(false);
        if self.unstarted > 0 {
            self.executor.unstarted.fetch_sub(self.unstarted, Relaxed);
        }
        if self.remaining > 0 {
            let ending = if self.left_behind() {
                Ending::Abandoned
            } else {
                tracing::error!(
                    blocks = self.remaining,
                    "after-response: the runtime dropped deferred blocks before they ended; they are lost"
                );
                Ending::Lost
            };
            COUNTERS.record_ended(ending, self.remaining);
            self.watch.unfinished(ending, self.remaining);
        }
    }
}
