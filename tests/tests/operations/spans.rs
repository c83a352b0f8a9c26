//! Tracing context: a block's events are emitted inside a span that is a child of the
//! handler's span (so its request id shows) and names the handler.

use after_response_tests as common;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::{logs, within, Proto, Server};
use http::Request;
use http_body_util::Empty;
use tower_http::trace::TraceLayer;

#[after_response]
#[tracing::instrument(skip_all, fields(request_id = %id))]
async fn instrumented(Path(id): Path<String>) -> &'static str {
    defer! {
        tracing::info!("welcome mail sent (marker-instrumented)");
    }
    "instrumented"
}

#[after_response]
async fn traced() -> &'static str {
    defer!(|outcome| {
        tracing::info!(status = ?outcome.status(), "recorded (marker-traced)");
    });
    "traced"
}

/// Only the line(s) with `marker`, asserting there is exactly one.
fn the_line(logs: &logs::Capture, marker: &str) -> String {
    let lines = logs.lines_with(marker);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().unwrap()
}

#[test]
fn a_blocks_events_carry_the_instrumented_handlers_span_fields() {
    let logs = logs::Capture::new();
    logs.block_on(async {
        let router = Router::new().route("/instrumented/{id}", get(instrumented));
        let mut server = Server::start(router).await;
        let client = common::client(Proto::Http2);
        let (_, body) = common::get(&client, &server, "/instrumented/r-42").await;
        assert_eq!(body, "instrumented");
        server.settle().await;

        let line = the_line(&logs, "marker-instrumented");
        // The handler's span (named after it by `#[instrument]`) with its request id, then the
        // block's span, a child of it, naming the handler.
        assert!(line.contains("instrumented{request_id=r-42}"), "{line}");
        assert!(
            line.contains(
                "after_response{handler=operations::spans::instrumented outcome=completed}"
            ),
            "{line}"
        );
        assert!(line.contains("INFO"), "{line}");
    });
}

#[test]
fn a_blocks_events_carry_the_request_span_of_a_trace_layer() {
    let logs = logs::Capture::new();
    logs.block_on(async {
        let router = Router::new().route("/traced", get(traced)).layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-")
                    .to_owned();
                tracing::info_span!("request", request_id = %id)
            }),
        );
        let mut server = Server::start(router).await;
        let client = common::client(Proto::Http1);
        let request = Request::get(server.url("/traced"))
            .header("x-request-id", "req-7f")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = within("the response", client.request(request))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        drop(response);
        server.settle().await;

        let line = the_line(&logs, "marker-traced");
        assert!(line.contains("request{request_id=req-7f}"), "{line}");
        assert!(
            line.contains("after_response{handler=operations::spans::traced outcome="),
            "{line}"
        );
        assert!(line.contains("status=Some(200)"), "{line}");
    });
}
