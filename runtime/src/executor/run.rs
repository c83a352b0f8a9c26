//! The run loop: one task per fired response, running its blocks one after another in
//! registration order, each isolated and under its timeout.

use std::future::{poll_fn, Future as _};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use super::isolation::{catch_unwind, drop_isolated, log_panic};
use super::ledger::BatchAccount;
use super::shared::Shared;
use super::shared::SharedRef;
use crate::block::{BlockFuture, Entries};
use crate::latch::SetOnDrop;
use crate::observe::{self, BatchWatch, FailureKind};
use crate::stats::BlockEnd;
use crate::{Outcome, OutcomeKind};

/// A fired response's claim on its executor: its task's place in the tracker, its account on
/// the ledger and, while it waits for a slot, its place in the queue. Dropping it (the task
/// ended, or the runtime dropped it) gives the places back and settles the account.
pub(crate) struct Claim {
    executor: SharedRef,
    account: BatchAccount,
    queued: bool,
    /// The same books, for metrics and the failure hook.
    watch: BatchWatch,
}

impl Claim {
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
            watch,
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
        let watch = &self.watch;
        self.account.close(&self.executor.ledger, |end, blocks| {
            watch.unfinished(end, blocks);
        });
        self.executor.tracker.task_ended();
    }
}

/// The task of one fired response: its `entries`, run in `span` (the blocks' span,
/// [`block_span`]); `signal` marks its completion handle done at the end. A plain function
/// returning an `async move` block rather than an `async fn`: an `async fn` moves its
/// arguments into locals, so its future holds them twice. Only what the loop uses is passed,
/// and nothing is held twice (no iterator beside the entries, no clone of the executor handle
/// or of the span): tokio copies this future into the task's allocation and writes the task's
/// stage again when it completes, each at a cost ∝ its size (bench/RESULTS.md, "Where one
/// `defer!` goes").
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice (see above)"
)]
pub(crate) fn run_batch(
    mut entries: Entries,
    span: tracing::Span,
    signal: Option<SetOnDrop>,
    outcome: Outcome,
    mut slot: Option<OwnedSemaphorePermit>,
    mut claim: Claim,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        if slot.is_none() {
            // Queued: wait on this task for a slot; the response has already been sent.
            slot = Some(claim.executor.admission.wait_for_slot().await);
            claim.leave_queue(true);
        }
        // No yield before user code: the body's last bytes still hold this batch until the
        // connection has written them (body/release.rs), and this task, spawned from the
        // connection's poll, runs after that poll, in which hyper and h2 flush what they took
        // (bench/RESULTS.md, "Write ordering without a yield").
        // The claim's fields are borrowed apart (the executor while the account changes).
        let Claim {
            executor,
            account,
            watch,
            ..
        } = &mut claim;
        let executor: &Shared = executor;
        let handler = watch.handler();
        while let Some(entry) = entries.pop_front() {
            if !entry.runs_on(outcome.kind()) {
                // Counted as skipped or cancelled when fired.
                span.in_scope(|| drop_isolated(entry, handler));
                continue;
            }
            if account.left_behind(&executor.ledger) {
                // A drain reported this block never started: keep it so. The rest of the batch is
                // counted as abandoned when `claim` drops; what they captured is dropped now.
                tracing::debug!(
                    parent: &span,
                    blocks = account.remaining(),
                    "after-response: not starting blocks a drain deadline left behind"
                );
                span.in_scope(|| drop_isolated((entry, std::mem::take(&mut entries)), handler));
                break;
            }
            let timeout = entry.timeout.or(executor.config.block_timeout);
            account.starting(&executor.ledger);
            let block_watch = watch.starting();
            // `start` calls the always-form's closure: user code, so isolated; the span is entered
            // only to log a panic (entering it per block costs ~100 instructions).
            let end = match std::panic::catch_unwind(AssertUnwindSafe(|| entry.start(outcome))) {
                Ok(Some(block)) => {
                    // Polled inside the span by reference (`Instrument` would hold a clone).
                    let mut running = pin!(run_block(block, timeout, executor, watch));
                    poll_fn(|cx| span.in_scope(|| running.as_mut().poll(cx))).await
                }
                // `runs_on` and `start` agree, so this is not reached; count it honestly if it is.
                Ok(None) => BlockEnd::Skipped,
                Err(payload) => span.in_scope(|| {
                    report(executor, watch, FailureKind::Panicked, payload.as_ref());
                    log_panic(handler, payload.as_ref())
                }),
            };
            account.ended(&executor.ledger, end);
            watch.ended(&block_watch, end);
        }
        // Close the blocks' span (and with it the handler's, if nothing else holds it) and give the
        // slot back before the completion resolves: whoever awaits it sees the spans exported and
        // the slot free.
        drop(span);
        drop(slot);
        drop(signal);
    }
}

/// Tells `executor`'s failure hook (if any) of a block of `watch`'s response that panicked.
fn report(
    executor: &Shared,
    watch: &BatchWatch,
    kind: FailureKind,
    payload: &(dyn std::any::Any + Send),
) {
    let message = observe::panic_message(payload);
    executor
        .config
        .observe
        .report(&executor.ledger.counters, watch, kind, message);
}

/// The span blocks run in: a child of the handler's span (so its fields, such as a request id,
/// appear on the blocks' events) that also records it follows from it. Its `handler` field
/// names the handler (span names must be static, so the name itself is `after_response`).
///
/// It takes the handler's span by value and lets it go once the blocks' span exists: from then
/// on the blocks' span alone keeps it open, so both close together when the blocks end.
pub(crate) fn block_span(
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

/// One block under its timeout, isolated (an `async move` block, as for [`run_batch`]).
#[allow(
    clippy::manual_async_fn,
    reason = "as for run_batch: arguments held once"
)]
fn run_block<'a>(
    mut block: BlockFuture,
    timeout: Option<Duration>,
    executor: &'a Shared,
    watch: &'a BatchWatch,
) -> impl std::future::Future<Output = BlockEnd> + Send + 'a {
    async move {
        let guarded = catch_unwind(&mut block);
        let result = match timeout {
            None => guarded.await,
            Some(limit) => {
                let Ok(result) = tokio::time::timeout(limit, guarded).await else {
                    let handler = watch.handler();
                    tracing::error!(
                        handler,
                        timeout = ?limit,
                        "after-response: deferred block timed out and was cancelled"
                    );
                    executor
                        .config
                        .observe
                        .report_timeout(&executor.ledger.counters, watch, limit);
                    // Cancel it: dropping the block runs its locals' `Drop`s.
                    drop_isolated(block, handler);
                    return BlockEnd::TimedOut;
                };
                result
            }
        };
        match result {
            Ok(Ok(())) => BlockEnd::Finished,
            Ok(Err(error)) => {
                tracing::error!(handler = watch.handler(), %error, "after-response: deferred block returned an error");
                executor.config.observe.report(
                    &executor.ledger.counters,
                    watch,
                    FailureKind::Failed,
                    &error,
                );
                BlockEnd::Failed
            }
            Err(payload) => {
                report(executor, watch, FailureKind::Panicked, payload.as_ref());
                log_panic(watch.handler(), payload.as_ref())
            }
        }
    }
}
