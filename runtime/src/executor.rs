//! Runs fired blocks on a crate-owned `TaskTracker`: bounded, isolated, counted.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::block::{BlockFuture, Entry};
use crate::completion::CompletionSignal;
use crate::config::{AlreadyInstalled, Config};
use crate::stats::{Counters, Ending};
use crate::{Outcome, OutcomeKind};

/// Everything one response registered, on its way to the executor.
pub(crate) struct Batch {
    pub(crate) entries: Vec<Entry>,
    pub(crate) handler: &'static str,
    pub(crate) started: Instant,
    pub(crate) span: Option<tracing::Span>,
    pub(crate) signal: CompletionSignal,
}

pub(crate) struct Executor {
    pub(crate) config: Config,
    pub(crate) tracker: TaskTracker,
    slots: Arc<Semaphore>,
    /// Responses waiting for a slot (bounded by `config.max_queued`).
    queued: AtomicUsize,
    /// Blocks inside those waiting responses: reported as never started at a drain deadline.
    pub(crate) waiting_blocks: AtomicU64,
    /// A drain deadline passed: blocks dropped from now on were abandoned, not lost.
    pub(crate) deadline_passed: AtomicBool,
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
            waiting_blocks: AtomicU64::new(0),
            deadline_passed: AtomicBool::new(false),
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

/// Hands a response's blocks to the executor. Never runs user code: it only spawns.
pub(crate) fn fire(batch: Batch, kind: OutcomeKind, status: Option<StatusCode>, body_bytes: u64) {
    let outcome = Outcome {
        kind,
        status,
        body_bytes,
        elapsed: batch.started.elapsed(),
    };
    let runnable = batch.entries.iter().filter(|e| e.runs_on(kind)).count() as u64;
    let cancelled = batch.entries.iter().filter(|e| e.is_cancelled()).count() as u64;
    COUNTERS.record_skipped(batch.entries.len() as u64 - runnable - cancelled);
    if runnable == 0 {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        COUNTERS.record_lost_unfired(runnable);
        tracing::error!(
            handler = batch.handler,
            blocks = runnable,
            outcome = %kind,
            "after-response: no tokio runtime when the response ended; its deferred blocks are lost"
        );
        return;
    };
    let executor = executor();
    let slot = match Arc::clone(&executor.slots).try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) if executor.queued.fetch_add(1, Relaxed) < executor.config.max_queued => None,
        Err(_) => {
            executor.queued.fetch_sub(1, Relaxed);
            COUNTERS.record_shed(runnable);
            tracing::warn!(
                handler = batch.handler,
                blocks = runnable,
                max_in_flight = executor.config.max_in_flight,
                max_queued = executor.config.max_queued,
                "after-response: deferred work is full; these blocks are shed"
            );
            return;
        }
    };
    COUNTERS.record_fired(runnable);
    let tally = Tally::new(executor, runnable, slot.is_none());
    executor
        .tracker
        .spawn_on(run_batch(batch, outcome, slot, tally), &runtime);
}

async fn run_batch(
    batch: Batch,
    outcome: Outcome,
    slot: Option<OwnedSemaphorePermit>,
    mut tally: Tally,
) {
    let executor = tally.executor;
    let _slot = match slot {
        Some(permit) => permit,
        None => {
            let permit = Arc::clone(&executor.slots).acquire_owned().await;
            tally.stop_waiting();
            permit.expect("the slot semaphore is never closed")
        }
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
    let span = block_span(span.as_ref(), handler, outcome.kind);
    for entry in entries {
        let timeout = entry.timeout.or(executor.config.block_timeout);
        let ending = match std::panic::catch_unwind(AssertUnwindSafe(|| entry.start(outcome))) {
            Ok(None) => continue,
            Ok(Some(block)) => {
                run_block(block, timeout, handler)
                    .instrument(span.clone())
                    .await
            }
            Err(payload) => span.in_scope(|| log_panic(handler, payload.as_ref())),
        };
        tally.ended(ending);
    }
    drop(signal);
}

/// The span blocks run in: a child of the handler's span (so its fields, such as a request id,
/// appear on the blocks' events) that also records it follows from it.
fn block_span(
    handler_span: Option<&tracing::Span>,
    handler: &str,
    kind: OutcomeKind,
) -> tracing::Span {
    let parent = handler_span.and_then(tracing::Span::id);
    let span =
        tracing::info_span!(parent: parent.clone(), "after_response", handler, outcome = %kind);
    span.follows_from(parent);
    span
}

async fn run_block(block: BlockFuture, timeout: Option<Duration>, handler: &str) -> Ending {
    let guarded = AssertUnwindSafe(block).catch_unwind();
    let result = match timeout {
        None => guarded.await,
        Some(limit) => match tokio::time::timeout(limit, guarded).await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(handler, timeout = ?limit, "after-response: deferred block timed out and was cancelled");
                return Ending::TimedOut;
            }
        },
    };
    match result {
        Ok(Ok(())) => Ending::Finished,
        Ok(Err(error)) => {
            tracing::error!(handler, %error, "after-response: deferred block returned an error");
            Ending::Failed
        }
        Err(payload) => log_panic(handler, payload.as_ref()),
    }
}

fn log_panic(handler: &str, payload: &(dyn std::any::Any + Send)) -> Ending {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>");
    tracing::error!(
        handler,
        panic = message,
        "after-response: deferred block panicked"
    );
    Ending::Panicked
}

/// Counts a batch's blocks out of `in_flight` as they end; whatever is left when the task is
/// dropped unfinished (runtime shut down) is counted as lost, or abandoned after a drain deadline.
struct Tally {
    executor: &'static Executor,
    remaining: u64,
    waiting: bool,
}

impl Tally {
    fn new(executor: &'static Executor, blocks: u64, waiting: bool) -> Self {
        if waiting {
            executor.waiting_blocks.fetch_add(blocks, Relaxed);
        }
        Self {
            executor,
            remaining: blocks,
            waiting,
        }
    }

    fn stop_waiting(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.executor.queued.fetch_sub(1, Relaxed);
            self.executor
                .waiting_blocks
                .fetch_sub(self.remaining, Relaxed);
        }
    }

    fn ended(&mut self, ending: Ending) {
        self.remaining -= 1;
        COUNTERS.record_ended(ending, 1);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.stop_waiting();
        if self.remaining > 0 {
            let ending = if self.executor.deadline_passed.load(Relaxed) {
                Ending::Abandoned
            } else {
                tracing::error!(
                    blocks = self.remaining,
                    "after-response: the runtime dropped deferred blocks before they ended; they are lost"
                );
                Ending::Lost
            };
            COUNTERS.record_ended(ending, self.remaining);
        }
    }
}
