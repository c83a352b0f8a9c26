//! The run loop: a fired response's blocks, run one after another (on a runner, runner.rs) in
//! registration order, each isolated and under its timeout.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use super::claim::Claim;
use super::isolation::{drop_isolated, log_panic, run_isolated};
use super::ledger::BatchAccount;
use super::shared::Shared;
use crate::block::{BlockFuture, Entries, Queue};
use crate::latch::SetOnDrop;
use crate::observe::{self, BatchWatch, BlockWatch, FailureKind};
use crate::stats::BlockEnd;
use crate::{Outcome, OutcomeKind};

pin_project_lite::pin_project! {
    /// The work of one fired response, run by a runner (runner.rs): its `entries`, one after
    /// another in `span` (the blocks' span, [`block_span`]); `signal` marks its completion handle
    /// done at the end.
    ///
    /// A hand-written future rather than an `async` block: it is moved to its runner (into the
    /// runner's mailbox, then into the runner; into a new task when none waits) at a cost ∝ its
    /// size (bench/RESULTS.md, "Where one `defer!` goes"), and an `async` block keeps room for the
    /// largest state it can be in (a queued response's wait, a timeout's timer, the block's
    /// bookkeeping) in every response. Here the rare states are boxed (a queued response's wait
    /// for a slot; a block's timer, only when it has a timeout) and the rest is what the loop
    /// needs. Once ready it is an empty shell: everything it held, its claim on the executor
    /// included, is released by then.
    pub(crate) struct BatchTask {
        entries: Queue,
        span: tracing::Span,
        signal: Option<SetOnDrop>,
        outcome: Outcome,
        // `None` once the blocks ended: the claim is settled, and the executor let go of.
        claim: Option<Claim>,
        // Pinned: a running block's future may be stored inline (block.rs), so it must not move
        // once polled; it is dropped in place.
        #[pin]
        step: Step,
    }
}

pin_project_lite::pin_project! {
    /// Where a [`BatchTask`] is.
    #[project = StepProj]
    enum Step {
        /// Queued: waiting for a slot; the response has already been sent.
        WaitingForSlot {
            acquire: Pin<Box<dyn Future<Output = ()> + Send>>,
        },
        /// Between blocks: the next entry starts on the next turn of the loop.
        Next,
        /// A started block, its timer (with a timeout) and its observer.
        Running {
            #[pin]
            block: BlockFuture,
            timer: Option<Pin<Box<Timer>>>,
            watch: BlockWatch,
        },
    }
}

pin_project_lite::pin_project! {
    /// A block's timeout: its timer and its limit (for the log), boxed together so that a task
    /// without a timeout holds one word for it.
    struct Timer {
        #[pin]
        sleep: tokio::time::Sleep,
        limit: Duration,
    }
}

impl BatchTask {
    pub(crate) fn new(
        entries: Entries,
        span: tracing::Span,
        signal: Option<SetOnDrop>,
        outcome: Outcome,
        claim: Claim,
    ) -> Self {
        let step = if claim.holds_slot() {
            Step::Next
        } else {
            let executor = claim.executor.clone();
            Step::WaitingForSlot {
                acquire: Box::pin(async move { executor.admission.wait_for_slot().await }),
            }
        };
        Self {
            entries: entries.into(),
            span,
            signal,
            outcome,
            claim: Some(claim),
            step,
        }
    }
}

/// Starts the next of `entries` that runs, or `None` when none is left (or a drain left the rest
/// behind). Counts it as starting.
fn start_next(
    entries: &mut Queue,
    span: &tracing::Span,
    outcome: Outcome,
    claim: &mut Claim,
) -> Option<Step> {
    let Claim {
        executor,
        account,
        watch,
        ..
    } = claim;
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
            // counted as abandoned when the claim drops; what they captured is dropped now.
            tracing::debug!(
                parent: span,
                blocks = account.remaining(),
                "after-response: not starting blocks a drain deadline left behind"
            );
            let rest = std::mem::take(entries);
            span.in_scope(|| drop_isolated((entry, rest), handler));
            return None;
        }
        let timeout = entry.timeout.or(executor.config.block_timeout);
        account.starting(&executor.ledger);
        let block_watch = watch.starting();
        // `start` calls the always-form's closure (user code) isolated, and returns its panic;
        // the span is entered only to log it.
        match entry.start(outcome) {
            Some(Ok(block)) => {
                return Some(Step::Running {
                    block,
                    timer: timeout.map(|limit| {
                        Box::pin(Timer {
                            sleep: tokio::time::sleep(limit),
                            limit,
                        })
                    }),
                    watch: block_watch,
                })
            }
            // `runs_on` and `start` agree, so this is not reached; count it honestly if it is.
            None => ended(executor, account, watch, block_watch, BlockEnd::Skipped),
            Some(Err(payload)) => {
                let end = span.in_scope(|| panicked(executor, watch, payload.as_ref()));
                ended(executor, account, watch, block_watch, end);
            }
        }
    }
    None
}

fn ended(
    executor: &Shared,
    account: &mut BatchAccount,
    watch: &BatchWatch,
    block: BlockWatch,
    end: BlockEnd,
) {
    account.ended(&executor.ledger, end);
    watch.ended(block, end);
}

impl Future for BatchTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(claim) = this.claim.as_mut() else {
            // An empty shell: it ended.
            return Poll::Ready(());
        };
        loop {
            match this.step.as_mut().project() {
                StepProj::WaitingForSlot { acquire } => {
                    ready!(acquire.as_mut().poll(cx));
                    claim.got_slot();
                    this.step.set(Step::Next);
                }
                // No yield before user code: the body's last bytes still hold this batch until
                // the connection has written them (body/release.rs), and its runner, woken (or
                // spawned) from the connection's poll, runs after that poll, in which hyper and h2
                // flush what they took (bench/RESULTS.md, "Write ordering without a yield").
                StepProj::Next => {
                    if let Some(running) = start_next(this.entries, this.span, *this.outcome, claim)
                    {
                        this.step.set(running);
                    } else {
                        // Close the blocks' span (and with it the handler's, if nothing else
                        // holds it) and settle the claim before the completion resolves: whoever
                        // awaits it sees the spans exported, the slot free and the drain's count
                        // down. What is left is an empty shell, which its runner replaces.
                        *this.span = tracing::Span::none();
                        *this.claim = None;
                        *this.signal = None;
                        return Poll::Ready(());
                    }
                }
                StepProj::Running {
                    watch: block_watch, ..
                } => {
                    let block_watch = *block_watch;
                    let Claim {
                        executor,
                        account,
                        watch,
                        ..
                    } = claim;
                    let end = {
                        let _entered = this.span.enter();
                        ready!(poll_block(this.step.as_mut(), executor, watch, cx))
                    };
                    ended(executor, account, watch, block_watch, end);
                }
            }
        }
    }
}

/// Polls the running block of `step` once, isolated, under its timer. Once it has ended, it is
/// dropped in place (cancelled at its `.await`, if it timed out), isolated too, and `step` is
/// left at [`Step::Next`]: how it ended.
fn poll_block(
    mut step: Pin<&mut Step>,
    executor: &Shared,
    watch: &BatchWatch,
    cx: &mut Context<'_>,
) -> Poll<BlockEnd> {
    let handler = watch.handler();
    // The block's last poll and its drop in one isolation: a panic after `result` is set comes
    // from what the block captured, as it is dropped, and does not change how the block ended.
    let mut result = None;
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let StepProj::Running { block, .. } = step.as_mut().project() else {
            unreachable!("polled only while running")
        };
        if let Poll::Ready(ended) = block.poll(cx) {
            result = Some(ended);
            step.set(Step::Next);
        }
    }));
    let result = match (polled, result) {
        (Ok(()), Some(result)) => result,
        (Err(payload), Some(result)) => {
            log_panic(handler, payload.as_ref());
            result
        }
        (Err(payload), None) => {
            let end = panicked(executor, watch, payload.as_ref());
            run_isolated(handler, || step.set(Step::Next));
            return Poll::Ready(end);
        }
        (Ok(()), None) => {
            let StepProj::Running {
                timer: Some(timer), ..
            } = step.as_mut().project()
            else {
                return Poll::Pending;
            };
            let timer = timer.as_mut().project();
            ready!(timer.sleep.poll(cx));
            let limit = *timer.limit;
            tracing::error!(
                handler,
                timeout = ?limit,
                "after-response: deferred block timed out and was cancelled"
            );
            executor
                .config
                .observe
                .report_timeout(&executor.ledger.counters, watch, limit);
            run_isolated(handler, || step.set(Step::Next));
            return Poll::Ready(BlockEnd::TimedOut);
        }
    };
    Poll::Ready(match result {
        Ok(()) => BlockEnd::Finished,
        Err(error) => {
            tracing::error!(handler, %error, "after-response: deferred block returned an error");
            executor.config.observe.report(
                &executor.ledger.counters,
                watch,
                FailureKind::Failed,
                &error,
            );
            BlockEnd::Failed
        }
    })
}

/// A block of `watch`'s response panicked (starting, or in a poll): tells `executor`'s failure
/// hook (if any), logs it and counts it as panicked.
fn panicked(
    executor: &Shared,
    watch: &BatchWatch,
    payload: &(dyn std::any::Any + Send),
) -> BlockEnd {
    let message = observe::panic_message(payload);
    executor.config.observe.report(
        &executor.ledger.counters,
        watch,
        FailureKind::Panicked,
        message,
    );
    log_panic(watch.handler(), payload)
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
    if handler_span.is_none() && !tracing::level_enabled!(tracing::Level::INFO) {
        // No subscriber records it: the span would be disabled anyway.
        return tracing::Span::none();
    }
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
