//! Runtime gone: a response body dropped after its tokio runtime shut down. Its blocks cannot
//! run; they are counted in `Stats::lost` and logged, and nothing panics.
//!
//! Uses the plain `Registry` API (no server: the point is where the body is dropped). Each test
//! counts on an executor of its own.

use after_response_tests as common;
use after_response_tests::soak;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use after_response::{Completion, Config, DeferredBody, Executor};
use bytes::Bytes;
use common::logs;
use http_body_util::Full;

const NO_RUNTIME_LOG: &str = "no tokio runtime when the response ended";
const DROPPED_LOG: &str = "the runtime dropped deferred blocks before they ended";

/// A response with one plain and one always block, each of which counts in `ran` if it runs.
fn response(
    executor: &Executor,
    ran: &Arc<AtomicU64>,
) -> http::Response<DeferredBody<Full<Bytes>>> {
    let registry = executor.registry("runtime_gone");
    let plain = Arc::clone(ran);
    registry.defer(async move {
        plain.fetch_add(1, Ordering::Relaxed);
    });
    let always = Arc::clone(ran);
    registry.defer_always(move |_outcome| async move {
        always.fetch_add(1, Ordering::Relaxed);
    });
    registry.attach(http::Response::new(Full::new(Bytes::from_static(b"gone"))))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn body_dropped_on_a_plain_thread_after_the_runtime_shut_down() {
    let executor = Config::default().build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    let bodies = soak::scale(1_000, 100_000);
    let ran = Arc::new(AtomicU64::new(0));
    let logged_before = logs.lines_with(NO_RUNTIME_LOG).len();
    let before = executor.stats();
    // Built on a runtime, which then shuts down.
    let runtime = soak::runtime();
    let responses: Vec<_> =
        runtime.block_on(async { (0..bodies).map(|_| response(&executor, &ran)).collect() });
    let completions: Vec<_> = responses.iter().map(Completion::of).collect();
    drop(runtime);
    // Dropped on plain threads, four at once.
    let mut responses = responses.into_iter();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let share: Vec<_> = responses.by_ref().take(bodies.div_ceil(4)).collect();
            let logs = logs.clone();
            std::thread::spawn(move || {
                let _entered = logs.enter();
                drop(share);
            })
        })
        .collect();
    assert!(responses.next().is_none());
    for thread in threads {
        thread
            .join()
            .expect("dropping a body without a runtime does not panic");
    }
    let delta = soak::delta(&before, &executor.stats());
    let blocks = 2 * bodies as u64;
    assert_eq!(delta.lost, blocks, "every block counted as lost");
    assert_eq!(delta.in_flight, 0);
    assert_eq!(delta.finished, 0);
    assert_eq!(ran.load(Ordering::Relaxed), 0, "no block ran");
    assert!(
        completions.iter().all(Completion::is_done),
        "completion handles resolve"
    );
    let logged = logs.lines_with(NO_RUNTIME_LOG);
    assert_eq!(
        logged.len() - logged_before,
        bodies,
        "one error per response"
    );
    assert!(logged.last().unwrap().contains("ERROR"), "{logged:?}");
    assert!(
        logged.last().unwrap().contains("runtime_gone"),
        "names the handler"
    );
    println!(
        "runtime gone (plain thread): {bodies} responses, {blocks} blocks, run 0, lost {}, \
         logged {}",
        delta.lost,
        logged.len() - logged_before
    );
}

#[test]
fn blocks_fired_then_dropped_by_the_runtime_shutting_down() {
    let executor = Config::default().build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    // Under the default bound (1,024 running + 16,384 queued responses): past it, work is shed
    // when fired, not lost later.
    let bodies = soak::scale(1_000, 10_000);
    let ran = Arc::new(AtomicU64::new(0));
    let logged_before = logs.lines_with(DROPPED_LOG).len();
    let before = executor.stats();
    let runtime = current_thread();
    // The bodies are dropped inside the runtime, which spawns their tasks; the runtime shuts
    // down before it ever runs them (a current-thread runtime runs tasks only when it yields).
    let completions = runtime.block_on(async {
        let responses: Vec<_> = (0..bodies).map(|_| response(&executor, &ran)).collect();
        let completions: Vec<_> = responses.iter().map(Completion::of).collect();
        drop(responses);
        completions
    });
    let fired = soak::delta(&before, &executor.stats());
    assert_eq!(fired.in_flight, 2 * bodies as u64, "fired, not yet run");
    drop(runtime);
    let delta = soak::delta(&before, &executor.stats());
    let blocks = 2 * bodies as u64;
    assert_eq!(delta.lost, blocks, "every block counted as lost");
    assert_eq!((delta.in_flight, delta.finished), (0, 0));
    assert_eq!(ran.load(Ordering::Relaxed), 0, "no block ran");
    assert!(
        completions.iter().all(Completion::is_done),
        "completion handles resolve"
    );
    let logged = logs.lines_with(DROPPED_LOG).len() - logged_before;
    assert_eq!(logged, bodies, "one error per response");
    println!(
        "runtime gone (dropped by the runtime): {bodies} responses, {blocks} blocks, run 0, \
         lost {}, logged {logged}",
        delta.lost
    );
}

#[test]
fn body_dropped_inside_a_dead_runtimes_context() {
    let executor = Config::default().build();
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    let ran = Arc::new(AtomicU64::new(0));
    let before = executor.stats();
    let runtime = soak::runtime();
    let handle = runtime.handle().clone();
    let response = runtime.block_on(async { response(&executor, &ran) });
    let completion = Completion::of(&response);
    drop(runtime);
    // The handle outlives its runtime: entering it still makes it "current".
    let dropped = std::thread::spawn(move || {
        let _entered = handle.enter();
        drop(response);
    })
    .join();
    assert!(dropped.is_ok(), "no panic");
    let delta = soak::delta(&before, &executor.stats());
    assert_eq!(delta.lost, 2, "both blocks counted as lost: {delta:?}");
    assert_eq!((delta.in_flight, delta.finished), (0, 0));
    assert_eq!(ran.load(Ordering::Relaxed), 0);
    assert!(completion.is_done());
}
