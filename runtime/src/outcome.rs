//! What happened to a response, handed to `defer!(|outcome| ..)` blocks.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// How a request ended, as far as its deferred blocks are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// Every body byte was handed to the connection, or the response has no body by protocol
    /// (HEAD, 1xx, 204, 304).
    Completed,
    /// A response was produced but its body ended early: client disconnect, body error, timeout.
    Aborted,
    /// The handler future was dropped before it returned (client gone, timeout layer).
    Cancelled,
    /// The handler panicked.
    Panicked,
}

impl OutcomeKind {
    /// Lower-case name, as used in logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Aborted => "aborted",
            Self::Cancelled => "cancelled",
            Self::Panicked => "panicked",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one response: how it ended, its status, how many body bytes reached the
/// connection and how long it took from the handler's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub(crate) kind: OutcomeKind,
    pub(crate) status: Option<StatusCode>,
    pub(crate) body_bytes: u64,
    pub(crate) elapsed: Duration,
}

impl Outcome {
    /// An outcome with these parts, as the runtime would hand it to a `defer!(|outcome| ..)`
    /// block: for unit tests of the code such a block calls.
    ///
    /// ```
    /// use std::time::Duration;
    /// use after_response::{Outcome, OutcomeKind};
    /// use http::StatusCode;
    ///
    /// // The code an always-block calls, kept in a function so that it can be tested alone.
    /// fn audit_line(outcome: &Outcome) -> String {
    ///     match outcome.status() {
    ///         Some(status) => format!("{} {} {}B", outcome.kind(), status.as_u16(), outcome.body_bytes()),
    ///         None => format!("{} without a response", outcome.kind()),
    ///     }
    /// }
    ///
    /// let aborted = Outcome::new(OutcomeKind::Aborted, Some(StatusCode::OK), 512, Duration::from_millis(3));
    /// assert_eq!(audit_line(&aborted), "aborted 200 512B");
    /// let cancelled = Outcome::new(OutcomeKind::Cancelled, None, 0, Duration::ZERO);
    /// assert_eq!(audit_line(&cancelled), "cancelled without a response");
    /// ```
    #[must_use]
    pub const fn new(
        kind: OutcomeKind,
        status: Option<StatusCode>,
        body_bytes: u64,
        elapsed: Duration,
    ) -> Self {
        Self {
            kind,
            status,
            body_bytes,
            elapsed,
        }
    }

    /// How the response ended.
    #[must_use]
    pub const fn kind(&self) -> OutcomeKind {
        self.kind
    }

    /// The response status; `None` when no response was produced (cancelled or panicked handler).
    #[must_use]
    pub const fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Body bytes handed to the connection (before any encoding a layer outside the handler adds).
    #[must_use]
    pub const fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Time from the handler's start to the end of the response (body finished or dropped).
    #[must_use]
    pub const fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// `true` when the response was completed; plain `defer! { .. }` blocks run only then.
    #[must_use]
    pub const fn is_completed(&self) -> bool {
        matches!(self.kind, OutcomeKind::Completed)
    }
}
