//! The per-request registry that `defer!` registers blocks on.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::block::{Block, Entries, Entry};
use crate::body::DeferredBody;
use crate::completion::{Completion, CompletionSignal};
use crate::executor::{self, Batch};
use crate::output::DeferredOutput;
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
/// Creating a registry does not allocate; nothing is spawned for a registry with no blocks.
pub struct Registry {
    handler: &'static str,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: Entries,
    /// The span current at the first registration: the handler's.
    span: Option<tracing::Span>,
}

impl Registry {
    /// A registry for the handler called `handler` (used in logs and spans), started now.
    #[must_use]
    pub fn new(handler: &'static str) -> Self {
        Self {
            handler,
            started: Instant::now(),
            state: Mutex::new(State {
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

    /// `true` when no block was registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// Wraps `response`'s body so that the registered blocks fire when it is dropped, and stores
    /// the response's [`Completion`] in its extensions.
    pub fn attach<B>(self, response: http::Response<B>) -> http::Response<DeferredBody<B>>
    where
        B: http_body::Body,
    {
        let (mut parts, body) = response.into_parts();
        let signal = executor::executor().config.completion_handles.then(|| {
            let (completion, signal) = Completion::pending();
            parts.extensions.insert(completion);
            signal
        });
        let body = DeferredBody::new(body, self.take_batch(signal), parts.status);
        http::Response::from_parts(parts, body)
    }

    fn push(&self, entry: Entry) -> DeferHandle<'_> {
        let mut state = self.lock();
        if state.span.is_none() {
            state.span = Some(tracing::Span::current());
        }
        let index = state.entries.push(entry);
        DeferHandle {
            registry: self,
            index,
        }
    }

    /// Moves the registered blocks out, for the executor; the registry is left empty.
    fn take_batch(&self, signal: Option<CompletionSignal>) -> Batch {
        let State { entries, span } = std::mem::take(&mut *self.lock());
        Batch {
            entries,
            handler: self.handler,
            started: self.started,
            span,
            signal,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Nobody can await a completion here: no response was produced.
        let batch = self.take_batch(None);
        if batch.entries.is_empty() {
            return;
        }
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
            executor::stats().record_cancelled();
            executor::executor()
                .config
                .observe
                .cancelled(self.registry.handler);
        }
        // The block's captured values are dropped here, outside the registry's lock.
        drop(previous);
    }

    /// Gives this block a timeout of its own, overriding [`crate::Config::block_timeout`].
    pub fn set_timeout(&self, timeout: Duration) {
        self.registry.lock().entries.get_mut(self.index).timeout = Some(timeout);
    }
}
