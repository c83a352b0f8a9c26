//! Timeouts: a block that outlives its timeout (the default from `Config`, or its own from
//! `defer!(timeout = .. => ..)`) is cancelled, logged and counted, and the next block of the
//! same response runs. The blocks under test wait forever; nothing here measures time.

use after_response_tests as common;
use after_response_tests::ops;

use std::time::Duration;

use after_response::{after_response, defer, Config, Executor};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Observer, Probe};
use common::{logs, Proto, Server};
use ops::Witness;

/// The default timeout for this process: the thing under test, so it is short.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(20);

/// The test's executor, with the default timeout under test, and its log capture.
fn setup() -> (Executor, logs::Capture) {
    let executor = Config::default().block_timeout(DEFAULT_TIMEOUT).build();
    (executor, logs::Capture::new())
}

#[after_response]
async fn hangs(State(probe): State<Probe>) -> &'static str {
    let witness = Witness::new(&probe, "hung block dropped");
    defer! {
        let _witness = witness;
        std::future::pending::<()>().await;
    }
    defer! {
        probe.send(Event::Step("next block ran"));
    }
    "hangs"
}

#[after_response]
async fn own_timeouts(State(probe): State<Probe>) -> &'static str {
    let (short, always) = (
        Witness::new(&probe, "short block dropped"),
        Witness::new(&probe, "always block dropped"),
    );
    let (long, last) = (probe.clone(), probe.clone());
    defer!(timeout = Duration::from_millis(1) => {
        let _witness = short;
        std::future::pending::<()>().await;
    });
    defer!(timeout = Duration::from_secs(3600) => {
        // Outlives the default timeout: only its own, longer one applies.
        tokio::time::sleep(DEFAULT_TIMEOUT * 5).await;
        long.send(Event::Step("long block finished"));
    });
    defer!(timeout = Duration::from_millis(2) => |outcome| {
        let _witness = always;
        assert!(outcome.is_completed());
        std::future::pending::<()>().await;
    });
    defer! {
        last.send(Event::Step("last block ran"));
    }
    "own timeouts"
}

fn router() -> (Router, Observer) {
    let (probe, observer) = Probe::new();
    let router = Router::new()
        .route("/hangs", get(hangs))
        .route("/own", get(own_timeouts))
        .with_state(probe);
    (router, observer)
}

#[test]
fn the_default_timeout_cancels_a_hung_block_and_the_next_one_runs() {
    let (executor, logs) = setup();
    logs.block_on(async {
        let (router, mut observer) = router();
        let mut server = Server::start_on(router, executor.clone()).await;
        let before = executor.stats();

        for proto in common::PROTOCOLS {
            let (_, body) = common::get(&common::client(proto), &server, "/hangs").await;
            assert_eq!(body, "hangs");
            server.settle().await;
            // Cancelled (its captures dropped), then the next block ran.
            assert_eq!(
                observer.next_step().await,
                "hung block dropped",
                "{proto:?}"
            );
            assert_eq!(observer.next_step().await, "next block ran", "{proto:?}");
        }

        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 2), ("timed_out", 2)]
        );
        let lines = logs.lines_with("timed out and was cancelled");
        let hung: Vec<_> = lines
            .iter()
            .filter(|line| line.contains("timeout::hangs"))
            .collect();
        assert_eq!(hung.len(), 2, "{lines:?}");
        assert!(
            hung.iter()
                .all(|line| line.contains("ERROR") && line.contains("timeout=20ms")),
            "{hung:?}"
        );
    });
}

#[test]
fn a_blocks_own_timeout_overrides_the_default() {
    let (executor, logs) = setup();
    logs.block_on(async {
        let (router, mut observer) = router();
        let mut server = Server::start_on(router, executor.clone()).await;
        let before = executor.stats();

        let (_, body) = common::get(&common::client(Proto::Http1), &server, "/own").await;
        assert_eq!(body, "own timeouts");
        server.settle().await;
        // In registration order: each timed-out block was cancelled and the next one ran.
        for step in [
            "short block dropped",
            "long block finished",
            "always block dropped",
            "last block ran",
        ] {
            assert_eq!(observer.next_step().await, step);
        }

        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 2), ("timed_out", 2)]
        );
        let lines: Vec<_> = logs
            .lines_with("timed out and was cancelled")
            .into_iter()
            .filter(|line| line.contains("timeout::own_timeouts"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("timeout=1ms"), "{lines:?}");
        assert!(lines[1].contains("timeout=2ms"), "{lines:?}");
    });
}
