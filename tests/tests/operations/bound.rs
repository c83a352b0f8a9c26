//! The bound on work in flight: with `max_in_flight(8)`, 100 responses whose blocks wait never
//! have more than 8 blocks running (a high-water mark, not a clock), and all 100 finish. On an
//! executor of its own, so its counters are this test's alone.

use after_response_tests as common;
use after_response_tests::ops;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use after_response::{after_response, defer, Config};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{Proto, Server};

const LIMIT: usize = 8;
const REQUESTS: usize = 100;

/// How many blocks run right now, and the most that ever ran at once.
#[derive(Default)]
struct Meter {
    running: AtomicUsize,
    high_water: AtomicUsize,
}

#[derive(Clone)]
struct App {
    probe: Probe,
    meter: Arc<Meter>,
}

#[after_response]
async fn bounded(State(app): State<App>) -> &'static str {
    defer! {
        let now = app.meter.running.fetch_add(1, SeqCst) + 1;
        app.meter.high_water.fetch_max(now, SeqCst);
        app.probe.send(Event::Step("started"));
        app.probe.wait_for_gate().await;
        app.meter.running.fetch_sub(1, SeqCst);
        app.probe.send(Event::Step("finished"));
    }
    "bounded"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_max_in_flight_blocks_run_at_once_and_all_finish() {
    let executor = Config::default().max_in_flight(LIMIT).build();
    let (probe, mut observer) = Probe::new();
    let meter = Arc::new(Meter::default());
    let app = App {
        probe,
        meter: Arc::clone(&meter),
    };
    let mut server = Server::start_on(
        Router::new()
            .route("/bounded", get(bounded))
            .with_state(app),
        executor.clone(),
    )
    .await;
    let (http1, http2) = (common::client(Proto::Http1), common::client(Proto::Http2));
    let before = executor.stats();

    // Every response is sent while the blocks wait: waiting for a slot holds no connection.
    let responses = common::get_round_robin(&[&http1, &http2], &server, "/bounded", REQUESTS).await;
    assert!(responses.iter().all(|(_, body)| body == "bounded"));

    // The first 8 take every slot and hold it at the closed gate ...
    for _ in 0..LIMIT {
        assert_eq!(observer.next_step().await, "started");
    }
    ops::until("every block to be fired", || {
        executor.stats().in_flight - before.in_flight == 100
    })
    .await;
    // ... so with all 100 fired, exactly 8 run and 92 wait; none of those can have started.
    assert_eq!(meter.running.load(SeqCst), LIMIT);
    assert!(observer.is_quiet(), "a ninth block started");
    assert_eq!(
        ops::changes(&before, &executor.stats()),
        [("in_flight", 100)]
    );

    // Let everything through: the waiting 92 start as slots free up.
    observer.open_gate(REQUESTS);
    let (mut started, mut finished) = (LIMIT, 0);
    for _ in 0..(2 * REQUESTS - LIMIT) {
        match observer.next_step().await {
            "started" => started += 1,
            "finished" => finished += 1,
            other => panic!("unexpected step {other}"),
        }
    }
    assert_eq!((started, finished), (REQUESTS, REQUESTS));
    for _ in 0..REQUESTS {
        server.settle().await;
    }

    assert_eq!(
        meter.high_water.load(SeqCst),
        LIMIT,
        "never more than 8 at once"
    );
    assert_eq!(meter.running.load(SeqCst), 0);
    assert_eq!(
        ops::changes(&before, &executor.stats()),
        [("finished", 100)]
    );
}
