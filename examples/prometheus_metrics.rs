//! Deferred work on a Prometheus dashboard: the `metrics` feature, a `/metrics` route, and a
//! failure hook.
//!
//! - `after-response = { version = "0.1", features = ["metrics"] }` emits through the `metrics`
//!   facade; any recorder receives it. Here `metrics-exporter-prometheus` (with
//!   `default-features = false`: no HTTP listener of its own) renders it from an axum route.
//! - Install the recorder before the first response with deferred work ends: the metrics are
//!   described to, and each handler's handles registered with, the recorder in force then.
//! - `Config::on_failure` (on the executor given to the router as a layer) hands every failed, panicked, timed-out or shed block to your error
//!   reporter (here: a line on stdout).
//!
//! Run with `cargo run --example prometheus_metrics`; it serves on a loopback port, sends a few
//! requests, scrapes `/metrics`, prints the `after_response_*` lines and exits.

use std::time::Duration;

use after_response::{after_response, defer, Completion, Config};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::mpsc;

#[after_response]
async fn signup() -> &'static str {
    defer! {
        tokio::time::sleep(Duration::from_millis(20)).await; // the welcome e-mail
    }
    "welcome"
}

#[after_response]
async fn checkout() -> &'static str {
    defer! {
        Err::<(), _>("receipt service answered 503")
    }
    "paid"
}

/// The scrape endpoint: Prometheus's text format, rendered on request.
async fn metrics(State(prometheus): State<PrometheusHandle>) -> String {
    prometheus.render()
}

#[tokio::main]
async fn main() {
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only metrics recorder");
    let executor = Config::default()
        .block_timeout(Duration::from_secs(30))
        // The map_response layer below awaits each response's Completion (off by default).
        .completion_handles(true)
        .on_failure(|failure| {
            // Where a `sentry::capture_message` (or any reporter that queues) would go.
            println!(
                "[reporter] {} in {} ({} response): {}",
                failure.kind(),
                failure.handler(),
                failure.outcome(),
                failure.message()
            );
        })
        .build();

    // Hands each response's Completion to `main`, to know when its deferred work has settled.
    let (completions, mut settled) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/signup", get(signup))
        .route("/checkout", get(checkout))
        .route("/metrics", get(metrics))
        .with_state(prometheus)
        .layer(executor.clone())
        .layer(axum::middleware::map_response(
            move |response: axum::response::Response| {
                let _ = completions.send(Completion::of(&response));
                async move { response }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("listening on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let get = |path: &str| {
        let uri = format!("http://{addr}{path}").parse().expect("uri");
        let client = client.clone();
        async move {
            let response = client.get(uri).await.expect("request");
            let body = response.into_body().collect().await.expect("body");
            String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
        }
    };
    for path in ["/signup", "/signup", "/signup", "/checkout"] {
        get(path).await;
        settled.recv().await.expect("a completion").await;
    }

    let scrape = get("/metrics").await;
    println!("[main] GET /metrics (after_response_* samples; of the quantiles, p99 only):");
    let shown = |line: &&str| {
        line.starts_with("after_response_")
            && (!line.contains("quantile=") || line.contains(r#"quantile="0.99""#))
    };
    for line in scrape.lines().filter(shown) {
        println!("  {line}");
    }
    assert!(scrape.contains(
        r#"after_response_blocks_ended_total{handler="prometheus_metrics::signup",ending="finished"} 3"#
    ));
    assert!(scrape.contains(
        r#"after_response_blocks_ended_total{handler="prometheus_metrics::checkout",ending="failed"} 1"#
    ));
    server.abort();
    let report = executor.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.abandoned + report.never_started, 0);
}
