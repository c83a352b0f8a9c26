//! The four outcome kinds over a real server, HTTP/1.1 and HTTP/2.

use after_response_tests as common;

use after_response::{after_response, defer, OutcomeKind};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{within, Connection, Proto, RawConnection, Server, PROTOCOLS};
use http_body_util::BodyExt as _;

#[after_response]
async fn hello(State(probe): State<Probe>) -> &'static str {
    // The plain block first: had it run, its event would come before the always-block's.
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    "hello"
}

/// Takes at least `HANDLER_TIME` before it returns: the always-block's `elapsed()` covers it.
#[after_response]
async fn slow(State(probe): State<Probe>) -> &'static str {
    tokio::time::sleep(HANDLER_TIME).await;
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    "slow"
}

const HANDLER_TIME: std::time::Duration = std::time::Duration::from_millis(20);

#[after_response]
async fn endless(State(probe): State<Probe>) -> impl IntoResponse {
    // The plain block first: had it run, its event would come before the always-block's.
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    common::endless_body(&["first-chunk"])
}

#[after_response]
async fn failing_stream(State(probe): State<Probe>) -> axum::body::Body {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    let chunks = [
        Ok(bytes::Bytes::from_static(b"partial")),
        Err(std::io::Error::other("storage went away")),
    ];
    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
}

#[after_response]
async fn never_returns(State(probe): State<Probe>) -> &'static str {
    // The plain block first: had it run, its event would come before the always-block's.
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    probe.entered.notify_one();
    std::future::pending::<()>().await;
    "unreachable"
}

#[after_response]
async fn panics(State(probe): State<Probe>) -> &'static str {
    // The plain block first: had it run, its event would come before the always-block's.
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    panic!("deliberate handler panic");
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/slow", get(slow))
        .route("/endless", get(endless))
        .route("/never", get(never_returns))
        .route("/failing-stream", get(failing_stream))
        .route("/panics", get(panics))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(probe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_runs_both_forms_with_status_and_bytes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        let client = common::client(proto);
        let (parts, body) = common::get(&client, &server, "/hello").await;
        assert_eq!(parts.status, 200);
        assert_eq!(body, "hello");
        server.settle().await;
        assert!(matches!(observer.next().await, Event::Plain), "{proto:?}");
        let outcome = observer.next_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
        assert!(outcome.is_completed());
        assert_eq!(outcome.status(), Some(http::StatusCode::OK));
        assert_eq!(outcome.body_bytes(), 5);
    }
}

/// `elapsed()` runs from the handler's start (the registry `#[after_response]` creates reads the
/// clock when the handler has an always-block), so it covers the handler's own sleep: a bound
/// the sleep guarantees, not a timing assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elapsed_runs_from_the_handlers_start() {
    let (probe, mut observer) = Probe::new();
    let mut server = Server::start(router(probe)).await;
    common::get(&common::client(Proto::Http1), &server, "/slow").await;
    server.settle().await;
    let outcome = observer.only_outcome().await;
    assert!(outcome.elapsed() >= HANDLER_TIME, "{:?}", outcome.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_stream_is_aborted() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        match proto {
            Proto::Http1 => {
                let mut raw = RawConnection::open(&server).await;
                raw.send("GET /endless HTTP/1.1\r\nhost: localhost\r\n\r\n")
                    .await;
                raw.read_until("first-chunk").await;
                drop(raw);
            }
            Proto::Http2 => {
                let response =
                    common::get_streaming(&common::client(proto), &server, "/endless").await;
                let mut body = response.into_body();
                let frame = within("the first chunk", body.frame())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(frame.into_data().unwrap(), "first-chunk");
                drop(body); // resets the stream
            }
        }
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Aborted, "{proto:?}");
        assert_eq!(outcome.status(), Some(http::StatusCode::OK));
        assert_eq!(outcome.body_bytes(), "first-chunk".len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_during_handler_is_cancelled() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let server = Server::start(router(probe)).await;
        match proto {
            Proto::Http1 => {
                let mut raw = RawConnection::open(&server).await;
                raw.send("GET /never HTTP/1.1\r\nhost: localhost\r\n\r\n")
                    .await;
                within("the handler to start", observer.entered.notified()).await;
                drop(raw);
            }
            Proto::Http2 => {
                let mut connection = Connection::open(proto, &server).await;
                let request = tokio::spawn(async move { connection.get("/never").await });
                within("the handler to start", observer.entered.notified()).await;
                request.abort(); // drops the request: the client resets the stream
                let _ = request.await;
            }
        }
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Cancelled, "{proto:?}");
        assert_eq!(outcome.status(), None);
        assert_eq!(outcome.body_bytes(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panic_is_panicked() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let server = Server::start(router(probe)).await;
        let (parts, _) = common::get(&common::client(proto), &server, "/panics").await;
        assert_eq!(parts.status, 500, "CatchPanicLayer answers");
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Panicked, "{proto:?}");
        assert_eq!(outcome.status(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_error_is_aborted() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(router(probe)).await;
        let request = http::Request::get(server.url("/failing-stream"))
            .body(http_body_util::Empty::new())
            .unwrap();
        // HTTP/1.1 may fail the connection before the head is flushed; HTTP/2 resets the stream.
        let received = match within("the response", common::client(proto).request(request)).await {
            Ok(response) => within("the body", response.into_body().collect())
                .await
                .map(|_| ())
                .map_err(|_| ()),
            Err(_) => Err(()),
        };
        assert!(
            received.is_err(),
            "{proto:?}: the client must see the body fail"
        );
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Aborted, "{proto:?}");
        assert_eq!(outcome.body_bytes(), 7);
    }
}
