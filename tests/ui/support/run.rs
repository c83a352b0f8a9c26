//! Shared by the runnable pass cases (`#[path = "../support/run.rs"] mod support;`): sends one
//! request through a router, reads the whole body, drops it, and waits for the response's
//! deferred blocks to finish.

use after_response::Completion;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// The status and body text of `request` sent to `app`, once its deferred blocks have run.
pub fn run(app: Router, request: Request<Body>) -> (StatusCode, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let completion = Completion::of(&response);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body")
            .to_bytes();
        completion.await;
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    })
}

/// A `GET` request to `uri` with an empty body.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("a request")
}
