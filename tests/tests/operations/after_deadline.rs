//! After a drain deadline: running blocks left behind go on and are counted by how they end;
//! blocks left behind unstarted are never started, and counted as abandoned; work fired after
//! the drain returned still runs, and is counted as lost if the runtime drops it. One test, on
//! a runtime it builds itself so it can drop that runtime.

use after_response_tests as common;
use after_response_tests::ops;

use std::time::Duration;

use after_response::{after_response, defer, Config};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{logs, within, Proto, Server};
use futures_util::future::join_all;

const SLOTS: usize = 2;
const REQUESTS: usize = 4;

#[after_response]
async fn two_blocks(State(probe): State<Probe>) -> &'static str {
    let second = probe.clone();
    // Sends ignore a closed channel: the late block is still held when the runtime drops.
    defer! {
        let _ = probe.events.send(Event::Step("first started"));
        probe.wait_for_gate().await;
        let _ = probe.events.send(Event::Step("first finished"));
    }
    defer! {
        let _ = second.events.send(Event::Step("second started"));
    }
    "two blocks"
}

#[test]
fn left_behind_work_is_never_started_and_later_work_still_runs() {
    let executor = Config::default().max_in_flight(SLOTS).build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    let before = executor.stats();
    let runtime = logs.runtime(2);

    runtime.block_on(async {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/two", get(two_blocks))
            .with_state(probe);
        let server = Server::start_on(router, executor.clone()).await;
        let client = common::client(Proto::Http1);
        let responses =
            join_all((0..REQUESTS).map(|_| common::get(&client, &server, "/two"))).await;
        assert!(responses.iter().all(|(_, body)| body == "two blocks"));
        for _ in 0..SLOTS {
            assert_eq!(observer.next_step().await, "first started");
        }
        ops::until("every block to be fired", || {
            executor.stats().in_flight - before.in_flight == 8
        })
        .await;

        let report = within("the drain", executor.shutdown(Duration::from_millis(20))).await;
        // Running: the 2 first blocks. Never started: their 2 second blocks, and the 4 blocks
        // of the 2 responses waiting for a slot.
        assert_eq!(
            (report.finished, report.abandoned, report.never_started),
            (0, 2, 6),
            "{report:?}"
        );

        // Work fired after the drain returned is accepted; it queues behind the slots.
        assert_eq!(common::get(&client, &server, "/two").await.1, "two blocks");
        // Release the 2 running first blocks. Their slots free up; the left-behind blocks
        // they would have gone to are dropped unstarted; the late response gets a slot and
        // its first block starts (and waits at the gate, now empty again).
        observer.open_gate(SLOTS);
        let mut steps = Vec::new();
        for _ in 0..3 {
            steps.push(observer.next_step().await);
        }
        steps.sort_unstable();
        assert_eq!(steps, ["first finished", "first finished", "first started"]);
        ops::until("the left-behind blocks to be dropped", || {
            executor.stats().in_flight - before.in_flight == 2
        })
        .await;
        assert!(observer.is_quiet(), "no left-behind block may start");
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("in_flight", 2), ("finished", 2), ("abandoned", 6)]
        );
    });
    // The late response's blocks are still in flight: dropped with the runtime, and lost.
    drop(runtime);
    assert_eq!(
        ops::changes(&before, &executor.stats()),
        [("finished", 2), ("abandoned", 6), ("lost", 2)]
    );
    let lost = logs.lines_with("they are lost");
    assert!(lost.len() == 1 && lost[0].contains("blocks=2"), "{lost:?}");
}
