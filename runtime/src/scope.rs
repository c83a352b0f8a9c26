//! Which executor a registry uses: the innermost [`Executor::scope`] (a tower layer is one),
//! else the process default.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;

use crate::executor::Executor;

tokio::task_local! {
    static CURRENT: Executor;
}

/// The executor a registry created here belongs to.
pub(crate) fn current() -> Executor {
    CURRENT
        .try_with(Executor::clone)
        .unwrap_or_else(|_| Executor::process_default())
}

impl Executor {
    /// Runs `future` with this as the executor of every [`crate::Registry`] created while it is
    /// polled (and dropped): for a hyper, tonic or hand-written tower service, what the layer
    /// does for an axum router.
    ///
    /// ```
    /// use after_response::{Completion, Config, Registry};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let executor = Config::default().completion_handles(true).build();
    /// let response = executor
    ///     .scope(async {
    ///         let registry = Registry::new("download");
    ///         registry.defer(async {});
    ///         registry.attach(http::Response::new(String::from("hello")))
    ///     })
    ///     .await;
    /// let completion = Completion::of(&response);
    /// drop(response);
    /// completion.await;
    /// assert_eq!(executor.stats().finished, 1);
    /// # });
    /// ```
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            inner: CURRENT.scope(self.clone(), future),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run under an [`Executor`]: see [`Executor::scope`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Scoped<F: Future> {
        #[pin]
        inner: TaskLocalFuture<Executor, F>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F: Future> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}

/// An `Executor` is a tower layer: the services it wraps (an axum router, part of one, or any
/// tower service) run their handlers' deferred blocks on it.
impl<S> tower_layer::Layer<S> for Executor {
    type Service = OnExecutor<S>;

    fn layer(&self, inner: S) -> OnExecutor<S> {
        OnExecutor {
            inner,
            executor: self.clone(),
        }
    }
}

/// A service whose handlers run their deferred blocks on one [`Executor`]: what
/// `.layer(executor)` wraps a service in.
#[derive(Clone, Debug)]
pub struct OnExecutor<S> {
    inner: S,
    executor: Executor,
}

impl<S, Request> tower_service::Service<Request> for OnExecutor<S>
where
    S: tower_service::Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Scoped<S::Future> {
        // A service may create its registry in `call` itself, not only in the future.
        let future = CURRENT.sync_scope(self.executor.clone(), || self.inner.call(request));
        self.executor.scope(future)
    }
}
