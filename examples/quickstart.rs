//! The main demo: a server whose handlers defer work, and a client that shows, on one
//! timeline, that each response arrived before its deferred work ran, and how each ended.
//!
//! Run with `cargo run --example quickstart`. It exits by itself in about a second.

use std::fmt::Display;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use after_response::{after_response, defer};
use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

static START: OnceLock<Instant> = OnceLock::new();

/// One line of the timeline, stamped with the time since the demo started.
fn log(side: &str, what: impl Display) {
    let elapsed = START.get_or_init(Instant::now).elapsed();
    println!("{:>8.1} ms  {side:<6}  {what}", elapsed.as_secs_f64() * 1e3);
}

#[after_response]
async fn signup(name: String) -> String {
    defer!(|outcome| {
        log(
            "server",
            format!(
                "audit: POST /signup {}: {} bytes handed to the connection, status {:?}",
                outcome.kind(),
                outcome.body_bytes(),
                outcome.status()
            ),
        );
    });
    let to = name.clone();
    defer! {
        log("server", format!("deferred: sending the welcome e-mail to {to} (takes ~1 s)"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        log("server", format!("deferred: welcome e-mail sent to {to}"));
    }
    format!("welcome, {name}")
}

#[after_response]
async fn download() -> Body {
    defer! {
        log("server", "deferred: download counted as delivered (never printed: the client hung up)");
    }
    defer!(|outcome| {
        log(
            "server",
            format!(
                "audit: GET /download {} after {} bytes",
                outcome.kind(),
                outcome.body_bytes()
            ),
        );
    });
    // A long download: one chunk, then the rest never comes in time.
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b"chunk 1 of many\n"))
    });
    Body::from_stream(futures_util::StreamExt::chain(
        first,
        futures_util::stream::pending(),
    ))
}

#[after_response]
async fn report() -> &'static str {
    defer! {
        log("server", "deferred: rebuilding the report cache");
        Err::<(), _>("cache backend unavailable")
    }
    "report queued"
}

#[tokio::main]
async fn main() {
    START.get_or_init(Instant::now);
    tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .init();

    let app = Router::new()
        .route("/signup", post(signup))
        .route("/download", get(download))
        .route("/report", get(report));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("server");
    });
    log("demo", format!("server listening on http://{addr}"));
    log(
        "demo",
        "client and server share this process: on loopback the client's line may print a hair",
    );
    log(
        "demo",
        "after the server's first deferred line; what matters is that no response waits for it",
    );

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    // 1. A response whose deferred block takes a second: the client does not wait for it.
    let request = http::Request::post(format!("http://{addr}/signup"))
        .body(Full::from("ada"))
        .expect("request");
    let response = client.request(request).await.expect("signup");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    log(
        "client",
        format!("POST /signup -> {status} {body:?} (whole response received)"),
    );

    // 2. A client that hangs up mid-download: plain blocks skip, the always-block says Aborted.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /download HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut buffer = vec![0; 1024];
    let read = stream.read(&mut buffer).await.expect("read");
    log(
        "client",
        format!("GET /download -> got {read} bytes of headers and first chunk, hanging up"),
    );
    drop(stream);

    // 3. A deferred block that fails: the error is logged with the handler's name.
    let response = client
        .get(format!("http://{addr}/report").parse().expect("uri"))
        .await
        .expect("report");
    log("client", format!("GET /report -> {}", response.status()));
    drop(response);

    // Stop accepting requests, then drain the deferred work with a deadline.
    let _ = stop.send(());
    server.await.expect("server task");
    log(
        "demo",
        "server stopped; draining deferred work (deadline 5 s)",
    );
    let report = after_response::shutdown(Duration::from_secs(5)).await;
    log("demo", format!("drained: {report:?}"));
    log("demo", format!("counters: {:?}", after_response::stats()));
}
