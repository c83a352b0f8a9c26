//! A bare hyper 1 service with the plain `Registry` API: no axum, no macro.
//!
//! `#[after_response]` is sugar over three calls: `Registry::new` when the request starts,
//! `defer` / `defer_always` to register blocks, `attach` to wrap the response body. The same
//! calls work in any service that returns an `http::Response<B: http_body::Body>`: hyper,
//! tonic, tower. (With `default-features = false` the crate does not depend on axum at all.)
//!
//! Run with `cargo run --example plain_hyper`; it exits by itself.

use std::convert::Infallible;
use std::time::Duration;

use after_response::{Completion, DeferredBody, Registry};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

/// The service: every response carries its deferred blocks.
#[allow(clippy::unused_async)] // a real service awaits its database here
async fn handle(
    request: Request<Incoming>,
    done: mpsc::UnboundedSender<Completion>,
) -> Result<Response<DeferredBody<Full<Bytes>>>, Infallible> {
    let registry = Registry::new("plain_hyper::handle");
    let path = request.uri().path().to_owned();

    let (status, text) = match path.as_str() {
        "/hello" => (StatusCode::OK, "hello from hyper\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    if status == StatusCode::OK {
        let greeted = path.clone();
        registry.defer(async move {
            println!("[deferred] {greeted}: response delivered, doing the follow-up work");
        });
    }
    registry.defer_always(move |outcome| async move {
        println!(
            "[deferred] {path}: {} status={:?} bytes={} after {:?}",
            outcome.kind(),
            outcome.status(),
            outcome.body_bytes(),
            outcome.elapsed()
        );
    });

    let response = registry.attach(
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(text.as_bytes())))
            .expect("response"),
    );
    // Hand the completion handle to `main`, so it can wait for the blocks (a test would too).
    let _ = done.send(Completion::of(&response));
    Ok(response)
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (done, mut completions) = mpsc::unbounded_channel();

    // A minimal hyper accept loop: one task per connection.
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let done = done.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(request, done.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    println!("listening on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for path in ["/hello", "/missing"] {
        let uri = format!("http://{addr}{path}").parse().expect("uri");
        let response = client.get(uri).await.expect("request");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        println!("[client] GET {path} -> {status} {body:?}");
        let completion = tokio::time::timeout(Duration::from_secs(5), completions.recv())
            .await
            .expect("a completion handle")
            .expect("server alive");
        tokio::time::timeout(Duration::from_secs(5), completion)
            .await
            .expect("the deferred blocks within 5 s");
    }
    server.abort();
}
