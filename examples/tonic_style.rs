//! A gRPC-style streaming response over HTTP/2: data frames, then trailers, with the plain
//! `Registry` API (no axum, no macro).
//!
//! tonic and other tower-based stacks answer with `http::Response<B>` where `B` streams frames
//! and ends with trailers (`grpc-status`). `Registry::attach` wraps any such body: frames and
//! trailers pass through untouched, and the blocks fire when the body is dropped, told how far
//! the stream got.
//!
//! Run with `cargo run --example tonic_style`; it exits by itself.

use std::convert::Infallible;
use std::time::Duration;

use after_response::{Completion, DeferredBody, Registry};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

type GrpcBody = BoxBody<Bytes, Infallible>;

/// Three messages, then `grpc-status: 0` in the trailers.
fn message_stream() -> GrpcBody {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = ["message 1", "message 2", "message 3"]
        .into_iter()
        .map(|message| Frame::data(Bytes::from(message)))
        .chain(std::iter::once(Frame::trailers(trailers)))
        .map(Ok::<_, Infallible>);
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

#[allow(clippy::unused_async)] // a real service awaits its backend here
async fn list_messages(
    _request: Request<Incoming>,
    done: mpsc::UnboundedSender<Completion>,
) -> Result<Response<DeferredBody<GrpcBody>>, Infallible> {
    let registry = Registry::new("tonic_style::list_messages");
    registry.defer(async {
        println!("[deferred] the whole stream, trailers included, was handed to the connection");
    });
    registry.defer_always(|outcome| async move {
        println!(
            "[deferred] stream {}: status {:?}, {} data bytes, {:?}",
            outcome.kind(),
            outcome.status(),
            outcome.body_bytes(),
            outcome.elapsed()
        );
    });
    let response = Response::builder()
        .header("content-type", "application/grpc")
        .body(message_stream())
        .expect("response");
    let response = registry.attach(response);
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
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let done = done.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| list_messages(request, done.clone()));
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    println!("listening on http://{addr} (HTTP/2, prior knowledge)");

    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let request = Request::post(format!("http://{addr}/messages.Messages/List"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Empty::new())
        .expect("request");
    let response = client.request(request).await.expect("request");
    let mut body = response.into_body();
    let mut trailers_seen = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("frame");
        if let Some(data) = frame.data_ref() {
            println!("[client] data: {}", String::from_utf8_lossy(data));
        } else if let Some(trailers) = frame.trailers_ref() {
            println!(
                "[client] trailers: grpc-status={:?}",
                trailers["grpc-status"]
            );
            trailers_seen = true;
        }
    }
    assert!(trailers_seen, "the trailers passed through the wrapper");

    let completion = tokio::time::timeout(Duration::from_secs(5), completions.recv())
        .await
        .expect("a completion handle")
        .expect("server alive");
    tokio::time::timeout(Duration::from_secs(5), completion)
        .await
        .expect("the deferred blocks within 5 s");
    server.abort();
}
