//! `#[after_response]` on `from_fn` middleware: the middleware's blocks run after the response
//! it passed on, together with the handler's.
use after_response::{after_response, defer};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[after_response]
async fn audit(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    defer!(|outcome| {
        assert!(outcome.status().is_some(), "{path}");
        MARKS.mark();
    });
    next.run(request).await
}

#[after_response]
async fn with_state(State(tag): State<&'static str>, request: Request, next: Next) -> impl IntoResponse {
    defer! { MARKS.mark(); }
    let mut response = next.run(request).await;
    response.headers_mut().insert("x-tag", tag.parse().expect("a header value"));
    response
}

#[after_response]
async fn handler() -> &'static str {
    defer! { MARKS.mark(); }
    "through middleware"
}

pub fn router() -> Router {
    Router::new()
        .route("/", get(handler))
        .layer(middleware::from_fn_with_state("tagged", with_state))
        .layer(middleware::from_fn(audit))
}

pub fn checks() -> Vec<Check> {
    vec![Check::get("/").expect(200, "through middleware", 3)]
}
