//! `-> impl IntoResponse`, also nested in `Result<impl IntoResponse, _>` with `?` and early
//! `return`: the body's type is inferred as in the original function, and the import of
//! `IntoResponse`, used only in return types, stays used.
#![deny(warnings)]

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

#[after_response]
async fn nested(body: String) -> Result<impl IntoResponse, (StatusCode, String)> {
    defer! {
        RAN.fetch_add(10, Ordering::SeqCst);
    }
    if body.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "empty".to_owned()));
    }
    let number: u32 = body
        .parse()
        .map_err(|_| (StatusCode::UNPROCESSABLE_ENTITY, body.clone()))?;
    Ok((StatusCode::OK, format!("{}", number * 2)))
}

fn main() {
    let nested_app = Router::new().route("/", axum::routing::post(nested));
    let post = |body: &'static str| {
        axum::http::Request::post("/")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    assert_eq!(support::run(nested_app.clone(), post("21")).1, "42");
    assert_eq!(support::run(nested_app.clone(), post("")).0, StatusCode::BAD_REQUEST);
    assert_eq!(support::run(nested_app, post("x")).0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(RAN.swap(0, Ordering::SeqCst), 30);
    let app = Router::new().route("/", get(handler));
    let (status, body) = support::run(app, support::get("/"));
    assert_eq!((status, body.as_str()), (StatusCode::CREATED, "made"));
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
}
