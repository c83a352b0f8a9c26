//! `Registry::defer_blocking`: the closure runs on tokio's blocking pool, in registration order
//! with the response's other blocks, and is counted like them.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use after_response::{Completion, Config};
use after_response_tests::{within, PATIENCE};
use tokio::sync::mpsc;

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_closure_runs_off_the_runtime_in_order_and_is_counted() {
    let executor = Config::default().build();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (release, released) = std_mpsc::channel::<()>();
    let runtime_thread = std::thread::current().id();

    let registry = executor.registry("blocking");
    let first = Arc::clone(&order);
    registry.defer(async move { first.lock().unwrap().push("async before") });
    let blocking = Arc::clone(&order);
    registry.defer_blocking(move || {
        let off_the_runtime = std::thread::current().id() != runtime_thread;
        started_tx.send(off_the_runtime).unwrap();
        // Blocks its thread until the test, which runs on the runtime's only thread, answers:
        // had it run on that thread, the test could not.
        released
            .recv_timeout(PATIENCE)
            .expect("released by the test");
        blocking.lock().unwrap().push("blocking");
    });
    let last = Arc::clone(&order);
    registry.defer(async move { last.lock().unwrap().push("async after") });
    let response = registry.attach(http::Response::new(String::from("ok")));
    let completion = Completion::of(&response);
    drop(response);

    assert!(
        within("the blocking closure to start", started.recv())
            .await
            .unwrap(),
        "it runs on the blocking pool, not on the runtime's thread"
    );
    assert_eq!(
        *order.lock().unwrap(),
        ["async before"],
        "the next block waits for it"
    );
    release.send(()).unwrap();
    within("the blocks", completion).await;
    assert_eq!(
        *order.lock().unwrap(),
        ["async before", "blocking", "async after"]
    );
    assert_eq!(executor.stats().finished, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_closures_err_and_panic_are_counted_and_the_next_block_runs() {
    let executor = Config::default().build();
    let registry = executor.registry("blocking_faults");
    registry.defer_blocking(|| Err::<(), _>("smtp refused"));
    registry.defer_blocking(|| -> () { panic!("a deliberate panic in a blocking block") });
    registry.defer_blocking(|| Ok::<(), String>(()));
    let response = registry.attach(http::Response::new(String::new()));
    let completion = Completion::of(&response);
    drop(response);
    within("the blocks", completion).await;
    let stats = executor.stats();
    assert_eq!((stats.failed, stats.panicked, stats.finished), (1, 1, 1));
}
