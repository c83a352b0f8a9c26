//! `-> Response`, built by hand, and `-> axum::response::Response<Body>` spelled out.
use after_response::{after_response, defer};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Router};

#[after_response]
async fn built() -> Response {
    defer! {}
    Response::builder().status(202).body(Body::from("queued")).unwrap()
}

#[after_response]
async fn converted() -> axum::response::Response<Body> {
    defer! {}
    "converted".into_response()
}

fn main() {
    let _app: Router = Router::new()
        .route("/built", get(built))
        .route("/converted", get(converted));
}
