//! Flood against the bound, over a real loopback server, HTTP/1.1 and HTTP/2: requests come
//! faster than their blocks finish (the blocks wait on a gate the test holds closed).
//!
//! The documented policy (`Config::max_in_flight`, `Config::max_queued`): `max_in_flight`
//! responses run their blocks, `max_queued` more wait for a slot, and past that new work is
//! shed: dropped (with everything it captured), logged and counted in `Stats::shed`; the
//! responses themselves are never held. Memory stays bounded: whatever the flood's size, the
//! number of live blocks is `max_in_flight + max_queued`.
//!
//! Each test builds its own executor with that bound; the resident-memory figure is the
//! process's, so the file lives in the `memory` binary.

use after_response_tests as common;
use after_response_tests::soak;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use after_response::{after_response, defer, Config, Executor};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::{logs, ops, within, TestClient, PROTOCOLS};
use http_body_util::{BodyExt as _, Empty};
use soak::GracefulServer;
use tokio::sync::{mpsc, Semaphore};

const MAX_IN_FLIGHT: usize = 4;
const MAX_QUEUED: usize = 16;
const BOUND: u64 = (MAX_IN_FLIGHT + MAX_QUEUED) as u64;
const CLIENTS: u64 = 32;
const SHED_LOG: &str = "deferred work is full";

/// Counts the blocks alive (registered and not yet dropped): the memory the flood holds.
struct Held(Arc<AtomicU64>);

impl Held {
    fn new(live: &Arc<AtomicU64>) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(live))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct App {
    live: Arc<AtomicU64>,
    gate: Arc<Semaphore>,
    ran: mpsc::UnboundedSender<()>,
}

#[after_response]
async fn flood(State(app): State<App>) -> &'static str {
    let held = Held::new(&app.live);
    defer! {
        app.gate.acquire().await.unwrap().forget();
        drop(held);
        app.ran.send(()).unwrap();
    }
    "accepted"
}

/// Sends `count` requests from `CLIENTS` concurrent clients, every one answered while the
/// gate is closed; returns the most live blocks any client saw after its response.
async fn flood_wave(
    client: &Arc<TestClient>,
    url: &Arc<String>,
    live: &Arc<AtomicU64>,
    count: u64,
) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..CLIENTS.min(count) {
        let (next, client, url) = (Arc::clone(&next), Arc::clone(client), Arc::clone(url));
        let (live, peak) = (Arc::clone(live), Arc::clone(&peak));
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let request = http::Request::get(url.as_str()).body(Empty::new()).unwrap();
                let response = within("the response", client.request(request))
                    .await
                    .unwrap();
                let body = within("the body", response.into_body().collect()).await;
                assert_eq!(body.unwrap().to_bytes(), "accepted");
                peak.fetch_max(live.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }));
    }
    for worker in workers {
        soak::within_long("the flood", worker).await.unwrap();
    }
    peak.load(Ordering::Relaxed)
}

/// The test's executor, with the bound under test, and its log capture (shed warnings only
/// counted), entered on the test thread and on every thread of the runtime it returns.
fn bounded() -> (Executor, logs::Capture, tokio::runtime::Runtime) {
    let executor = Config::default()
        .max_in_flight(MAX_IN_FLIGHT)
        .max_queued(MAX_QUEUED)
        .build();
    let logs = logs::Capture::counting(&[SHED_LOG]);
    let runtime = logs.runtime(2);
    (executor, logs, runtime)
}

#[test]
fn flood_against_the_bound() {
    let _serial = soak::serial();
    let (executor, logs, runtime) = bounded();
    let _entered = logs.enter();
    let requests = soak::scale(3_000, 100_000) as u64;
    let warm_up = soak::scale(1_000, 10_000) as u64;
    runtime.block_on(async {
        for proto in PROTOCOLS {
            let (ran_tx, mut ran) = mpsc::unbounded_channel();
            let app = App {
                live: Arc::new(AtomicU64::new(0)),
                gate: Arc::new(Semaphore::new(0)),
                ran: ran_tx,
            };
            let (router, mut dropped) = soak::drop_tap(
                Router::new()
                    .route("/flood", get(flood))
                    .with_state(app.clone()),
            );
            // No completion tap here: the test keeps nothing per request.
            let server = GracefulServer::start_on(router, executor.clone()).await;
            let client = Arc::new(common::client(proto));
            let url = Arc::new(format!("http://{}/flood", server.addr));
            let shed_logged_before = logs.count(SHED_LOG);
            let before = executor.stats();

            // The flood, with the gate closed: no block can finish. A warm-up wave first, then
            // the rest. A response fires when the connection lets go of its last bytes, which
            // can come after its body's drop (the tap): the counters say when all have fired.
            let mut peak_live = flood_wave(&client, &url, &app.live, warm_up).await;
            soak::within_long("the drops", soak::receive_count(&mut dropped, warm_up)).await;
            let rss_warm = soak::rss_kib();
            peak_live =
                peak_live.max(flood_wave(&client, &url, &app.live, requests - warm_up).await);
            soak::within_long(
                "the drops",
                soak::receive_count(&mut dropped, requests - warm_up),
            )
            .await;
            ops::until("every response fired", || {
                let delta = soak::delta(&before, &executor.stats());
                delta.in_flight + delta.shed == requests
            })
            .await;
            let rss_flooded = soak::rss_kib();

            let flooded = executor.stats();
            let delta = soak::delta(&before, &flooded);
            let shed = requests - BOUND;
            assert_eq!(delta.in_flight, BOUND, "{proto:?}: running + queued");
            assert_eq!(delta.shed, shed, "{proto:?}: the rest is shed");
            assert_eq!(delta.finished, 0, "{proto:?}: the gate is closed");
            assert_eq!(
                app.live.load(Ordering::Relaxed),
                BOUND,
                "{proto:?}: shed blocks were dropped with what they captured"
            );
            let shed_logged = logs.count(SHED_LOG) - shed_logged_before;
            assert_eq!(shed_logged, shed, "{proto:?}: each shed response logged");

            // Open the gate: exactly the accepted blocks run, and the bound frees up again.
            app.gate.add_permits(usize::try_from(BOUND).unwrap());
            soak::receive_n(
                "the accepted blocks",
                &mut ran,
                usize::try_from(BOUND).unwrap(),
            )
            .await;
            let drained = soak::until_stats(&executor, "in-flight back to zero", |s| {
                s.in_flight == before.in_flight
            })
            .await;
            let delta = soak::delta(&before, &drained);
            assert_eq!(delta.finished, BOUND, "{proto:?}");
            assert_eq!(delta.shed, shed, "{proto:?}");
            assert_eq!(delta.lost, 0);
            assert!(ran.try_recv().is_err(), "{proto:?}: no shed block ran");
            assert_eq!(app.live.load(Ordering::Relaxed), 0);

            // After the flood the bound accepts work again.
            app.gate.add_permits(1);
            let request = http::Request::get(url.as_str()).body(Empty::new()).unwrap();
            let response = within("the response", client.request(request))
                .await
                .unwrap();
            within("the body", response.into_body().collect())
                .await
                .unwrap();
            within("the block", ran.recv()).await.unwrap();
            println!(
                "flood {proto:?}: {requests} requests answered with the gate closed; bound \
                 {MAX_IN_FLIGHT} running + {MAX_QUEUED} queued; accepted {BOUND}, shed {shed} \
                 (logged {shed_logged}), peak live blocks {peak_live}, blocks run {}, lost {}; \
                 VmRSS {rss_warm} KiB after {warm_up} requests, {rss_flooded} KiB after {requests}",
                delta.finished, delta.lost
            );
            // Within 10% on the full run. The short run is mostly the allocator warming up (a
            // few hundred KiB); what holds memory, the live blocks, is counted exactly above.
            let tolerance = if soak::full() { 10 } else { 25 };
            assert!(
                rss_flooded * 100 <= rss_warm * (100 + tolerance),
                "{proto:?}: resident memory grew from {rss_warm} KiB to {rss_flooded} KiB"
            );
            drop(client);
            server.stop().await;
        }
    });
}

/// A value whose `Drop` panics: user code that must not run inside the response body's `Drop`.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("deliberate panic in a captured value's Drop");
    }
}

#[after_response]
async fn captures_a_bomb() -> &'static str {
    let bomb = PanicOnDrop;
    defer! {
        let _bomb = bomb;
    }
    "answered"
}

/// Shed work is dropped where it is shed, inside the response body's `Drop`: the captured
/// values' `Drop` (user code) must not take the connection down with it (SPEC: "user code never
/// runs inside `poll_frame` or `Drop`"; "a panic inline in `Drop` on HTTP/1.1 kills the
/// connection task: the response is lost").
#[test]
fn a_shed_blocks_captures_are_not_dropped_on_the_connection() {
    let _serial = soak::serial();
    let (executor, logs, runtime) = bounded();
    let _entered = logs.enter();
    let mut answers = Vec::new();
    runtime.block_on(async {
        for proto in PROTOCOLS {
            let (ran_tx, mut ran) = mpsc::unbounded_channel();
            let app = App {
                live: Arc::new(AtomicU64::new(0)),
                gate: Arc::new(Semaphore::new(0)),
                ran: ran_tx,
            };
            let router = Router::new()
                .route("/flood", get(flood))
                .route("/bomb", get(captures_a_bomb))
                .with_state(app.clone());
            let (router, mut dropped) = soak::drop_tap(router);
            let server = GracefulServer::start_on(router, executor.clone()).await;
            let client = Arc::new(common::client(proto));
            let url = Arc::new(format!("http://{}/flood", server.addr));
            let before = executor.stats();
            // Fill the bound: every slot and every place in the queue.
            flood_wave(&client, &url, &app.live, BOUND).await;
            soak::receive_count(&mut dropped, BOUND).await;
            // Fired when the connection let go of their last bytes, after the bodies' drop.
            ops::until("the bound filled", || {
                soak::delta(&before, &executor.stats()).in_flight == BOUND
            })
            .await;

            let request = http::Request::get(format!("http://{}/bomb", server.addr))
                .body(Empty::new())
                .unwrap();
            let answer = within("the response", client.request(request)).await;
            let answer = match answer {
                Ok(response) => within("the body", response.into_body().collect())
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            app.gate.add_permits(usize::try_from(BOUND).unwrap());
            soak::receive_n(
                "the accepted blocks",
                &mut ran,
                usize::try_from(BOUND).unwrap(),
            )
            .await;
            println!("shed response with a panicking capture, {proto:?}: {answer:?}");
            answers.push((proto, answer.map(|body| body.to_vec())));
            drop(client);
            server.stop().await;
        }
    });
    for (proto, answer) in answers {
        assert_eq!(
            answer,
            Ok(b"answered".to_vec()),
            "{proto:?}: the shed response arrives"
        );
    }
}
