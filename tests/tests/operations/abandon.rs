//! Drain deadline: blocks that never finish are reported abandoned (running) or never started
//! (waiting for a slot, or behind a stuck block of their own response), logged, and counted as
//! abandoned when the runtime drops them: none is dropped silently. Blocks fired after the
//! drain returned are counted (and logged) as lost. One test, on a runtime it builds itself so
//! it can drop that runtime.

use after_response_tests as common;
use after_response_tests::ops;

use std::time::Duration;

use after_response::{after_response, defer, Config};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{logs, within, Proto, Server};

const REQUESTS: u64 = 200;
/// Fewer slots than requests, so the report has both kinds of never-started work.
const SLOTS: u64 = 150;
/// Each response defers a stuck block and a second one behind it.
const BLOCKS: u64 = 2 * REQUESTS;

#[after_response]
async fn stuck(State(probe): State<Probe>) -> &'static str {
    let second = probe.clone();
    // Sends ignore a closed channel: while the runtime is being dropped, after this test's
    // observer is gone, the late block may still get a slot and start.
    defer! {
        let _ = probe.events.send(Event::Step("started"));
        probe.wait_for_gate().await; // never opened
    }
    defer!(|_outcome| {
        // Never reached: it waits behind the stuck block of its own response.
        let _ = second.events.send(Event::Step("second block started"));
    });
    "stuck"
}

#[test]
fn a_drain_deadline_reports_and_counts_every_block_left_behind() {
    let executor = Config::default()
        .max_in_flight(usize::try_from(SLOTS).unwrap())
        .build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    let before = executor.stats();
    let runtime = logs.runtime(2);

    let report = runtime.block_on(async {
        let (probe, mut observer) = Probe::new();
        let router = Router::new().route("/stuck", get(stuck)).with_state(probe);
        let server = Server::start_on(router, executor.clone()).await;
        let (http1, http2) = (common::client(Proto::Http1), common::client(Proto::Http2));
        let responses = common::get_round_robin(
            &[&http1, &http2],
            &server,
            "/stuck",
            usize::try_from(REQUESTS).unwrap(),
        )
        .await;
        assert!(responses.iter().all(|(_, body)| body == "stuck"));
        for _ in 0..SLOTS {
            assert_eq!(observer.next_step().await, "started");
        }
        // The other 50 responses' blocks wait for a slot (HTTP/2 may drop a body a moment
        // after the client has it, so wait for the counter rather than assume).
        ops::until("every block to be fired", || {
            executor.stats().in_flight - before.in_flight == BLOCKS
        })
        .await;

        // The thing under test: a deadline that passes while blocks are stuck.
        let report = within("the drain", executor.shutdown(Duration::from_millis(50))).await;
        // Left-behind work is not cancelled: it is still in flight.
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("in_flight", 400)]
        );
        assert!(observer.is_quiet(), "no waiting block may start");

        // Work fired after the drain returned is accepted (it waits for a slot) and is in no
        // report: if the runtime drops it, it is lost, not abandoned.
        let (_, body) = common::get(&http1, &server, "/stuck").await;
        assert_eq!(body, "stuck");
        ops::until("the late block to be fired", || {
            executor.stats().in_flight - before.in_flight == BLOCKS + 2
        })
        .await;
        report
    });
    // Dropping the runtime drops every block still in flight.
    drop(runtime);

    assert_eq!(
        (report.finished, report.abandoned, report.never_started),
        // Running: the 150 first blocks holding the slots. Never started: the 150 second
        // blocks behind them, and both blocks of the 50 responses waiting for a slot.
        (0, SLOTS, BLOCKS - SLOTS),
        "{report:?}"
    );
    assert!(!report.is_complete());
    assert_eq!(
        ops::changes(&before, &executor.stats()),
        [("abandoned", 400), ("lost", 2)],
        "every block left behind is counted as abandoned; the one fired later as lost"
    );
    let lines = logs.lines_with("deferred work left behind");
    assert!(
        lines.iter().any(|line| line.contains("WARN")
            && line.contains("abandoned=150")
            && line.contains("never_started=250")),
        "{lines:?}"
    );
    let lost = logs.lines_with("they are lost");
    assert!(
        lost.len() == 1 && lost[0].contains("blocks=2"),
        "only the late block is logged as lost: {lost:?}"
    );
}
