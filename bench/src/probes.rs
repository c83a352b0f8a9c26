//! Handlers for the isolation and start-delay measurements.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Notify;

use crate::bodies::Stamped;
use crate::clock;

/// The last start-delay block's first line ran at this [`clock::now_ns`].
pub static BLOCK_START_NS: AtomicU64 = AtomicU64::new(0);
/// Notified once [`BLOCK_START_NS`] is stored.
pub static BLOCK_STARTED: Notify = Notify::const_new();

/// `/none` (no deferred block), `/noop` (an empty block), `/sleep` (one block sleeping
/// 200 ms), `/stamp` (start delay) and `/stamp-spawn` (its control: a body whose `Drop` does a
/// bare `tokio::spawn`, i.e. the least any spawn-on-drop design can cost).
pub fn router() -> Router {
    Router::new()
        .route("/none", get(none))
        .route("/noop", get(noop))
        .route("/sleep", get(sleep))
        .route("/stamp", get(stamp))
        .route("/stamp-spawn", get(stamp_spawn))
}

fn block_started() {
    BLOCK_START_NS.store(clock::now_ns(), Relaxed);
    BLOCK_STARTED.notify_one();
}

#[after_response]
async fn none() -> &'static str {
    "Hello, World!"
}

#[after_response]
async fn noop() -> &'static str {
    defer! {}
    "Hello, World!"
}

#[after_response]
async fn sleep() -> &'static str {
    defer! {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    "Hello, World!"
}

#[after_response]
async fn stamp() -> Body {
    defer! {
        block_started();
    }
    Body::new(Stamped(Some(Bytes::from_static(b"Hello, World!"))))
}

async fn stamp_spawn() -> Body {
    Body::new(SpawnOnDrop {
        inner: Stamped(Some(Bytes::from_static(b"Hello, World!"))),
    })
}

pin_project_lite::pin_project! {
    /// Forwards `B`; on drop spawns a task that records its start.
    struct SpawnOnDrop<B> {
        #[pin]
        inner: B,
    }
    impl<B> PinnedDrop for SpawnOnDrop<B> {
        fn drop(_this: Pin<&mut Self>) {
            tokio::spawn(async {
                block_started();
            });
        }
    }
}

impl<B: HttpBody> HttpBody for SpawnOnDrop<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
