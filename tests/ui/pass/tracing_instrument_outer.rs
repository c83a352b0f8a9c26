//! `#[tracing::instrument]` above `#[after_response]`: it expands first and wraps the original
//! body in an instrumented async block, where `#[after_response]` still finds every `defer!`.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[tracing::instrument(skip_all, fields(id = %id))]
#[after_response]
async fn handler(Path(id): Path<u32>) -> String {
    defer! {
        tracing::info!("after the response");
        RAN.fetch_add(1, Ordering::SeqCst);
    }
    tracing::info!("in the handler");
    id.to_string()
}

fn main() {
    let app = Router::new().route("/{id}", get(handler));
    assert_eq!(support::run(app, support::get("/5")).1, "5");
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
}
