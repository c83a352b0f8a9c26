//! Run code **after** an axum handler's HTTP response has been sent.
//!
//! Mark a handler `#[after_response]` and put `defer!` blocks in it. They run once the client
//! has the whole response, on a task tracked by this crate, one after another in the order
//! they were registered; a slow, failing or panicking block delays no response and no other
//! block. No middleware to install.
//!
//! ```
//! use after_response::{after_response, defer, Completion, OutcomeKind};
//! use axum::{body::Body, http::Request, routing::post, Router};
//! use tower::ServiceExt as _;
//!
//! #[after_response]
//! async fn signup(body: String) -> String {
//!     let email = body.clone();
//!     defer! {
//!         // Runs only once the response has been fully handed to the client.
//!         println!("sending the welcome e-mail to {email}");
//!     }
//!     defer!(|outcome| {
//!         // Runs whatever happened, and is told what happened.
//!         assert_eq!(outcome.kind(), OutcomeKind::Completed);
//!         println!("{:?} after {:?}, {} bytes", outcome.status(), outcome.elapsed(), outcome.body_bytes());
//!     });
//!     format!("welcome, {body}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new().route("/signup", post(signup));
//! let response = app.oneshot(Request::post("/signup").body(Body::from("ada@example.com")).unwrap()).await.unwrap();
//! let completion = Completion::of(&response);
//! drop(response); // the server drops the body once its last byte is out; here we do it
//! completion.await; // every deferred block of that response has now run
//! # }
//! ```
//!
//! # The two forms
//! - `defer! { .. }` is an `async move` block: it may `.await`, and runs only if the response
//!   was **completed** (see [`OutcomeKind`]).
//! - `defer!(|outcome| { .. })` runs **always** (completed, aborted, cancelled, panicked) and
//!   receives the [`Outcome`] by value.
//!
//! A block may end in `()` or in `Result<(), E>` with `E: Display`; an `Err` is logged with the
//! handler's name and counted, never lost silently. Each `defer!` evaluates to a
//! [`DeferHandle`] whose [`cancel`](DeferHandle::cancel) stops that block from running. A
//! block can carry its own timeout: `defer!(timeout = Duration::from_secs(5) => { .. })`.
//!
//! # Cancel handles
//! "Completed" means *delivered*, whatever the status: an error response that reaches the
//! client is completed too. Register work after the steps that can fail, or cancel it:
//!
//! ```no_run
//! use after_response::{after_response, defer};
//! use axum::http::StatusCode;
//!
//! # async fn charge(_order: &str) -> Result<(), String> { Ok(()) }
//! # async fn send_receipt(_order: &str) {}
//! #[after_response]
//! async fn checkout(order: String) -> Result<&'static str, StatusCode> {
//!     let for_receipt = order.clone();
//!     let receipt = defer! {
//!         send_receipt(&for_receipt).await;
//!     };
//!     if charge(&order).await.is_err() {
//!         receipt.cancel(); // the 402 is delivered too: no receipt for it
//!         return Err(StatusCode::PAYMENT_REQUIRED);
//!     }
//!     Ok("paid")
//! }
//! ```
//!
//! # Outcomes
//! | kind | when | `defer! {}` runs | `defer!(\|o\| ..)` runs |
//! | --- | --- | --- | --- |
//! | Completed | every body byte was handed to the connection, or no body by protocol (HEAD, 1xx, 204, 304) | yes | yes |
//! | Aborted | a response was produced but its body ended early (disconnect, body error) | no | yes |
//! | Cancelled | the handler future was dropped before it returned | no | yes |
//! | Panicked | the handler panicked | no | yes |
//!
//! Layers see the same outcomes: a `TimeoutLayer` that gives up on a slow handler drops its
//! future (Cancelled), `CatchPanicLayer` turns a panic into a 500 (Panicked), a response body
//! timeout or a client that hangs up mid-stream ends the body early (Aborted), and a
//! `CompressionLayer` re-encodes the body without changing when the blocks fire: after the
//! compressed body has ended.
//!
//! # Testing
//! Each response that carries deferred work holds a [`Completion`] in its extensions. Send the
//! request with `tower::ServiceExt::oneshot` (or through a real server), read or drop the body,
//! then await [`Completion::of`]`(&response)`: once it resolves, every block of that response
//! has run, failed, timed out or been skipped. No sleeps. The opening example does exactly
//! this; through a real server, an `axum::middleware::map_response` layer can hand each
//! response's `Completion` to the test.
//!
//! # Without axum or the macro
//! [`Registry`] is the plain API: create one, [`defer`](Registry::defer) blocks on it, and
//! [`attach`](Registry::attach) it to any `http::Response<B: http_body::Body>` (hyper, tonic,
//! tower). The blocks fire when the wrapped body is dropped, exactly as with the macro.
//!
//! ```
//! use after_response::{Completion, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let registry = Registry::new("download");
//! registry.defer(async { println!("delivered") });
//! registry.defer_always(|outcome| async move {
//!     println!("{}: {} bytes", outcome.kind(), outcome.body_bytes());
//! });
//! let response = registry.attach(http::Response::new(String::from("hello")));
//! let completion = Completion::of(&response);
//! drop(response); // hyper drops the body once its last byte is out; here we do it
//! completion.await;
//! # }
//! ```
//!
//! # Shutdown
//! `axum::serve(..).with_graceful_shutdown(..)` waits for connections, not for deferred work.
//! Call [`shutdown`] after it returns, before the runtime ends: it waits up to a deadline and
//! reports what finished and what was left.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
//! # let stop = std::future::pending::<()>();
//! use std::time::Duration;
//!
//! axum::serve(listener, app).with_graceful_shutdown(stop).await?;
//! let report = after_response::shutdown(Duration::from_secs(10)).await;
//! println!(
//!     "deferred work: {} finished, {} abandoned, {} never started",
//!     report.finished, report.abandoned, report.never_started
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # Operations
//! [`Config`] sets the bound on work in flight and a default per-block timeout; [`stats`]
//! reads the counters; [`shutdown`] drains deferred work with a deadline.
//!
//! # Observability
//! - With the `metrics` feature, deferred work is counted and timed through the `metrics`
//!   facade: `after_response_blocks_fired_total`, `after_response_blocks_ended_total` (label
//!   `ending`), the `after_response_blocks_in_flight` and `after_response_responses_queued`
//!   gauges, and histograms of block duration, start delay and queue wait, labelled by handler
//!   only (the README's "Observability" tables each one with its unit and labels).
//! - [`Config::on_failure`] hands every failed, panicked, timed-out or shed block, as a
//!   [`Failure`], to a callback of yours (an error reporter), isolated like a block.
//! - The blocks' span is a child of the handler's span and `follows_from` it, which
//!   `tracing-opentelemetry` exports as a span link.
//!
//! # Limits
//! - Deferred work lives in this process's memory: a crash, `kill -9` or a drain deadline loses
//!   it. Work that must survive those belongs in a job queue; this crate is for work that may be
//!   lost but should not hold up the response (e-mails you can resend, cache warming, metrics,
//!   audit lines).
//! - A body dropped before it was ever polled counts as Completed: that is how HEAD, 204 and 304
//!   responses end. A client that resets an HTTP/2 stream after the head but before the first
//!   body poll lands there too.
//! - [`Outcome::body_bytes`] counts the bytes the handler's body handed over, before any
//!   encoding a layer outside it (compression) applies.
//! - Blocks run on the tokio runtime current when the body is dropped; if there is none, they
//!   are counted as lost and logged. Timeouts need the runtime's time driver.
//!
//! # Cargo features
//! - `axum` (default): `Registry::finish` and what `#[after_response]` expands to. With
//!   `default-features = false` the crate depends on `http`, `http-body` and `tokio` (plus
//!   small helpers), and offers the plain [`Registry`] API for hyper, tonic or tower services.
//! - `metrics` (off): the metrics above, through the `metrics` facade. Off, nothing is
//!   measured or emitted.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum_support;
mod block;
mod body;
mod completion;
mod config;
mod executor;
mod observe;
mod outcome;
mod output;
mod registry;
mod shutdown;
mod stats;

pub use after_response_macros::after_response;
pub use body::DeferredBody;
pub use completion::Completion;
pub use config::{AlreadyInstalled, Config};
pub use observe::{Failure, FailureKind};
pub use outcome::{Outcome, OutcomeKind};
pub use output::DeferredOutput;
pub use registry::{DeferHandle, Registry};
pub use shutdown::{shutdown, DrainReport};
pub use stats::Stats;

/// A snapshot of the process-wide deferred-work counters.
#[must_use]
pub fn stats() -> Stats {
    executor::stats().snapshot()
}

/// Registers a block to run after the response has been sent.
///
/// Only meaningful inside an `async fn` marked [`#[after_response]`](after_response), which
/// rewrites every `defer!` in its body; anywhere else it is a compile error.
///
/// - `defer! { .. }`: runs only if the response was completed.
/// - `defer!(|outcome| { .. })`: runs always, given the [`Outcome`].
/// - `defer!(timeout = DURATION => { .. })` or `defer!(timeout = DURATION => |outcome| { .. })`:
///   the same, with a timeout of its own.
///
/// It evaluates to a [`DeferHandle`].
#[macro_export]
macro_rules! defer {
    (@__after_response $registration:expr) => {
        $registration
    };
    ($($anything:tt)*) => {
        ::core::compile_error!(
            "`defer!` only works inside an `async fn` marked `#[after_response]`: add the \
             attribute to the handler, and keep `defer!` out of `fn` items nested in it (they \
             are functions of their own); `#[axum::debug_handler]` goes below `#[after_response]`"
        )
    };
}

/// Paths the `#[after_response]` expansion uses. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::Registry;
    #[cfg(feature = "axum")]
    pub use axum::response::Response;

    /// The output of a handler without `defer!`, converted as axum would. A function rather
    /// than a re-export of `IntoResponse`, so that errors name the trait by its axum path.
    #[cfg(feature = "axum")]
    pub fn into_response<R: axum::response::IntoResponse>(output: R) -> Response {
        output.into_response()
    }

    /// What each `defer!` becomes when `#[after_response]` rejected its function (and said
    /// why): the block is still type-checked, nothing is registered, and the handle's methods
    /// still resolve, so the attribute's error comes alone.
    pub struct Inert;

    impl Inert {
        pub fn cancel(&self) {}

        pub fn set_timeout(&self, _timeout: ::core::time::Duration) {}
    }

    pub fn inert<F: ::core::future::Future>(_block: F) -> Inert {
        Inert
    }

    pub fn inert_always<F, Fut>(_block: F) -> Inert
    where
        F: FnOnce(crate::Outcome) -> Fut,
        Fut: ::core::future::Future,
    {
        Inert
    }
}
