//! Allocation counts per request, deterministic: a handler that registers no block costs
//! exactly what a plain handler costs. (Counts, not time: the figure does not depend on load.)
#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use after_response::{after_response, defer, Completion};
use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts on the calling thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(serde::Deserialize)]
struct Flags {
    defer: bool,
}

async fn plain(Query(_flags): Query<Flags>) -> &'static str {
    "hello"
}

#[after_response]
async fn deferring(Query(flags): Query<Flags>) -> &'static str {
    if flags.defer {
        defer! {
            std::hint::black_box(1);
        }
    }
    "hello"
}

/// Allocations on this thread for one request through `router`, body read and dropped, and its
/// deferred work finished (the current-thread runtime runs it on this thread too).
async fn allocations_per_request(router: &Router, uri: &str) -> u64 {
    const ROUNDS: u64 = 50;
    let mut total = 0;
    for round in 0..=ROUNDS {
        let before = ALLOCATIONS.with(Cell::get);
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let completion = Completion::of(&response);
        let body = response.into_body().collect().await.unwrap();
        drop(body);
        completion.await;
        let spent = ALLOCATIONS.with(Cell::get) - before;
        if round > 0 {
            // round 0 warms up lazily initialised statics
            total += spent;
        }
    }
    total / ROUNDS
}

#[tokio::test(flavor = "current_thread")]
async fn a_handler_that_registers_nothing_allocates_like_a_plain_one() {
    let router = Router::new()
        .route("/plain", get(plain))
        .route("/deferring", get(deferring));
    let baseline = allocations_per_request(&router, "/plain?defer=false").await;
    let unused = allocations_per_request(&router, "/deferring?defer=false").await;
    let one_block = allocations_per_request(&router, "/deferring?defer=true").await;
    println!("allocations per request: plain {baseline}, no block {unused}, one block {one_block}");
    assert_eq!(unused, baseline, "registering nothing must cost nothing");
    assert!(
        one_block > baseline,
        "the counter must see the deferred block's allocations"
    );
}
