//! Graceful shutdown: stop the server, then drain deferred work with a deadline.
//!
//! `axum::serve(..).with_graceful_shutdown(..)` waits for open connections only: work deferred
//! by responses already sent would be dropped with the runtime. The router's blocks run on an
//! executor of its own (a layer, the handlers unchanged); its `shutdown` waits for them, up to
//! a deadline, and reports what finished and what was left behind.
//!
//! Run with `cargo run --example graceful_shutdown`; it exits by itself in about a second.

use std::time::{Duration, Instant};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[after_response]
async fn order(Path(id): Path<u32>) -> String {
    defer! {
        // Quick work: finishes well within the drain deadline.
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("[deferred] order {id}: confirmation e-mail sent");
    }
    format!("order {id} accepted\n")
}

#[after_response]
async fn export() -> &'static str {
    defer! {
        // Far longer than the deadline: reported as abandoned.
        tokio::time::sleep(Duration::from_secs(60)).await;
        println!("[deferred] export finished (never printed)");
    }
    "export started\n"
}

#[tokio::main]
async fn main() {
    // Its own bound and counters; without the layer, the blocks would run on the process
    // default, drained with `after_response::shutdown(deadline)`.
    let executor = after_response::Config::default().max_in_flight(64).build();
    let router = Router::new()
        .route("/orders/{id}", post(order))
        .route("/export", post(export))
        .layer(executor.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await; // in a real server: tokio::signal::ctrl_c()
            })
            .await
    });
    println!("listening on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for path in ["/orders/1", "/orders/2", "/orders/3", "/export"] {
        let request = http::Request::post(format!("http://{addr}{path}"))
            .body(Empty::new())
            .expect("request");
        let response = client.request(request).await.expect("request");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        println!(
            "[client] POST {path} -> {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    drop(client); // close the idle keep-alive connection

    // 1. Stop accepting, let open connections finish.
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
    println!("[main] server stopped; draining deferred work (deadline 1 s)");

    // 2. Drain deferred work, with a deadline.
    let started = Instant::now();
    let report = executor.shutdown(Duration::from_secs(1)).await;
    println!(
        "[main] after {:?}: {} finished, {} abandoned, {} never started",
        started.elapsed(),
        report.finished,
        report.abandoned,
        report.never_started
    );
    println!("[main] counters: {:?}", executor.stats());
    assert_eq!(
        after_response::stats().finished,
        0,
        "nothing ran on the process default"
    );
    assert_eq!(
        (report.finished, report.abandoned, report.never_started),
        (3, 1, 0)
    );
    // Returning drops the runtime: the abandoned export is dropped with it (and counted).
}
