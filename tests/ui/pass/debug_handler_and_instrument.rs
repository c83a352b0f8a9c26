//! `#[axum::debug_handler]` and `#[tracing::instrument]` together with `#[after_response]`, with
//! `#[tracing::instrument]` before and after the rewrite (`debug_handler` stays below
//! `#[after_response]`: see `ui/fail/debug_handler_above_after_response.rs`).
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::State;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[tracing::instrument(skip_all)]
#[after_response]
#[axum::debug_handler]
async fn instrument_first(State(step): State<usize>) -> String {
    defer! {
        RAN.fetch_add(step, Ordering::SeqCst);
    }
    "first".to_owned()
}

#[after_response]
#[axum::debug_handler]
#[tracing::instrument(skip_all)]
async fn instrument_last(State(step): State<usize>) -> String {
    defer!(|_outcome| {
        RAN.fetch_add(step * 10, Ordering::SeqCst);
    });
    "last".to_owned()
}

#[after_response]
#[tracing::instrument(skip_all)]
#[axum::debug_handler]
async fn instrument_between(State(step): State<usize>) -> String {
    defer! {
        RAN.fetch_add(step * 100, Ordering::SeqCst);
    }
    "between".to_owned()
}

fn main() {
    let app = Router::new()
        .route("/first", get(instrument_first))
        .route("/last", get(instrument_last))
        .route("/between", get(instrument_between))
        .with_state(1_usize);
    assert_eq!(support::run(app.clone(), support::get("/first")).1, "first");
    assert_eq!(support::run(app.clone(), support::get("/last")).1, "last");
    assert_eq!(support::run(app, support::get("/between")).1, "between");
    assert_eq!(RAN.load(Ordering::SeqCst), 111);
}
