//! The executor value: where fired blocks run, bounded, counted and drained.
//!
//! Submodules, one concern each: [`admission`] (slot, queue or shed), [`claim`] (a fired
//! response's places on its executor), [`run`] (the future that runs a response's blocks in
//! order), [`runner`] (the long-lived tasks that run those futures, one response at a time),
//! [`isolation`] (panics in user code), [`ledger`] (the counters and the drain's bookkeeping),
//! [`drain`] (shutdown with a deadline), [`tracker`] (the responses a drain waits for).
//! [`shared`] holds the state they share; [`batch`] is what a response hands over.

mod admission;
mod batch;
mod claim;
mod drain;
mod isolation;
mod ledger;
mod run;
mod runner;
mod shared;
mod tracker;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::StatusCode;

use self::admission::Admitted;
pub(crate) use self::batch::Batch;
use self::claim::Claim;
pub use self::drain::DrainReport;
use self::isolation::drop_isolated;
use self::run::{block_span, BatchTask};
use self::shared::Shared;
pub(crate) use self::shared::{completions_unseen, SharedRef};
use crate::block::Tally;
use crate::config::Config;
use crate::stats::Stats;
use crate::{Outcome, OutcomeKind};

/// Runs deferred blocks: a bound on work in flight, a default block timeout, counters and a
/// drain, built from a [`Config`]. Cheap to clone (the clones share one executor), like a
/// `tokio_util::task::TaskTracker`.
///
/// Nothing needs one: a handler's blocks run on the **process default** executor (built from
/// `Config::default()` when first used), and [`crate::stats()`] and [`crate::shutdown`] act on
/// it. Build your own to give a router, or part of one, its own bound and counters: an
/// `Executor` is a tower [`Layer`](tower_layer::Layer), and every `#[after_response]` handler
/// under it runs its blocks on it, without a change to the handler.
///
/// ```
/// use after_response::{after_response, defer, Completion, Config};
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use tower::ServiceExt as _;
///
/// #[after_response]
/// async fn report() -> &'static str {
///     defer! { println!("exporting the report"); }
///     "queued"
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let reports = Config::default().max_in_flight(2).completion_handles(true).build();
/// let app = Router::new()
///     .route("/report", get(report))
///     .layer(reports.clone()); // `report`'s blocks run on `reports`
///
/// let response = app.oneshot(Request::get("/report").body(Body::empty()).unwrap()).await.unwrap();
/// let completion = Completion::of(&response);
/// drop(response); // the server drops the body once its last byte is out; here we do it
/// completion.await;
/// assert_eq!(reports.stats().finished, 1); // counted on `reports`,
/// assert_eq!(after_response::stats().finished, 0); // not on the process default
/// assert!(reports.shutdown(std::time::Duration::from_secs(5)).await.is_complete());
/// # });
/// ```
///
/// # How a registry finds its executor
/// [`crate::Registry::new`] (which `#[after_response]` calls) takes the executor of the
/// innermost [`Executor::scope`] it runs in, else the process default. The layer is that scope
/// around the inner service's `call` and its response future: a `tokio::task_local!`, set for
/// the duration of each poll. A task-local rather than a request extension or a handler
/// argument because it reaches the registry without the handler's code changing, whatever the
/// handler extracts, and costs the default path one thread-local read per response that
/// registers blocks (and nothing for handlers without `defer!`, which create no registry). The
/// response's blocks stay on that executor wherever its body is later dropped. Without a scope
/// or a layer, [`Executor::registry`] names the executor outright.
#[derive(Clone)]
pub struct Executor {
    shared: SharedRef,
}

static PROCESS_DEFAULT: OnceLock<Shared> = OnceLock::new();

impl Executor {
    /// An executor with `config`'s limits. The same as [`Config::build`].
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            shared: SharedRef::Built(Arc::new(Shared::new(config))),
        }
    }

    /// The process default: what blocks run on outside every executor layer and scope, and what
    /// [`crate::stats()`] and [`crate::shutdown`] act on. Built from `Config::default()` on
    /// first use; every call returns a handle on the same executor.
    #[must_use]
    pub fn process_default() -> Self {
        Self {
            shared: SharedRef::ProcessDefault(
                PROCESS_DEFAULT.get_or_init(|| Shared::new(Config::default())),
            ),
        }
    }

    /// The configuration this executor was built from.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A snapshot of this executor's counters: only the blocks that ran on it.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.ledger.counters.snapshot()
    }

    /// `true` when both handles are on the same executor.
    #[must_use]
    pub fn same_executor(&self, other: &Self) -> bool {
        self.shared.same(&other.shared)
    }

    /// Waits up to `deadline` for this executor's deferred work in flight, and reports what
    /// finished and what was left behind. Only this executor's work: another executor's blocks
    /// are neither waited for nor counted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use after_response::{Completion, Config, Registry};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let executor = Config::default().max_in_flight(64).build();
    /// // In a server: `app.layer(executor.clone())`, then, once
    /// // `axum::serve(..).with_graceful_shutdown(..)` has returned, drain the work it left.
    /// let registry = executor.registry("export");
    /// registry.defer(async { tokio::time::sleep(Duration::from_millis(5)).await });
    /// drop(registry.attach(http::Response::new(String::new()))); // the response is sent
    ///
    /// let report = executor.shutdown(Duration::from_secs(30)).await;
    /// assert_eq!((report.finished, report.abandoned, report.never_started), (1, 0, 0));
    /// # });
    /// ```
    ///
    /// Call it after `axum::serve(..).with_graceful_shutdown(..)` has returned, on the runtime
    /// that served, before that runtime ends: `axum::serve` waits for connections only, and a
    /// runtime that ends drops whatever deferred work is still running.
    ///
    /// # What it waits for
    /// Every block fired before the drain and not yet ended, **and every block fired while it
    /// waits**: work is never refused because a drain began (a response still being sent by a
    /// connection that is finishing gets its blocks run, and waited for, under the same
    /// deadline). Work fired after `shutdown` returned is not refused either: it runs while the
    /// runtime lives and is in no report; if the runtime then drops it unfinished it is counted
    /// in [`crate::Stats::lost`] and logged at ERROR, since no report told anyone about it.
    ///
    /// # At the deadline
    /// It stops waiting and reports blocks still running as
    /// [`abandoned`](DrainReport::abandoned) and blocks not yet started as
    /// [`never_started`](DrainReport::never_started); it logs them at WARN. A drain that
    /// completes logs at INFO.
    ///
    /// Running blocks are not cancelled: they go on while the runtime lives; those that end are
    /// counted by how they end, those the runtime drops in [`crate::Stats::abandoned`]. Blocks
    /// left behind unstarted are never started (the process is on its way out, and the report
    /// said so): each is dropped when it would have started, or with the runtime, and counted
    /// in [`crate::Stats::abandoned`].
    ///
    /// The report reads independent atomic counters after the wait. They are exact when nothing
    /// ends at that instant (always, when the drain completes); a block that ends exactly as
    /// the deadline passes may be seen in two fields or in none.
    ///
    /// It needs a runtime with the time driver enabled (as `#[tokio::main]` gives). It can be
    /// called more than once: each call reports what it waited for.
    pub async fn shutdown(&self, deadline: Duration) -> DrainReport {
        drain::drain(&self.shared, deadline).await
    }

    pub(crate) fn shared(&self) -> &SharedRef {
        &self.shared
    }
}

impl Config {
    /// The executor these settings describe. Give it to a router with `.layer(executor.clone())`
    /// (or run a future under it with [`Executor::scope`]); keep a clone for
    /// [`stats`](Executor::stats) and [`shutdown`](Executor::shutdown).
    #[must_use]
    pub fn build(self) -> Executor {
        Executor::new(self)
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field(
                "process_default",
                &matches!(self.shared, SharedRef::ProcessDefault(_)),
            )
            .field("config", self.config())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A snapshot of the process default executor's counters ([`Executor::process_default`]).
#[must_use]
pub fn stats() -> Stats {
    Executor::process_default().stats()
}

/// Drains the process default executor: [`Executor::shutdown`] on
/// [`Executor::process_default`]. Executors you built are drained with their own `shutdown`.
///
/// ```
/// use std::time::Duration;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // Once `axum::serve(..).with_graceful_shutdown(..)` has returned:
/// let report = after_response::shutdown(Duration::from_secs(10)).await;
/// assert!(report.is_complete());
/// # });
/// ```
pub async fn shutdown(deadline: Duration) -> DrainReport {
    Executor::process_default().shutdown(deadline).await
}

/// Hands a response's blocks to their executor. Never runs user code: it only hands them to a
/// runner (or, when work is full, drops the blocks, which frees what they captured).
pub(crate) fn fire(batch: Batch, kind: OutcomeKind, status: Option<StatusCode>, body_bytes: u64) {
    let Tally {
        runnable,
        skipped,
        outcome_seen,
    } = batch.entries.tally(kind);
    // Only an always-block reads the outcome, so only then is the clock read (~100
    // instructions a response).
    let elapsed = match batch.started {
        Some(started) if outcome_seen => started.elapsed(),
        _ => Duration::ZERO,
    };
    let outcome = Outcome::new(kind, status, body_bytes, elapsed);
    if skipped > 0 {
        let executor: &Shared = &batch.executor;
        executor.ledger.counters.record_skipped(skipped);
        executor.config.observe.skipped(batch.handler, skipped);
    }
    if runnable == 0 {
        discard(batch);
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        lose_unfired(batch, kind, runnable);
        return;
    };
    let queued = match batch.executor.admission.admit() {
        Admitted::Slot => false,
        Admitted::Queued => true,
        Admitted::Full => {
            shed(batch, kind, runnable);
            return;
        }
    };
    let Batch {
        entries,
        handler,
        span,
        signal,
        executor,
        ..
    } = batch;
    let account = executor.ledger.open(runnable);
    // Counted by the tracker from here; the claim ends the count when it drops (the blocks
    // ended, or the runtime dropped them).
    executor.tracker.fired();
    let watch = executor
        .config
        .observe
        .fired(handler, kind, runnable, queued);
    let span = block_span(span, handler, kind);
    let claim = Claim::new(executor, account, queued, watch);
    runner::run(
        &runtime,
        BatchTask::new(entries, span, signal, outcome, claim),
    );
}

/// No tokio runtime where the response ended: its `runnable` blocks are counted and logged as
/// lost, and dropped.
#[cold]
fn lose_unfired(batch: Batch, kind: OutcomeKind, runnable: u64) {
    let executor: &Shared = &batch.executor;
    executor.ledger.counters.record_lost_unfired(runnable);
    executor
        .config
        .observe
        .lost_unfired(batch.handler, runnable);
    tracing::error!(
        // Logs about this response's blocks carry the handler's span (its request id).
        parent: batch.span.as_ref().and_then(tracing::Span::id),
        handler = batch.handler,
        blocks = runnable,
        outcome = %kind,
        "after-response: no tokio runtime when the response ended; its deferred blocks are lost"
    );
    discard(batch);
}

/// Deferred work is full: the response's `runnable` blocks are counted, reported and logged as
/// shed, and dropped.
#[cold]
fn shed(batch: Batch, kind: OutcomeKind, runnable: u64) {
    let executor: &Shared = &batch.executor;
    let counters = &executor.ledger.counters;
    let shed_total = counters.record_shed(runnable);
    executor
        .config
        .observe
        .shed(counters, batch.handler, kind, runnable);
    tracing::warn!(
        parent: batch.span.as_ref().and_then(tracing::Span::id),
        handler = batch.handler,
        blocks = runnable,
        shed_total,
        max_in_flight = executor.config.max_in_flight,
        max_queued = executor.config.max_queued,
        "after-response: deferred work is full; this response's blocks are shed"
    );
    discard(batch);
}

/// Drops blocks that will not run. This runs where the response body or the handler future is
/// dropped (on the connection): a panic there must not unwind into hyper, which would lose the
/// response (HTTP/1.1) or the connection.
fn discard(batch: Batch) {
    let handler = batch.handler;
    drop_isolated(batch, handler);
}
