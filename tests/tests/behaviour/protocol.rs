//! HEAD, 204, 304, known length and chunked streaming: Completed, framing untouched.

use after_response_tests as common;

use after_response::{after_response, defer, OutcomeKind};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::probe::{Event, Probe};
use common::{Proto, Server, PROTOCOLS};

const KNOWN: &str = "0123456789abcdef";

#[after_response]
async fn known_length(State(probe): State<Probe>) -> String {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    KNOWN.repeat(64)
}

#[after_response]
async fn chunked(State(probe): State<Probe>) -> Body {
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    let chunks = ["one,", "two,", "three"]
        .map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes())));
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[after_response]
async fn no_content(State(probe): State<Probe>) -> StatusCode {
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    StatusCode::NO_CONTENT
}

#[after_response]
async fn not_modified(State(probe): State<Probe>) -> (StatusCode, &'static str) {
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    // A body the protocol forbids: the connection drops it unsent, and that still completes.
    (StatusCode::NOT_MODIFIED, "body the protocol forbids")
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/known", get(known_length))
        .route("/chunked", get(chunked))
        .route("/no-content", get(no_content))
        .route("/not-modified", get(not_modified))
        .with_state(probe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_length_keeps_content_length_and_completes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        let (parts, body) = common::get(&common::client(proto), &server, "/known").await;
        assert_eq!(body.len(), KNOWN.len() * 64);
        assert_eq!(
            parts.headers["content-length"], "1024",
            "{proto:?}: Content-Length must survive"
        );
        assert!(
            !parts.headers.contains_key("transfer-encoding"),
            "{proto:?}: must not turn chunked"
        );
        server.settle().await;
        assert!(matches!(observer.next().await, Event::Plain));
        let outcome = observer.next_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
        assert_eq!(outcome.body_bytes(), 1024);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_request_completes_with_no_body_bytes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        let (parts, body) = common::send(
            &common::client(proto),
            &server,
            http::Method::HEAD,
            "/known",
        )
        .await;
        assert_eq!(parts.status, 200);
        assert!(body.is_empty());
        assert_eq!(
            parts.headers["content-length"], "1024",
            "{proto:?}: HEAD announces the GET length"
        );
        server.settle().await;
        assert!(
            matches!(observer.next().await, Event::Plain),
            "{proto:?}: HEAD counts as completed"
        );
        let outcome = observer.next_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
        assert_eq!(outcome.body_bytes(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_stream_completes_and_stays_chunked() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        let (parts, body) = common::get(&common::client(proto), &server, "/chunked").await;
        assert_eq!(body, "one,two,three");
        if proto == Proto::Http1 {
            assert_eq!(parts.headers["transfer-encoding"], "chunked");
        }
        assert!(!parts.headers.contains_key("content-length"));
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
        assert_eq!(outcome.body_bytes(), 13);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodiless_statuses_complete() {
    for proto in PROTOCOLS {
        for (path, status) in [("/no-content", 204), ("/not-modified", 304)] {
            let (probe, mut observer) = Probe::new();
            let mut server = Server::start(router(probe)).await;
            let (parts, body) = common::get(&common::client(proto), &server, path).await;
            assert_eq!(parts.status, status);
            if proto == Proto::Http1 {
                // HTTP/1.1 drops these bodies unpolled; HTTP/2 polls and sends them.
                assert!(body.is_empty());
            }
            server.settle().await;
            let outcome = observer.only_outcome().await;
            assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?} {status}");
            assert_eq!(outcome.status().map(|s| s.as_u16()), Some(status));
        }
    }
}
