//! The run loop: one task per fired response, running its blocks one after another in
//! registration order, each isolated and under its timeout.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument as _;

use super::batch::Batch;
use super::isolation::{catch_unwind, drop_isolated, log_panic};
use super::ledger::BatchAccount;
use super::shared::SharedRef;
use crate::block::BlockFuture;
use crate::stats::BlockEnd;
use crate::{Outcome, OutcomeKind};

/// A fired response's claim on its executor: its task's place in the tracker, its account on
/// the ledger and, while it waits for a slot, its place in the queue. Dropping it (the task
/// ended, or the runtime dropped it) gives the places back and settles the account.
pub(crate) struct Claim {
    executor: SharedRef,
    account: BatchAccount,
    queued: bool,
}

impl Claim {
    pub(crate) fn new(executor: SharedRef, account: BatchAccount, queued: bool) -> Self {
        Self {
            executor,
            account,
            queued,
        }
    }

    fn leave_queue(&mut self) {
        if std::mem::take(&mut self.queued) {
            self.executor.admission.leave_queue();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.leave_queue();
        self.account.close(&self.executor.ledger);
        self.executor.tracker.task_ended();
    }
}

pub(crate) async fn run_batch(
    batch: Batch,
    outcome: Outcome,
    slot: Option<OwnedSemaphorePermit>,
    mut claim: Claim,
) {
    let executor = claim.executor.clone();
    let _slot = if let Some(permit) = slot {
        permit
    } else {
        // Queued: wait on this task for a slot; the response has already been sent.
        let permit = executor.admission.wait_for_slot().await;
        claim.leave_queue();
        permit
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
    let span = block_span(span.as_ref(), handler, outcome.kind());
    let ledger = &executor.ledger;
    for entry in entries {
        if !entry.runs_on(outcome.kind()) {
            // Counted as skipped or cancelled when fired.
            span.in_scope(|| drop_isolated(entry, handler));
            continue;
        }
        if claim.account.left_behind(ledger) {
            // A drain reported this block never started: keep it so. The rest of the batch is
            // counted as abandoned when `claim` drops.
            tracing::debug!(
                parent: &span,
                blocks = claim.account.remaining(),
                "after-response: not starting blocks a drain deadline left behind"
            );
            return;
        }
        let timeout = entry.timeout.or(executor.config.block_timeout);
        claim.account.starting(ledger);
        // `start` calls the always-form's closure: user code, so isolated; the span is entered
        // only to log a panic (entering it per block costs ~100 instructions).
        let end = match std::panic::catch_unwind(AssertUnwindSafe(|| entry.start(outcome))) {
            Ok(Some(block)) => {
                run_block(block, timeout, handler)
                    .instrument(span.clone())
                    .await
            }
            // `runs_on` and `start` agree, so this is not reached; count it honestly if it is.
            Ok(None) => BlockEnd::Skipped,
            Err(payload) => span.in_scope(|| log_panic(handler, payload.as_ref())),
        };
        claim.account.ended(ledger, end);
    }
    drop(signal);
}

/// The span blocks run in: a child of the handler's span (so its fields, such as a request id,
/// appear on the blocks' events) that also records it follows from it. Its `handler` field
/// names the handler (span names must be static, so the name itself is `after_response`).
fn block_span(
    handler_span: Option<&tracing::Span>,
    handler: &str,
    kind: OutcomeKind,
) -> tracing::Span {
    let parent = handler_span.and_then(tracing::Span::id);
    let span = tracing::info_span!(
        parent: parent.clone(),
        "after_response",
        handler = %handler,
        outcome = %kind
    );
    span.follows_from(parent);
    span
}

async fn run_block(mut block: BlockFuture, timeout: Option<Duration>, handler: &str) -> BlockEnd {
    let guarded = catch_unwind(&mut block);
    let result = match timeout {
        None => guarded.await,
        Some(limit) => {
            let Ok(result) = tokio::time::timeout(limit, guarded).await else {
                tracing::error!(
                    handler,
                    timeout = ?limit,
                    "after-response: deferred block timed out and was cancelled"
                );
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
            tracing::error!(handler, %error, "after-response: deferred block returned an error");
            BlockEnd::Failed
        }
        Err(payload) => log_panic(handler, payload.as_ref()),
    }
}
