//! Early `return` in several branches: only the blocks registered before the `return` run.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static FIRST: AtomicUsize = AtomicUsize::new(0);
static SECOND: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler(Path(step): Path<u32>) -> (StatusCode, String) {
    if step == 0 {
        return (StatusCode::NOT_FOUND, "none".to_owned());
    }
    defer! {
        FIRST.fetch_add(1, Ordering::SeqCst);
    }
    match step {
        1 => return (StatusCode::OK, "one".to_owned()),
        2 => {}
        _ => return (StatusCode::BAD_REQUEST, format!("{step}?")),
    }
    defer! {
        SECOND.fetch_add(1, Ordering::SeqCst);
    }
    (StatusCode::OK, "two".to_owned())
}

fn main() {
    let app = Router::new().route("/{step}", get(handler));
    assert_eq!(support::run(app.clone(), support::get("/0")).0, StatusCode::NOT_FOUND);
    assert_eq!(support::run(app.clone(), support::get("/1")).1, "one");
    assert_eq!(support::run(app.clone(), support::get("/2")).1, "two");
    assert_eq!(support::run(app, support::get("/9")).1, "9?");
    assert_eq!(FIRST.load(Ordering::SeqCst), 3);
    assert_eq!(SECOND.load(Ordering::SeqCst), 1);
}
