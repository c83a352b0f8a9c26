//! The per-request registry that `defer!` registers blocks on.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::block::{Block, Entries, Entry};
use crate::body::DeferredBody;
use crate::completion::Completion;
use crate::executor::{self, Batch, Executor};
use crate::latch::SetOnDrop;
use crate::output::DeferredOutput;
use crate::scope;
use crate::{Outcome, OutcomeKind};

/// The deferred blocks of one request, in registration order.
///
/// `#[after_response]` creates one per call and attaches it to the handler's response; without
/// the macro, create one yourself, register blocks, and [`attach`](Registry::attach) it to any
/// `http::Response<B: http_body::Body>`.
///
/// If a registry is dropped without being attached (the handler future was dropped, or it
/// panicked), its `defer!(|outcome| ..)` blocks run with [`OutcomeKind::Cancelled`] or
/// [`OutcomeKind::Panicked`].
///
/// Its blocks run on the [`Executor`] it was created under (see [`Registry::new`]).
///
/// Creating a registry does not allocate; nothing is spawned for a registry with no blocks.
pub struct Registry {
    handler: &'static str,
    /// When the handler started; `None` when no block reads it (see [`Registry::untimed`]).
    started: Option<Instant>,
    executor: Executor,
    registered: Mutex<Registered>,
}

/// What `defer!` registered so far.
#[derive(Default)]
struct Registered {
    entries: Entries,
    /// The span current at the first registration: the handler's.
    span: Option<tracing::Span>,
}

impl Registry {
    /// A registry for the handler called `handler` (used in logs and spans), started now. Its
    /// blocks run on the executor of the innermost [`Executor::scope`] (or executor layer) this
    /// is called in, else on [`Executor::process_default`]; [`Executor::registry`] names one.
    #[must_use]
    pub fn new(handler: &'static str) -> Self {
        Self::on(handler, scope::current(), true)
    }

    /// [`Registry::new`] without reading the clock, for a handler that registers no
    /// `defer!(|outcome| ..)` block: only that form reads [`Outcome::elapsed`], which then
    /// reads [`Duration::ZERO`]. What `#[after_response]` uses for such handlers.
    #[doc(hidden)]
    #[must_use]
    pub fn untimed(handler: &'static str) -> Self {
        Self::on(handler, scope::current(), false)
    }

    pub(crate) fn on(handler: &'static str, executor: Executor, timed: bool) -> Self {
        Self {
            handler,
            started: timed.then(Instant::now),
            executor,
            registered: Mutex::new(Registered {
                entries: Entries::Empty,
                span: None,
            }),
        }
    }

    /// Registers `block` to run once the response has been completed.
    pub fn defer<F>(&self, block: F) -> DeferHandle<'_>
    where
        F: Future + Send + 'static,
        F::Output: DeferredOutput,
    {
        self.push(Entry::on_completed(block))
    }

    /// Registers `block` to run whatever happens to the response, given its [`Outcome`].
    pub fn defer_always<F, Fut>(&self, block: F) -> DeferHandle<'_>
    where
        F: FnOnce(Outcome) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: DeferredOutput,
    {
        self.push(Entry::always(block))
    }

    /// Registers `f`, a synchronous closure, to run on tokio's blocking thread pool
    /// (`spawn_blocking`) once the response has been completed.
    ///
    /// Use it for work that blocks its thread: a synchronous client (SMTP, a database driver
    /// without async), file I/O through `std::fs`, CPU-heavy work (image resizing, password
    /// hashing), anything that runs for more than about 100 µs between `.await`s. In a plain
    /// block such work stalls a runtime worker thread, and with it every other task on that
    /// worker (other requests, other blocks). A quick synchronous call needs no such hop.
    ///
    /// It is a block like the others: it runs after the blocks registered before it and before
    /// those registered after it, holds its response's slot (so [`crate::Config::max_in_flight`]
    /// bounds it too), and is counted in [`crate::Stats`] by how it ends; a panic in `f` is
    /// caught, logged and counted as panicked. A timeout stops the waiting, not the closure: a
    /// blocking thread cannot be interrupted, so a closure that outlives its timeout is counted
    /// as timed out, its response's next block starts, and the closure runs on to its end
    /// outside the bound, its result discarded. Tokio waits for running blocking closures
    /// when its runtime shuts down.
    pub fn defer_blocking<F, R>(&self, f: F) -> DeferHandle<'_>
    where
        F: FnOnce() -> R + Send + 'static,
        R: DeferredOutput + Send + 'static,
    {
        self.push(Entry::blocking(f))
    }

    /// `true` when no block was registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// Wraps `response`'s body so that the registered blocks fire when it is dropped, and, when
    /// the executor has completion handles on, stores the response's [`Completion`] in its
    /// extensions.
    #[must_use = "the blocks fire when the returned response's body is dropped: dropping it now fires them now"]
    pub fn attach<B>(mut self, response: http::Response<B>) -> http::Response<DeferredBody<B>>
    where
        B: http_body::Body,
    {
        let (mut parts, body) = response.into_parts();
        let body = self.wrap(&mut parts, body);
        http::Response::from_parts(parts, body)
    }

    /// `body` wrapped to carry the registered blocks (the registry is left empty), with the
    /// response's [`Completion`] stored in `parts` when the executor has handles on. Apart from
    /// [`attach`](Registry::attach) so that `finish` can box the wrapper where it is built
    /// instead of moving a whole response around it.
    pub(crate) fn wrap<B>(&mut self, parts: &mut http::response::Parts, body: B) -> DeferredBody<B>
    where
        B: http_body::Body,
    {
        let signal = self.executor.config().completion_handles.then(|| {
            let inner = parts.extensions.remove::<Completion>();
            let (completion, signal) = Completion::pending_after(inner);
            parts.extensions.insert(completion);
            signal
        });
        DeferredBody::new(body, self.take_batch(signal), parts.status, &parts.headers)
    }

    /// [`Registry::is_empty`]'s opposite, without the lock: nothing else can hold it.
    pub(crate) fn has_blocks(&mut self) -> bool {
        !self.registered_mut().entries.is_empty()
    }

    fn registered_mut(&mut self) -> &mut Registered {
        self.registered
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, entry: Entry) -> DeferHandle<'_> {
        let mut registered = self.lock();
        // With no subscriber enabling anything, no span can be current: skip the lookup.
        if registered.span.is_none()
            && tracing::level_filters::LevelFilter::current()
                != tracing::level_filters::LevelFilter::OFF
        {
            registered.span = Some(tracing::Span::current());
        }
        let index = registered.entries.push(entry);
        DeferHandle {
            registry: self,
            index,
        }
    }

    /// Moves the registered blocks out, for the executor; the registry is left empty. Through
    /// `&mut self`: the registry is ours alone here, so no lock is taken.
    fn take_batch(&mut self, signal: Option<SetOnDrop>) -> Batch {
        let Registered { entries, span } = std::mem::take(self.registered_mut());
        Batch {
            entries,
            handler: self.handler,
            started: self.started,
            span,
            signal,
            executor: self.executor.shared().clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registered> {
        // No user code runs under this lock, so a poisoned lock still holds consistent data.
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Executor {
    /// A registry for the handler called `handler` on this executor, wherever it is created.
    #[must_use]
    pub fn registry(&self, handler: &'static str) -> Registry {
        Registry::on(handler, self.clone(), true)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if !self.has_blocks() {
            // Attached (its blocks went with the response), or nothing was registered.
            return;
        }
        // Nobody can await a completion here: no response was produced.
        let batch = self.take_batch(None);
        // Never attached: the handler future was dropped or is unwinding.
        let kind = if std::thread::panicking() {
            OutcomeKind::Panicked
        } else {
            OutcomeKind::Cancelled
        };
        executor::fire(batch, kind, None, 0);
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("handler", &self.handler)
            .field("blocks", &self.lock().entries.len())
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

/// What `defer!` evaluates to: lets the handler cancel that block, or give it a timeout.
///
/// It borrows the request's registry, so it cannot outlive the handler.
#[derive(Debug)]
pub struct DeferHandle<'a> {
    registry: &'a Registry,
    index: usize,
}

impl DeferHandle<'_> {
    /// Stops this block from running (its captured values are dropped now). Idempotent.
    pub fn cancel(&self) {
        let previous = std::mem::replace(
            &mut self.registry.lock().entries.get_mut(self.index).block,
            Block::Cancelled,
        );
        if !matches!(previous, Block::Cancelled) {
            self.registry
                .executor
                .shared()
                .ledger
                .counters
                .record_cancelled();
            self.registry
                .executor
                .config()
                .observe
                .cancelled(self.registry.handler);
        }
        // The block's captured values are dropped here, outside the registry's lock.
        drop(previous);
    }

    /// Gives this block a timeout of its own, overriding [`crate::Config::block_timeout`] of the
    /// executor it runs on.
    pub fn set_timeout(&self, timeout: Duration) {
        self.registry.lock().entries.get_mut(self.index).timeout = Some(timeout);
    }
}
