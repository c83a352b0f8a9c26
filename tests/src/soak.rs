//! Helpers for the reliability suite: scale, a seeded RNG, counters, resident memory, a drop
//! tap and a server that shuts down gracefully.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use after_response::{Config, Executor, Stats};
use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

use crate::PATIENCE;

/// The environment variable that selects the full counts: `AFTER_RESPONSE_SOAK=full`.
pub const SOAK_VAR: &str = "AFTER_RESPONSE_SOAK";

/// `true` when `AFTER_RESPONSE_SOAK=full`: the documented full run. Otherwise the short
/// configuration that `cargo test --workspace` runs.
#[must_use]
pub fn full() -> bool {
    std::env::var(SOAK_VAR).is_ok_and(|value| value == "full")
}

/// `short` in the default configuration, `full` under `AFTER_RESPONSE_SOAK=full`.
#[must_use]
pub fn scale(short: usize, full: usize) -> usize {
    if self::full() {
        full
    } else {
        short
    }
}

/// A seeded splitmix64 generator: reproducible "random" points without a crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// Serialises the tests of one binary that measure something process-wide (resident memory).
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A two-worker runtime, like the CI machine's two cores.
#[must_use]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits (bounded by [`PATIENCE`]) until `done` holds for `executor`'s counters. The short
/// pause between reads only spaces the reads out; nothing is ordered by it.
pub async fn until_stats(executor: &Executor, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    crate::within(what, async {
        loop {
            let stats = executor.stats();
            if done(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// The counters' change from `before` to `after` (every counter only grows, except in-flight).
#[must_use]
pub fn delta(before: &Stats, after: &Stats) -> Stats {
    let mut delta = *after;
    delta.in_flight = after.in_flight.wrapping_sub(before.in_flight);
    delta.finished -= before.finished;
    delta.failed -= before.failed;
    delta.panicked -= before.panicked;
    delta.timed_out -= before.timed_out;
    delta.cancelled -= before.cancelled;
    delta.skipped -= before.skipped;
    delta.shed -= before.shed;
    delta.abandoned -= before.abandoned;
    delta.lost -= before.lost;
    delta
}

/// This process's resident memory in KiB (`VmRSS` from `/proc/self/status`).
#[must_use]
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A layer that reports each response body's drop **after** the inner body (and with it the
/// deferred-body wrapper, which fires synchronously in its `Drop`) is gone: once the tap has
/// reported N drops, N responses have fired their blocks.
pub fn drop_tap(router: Router) -> (Router, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = router.layer(axum::middleware::map_response(
        move |response: axum::response::Response| {
            let tx = tx.clone();
            async move {
                response.map(|body| {
                    Body::new(Tapped {
                        inner: Some(body),
                        tx,
                    })
                })
            }
        },
    ));
    (router, rx)
}

struct Tapped {
    inner: Option<Body>,
    tx: mpsc::UnboundedSender<()>,
}

impl http_body::Body for Tapped {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for Tapped {
    fn drop(&mut self) {
        drop(self.inner.take());
        let _ = self.tx.send(());
    }
}

/// Receives `count` reports from a channel, each within [`PATIENCE`].
pub async fn receive_n<T>(what: &str, rx: &mut mpsc::UnboundedReceiver<T>, count: usize) -> Vec<T> {
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(crate::within(what, rx.recv()).await.expect("sender alive"));
    }
    items
}

/// A server that can be stopped gracefully (`axum::serve(..).with_graceful_shutdown(..)`).
pub struct GracefulServer {
    pub addr: SocketAddr,
    /// The executor the server's handlers run their blocks on.
    pub executor: Executor,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl GracefulServer {
    /// Serves `router` on an executor of its own with the default [`Config`].
    pub async fn start(router: Router) -> Self {
        Self::start_on(router, Config::default().build()).await
    }

    /// Serves `router` with its blocks on `executor`.
    pub async fn start_on(router: Router, executor: Executor) -> Self {
        let router = router.layer(executor.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            executor,
            stop: Some(stop),
            task,
        }
    }

    /// Stops accepting, lets open connections finish, and waits for the server to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("stopped once").send(());
        let task = &mut self.task;
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the server stopped gracefully")
            .unwrap();
    }
}

/// The bound on a whole loop of the full run (each step inside is bounded by [`PATIENCE`]).
pub const LONG_PATIENCE: Duration = Duration::from_secs(900);

/// Awaits `future`, failing the test if it does not finish within [`LONG_PATIENCE`].
pub async fn within_long<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(LONG_PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// Receives `count` items from a channel, dropping them as they come.
pub async fn receive_count<T>(rx: &mut mpsc::UnboundedReceiver<T>, count: u64) {
    for _ in 0..count {
        crate::within("the next report", rx.recv())
            .await
            .expect("sender alive");
    }
}

/// The seed of the suite's random choices: `AFTER_RESPONSE_SEED` (a number), or a fixed default,
/// so that a run can be repeated exactly and other seeds can be explored on purpose.
#[must_use]
pub fn seed() -> u64 {
    std::env::var("AFTER_RESPONSE_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5EED)
}

/// A proptest runner with `cases` cases, seeded from [`seed`] (no failure files).
#[must_use]
pub fn proptest_runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Silences the default panic message for deliberate panics, those whose message contains
/// `marker` (thousands of them would flood the output); every other panic still prints.
/// Installed once per test process.
pub fn quiet_deliberate_panics(marker: &'static str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !message.contains(marker) {
                default(info);
            }
        }));
    });
}
