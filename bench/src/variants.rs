//! The server variants: one trivial handler (a 13-byte static body), and each way of running
//! the same trivial work (an atomic increment) after it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;
use tower_http::trace::TraceLayer;

use crate::bodies::OneChunk;

/// Incremented once per unit of "work": by deferred blocks, spawned tasks, `on_eos`.
pub static WORK: AtomicU64 = AtomicU64::new(0);

const BODY: &str = "Hello, World!";

fn work() {
    WORK.fetch_add(1, Relaxed);
}

/// One server configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Plain,
    NoBlock,
    OneDefer,
    /// One `defer!` whose future is too large to be stored inline (it captures 32 bytes), as
    /// most blocks that await something are.
    OneDeferHeap,
    FourDefers,
    Spawn,
    TraceEos,
    PlainChunked,
    TraceEosChunked,
}

impl Variant {
    /// Every variant, the baseline first.
    pub const ALL: [Self; 9] = [
        Self::Plain,
        Self::NoBlock,
        Self::OneDefer,
        Self::OneDeferHeap,
        Self::FourDefers,
        Self::Spawn,
        Self::TraceEos,
        Self::PlainChunked,
        Self::TraceEosChunked,
    ];

    /// The row label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Plain => "1 plain axum (baseline)",
            Self::NoBlock => "2 `#[after_response]`, no block",
            Self::OneDefer => "3 one `defer!`",
            Self::OneDeferHeap => "3h one `defer!`, future on the heap",
            Self::FourDefers => "4 four `defer!`",
            Self::Spawn => "5 `tokio::spawn` in handler",
            Self::TraceEos => "6 `TraceLayer` + `on_eos`",
            Self::PlainChunked => "1c plain axum, chunked body",
            Self::TraceEosChunked => "6c `TraceLayer` + `on_eos`, chunked body",
        }
    }

    /// How many times the work should run per request.
    pub const fn expected_work(self) -> u64 {
        match self {
            Self::Plain | Self::NoBlock | Self::PlainChunked => 0,
            Self::OneDefer
            | Self::OneDeferHeap
            | Self::Spawn
            | Self::TraceEos
            | Self::TraceEosChunked => 1,
            Self::FourDefers => 4,
        }
    }

    /// The variant's router, serving `GET /`.
    pub fn router(self) -> Router {
        let router = Router::new();
        match self {
            Self::Plain => router.route("/", get(plain)),
            Self::NoBlock => router.route("/", get(no_block)),
            Self::OneDefer => router.route("/", get(one_defer)),
            Self::OneDeferHeap => router.route("/", get(one_defer_heap)),
            Self::FourDefers => router.route("/", get(four_defers)),
            Self::Spawn => router.route("/", get(spawned)),
            Self::TraceEos => router
                .route("/", get(plain))
                .layer(TraceLayer::new_for_http().on_eos(on_eos)),
            Self::PlainChunked => router.route("/", get(chunked)),
            Self::TraceEosChunked => router
                .route("/", get(chunked))
                .layer(TraceLayer::new_for_http().on_eos(on_eos)),
        }
    }
}

async fn plain() -> &'static str {
    BODY
}

#[after_response]
async fn no_block() -> &'static str {
    BODY
}

#[after_response]
async fn one_defer() -> &'static str {
    defer! {
        work();
    }
    BODY
}

#[after_response]
async fn one_defer_heap() -> &'static str {
    // 32 bytes captured: more than a block's future can hold inline (16 bytes), like a block
    // that captures a `String` and an `Arc`, or awaits anything.
    let captured = std::hint::black_box([1_u64; 4]);
    defer! {
        if captured.iter().sum::<u64>() == 4 {
            work();
        }
    }
    BODY
}

#[after_response]
async fn four_defers() -> &'static str {
    defer! {
        work();
    }
    defer! {
        work();
    }
    defer! {
        work();
    }
    defer! {
        work();
    }
    BODY
}

async fn spawned() -> &'static str {
    tokio::spawn(async { work() });
    BODY
}

async fn chunked() -> Body {
    Body::new(OneChunk(Some(Bytes::from_static(BODY.as_bytes()))))
}

fn on_eos(_: Option<&HeaderMap>, _: Duration, _: &tracing::Span) {
    work();
}
