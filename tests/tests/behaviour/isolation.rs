//! Isolation: a held, panicking or failing block delays nothing and stops nothing; `cancel()`.

use after_response_tests as common;

use after_response::{after_response, defer};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Observer, Probe};
use common::{logs, Connection, Server, PROTOCOLS};

#[after_response]
async fn held(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.send(Event::Step("held block started"));
        probe.wait_for_gate().await;
        probe.send(Event::Step("held block finished"));
    }
    "held"
}

#[after_response]
async fn plain() -> &'static str {
    "plain"
}

#[after_response]
async fn panicking_block(State(probe): State<Probe>) -> &'static str {
    let fail = true;
    defer! {
        assert!(!fail, "deliberate panic in a deferred block");
    }
    defer! {
        probe.send(Event::Step("next block ran"));
    }
    "panicking"
}

#[after_response]
async fn failing_block(State(probe): State<Probe>) -> &'static str {
    defer! {
        Err::<(), _>("disk full (marker-7f3a)")
    }
    defer! {
        probe.send(Event::Step("after the error"));
    }
    "failing"
}

#[after_response]
async fn cancelling(State(probe): State<Probe>) -> &'static str {
    let cancelled = probe.clone();
    let handle = defer! {
        cancelled.send(Event::Step("cancelled block ran"));
    };
    defer! {
        probe.send(Event::Step("kept block ran"));
    }
    handle.cancel();
    "cancelling"
}

fn router() -> (Router, Observer) {
    let (probe, observer) = Probe::new();
    let router = Router::new()
        .route("/held", get(held))
        .route("/plain", get(plain))
        .route("/panicking", get(panicking_block))
        .route("/failing", get(failing_block))
        .route("/cancelling", get(cancelling))
        .with_state(probe);
    (router, observer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_block_does_not_delay_the_next_request_on_the_connection() {
    for proto in PROTOCOLS {
        let (router, mut observer) = router();
        let server = Server::start(router).await;
        let mut connection = Connection::open(proto, &server).await;
        assert_eq!(connection.get("/held").await.1, "held");
        assert_eq!(observer.next_step().await, "held block started");
        // Same keep-alive connection, while the first response's block is still held.
        assert_eq!(connection.get("/plain").await.1, "plain", "{proto:?}");
        assert!(
            observer.is_quiet(),
            "{proto:?}: the held block must still be held"
        );
        observer.open_gate(1);
        assert_eq!(observer.next_step().await, "held block finished");
    }
}

#[test]
fn a_panicking_block_is_logged_and_the_next_block_and_server_go_on() {
    let logs = logs::Capture::new();
    logs.block_on(async {
        for proto in PROTOCOLS {
            let (router, mut observer) = router();
            let mut server = Server::start(router).await;
            let client = common::client(proto);
            common::get(&client, &server, "/panicking").await;
            server.settle().await;
            assert_eq!(observer.next_step().await, "next block ran", "{proto:?}");
            // The server keeps serving, on the same client.
            assert_eq!(common::get(&client, &server, "/plain").await.1, "plain");
        }
        let lines = logs.lines_with("deliberate panic in a deferred block");
        assert!(
            lines
                .iter()
                .any(|line| line.contains("deferred block panicked")
                    && line.contains("isolation::panicking_block")),
            "{lines:?}"
        );
    });
}

#[test]
fn an_err_is_logged_with_the_handler_name_and_the_next_block_runs() {
    let logs = logs::Capture::new();
    logs.block_on(async {
        for proto in PROTOCOLS {
            let (router, mut observer) = router();
            let mut server = Server::start(router).await;
            common::get(&common::client(proto), &server, "/failing").await;
            server.settle().await;
            assert_eq!(observer.next_step().await, "after the error", "{proto:?}");
        }
        let lines = logs.lines_with("marker-7f3a");
        assert_eq!(lines.len(), 2, "one error line per protocol: {lines:?}");
        assert!(lines.iter().all(|line| line.contains("ERROR")
            && line.contains("returned an error")
            && line.contains("isolation::failing_block")));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_block_never_runs() {
    for proto in PROTOCOLS {
        let (router, mut observer) = router();
        let mut server = Server::start(router).await;
        common::get(&common::client(proto), &server, "/cancelling").await;
        server.settle().await;
        assert_eq!(observer.next_step().await, "kept block ran", "{proto:?}");
        assert!(
            observer.is_quiet(),
            "{proto:?}: the cancelled block must not run"
        );
    }
}
