//! Shutdown mid-load, over a real loopback server, HTTP/1.1 and HTTP/2 at once: the server is
//! stopped while hundreds of blocks are in flight, and the drain report accounts for every one.
//!
//! Runs on an executor of its own with a bound of `SLOTS` responses running at once, so that
//! some work is still waiting for a slot at the deadline.

use after_response_tests as common;
use after_response_tests::soak;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use after_response::{after_response, defer, Config, DrainReport, Executor};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::{ops, within, Proto, PROTOCOLS};
use http_body_util::{BodyExt as _, Empty};
use soak::GracefulServer;
use tokio::sync::{mpsc, Semaphore};

/// Responses running their blocks at once; the others wait for a slot.
const SLOTS: usize = 400;
/// Blocks let through the gate once the drain has started.
const RELEASED: usize = 50;
/// The drain's deadline. The released blocks need microseconds; the others never end.
const DEADLINE: Duration = Duration::from_secs(5);
const CLIENTS: u64 = 16;

#[derive(Clone)]
struct App {
    gate: Arc<Semaphore>,
    started: mpsc::UnboundedSender<()>,
}

#[after_response]
async fn work(State(app): State<App>) -> &'static str {
    defer! {
        app.started.send(()).unwrap();
        app.gate.acquire().await.unwrap().forget();
    }
    "working"
}

/// Starts a server, gets `blocks` responses (half over each protocol) whose blocks are all in
/// flight, stops the server, then drains: once the drain has begun, `release` blocks may finish.
async fn shutdown_mid_load(
    executor: &Executor,
    blocks: u64,
    release: usize,
    deadline: Duration,
) -> DrainReport {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let app = App {
        gate: Arc::new(Semaphore::new(0)),
        started: started_tx,
    };
    let (router, mut dropped) = soak::drop_tap(
        Router::new()
            .route("/work", get(work))
            .with_state(app.clone()),
    );
    let server = GracefulServer::start_on(router, executor.clone()).await;
    let before = executor.stats();
    let mut senders = Vec::new();
    for proto in PROTOCOLS {
        let share = blocks / 2 + u64::from(proto == Proto::Http1) * (blocks % 2);
        let client = Arc::new(common::client(proto));
        let url = Arc::new(format!("http://{}/work", server.addr));
        let next = Arc::new(AtomicU64::new(0));
        for _ in 0..CLIENTS {
            let (client, url, next) = (Arc::clone(&client), Arc::clone(&url), Arc::clone(&next));
            senders.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < share {
                    let request = http::Request::get(url.as_str()).body(Empty::new()).unwrap();
                    let response = within("the response", client.request(request))
                        .await
                        .unwrap();
                    let body = within("the body", response.into_body().collect()).await;
                    assert_eq!(body.unwrap().to_bytes(), "working");
                }
            }));
        }
    }
    for sender in senders {
        soak::within_long("the clients", sender).await.unwrap();
    }
    // Every body dropped, and every response fired (when the connection let go of its last
    // bytes, which can come after the body's drop); the ones holding a slot started their block.
    soak::within_long("the drops", soak::receive_count(&mut dropped, blocks)).await;
    ops::until("every response fired", || {
        soak::delta(&before, &executor.stats()).in_flight == blocks
    })
    .await;
    let running = blocks.min(SLOTS as u64);
    soak::within_long(
        "the blocks to start",
        soak::receive_count(&mut started, running),
    )
    .await;
    let loaded = soak::delta(&before, &executor.stats());
    assert_eq!(loaded.in_flight, blocks, "every block is in flight");
    assert_eq!(loaded.finished, 0);

    server.stop().await;
    let drain = executor.shutdown(deadline);
    let mut drain = std::pin::pin!(drain);
    // The drain takes its starting count on its first poll; only then is the gate opened.
    let first = std::future::poll_fn(|cx| Poll::Ready(drain.as_mut().poll(cx))).await;
    assert!(first.is_pending(), "work is in flight");
    app.gate.add_permits(release);
    let report = soak::within_long("the drain", drain).await;
    println!("shutdown mid-load: {blocks} blocks in flight, {release} released: {report:?}");
    report
}

#[test]
fn shutdown_mid_load_accounts_for_every_block() {
    let executor = Config::default().max_in_flight(SLOTS).build();
    let blocks = soak::scale(500, 5_000) as u64;
    let start = executor.stats();
    let runtime = soak::runtime();

    // Every block released: the drain waits for all of them.
    let report = runtime.block_on(shutdown_mid_load(
        &executor,
        blocks,
        usize::try_from(blocks).unwrap(),
        DEADLINE,
    ));
    assert_eq!(
        (report.finished, report.abandoned, report.never_started),
        (blocks, 0, 0)
    );
    assert!(report.is_complete());

    // A few released: the deadline passes with blocks running and blocks never started.
    let report = runtime.block_on(shutdown_mid_load(&executor, blocks, RELEASED, DEADLINE));
    let slots = SLOTS as u64;
    let released = RELEASED as u64;
    let expected = if blocks > slots {
        // Each released block frees a slot for a waiting one, which then waits on the gate.
        let waiting = blocks - slots;
        (released, slots, waiting.saturating_sub(released))
    } else {
        (released, blocks - released, 0)
    };
    assert_eq!(
        (report.finished, report.abandoned, report.never_started),
        expected
    );
    assert_eq!(
        report.finished + report.abandoned + report.never_started,
        blocks,
        "every block in flight is accounted for"
    );
    assert!(!report.is_complete());

    // The runtime drops what was left: counted as abandoned, none lost.
    drop(runtime);
    let total = soak::delta(&start, &executor.stats());
    assert_eq!(total.in_flight, 0);
    assert_eq!(total.finished, blocks + released);
    assert_eq!(total.abandoned, blocks - released);
    assert_eq!(total.lost, 0);
    println!("shutdown mid-load totals: {total:?}");
}
