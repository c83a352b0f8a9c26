//! Long run over a real loopback server, HTTP/1.1 and HTTP/2: many requests, each with one
//! deferred block. In-flight returns to zero, the tracker drains empty, the counters balance and
//! resident memory at the end stays within 10% of what it was after warm-up.
//!
//! Short counts by default; `AFTER_RESPONSE_SOAK=full` runs 200,000 requests per protocol.

use after_response_tests as common;
use after_response_tests::soak;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use after_response::{after_response, defer};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::{within, Server, TestClient, PROTOCOLS};
use http_body_util::{BodyExt as _, Empty};

const CLIENTS: u64 = 32;

#[after_response]
async fn one(State(ran): State<Arc<AtomicU64>>) -> &'static str {
    defer! {
        ran.fetch_add(1, Ordering::Relaxed);
    }
    "one block"
}

/// Sends `count` requests from `CLIENTS` concurrent clients while a collector awaits each
/// response's completion handle; returns once every block of every response has finished.
async fn run(server: &mut Server, client: &Arc<TestClient>, count: u64) {
    let next = Arc::new(AtomicU64::new(0));
    let url = Arc::new(server.url("/one"));
    let mut workers = Vec::new();
    for _ in 0..CLIENTS.min(count) {
        let (next, client, url) = (Arc::clone(&next), Arc::clone(client), Arc::clone(&url));
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let request = http::Request::get(url.as_str()).body(Empty::new()).unwrap();
                let response = within("the response", client.request(request))
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let body = within("the body", response.into_body().collect()).await;
                assert_eq!(body.unwrap().to_bytes(), "one block");
            }
        }));
    }
    // Awaiting the completions as they come keeps the tap's channel short.
    for _ in 0..count {
        within(
            "the response's block",
            server.next_completion().await.wait(),
        )
        .await;
    }
    for worker in workers {
        within("the clients", worker).await.unwrap();
    }
}

#[test]
fn long_run() {
    let _serial = soak::serial();
    let requests = soak::scale(6_000, 200_000) as u64;
    let warm_up = soak::scale(4_000, 20_000) as u64;
    soak::runtime().block_on(async {
        let ran = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/one", get(one))
            .with_state(Arc::clone(&ran));
        let mut server = Server::start(app).await;
        let executor = server.executor.clone();
        let start = executor.stats();
        for proto in PROTOCOLS {
            let client = Arc::new(common::client(proto));
            let ran_before = ran.load(Ordering::Relaxed);
            run(&mut server, &client, warm_up).await;
            let warm_rss = soak::rss_kib();
            let before = executor.stats();
            run(&mut server, &client, requests).await;
            let after = executor.stats();
            let end_rss = soak::rss_kib();

            let delta = soak::delta(&before, &after);
            assert_eq!(after.in_flight, 0, "{proto:?}: in-flight back to zero");
            assert_eq!(delta.finished, requests, "{proto:?}: every block ran");
            assert_eq!(ran.load(Ordering::Relaxed) - ran_before, warm_up + requests);
            assert_eq!(
                (
                    delta.lost,
                    delta.failed,
                    delta.panicked,
                    delta.shed,
                    delta.skipped
                ),
                (0, 0, 0, 0, 0),
                "{proto:?}"
            );
            println!(
                "long run {proto:?}: {requests} requests after {warm_up} warm-up, blocks run \
                 {}, in flight {}, lost {}; VmRSS {warm_rss} KiB after warm-up, {end_rss} KiB \
                 at the end",
                delta.finished, after.in_flight, delta.lost
            );
            assert!(
                end_rss * 10 <= warm_rss * 11,
                "{proto:?}: resident memory grew from {warm_rss} KiB to {end_rss} KiB"
            );
        }
        // Nothing is left for a drain to wait for: the tracker is empty.
        let report = within("the drain", executor.shutdown(Duration::from_secs(10))).await;
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(
            (report.finished, report.abandoned, report.never_started),
            (0, 0, 0)
        );
        let total = soak::delta(&start, &executor.stats());
        assert_eq!(total.in_flight, 0);
        assert_eq!(total.finished, 2 * (warm_up + requests));
        assert_eq!(total.lost + total.abandoned, 0);
        println!("long run drain: {report:?}; totals {total:?}");
    });
}
