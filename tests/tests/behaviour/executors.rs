//! Executors of their own: two routers in one process, each on its executor with its own bound,
//! counters and drain; part of a router on another executor; a hand-written tower service that
//! creates its registry in `call`. The handlers are the same code whatever executor runs them.

use after_response_tests as common;
use after_response_tests::handlers::held;
use after_response_tests::ops;

use std::pin::pin;

use after_response::{after_response, defer, Completion, Config, Executor, Registry, Stats};
use axum::routing::get;
use axum::Router;
use common::probe::Probe;
use common::{within, Proto, Server, PATIENCE};
use futures_util::future::poll_immediate;

#[after_response]
async fn quick() -> &'static str {
    defer! {}
    "quick"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_run_on_two_executors_each_bounding_counting_and_draining_its_own() {
    // The same handler behind both; only the executors differ.
    let narrow = Config::default().max_in_flight(1).max_queued(1).build();
    let wide = Config::default().max_in_flight(3).build();
    let (narrow_probe, mut narrow_observer) = Probe::new();
    let (wide_probe, mut wide_observer) = Probe::new();
    let route = |probe| Router::new().route("/held", get(held)).with_state(probe);
    let narrow_server = Server::start_on(route(narrow_probe), narrow.clone()).await;
    let wide_server = Server::start_on(route(wide_probe), wide.clone()).await;
    let client = common::client(Proto::Http1);
    let default_before = after_response::stats();

    for server in [&narrow_server, &wide_server] {
        let responses = common::get_round_robin(&[&client], server, "/held", 3).await;
        assert!(responses.iter().all(|(_, body)| body == "held"));
    }
    // Narrow: one slot, one place in the queue, so of 3 responses one runs, one waits, one is
    // shed. Wide: all 3 run at once.
    assert_eq!(narrow_observer.next_step().await, "started");
    for _ in 0..3 {
        assert_eq!(wide_observer.next_step().await, "started");
    }
    ops::until("narrow's blocks to be fired or shed", || {
        let stats = narrow.stats();
        stats.in_flight == 2 && stats.shed == 1
    })
    .await;
    assert!(
        narrow_observer.is_quiet(),
        "narrow ran a second block at once"
    );
    assert_eq!(
        ops::changes(&Stats::default(), &narrow.stats()),
        [("in_flight", 2), ("shed", 1)]
    );
    assert_eq!(
        ops::changes(&Stats::default(), &wide.stats()),
        [("in_flight", 3)]
    );

    // Wide drains alone: its report is its 3 blocks, while narrow's are still held.
    // Each drain starts before its blocks are released, so it counts them (a block that ended
    // before the drain began is not the drain's).
    let mut wide_drain = pin!(wide.shutdown(PATIENCE));
    assert!(poll_immediate(&mut wide_drain).await.is_none());
    wide_observer.open_gate(3);
    let wide_report = within("wide's drain", wide_drain).await;
    assert_eq!(
        (
            wide_report.finished,
            wide_report.abandoned,
            wide_report.never_started
        ),
        (3, 0, 0)
    );
    assert_eq!(
        narrow.stats().in_flight,
        2,
        "wide's drain left narrow's work alone"
    );
    // Narrow's drain waits for its own two (the queued one starts once the first ends).
    let mut narrow_drain = pin!(narrow.shutdown(PATIENCE));
    assert!(poll_immediate(&mut narrow_drain).await.is_none());
    narrow_observer.open_gate(2);
    let narrow_report = within("narrow's drain", narrow_drain).await;
    assert_eq!(
        (
            narrow_report.finished,
            narrow_report.abandoned,
            narrow_report.never_started
        ),
        (2, 0, 0)
    );

    assert_eq!(
        ops::changes(&Stats::default(), &narrow.stats()),
        [("finished", 2), ("shed", 1)]
    );
    assert_eq!(
        ops::changes(&Stats::default(), &wide.stats()),
        [("finished", 3)]
    );
    assert_eq!(
        ops::changes(&default_before, &after_response::stats()),
        [],
        "nothing ran on the process default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_of_a_router_runs_on_its_own_executor() {
    let reports = Config::default().build();
    let router = Router::new().route("/quick", get(quick)).merge(
        Router::new()
            .route("/reports", get(quick))
            .layer(reports.clone()),
    );
    let mut server = Server::start(router).await;
    let client = common::client(Proto::Http2);

    for _ in 0..2 {
        common::get(&client, &server, "/reports").await;
        server.settle().await;
    }
    common::get(&client, &server, "/quick").await;
    server.settle().await;
    // The innermost layer wins: /reports on `reports`, /quick on the server's own.
    assert_eq!(reports.stats().finished, 2);
    assert_eq!(server.stats().finished, 1);
}

#[tokio::test]
async fn a_registry_created_in_call_or_in_a_scope_uses_that_executor() {
    use tower::ServiceExt as _;

    let executor = Config::default().build();
    // A hand-written service that builds its registry in `call`, outside any future.
    let service = tower::service_fn(|_request: http::Request<()>| {
        let registry = Registry::new("by_hand");
        registry.defer(async {});
        let response = registry.attach(http::Response::new(String::from("by hand")));
        std::future::ready(Ok::<_, std::convert::Infallible>(response))
    });
    let service = tower::Layer::layer(&executor, service);
    let response = service.oneshot(http::Request::new(())).await.unwrap();
    let completion = Completion::of(&response);
    drop(response);
    within("the block", completion).await;
    assert_eq!(executor.stats().finished, 1);

    // Scopes nest: the innermost one is the registry's executor.
    let inner = Config::default().build();
    let response = executor
        .scope(async {
            inner
                .scope(async {
                    let registry = Registry::new("nested");
                    registry.defer(async {});
                    registry.attach(http::Response::new(String::new()))
                })
                .await
        })
        .await;
    let completion = Completion::of(&response);
    drop(response);
    within("the nested block", completion).await;
    assert_eq!((executor.stats().finished, inner.stats().finished), (1, 1));
    assert!(!inner.same_executor(&executor));
    assert!(!executor.same_executor(&Executor::process_default()));
}
