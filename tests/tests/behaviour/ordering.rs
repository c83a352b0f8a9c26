//! Order and causality: the response is out before any block runs; FIFO; exactly once.

use after_response_tests as common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::probe::{Event, Probe};
use common::{Server, PROTOCOLS};
use futures_util::StreamExt as _;

#[derive(Clone)]
struct AppState {
    probe: Probe,
    /// Set by the response body when it hands over its last chunk.
    last_chunk_sent: Arc<AtomicBool>,
}

#[after_response]
async fn ordered(State(state): State<AppState>) -> Body {
    let AppState {
        probe,
        last_chunk_sent,
    } = state;
    let flag = Arc::clone(&last_chunk_sent);
    defer! {
        // The first line of user code: the body must already be fully handed over.
        let step = if flag.load(Ordering::SeqCst) { "started after last chunk" } else { "started early" };
        probe.send(Event::Step(step));
        probe.wait_for_gate().await;
        probe.send(Event::Step("finished"));
    }
    let chunks = futures_util::stream::iter(["first,", "last"]).map(move |chunk| {
        if chunk == "last" {
            last_chunk_sent.store(true, Ordering::SeqCst);
        }
        Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))
    });
    Body::from_stream(chunks)
}

#[after_response]
async fn fifo(State(state): State<AppState>) -> &'static str {
    let probe = state.probe;
    for step in ["one", "two", "three"] {
        let probe = probe.clone();
        defer! {
            probe.send(Event::Step(step));
        }
    }
    let fourth = probe.clone();
    defer!(|_outcome| {
        fourth.send(Event::Step("four (always)"));
    });
    defer! {
        probe.send(Event::Step("five"));
    }
    "fifo"
}

#[after_response]
async fn counted(Path(id): Path<u32>, State(state): State<AppState>) -> String {
    let probe = state.probe;
    let id: &'static str = Box::leak(id.to_string().into_boxed_str());
    let first = probe.clone();
    defer! {
        first.send(Event::Step(id));
    }
    defer!(|_outcome| {
        probe.send(Event::Step(id));
    });
    id.to_owned()
}

fn router() -> (Router, common::probe::Observer) {
    let (probe, observer) = Probe::new();
    let state = AppState {
        probe,
        last_chunk_sent: Arc::new(AtomicBool::new(false)),
    };
    let router = Router::new()
        .route("/ordered", get(ordered))
        .route("/fifo", get(fifo))
        .route("/counted/{id}", get(counted))
        .with_state(state);
    (router, observer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_is_received_before_the_block_finishes_and_after_it_was_sent() {
    for proto in PROTOCOLS {
        let (router, mut observer) = router();
        let mut server = Server::start(router).await;
        // The block is held at the gate: the client still gets the whole response.
        let (_, body) = common::get(&common::client(proto), &server, "/ordered").await;
        assert_eq!(body, "first,last");
        assert_eq!(
            observer.next_step().await,
            "started after last chunk",
            "{proto:?}"
        );
        observer.open_gate(1);
        assert_eq!(observer.next_step().await, "finished");
        server.settle().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_run_in_registration_order() {
    for proto in PROTOCOLS {
        let (router, mut observer) = router();
        let mut server = Server::start(router).await;
        common::get(&common::client(proto), &server, "/fifo").await;
        server.settle().await;
        for expected in ["one", "two", "three", "four (always)", "five"] {
            assert_eq!(observer.next_step().await, expected, "{proto:?}");
        }
        assert!(observer.is_quiet());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_runs_exactly_once() {
    const REQUESTS: u32 = 25;
    for proto in PROTOCOLS {
        let (router, mut observer) = router();
        let mut server = Server::start(router).await;
        let client = common::client(proto);
        for id in 0..REQUESTS {
            common::get(&client, &server, &format!("/counted/{id}")).await;
            server.settle().await;
        }
        let mut runs: HashMap<&'static str, u32> = HashMap::new();
        for _ in 0..REQUESTS * 2 {
            *runs.entry(observer.next_step().await).or_default() += 1;
        }
        assert!(observer.is_quiet(), "{proto:?}: no block may run twice");
        assert_eq!(runs.len(), REQUESTS as usize);
        assert!(
            runs.values().all(|&count| count == 2),
            "{proto:?}: {runs:?}"
        );
    }
}
