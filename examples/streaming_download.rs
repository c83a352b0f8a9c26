//! A streamed download: count it as delivered only if the client got every byte.
//!
//! The same handler, two clients: one reads to the end (Completed: both blocks run), one hangs
//! up half-way (Aborted: only the always-block runs, and it knows how far the download got).
//!
//! Run with `cargo run --example streaming_download`; it exits by itself.

use std::time::Duration;

use after_response::{after_response, defer, OutcomeKind};
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

const CHUNKS: u32 = 8;
const CHUNK_LEN: usize = 16 * 1024;

#[after_response]
async fn download(State(report): State<mpsc::UnboundedSender<String>>) -> Body {
    let delivered = report.clone();
    defer! {
        // Only when every byte reached the connection.
        let _ = delivered.send("download counted as delivered (billing, analytics)".to_owned());
    }
    defer!(|outcome| {
        let line = match outcome.kind() {
            OutcomeKind::Completed => format!("completed: {} bytes", outcome.body_bytes()),
            OutcomeKind::Aborted => format!(
                "aborted after {} of {} bytes: keep the partial-download metric, no billing",
                outcome.body_bytes(),
                CHUNKS as usize * CHUNK_LEN
            ),
            other => format!("{other}"),
        };
        let _ = report.send(line);
    });
    let chunks = futures_util::stream::unfold(0, |sent| async move {
        if sent == CHUNKS {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await; // a slow disk
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![b'.'; CHUNK_LEN])),
            sent + 1,
        ))
    });
    Body::from_stream(chunks)
}

/// The next line a deferred block reported (bounded wait).
async fn next_report(reports: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), reports.recv())
        .await
        .expect("a report within 5 s")
        .expect("server alive")
}

#[tokio::main]
async fn main() {
    let (report, mut reports) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/download", get(download))
        .with_state(report);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("listening on http://{addr}");
    let uri: http::Uri = format!("http://{addr}/download").parse().expect("uri");

    // 1. Reads every byte.
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(uri.clone()).await.expect("download");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    println!("[client 1] read all {} bytes", body.len());
    println!("[server]   {}", next_report(&mut reports).await);
    println!("[server]   {}", next_report(&mut reports).await);

    // 2. Reads the first chunks, then hangs up (drops the body; its connection closes).
    let response = client.get(uri).await.expect("download");
    let mut body = response.into_body();
    let mut read = 0;
    while read < 2 * CHUNK_LEN {
        let frame = body.frame().await.expect("a frame").expect("frame");
        read += frame.into_data().map_or(0, |data| data.len());
    }
    drop(body);
    println!("[client 2] read {read} bytes, hung up");
    let aborted = next_report(&mut reports).await;
    println!("[server]   {aborted}");
    assert!(aborted.starts_with("aborted"));

    server.abort();
}
