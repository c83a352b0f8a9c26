//! Counters match what happened: every way a block can end moves exactly its own counter, over a
//! real server on both protocols; a runtime dropped without a drain, and a body dropped with no
//! runtime at all, count as lost and are logged. One test on runtimes it builds itself (so it
//! can drop them), counting on an executor of its own.

use after_response_tests as common;
use after_response_tests::ops;

use after_response::{after_response, defer, Config, OutcomeKind};
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::probe::{Event, Probe};
use common::{logs, within, Server, PROTOCOLS};
use http_body_util::{BodyExt as _, Full};

#[after_response]
async fn mixed(State(probe): State<Probe>) -> &'static str {
    let fail = true;
    let cancelled = defer! {};
    cancelled.cancel();
    defer! {
        Err::<(), _>("marker-counters: an error")
    }
    defer! {
        assert!(!fail, "marker-counters: a deliberate panic");
    }
    defer! {
        probe.send(Event::Step("finished"));
    }
    "mixed"
}

#[after_response]
async fn streaming(State(probe): State<Probe>) -> Body {
    defer! {
        // Skipped: the client leaves mid-body.
    }
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    common::endless_body(&["first chunk"])
}

#[after_response]
async fn held(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.send(Event::Step("started"));
        probe.wait_for_gate().await; // never opened
    }
    "held"
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/mixed", get(mixed))
        .route("/stream", get(streaming))
        .route("/held", get(held))
        .with_state(probe)
}

#[test]
fn every_ending_moves_its_own_counter() {
    let executor = Config::default().build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();

    // Finished, failed, panicked, cancelled; and skipped when the response is aborted.
    let before = executor.stats();
    let tokio_runtime = logs.runtime(2);
    tokio_runtime.block_on(async {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start_on(router(probe), executor.clone()).await;
        for proto in PROTOCOLS {
            let client = common::client(proto);
            assert_eq!(common::get(&client, &server, "/mixed").await.1, "mixed");
            server.settle().await;
            assert_eq!(observer.next_step().await, "finished", "{proto:?}");

            let mut body = common::get_streaming(&client, &server, "/stream")
                .await
                .into_body();
            within("the first chunk", body.frame())
                .await
                .unwrap()
                .unwrap();
            drop(body); // the client leaves mid-body
            server.settle().await;
            let outcome = observer.next_outcome().await;
            assert_eq!(outcome.kind(), OutcomeKind::Aborted, "{proto:?}");
        }
    });
    drop(tokio_runtime);
    assert_eq!(
        ops::changes(&before, &executor.stats()),
        [
            ("finished", 4),
            ("failed", 2),
            ("panicked", 2),
            ("cancelled", 2),
            ("skipped", 2),
        ]
    );
    assert_eq!(logs.lines_with("marker-counters: an error").len(), 2);
    assert_eq!(
        logs.lines_with("marker-counters: a deliberate panic").len(),
        2
    );

    // A runtime dropped without a drain while a block runs: lost, and logged.
    let before = executor.stats();
    let tokio_runtime = logs.runtime(2);
    tokio_runtime.block_on(async {
        let (probe, mut observer) = Probe::new();
        let server = Server::start_on(router(probe), executor.clone()).await;
        let client = common::client(common::Proto::Http1);
        assert_eq!(common::get(&client, &server, "/held").await.1, "held");
        assert_eq!(observer.next_step().await, "started");
        assert_eq!(ops::changes(&before, &executor.stats()), [("in_flight", 1)]);
    });
    drop(tokio_runtime);
    assert_eq!(ops::changes(&before, &executor.stats()), [("lost", 1)]);
    let lines = logs.lines_with("the runtime dropped deferred blocks");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("ERROR") && line.contains("blocks=1")),
        "{lines:?}"
    );

    // A body dropped where there is no runtime at all: lost, and logged with the handler.
    let before = executor.stats();
    let registry = executor.registry("ops_counters::by_hand");
    registry.defer(async {});
    let response = registry.attach(http::Response::new(Full::new(Bytes::from_static(b"x"))));
    drop(response);
    assert_eq!(ops::changes(&before, &executor.stats()), [("lost", 1)]);
    let lines = logs.lines_with("no tokio runtime");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("ERROR") && line.contains("ops_counters::by_hand")),
        "{lines:?}"
    );
}
