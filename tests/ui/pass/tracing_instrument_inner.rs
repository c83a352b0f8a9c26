//! `#[tracing::instrument]` below `#[after_response]`: the rewrite comes first and the whole
//! rewritten body, registry included, runs inside the span.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[after_response]
#[tracing::instrument(skip_all, fields(id = id))]
async fn handler(Path(id): Path<u32>) -> Result<String, String> {
    defer!(|outcome| {
        tracing::info!(kind = ?outcome.kind(), "after the response");
        RAN.fetch_add(1, Ordering::SeqCst);
    });
    if id == 0 {
        return Err("zero".to_owned());
    }
    Ok(id.to_string())
}

fn main() {
    let app = Router::new().route("/{id}", get(handler));
    assert_eq!(support::run(app.clone(), support::get("/5")).1, "5");
    assert_eq!(support::run(app, support::get("/0")).1, "zero");
    assert_eq!(RAN.load(Ordering::SeqCst), 2);
}
