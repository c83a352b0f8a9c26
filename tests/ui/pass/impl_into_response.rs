//! `-> impl IntoResponse`: the body's type is inferred as in the original function.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler() -> impl IntoResponse {
    defer! {
        RAN.fetch_add(1, Ordering::SeqCst);
    }
    (StatusCode::CREATED, "made")
}

fn main() {
    let app = Router::new().route("/", get(handler));
    let (status, body) = support::run(app, support::get("/"));
    assert_eq!((status, body.as_str()), (StatusCode::CREATED, "made"));
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
}
