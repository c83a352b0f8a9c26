//! The policy when full: with 2 slots and 3 places in the queue, a flood of responses whose
//! blocks wait keeps exactly 5 responses' blocks in memory; the rest are shed at once (their
//! captures freed), each logged and counted. On an executor of its own.

use after_response_tests as common;
use after_response_tests::ops;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use after_response::{after_response, defer, Config};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{logs, Proto, Server};
use ops::Witness;

const SLOTS: usize = 2;
const QUEUE: usize = 3;
const REQUESTS: usize = 50;
const SHED: usize = REQUESTS - SLOTS - QUEUE;

#[derive(Clone)]
struct App {
    probe: Probe,
    /// Witnesses alive: each block captures one, so this counts the blocks held in memory.
    census: Arc<AtomicUsize>,
}

#[after_response]
async fn flooded(State(app): State<App>) -> &'static str {
    let App { probe, census } = app;
    let witness = Witness::counted(&probe, "captures freed", &census);
    defer! {
        let _witness = witness;
        probe.send(Event::Step("started"));
        probe.wait_for_gate().await;
    }
    "flooded"
}

#[test]
fn a_flood_beyond_the_queue_is_shed_logged_and_counted_and_memory_stays_bounded() {
    let executor = Config::default()
        .max_in_flight(SLOTS)
        .max_queued(QUEUE)
        .build();
    let logs = logs::Capture::new();
    logs.block_on(async {
        let (probe, mut observer) = Probe::new();
        let census = Arc::new(AtomicUsize::new(0));
        let app = App {
            probe,
            census: Arc::clone(&census),
        };
        let mut server = Server::start_on(
            Router::new()
                .route("/flooded", get(flooded))
                .with_state(app),
            executor.clone(),
        )
        .await;
        let (http1, http2) = (common::client(Proto::Http1), common::client(Proto::Http2));
        let before = executor.stats();

        let responses =
            common::get_round_robin(&[&http1, &http2], &server, "/flooded", REQUESTS).await;
        // Shedding deferred work never touches the responses.
        assert!(responses
            .iter()
            .all(|(parts, body)| parts.status == 200 && body == "flooded"));

        // 2 blocks run (held at the gate), 3 wait for a slot, 45 are dropped without running.
        let (mut started, mut freed) = (0, 0);
        for _ in 0..(SLOTS + SHED) {
            match observer.next_step().await {
                "started" => started += 1,
                "captures freed" => freed += 1,
                other => panic!("unexpected step {other}"),
            }
        }
        assert_eq!((started, freed), (SLOTS, SHED));
        // Memory held by deferred work: the 5 blocks it keeps, whatever the flood.
        assert_eq!(census.load(SeqCst), SLOTS + QUEUE);
        ops::until("the queued blocks to be fired", || {
            executor.stats().in_flight - before.in_flight == 5
        })
        .await;
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("in_flight", 5), ("shed", 45)]
        );
        let warnings = logs.lines_with("deferred work is full");
        assert_eq!(warnings.len(), SHED, "one warning per shed response");
        assert!(
            warnings.iter().all(|line| line.contains("WARN")
                && line.contains("flood::flooded")
                && line.contains("max_queued=3")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|line| line.contains("shed_total=")));

        // Release: the 2 running end, the 3 queued run and end.
        observer.open_gate(SLOTS + QUEUE);
        let (mut started, mut freed) = (0, 0);
        for _ in 0..(QUEUE + SLOTS + QUEUE) {
            match observer.next_step().await {
                "started" => started += 1,
                "captures freed" => freed += 1,
                other => panic!("unexpected step {other}"),
            }
        }
        assert_eq!((started, freed), (QUEUE, SLOTS + QUEUE));
        for _ in 0..REQUESTS {
            server.settle().await;
        }
        assert_eq!(census.load(SeqCst), 0);
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 5), ("shed", 45)]
        );
    });
}
