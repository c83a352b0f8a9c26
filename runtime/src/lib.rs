//! Run code **after** an axum handler's HTTP response has been sent.
//!
//! Mark a handler `#[after_response]` and put `defer!` blocks in it. They run once the client
//! has the whole response, on a task tracked by this crate, one after another in the order
//! they were registered; a slow, failing or panicking block delays no response and no other
//! block. No middleware to install.
//!
//! ```
//! use std::sync::Mutex;
//!
//! use after_response::{after_response, defer, Completion, Config, OutcomeKind};
//! use axum::{body::Body, http::Request, routing::post, Router};
//! use tower::ServiceExt as _;
//!
//! static WELCOMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
//! static ENDINGS: Mutex<Vec<(OutcomeKind, u64)>> = Mutex::new(Vec::new());
//!
//! #[after_response]
//! async fn signup(body: String) -> String {
//!     let email = body.clone();
//!     defer! {
//!         // Runs only once the response has been fully handed to the client.
//!         WELCOMED.lock().unwrap().push(email); // sending the welcome e-mail, say
//!     }
//!     defer!(|outcome| {
//!         // Runs whatever happened, and is told what happened.
//!         ENDINGS.lock().unwrap().push((outcome.kind(), outcome.body_bytes()));
//!     });
//!     format!("welcome, {body}")
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // An executor whose responses carry a `Completion` to await (tests get that for every
//! // executor from the `test-util` feature; by default handles are off: they cost).
//! let executor = Config::default().completion_handles(true).build();
//! let app = Router::new().route("/signup", post(signup)).layer(executor.clone());
//! let response = app.oneshot(Request::post("/signup").body(Body::from("ada@example.com")).unwrap()).await.unwrap();
//! let completion = Completion::of(&response);
//! assert!(WELCOMED.lock().unwrap().is_empty()); // nothing runs before the body is done
//! drop(response); // the server drops the body once its last byte is out; here we do it
//! completion.await; // every deferred block of that response has now run
//! assert_eq!(*WELCOMED.lock().unwrap(), ["ada@example.com"]);
//! // The body was never polled here, so it counts as delivered with 0 bytes handed over.
//! assert_eq!(*ENDINGS.lock().unwrap(), [(OutcomeKind::Completed, 0)]);
//! # });
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
//! | Completed | the connection wrote the body's last bytes and the announced length (exact size hint, else `Content-Length`) was reached exactly; or no body by protocol (HEAD, 1xx including 101, 204, 304) | yes | yes |
//! | Aborted | a response was produced but the client did not get all of it (disconnect or HTTP/2 reset mid-body, body error, fewer or more bytes than announced) | no | yes |
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
//! With the `test-util` feature (in `[dev-dependencies]`: `after-response = { version = "0.1",
//! features = ["test-util"] }`), each response that carries deferred work holds a
//! [`Completion`] in its extensions; without it, [`Completion::of`] panics and says so. Send the
//! request with `tower::ServiceExt::oneshot` (or through a real server), read or drop the body,
//! then await [`Completion::of`]`(&response)`: once it resolves, every block of that response
//! has run, failed, timed out or been skipped. No sleeps. The blocks fire once the body *and*
//! the last bytes it handed on are dropped (a server drops them once written): drop the bytes
//! you read before awaiting. The opening example does exactly
//! this; through a real server, an `axum::middleware::map_response` layer can hand each
//! response's `Completion` to the test.
//!
//! # Without axum or the macro
//! [`Registry`] is the plain API: create one, [`defer`](Registry::defer) blocks on it, and
//! [`attach`](Registry::attach) it to any `http::Response<B: http_body::Body>` (hyper, tonic,
//! tower). The blocks fire when the wrapped body is dropped, exactly as with the macro.
//!
//! ```
//! use after_response::{Completion, Config};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let executor = Config::default().completion_handles(true).build();
//! let registry = executor.registry("download");
//! registry.defer(async { println!("delivered") });
//! registry.defer_always(|outcome| async move {
//!     println!("{}: {} bytes", outcome.kind(), outcome.body_bytes());
//! });
//! let response = registry.attach(http::Response::new(String::from("hello")));
//! let completion = Completion::of(&response);
//! drop(response); // hyper drops the body once its last byte is out; here we do it
//! completion.await;
//! assert_eq!(executor.stats().finished, 2);
//! # });
//! ```
//!
//! # Executors, bounds and shutdown
//! Blocks run on an [`Executor`]: a bound on work in flight (with a documented policy when it
//! is full), an optional default per-block timeout, counters ([`Executor::stats`]) and a drain
//! with a deadline ([`Executor::shutdown`]). Without any set-up they run on the process
//! default, which [`stats()`] and [`shutdown()`] act on. Build one from a [`Config`] to give a
//! router, or part of one, its own limits and counters: an `Executor` is a tower layer, so
//! `router.layer(executor.clone())` moves every handler under it to that executor without a
//! change to the handlers (see [`Executor`] for how a registry finds it).
//!
//! `axum::serve(..).with_graceful_shutdown(..)` waits for connections, not for deferred work.
//! Call `shutdown` after it returns, before the runtime ends: it waits up to a deadline and
//! reports what finished and what was left.
//!
//! ```
//! use std::time::Duration;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let executor = after_response::Config::default().max_in_flight(256).build();
//! let app = axum::Router::<()>::new().layer(executor.clone());
//! // axum::serve(listener, app).with_graceful_shutdown(signal).await?;  then, once it returned:
//! # drop(app);
//! let report = executor.shutdown(Duration::from_secs(10)).await;
//! assert!(report.is_complete()); // nothing was in flight
//! println!(
//!     "deferred work: {} finished, {} abandoned, {} never started",
//!     report.finished, report.abandoned, report.never_started
//! );
//! # });
//! ```
//!
//! # Blocking work
//! A block that blocks its thread (a synchronous SMTP client, `std::fs`, image resizing) stalls
//! a runtime worker and every task on it. Register it with [`Registry::defer_blocking`]: it
//! runs on tokio's blocking pool, in order with the response's other blocks, bounded and
//! counted like them.
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
//!   it. Work that must survive those belongs in a job queue: with the `durable-sqlite` or
//!   `durable-postgres` feature, `durable::DeferDurable::defer_durable` persists it in an apalis
//!   queue before the response and still runs it here right after. Plain `defer!` is for work
//!   that may be lost but should not hold up the response (e-mails you can resend, cache
//!   warming, metrics, audit lines).
//! - A body dropped before it was ever polled counts as Completed: that is how HEAD, 204 and 304
//!   responses end. A client that resets an HTTP/2 stream after the head but before the first
//!   body poll lands there too.
//! - Completed is as precise as the connection's write buffer: a data frame over 64 KiB is handed
//!   on in 64 KiB slices of the same `Bytes` (no copy), and the blocks wait until the connection
//!   drops the last bytes, which it does once it has written them; a connection that fails while
//!   its buffer (hyper: about 400 KiB by default) still holds them is not seen. This applies to
//!   `Bytes` data; other data types are forwarded as they are.
//! - Behind a buffering reverse proxy (nginx's default), Completed means the proxy has the body,
//!   not its client; a 101 is Completed when the switch was handed over, whatever the session
//!   after it does. The README's limits give the measurements.
//! - [`Outcome::body_bytes`] counts the bytes the handler's body handed over, before any
//!   encoding a layer outside it (compression) applies.
//! - Blocks run on the tokio runtime current when the body is dropped; if there is none, they
//!   are counted as lost and logged (on their executor). Timeouts need the runtime's time driver.
//!
//! # Cargo features
//! - `axum` (default): the `#[after_response]` attribute, `defer!`, `Registry::finish` and what
//!   the attribute expands to. With `default-features = false` the crate depends on neither
//!   axum nor the macro crate (nor `syn`): `http`, `http-body`, `tokio` and small helpers (the
//!   `tower-layer`/`tower-service` trait crates among them), with the plain [`Registry`] API for
//!   hyper, tonic or tower services.
//! - `durable-sqlite`, `durable-postgres` (off; each turns on `durable`): the `durable` module,
//!   deferred work persisted in an apalis 1.0 queue (`SQLite` file or Postgres).
//! - `metrics` (off): the metrics above, through the `metrics` facade. Off, nothing is
//!   measured or emitted.
//! - `test-util` (off; for `[dev-dependencies]`): every executor attaches a [`Completion`] to
//!   each response with deferred work, for tests to await. Off, handles cost nothing, and
//!   [`Config::completion_handles`] turns them on for one executor.
#![deny(missing_docs)]
// Denied, not forbidden: the one exception is `smallbox!`'s expansion (block.rs), its crate's
// way of storing an unsized value inline on stable Rust.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum_support;
mod block;
mod body;
mod completion;
mod config;
#[cfg(feature = "axum")]
mod defer_macro;
#[cfg(feature = "durable")]
pub mod durable;
mod executor;
mod latch;
mod observe;
mod outcome;
mod output;
mod registry;
mod scope;
mod stats;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use after_response_macros::after_response;
pub use body::DeferredBody;
pub use completion::{Completion, CompletionFuture};
pub use config::Config;
pub use executor::{shutdown, stats, DrainReport, Executor};
pub use observe::{Failure, FailureKind};
pub use outcome::{Outcome, OutcomeKind};
pub use output::DeferredOutput;
pub use registry::{DeferHandle, Registry};
pub use scope::{OnExecutor, Scoped};
pub use stats::Stats;
