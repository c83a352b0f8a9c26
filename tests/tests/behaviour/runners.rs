//! Runners: a response's blocks run on a long-lived task that waits, between responses, in the
//! pool of the thread it last ran on (`runtime/src/executor/runner.rs`). What must hold whatever
//! wakes it and whichever runtimes share the thread: each response handed to exactly one runner
//! of its own runtime, every block run once, nothing lost unseen.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use after_response::{after_response, defer, Completion, Config};
use after_response_tests::{client, get, get_round_robin, within, Proto, Server};
use axum::routing::get as route;
use axum::Router;

static STALE: Mutex<Option<Waker>> = Mutex::new(None);
static COUNTED: AtomicU64 = AtomicU64::new(0);

#[after_response]
async fn leaves_its_waker() -> &'static str {
    defer! {
        // Leaves the runner's waker behind, as a channel or a timer it registered with might.
        std::future::poll_fn(|cx| {
            *STALE.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
    }
    "left"
}

#[after_response]
async fn counts() -> &'static str {
    defer! { COUNTED.fetch_add(1, SeqCst); }
    "counted"
}

#[after_response]
async fn runs_a_block() -> &'static str {
    defer! { std::hint::black_box(()); }
    "ran"
}

/// One thread: server, connections and runners. The runner that ran the first block waits in the
/// pool when its stale waker polls it; then 32 responses end at once, several of them before any
/// runner runs.
#[tokio::test(flavor = "current_thread")]
async fn a_runner_woken_while_it_waits_is_still_handed_one_response_at_a_time() {
    let router = Router::new()
        .route("/leave", route(leaves_its_waker))
        .route("/count", route(counts));
    let mut server = Server::start(router).await;
    let (http1, http2) = (client(Proto::Http1), client(Proto::Http2));

    get(&http1, &server, "/leave").await;
    server.settle().await;
    let stale = STALE.lock().unwrap().take().expect("the block ran");
    stale.wake();
    // The woken runner is polled before this test's task runs again.
    tokio::task::yield_now().await;

    let responses = get_round_robin(&[&http1, &http2], &server, "/count", 32).await;
    assert!(responses.iter().all(|(parts, _)| parts.status == 200));
    for _ in 0..32 {
        server.settle().await;
    }
    assert_eq!(COUNTED.load(SeqCst), 32);
    let stats = server.stats();
    assert_eq!((stats.finished, stats.lost, stats.in_flight), (33, 0, 0));
}

/// Two live runtimes take turns on one thread. The first one's runner waits in this thread's pool
/// while the first runtime is not being driven: a block of the second runtime handed to it would
/// never run, and `settle` would give up.
#[test]
fn a_waiting_runner_is_only_handed_responses_of_its_own_runtime() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let (first, second) = (runtime(), runtime());
    for turn in [&first, &second, &first] {
        turn.block_on(async {
            let mut server = Server::start(Router::new().route("/run", route(runs_a_block))).await;
            get(&client(Proto::Http1), &server, "/run").await;
            server.settle().await;
            assert_eq!(server.stats().finished, 1);
        });
    }
}

/// A response handed to a waiting runner that its runtime then drops before polling it: the
/// runner's drop drops the response's blocks, counted and logged as lost, not silently gone.
#[test]
fn blocks_handed_to_a_runner_its_runtime_drops_are_counted_lost() {
    let executor = Config::default().build();
    let ran = Arc::new(AtomicU64::new(0));
    let response = |ran: &Arc<AtomicU64>| {
        let registry = executor.registry("handed_then_dropped");
        let ran = Arc::clone(ran);
        registry.defer(async move {
            ran.fetch_add(1, SeqCst);
        });
        registry.attach(http::Response::new(String::new()))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A first response leaves its runner waiting in this thread's pool.
        let first = response(&ran);
        let completion = Completion::of(&first);
        drop(first);
        within("the first response's block", completion).await;
        // The second is handed to that runner, which is woken but not polled before the
        // runtime goes: nothing here yields again.
        drop(response(&ran));
    });
    drop(runtime);
    assert_eq!(ran.load(SeqCst), 1);
    let stats = executor.stats();
    assert_eq!((stats.finished, stats.lost, stats.in_flight), (1, 1, 0));
}

/// Once a response's blocks have ended, the runner that waits for the next response holds
/// nothing of it: an executor dropped by its owner is dropped, failure hook and all, even while
/// the runner that ran its blocks waits in the pool.
#[tokio::test(flavor = "current_thread")]
async fn a_waiting_runner_keeps_no_executor_alive() {
    let hook_state = Arc::new(());
    let held_by_hook = Arc::clone(&hook_state);
    let executor = Config::default()
        .completion_handles(true)
        .on_failure(move |_| drop(Arc::clone(&held_by_hook)))
        .build();
    let registry = executor.registry("keeps_nothing");
    registry.defer(async {});
    let response = registry.attach(http::Response::new(String::new()));
    let completion = Completion::of(&response);
    drop(response);
    within("the block", completion).await;
    assert_eq!(executor.stats().finished, 1);

    drop(executor);
    assert_eq!(
        Arc::strong_count(&hook_state),
        1,
        "the executor, and its hook, were dropped"
    );
}
