//! Graceful drain: `shutdown` waits for blocks released while it waits, including work fired
//! after it began, and reports them all finished. The drain is of the test's own
//! executor.

use after_response_tests as common;
use after_response_tests::handlers::held;
use after_response_tests::ops;

use std::pin::pin;

use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{logs, within, Proto, Server, PATIENCE};
use futures_util::future::poll_immediate;

const REQUESTS: usize = 200;

#[test]
fn shutdown_waits_for_every_block_released_while_it_waits() {
    let logs = logs::Capture::new();
    logs.block_on(async {
        let (probe, mut observer) = Probe::new();
        let server = Server::start(Router::new().route("/held", get(held)).with_state(probe)).await;
        let executor = server.executor.clone();
        let (http1, http2) = (common::client(Proto::Http1), common::client(Proto::Http2));
        let before = executor.stats();

        let responses =
            common::get_round_robin(&[&http1, &http2], &server, "/held", REQUESTS).await;
        assert!(responses
            .iter()
            .all(|(parts, body)| parts.status == 200 && body == "held"));
        for _ in 0..REQUESTS {
            assert_eq!(observer.next_step().await, "started");
        }
        // Every block is running and held at the gate.
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("in_flight", 200)]
        );

        let mut drain = pin!(executor.shutdown(PATIENCE));
        assert!(
            poll_immediate(&mut drain).await.is_none(),
            "the drain must wait while blocks are held"
        );
        // Work fired after the drain began is accepted, run, and waited for by the same drain.
        assert_eq!(common::get(&http1, &server, "/held").await.1, "held");
        assert_eq!(observer.next_step().await, "started");
        // Release every block while the drain waits.
        observer.open_gate(REQUESTS + 1);
        let report = within("the drain", drain).await;

        assert_eq!(
            (report.finished, report.abandoned, report.never_started),
            (201, 0, 0),
            "{report:?}"
        );
        assert!(report.is_complete());
        // The drain returned only once every block had ended: all their last events are in.
        for _ in 0..=REQUESTS {
            assert!(matches!(
                observer.events.try_recv(),
                Ok(Event::Step("finished"))
            ));
        }
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 201)]
        );
        let lines = logs.lines_with("drained all deferred work");
        assert!(
            lines
                .iter()
                .any(|line| line.contains("INFO") && line.contains("finished=201")),
            "{lines:?}"
        );
    });
}
