//! `-> (StatusCode, HeaderMap, String)`.
use std::sync::atomic::{AtomicU16, Ordering};

use after_response::{after_response, defer};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static SEEN_STATUS: AtomicU16 = AtomicU16::new(0);

#[after_response]
async fn handler() -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    defer!(|outcome| {
        if outcome.is_completed() {
            SEEN_STATUS.store(outcome.status().map_or(0, |s| s.as_u16()), Ordering::SeqCst);
        }
    });
    (StatusCode::IM_A_TEAPOT, headers, "short and stout".to_owned())
}

fn main() {
    let app = Router::new().route("/", get(handler));
    let (status, body) = support::run(app, support::get("/"));
    assert_eq!((status, body.as_str()), (StatusCode::IM_A_TEAPOT, "short and stout"));
    assert_eq!(SEEN_STATUS.load(Ordering::SeqCst), 418);
}
