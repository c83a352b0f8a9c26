//! The zero-configuration path: a handler with `defer!` and no set-up at all runs its blocks on
//! the process default executor, which `after_response::stats()` and
//! `after_response::shutdown` act on. These tests check that process-wide executor, so they
//! have a binary of their own and take turns.

use std::time::Duration;

use after_response::{after_response, defer, Completion, Executor, Registry};
use after_response_tests::probe::{Event, Probe};
use after_response_tests::{ops, within, Proto, Server, PROTOCOLS};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::sync::Mutex;

/// Taken by every test here: they read and drain the one process default.
static PROCESS_DEFAULT: Mutex<()> = Mutex::const_new(());

#[after_response]
async fn hello(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.send(Event::Plain);
    }
    "hello"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_with_no_set_up_runs_counts_and_drains_on_the_process_default() {
    let _turn = PROCESS_DEFAULT.lock().await;
    let (probe, mut observer) = Probe::new();
    // No executor layer: the router exactly as a user without any set-up writes it.
    let router = Router::new().route("/", get(hello)).with_state(probe);
    let mut server = Server::start_on(router, Executor::process_default()).await;
    let before = after_response::stats();
    for proto in PROTOCOLS {
        assert_eq!(common_get(&server, proto).await, "hello");
        server.settle().await;
        assert!(matches!(observer.next().await, Event::Plain));
    }
    assert_eq!(
        ops::changes(&before, &after_response::stats()),
        [("finished", 2)]
    );
    assert_eq!(after_response::stats(), Executor::process_default().stats());
    let report = within(
        "the drain",
        after_response::shutdown(Duration::from_secs(5)),
    )
    .await;
    assert!(report.is_complete(), "{report:?}");
}

#[tokio::test]
async fn a_registry_outside_every_scope_is_on_the_process_default() {
    let _turn = PROCESS_DEFAULT.lock().await;
    let before = after_response::stats();
    let registry = Registry::new("unscoped");
    registry.defer(async {});
    let response = registry.attach(http::Response::new(String::new()));
    let completion = Completion::of(&response);
    drop(response);
    within("the block", completion).await;
    assert_eq!(
        ops::changes(&before, &after_response::stats()),
        [("finished", 1)]
    );
}

async fn common_get(server: &Server, proto: Proto) -> bytes::Bytes {
    after_response_tests::get(&after_response_tests::client(proto), server, "/")
        .await
        .1
}
