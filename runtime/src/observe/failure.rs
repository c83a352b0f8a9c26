//! The failure hook: a callback in the configuration told of every block that failed,
//! panicked, timed out or was shed, without writing a `tracing` layer.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::stats::Counters;
use crate::{Config, OutcomeKind};

/// How a deferred block failed; what a [`Failure`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The block returned `Err`; the message is the error's `Display`.
    Failed,
    /// The block panicked; the message is the panic's (or `<non-string panic payload>`).
    Panicked,
    /// The block exceeded its timeout and was cancelled.
    TimedOut,
    /// The block was dropped without running: deferred work was full (see [`Config`]).
    Shed,
}

impl FailureKind {
    /// The kind as a snake-case word (`failed`, `panicked`, `timed_out`, `shed`): the same word
    /// as the `ending` label of the metrics and the field of [`crate::Stats`].
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Panicked => "panicked",
            Self::TimedOut => "timed_out",
            Self::Shed => "shed",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One deferred block that failed, panicked, timed out or was shed: what the hook set with
/// [`Config::on_failure`] receives. It borrows its message; copy what you keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure<'a> {
    handler: &'static str,
    kind: FailureKind,
    outcome: OutcomeKind,
    message: &'a str,
}

impl<'a> Failure<'a> {
    pub(crate) const fn new(
        handler: &'static str,
        kind: FailureKind,
        outcome: OutcomeKind,
        message: &'a str,
    ) -> Self {
        Self {
            handler,
            kind,
            outcome,
            message,
        }
    }

    /// The name of the handler that registered the block (the registry's name without the
    /// macro).
    #[must_use]
    pub const fn handler(&self) -> &'static str {
        self.handler
    }

    /// How the block failed.
    #[must_use]
    pub const fn kind(&self) -> FailureKind {
        self.kind
    }

    /// How the block's response ended (a `defer!(|outcome| ..)` block also runs for aborted,
    /// cancelled and panicked responses).
    #[must_use]
    pub const fn outcome(&self) -> OutcomeKind {
        self.outcome
    }

    /// What went wrong: the error's `Display`, the panic message, the timeout, or why the block
    /// was shed.
    #[must_use]
    pub const fn message(&self) -> &'a str {
        self.message
    }
}

impl fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deferred block of {} {} (response {}): {}",
            self.handler, self.kind, self.outcome, self.message
        )
    }
}

type Hook = Arc<dyn Fn(&Failure<'_>) + Send + Sync>;

/// The configuration's observability settings: the failure hook, so each executor has its own
/// (the process default's `Config::default()` has none). The `metrics` facade's recorder is
/// the process's global one, installed by the exporter: every executor's metrics go to it,
/// labelled by handler.
#[derive(Clone, Default)]
pub(crate) struct Observer {
    on_failure: Option<Hook>,
}

impl Observer {
    pub(crate) fn has_hook(&self) -> bool {
        self.on_failure.is_some()
    }

    /// Calls the hook with `failure`; a panic in it is caught, logged at ERROR and counted in
    /// [`crate::Stats::failure_hook_panicked`] of the executor whose `counters` these are, never unwound into the connection or the task.
    pub(crate) fn call_hook(&self, counters: &Counters, failure: &Failure<'_>) {
        let Some(hook) = &self.on_failure else {
            return;
        };
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| hook(failure))) {
            tracing::error!(
                handler = failure.handler,
                failure = %failure.kind,
                panic = panic_message(payload.as_ref()),
                "after-response: the failure hook panicked"
            );
            counters.record_failure_hook_panicked();
            #[cfg(feature = "metrics")]
            super::metrics::of(failure.handler).failure_hook_panicked();
        }
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field(
                "on_failure",
                &self.on_failure.as_ref().map(|_| "Fn(&Failure)"),
            )
            .finish()
    }
}

/// Two configurations are equal when they share the same hook (or neither has one).
impl PartialEq for Observer {
    fn eq(&self, other: &Self) -> bool {
        match (&self.on_failure, &other.on_failure) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Observer {}

impl Config {
    /// Calls `hook` for every deferred block that fails (returns `Err`), panics, times out or is
    /// shed, with the handler's name, the kind of failure, the response's outcome and the
    /// message: the place to send them to an error reporter, without writing a `tracing` layer.
    /// Each failure is still logged and counted as before.
    ///
    /// ```
    /// use after_response::{Config, FailureKind};
    ///
    /// let config = Config::default().on_failure(|failure| {
    ///     // e.g. hand it to your error reporter; here, print it.
    ///     eprintln!("{} in {}: {}", failure.kind(), failure.handler(), failure.message());
    ///     if failure.kind() == FailureKind::Shed {
    ///         // deferred work is full: worth an alert of its own
    ///     }
    /// });
    /// assert!(format!("{config:?}").contains("on_failure: Some"));
    /// ```
    ///
    /// It runs where the block ended: on the blocks' task for a failure, panic or timeout, and
    /// where the response ended (the connection's task) for a shed block. Keep it quick and
    /// non-blocking, as a `tracing` layer would be: hand the failure to a channel or to a
    /// reporter that queues. A panic in the hook is caught like a block's: logged at ERROR,
    /// counted in [`crate::Stats::failure_hook_panicked`], and the connection and the next
    /// blocks carry on. Setting it again replaces the previous hook.
    #[must_use]
    pub fn on_failure<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Failure<'_>) + Send + Sync + 'static,
    {
        self.observe.on_failure = Some(Arc::new(hook));
        self
    }
}

/// The message of a panic payload: a `&str` or a `String`, else a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}
