//! Outcomes and timing under tower and tower-http layers (compression, trace, timeouts, catch
//! panic, `HandleErrorLayer`) and under Router `nest`, `fallback`, `with_state` and HEAD, over a
//! real server, HTTP/1.1 and HTTP/2; and the one completion handle of a response that passed
//! through an `#[after_response]` middleware as well as its handler.

use after_response_tests as common;

use std::io::Read as _;
use std::time::Duration;

use after_response::{after_response, defer, OutcomeKind};
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{any, get, on, MethodFilter};
use axum::{BoxError, Router};
use bytes::Bytes;
use common::probe::{Event, Observer, Probe};
use common::{within, Connection, Proto, RawConnection, Server, TestClient, PROTOCOLS};
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use tokio::io::AsyncReadExt as _;
use tower_http::compression::CompressionLayer;

/// A compressible payload with a known length.
fn text() -> String {
    "after the response has been sent. ".repeat(120)
}

const FIRST: &str = "first chunk, sent before the gate opens; ";
const SECOND: &str = "second chunk, sent once the test opens the gate.";

/// Incompressible bytes (xorshift), so gzip must emit output long before the body ends.
fn noise() -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..NOISE_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    Bytes::from(bytes)
}

const NOISE_LEN: usize = 256 * 1024;

#[after_response]
async fn known_length(State(probe): State<Probe>) -> String {
    // The plain block first: had it run, its event would come before the always-block's.
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    text()
}

#[after_response]
async fn hello(State(probe): State<Probe>) -> &'static str {
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

/// Streams `FIRST`, then waits for the test to open the gate, then `SECOND`: the body cannot
/// end, so no block can fire, until the test says so.
#[after_response]
async fn gated(State(probe): State<Probe>) -> Body {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        tracing::info!("gated-block-marker");
        always.send(Event::Always(outcome));
    });
    let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from(FIRST)) });
    let second = futures_util::stream::once(async move {
        probe.wait_for_gate().await;
        Ok::<_, std::io::Error>(Bytes::from(SECOND))
    });
    Body::from_stream(futures_util::StreamExt::chain(first, second))
}

/// One large incompressible chunk, then nothing, ever: only the client can end it.
#[after_response]
async fn endless_noise(State(probe): State<Probe>) -> Body {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(noise()) });
    Body::from_stream(futures_util::StreamExt::chain(
        first,
        futures_util::stream::pending(),
    ))
}

#[after_response]
async fn endless(State(probe): State<Probe>) -> Body {
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

/// Slower than any timeout: it waits on a gate the test never opens.
#[after_response]
async fn held(State(probe): State<Probe>) -> &'static str {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    probe.entered.notify_one();
    probe.wait_for_gate().await;
    "too late"
}

#[after_response]
async fn panics(State(probe): State<Probe>) -> &'static str {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    panic!("deliberate handler panic under CatchPanicLayer");
}

#[after_response]
async fn not_found(State(probe): State<Probe>) -> (StatusCode, &'static str) {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    (StatusCode::NOT_FOUND, "no such page")
}

/// A `GET` route's explicit HEAD handler.
#[after_response]
async fn explicit_head(State(probe): State<Probe>) -> impl IntoResponse {
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    ([(header::CONTENT_LENGTH, "5")], "ignored")
}

/// State of a nested router, distinct from the outer router's.
#[derive(Clone)]
struct Greeting {
    probe: Probe,
    text: &'static str,
}

#[after_response]
async fn greet(State(greeting): State<Greeting>) -> &'static str {
    let plain = greeting.probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = greeting.probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    greeting.text
}

/// Sends `method path` with the given headers; returns the response with its body unread.
async fn request(
    client: &TestClient,
    server: &Server,
    method: Method,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> http::Response<hyper::body::Incoming> {
    let mut builder = Request::builder().method(method).uri(server.url(path));
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    within(
        "the response head",
        client.request(builder.body(Empty::new()).unwrap()),
    )
    .await
    .expect("request failed")
}

async fn read_body(response: http::Response<hyper::body::Incoming>) -> Bytes {
    within("the response body", response.into_body().collect())
        .await
        .expect("body failed")
        .to_bytes()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a valid gzip stream");
    text
}

/// The plain block then the always-block ran, and the outcome was Completed.
async fn expect_completed(observer: &mut Observer, what: &str) -> after_response::Outcome {
    assert!(
        matches!(observer.next().await, Event::Plain),
        "{what}: the plain block runs on Completed"
    );
    let outcome = observer.next_outcome().await;
    assert_eq!(outcome.kind(), OutcomeKind::Completed, "{what}");
    assert!(observer.is_quiet(), "{what}: no other block may run");
    outcome
}

/// A handler that answers within the timeout is untouched by the timeout layer.
async fn hello_within_timeout_completes(
    client: &common::TestClient,
    server: &mut Server,
    observer: &mut Observer,
    proto: common::Proto,
) {
    let (_, body) = common::get(client, server, "/hello").await;
    assert_eq!(body, "hello");
    server.settle().await;
    expect_completed(observer, &format!("{proto:?} within timeout")).await;
}

const GZIP: [(header::HeaderName, &str); 1] = [(header::ACCEPT_ENCODING, "gzip")];

fn compressed(probe: Probe) -> Router {
    Router::new()
        .route("/known", get(known_length))
        .route("/gated", get(gated))
        .route("/noise", get(endless_noise))
        .layer(CompressionLayer::new().gzip(true))
        .with_state(probe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_fires_only_after_the_compressed_body_ends() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(compressed(probe)).await;
        let client = common::client(proto);
        let response = request(&client, &server, Method::GET, "/gated", &GZIP).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(!response.headers().contains_key(header::CONTENT_LENGTH));
        if proto == Proto::Http1 {
            assert_eq!(response.headers()[header::TRANSFER_ENCODING], "chunked");
        }
        // The head is here, the body is held on the gate: nothing may have fired.
        assert!(
            observer.is_quiet(),
            "{proto:?}: a block fired before the body ended"
        );
        observer.open_gate(1);
        let body = read_body(response).await;
        assert_eq!(gunzip(&body), format!("{FIRST}{SECOND}"), "{proto:?}");
        server.settle().await;
        let outcome = expect_completed(&mut observer, &format!("{proto:?} gzip stream")).await;
        assert_eq!(outcome.status(), Some(StatusCode::OK));
        assert_eq!(
            outcome.body_bytes(),
            (FIRST.len() + SECOND.len()) as u64,
            "{proto:?}: bytes the handler's body handed over, before compression"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_reencodes_a_known_length_body_as_chunked_and_completes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(compressed(probe)).await;
        let client = common::client(proto);

        // Compressed: Content-Length gone (chunked on HTTP/1.1), the blocks still fire Completed.
        let response = request(&client, &server, Method::GET, "/known", &GZIP).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(!response.headers().contains_key(header::CONTENT_LENGTH));
        if proto == Proto::Http1 {
            assert_eq!(response.headers()[header::TRANSFER_ENCODING], "chunked");
        }
        let body = read_body(response).await;
        assert!(body.len() < text().len(), "the body really was compressed");
        assert_eq!(gunzip(&body), text(), "{proto:?}");
        server.settle().await;
        let outcome = expect_completed(&mut observer, &format!("{proto:?} gzip")).await;
        assert_eq!(outcome.body_bytes(), text().len() as u64);

        // Not asked for gzip: identity, Content-Length kept.
        let response = request(&client, &server, Method::GET, "/known", &[]).await;
        assert!(!response.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            text().len().to_string().as_str()
        );
        assert_eq!(read_body(response).await, text());
        server.settle().await;
        let outcome = expect_completed(&mut observer, &format!("{proto:?} identity")).await;
        assert_eq!(outcome.body_bytes(), text().len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_head_request_completes_with_no_body_bytes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(compressed(probe)).await;
        let client = common::client(proto);
        let response = request(&client, &server, Method::HEAD, "/known", &GZIP).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(read_body(response).await.is_empty());
        server.settle().await;
        let outcome = expect_completed(&mut observer, &format!("{proto:?} HEAD gzip")).await;
        assert_eq!(outcome.body_bytes(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_client_disconnect_mid_stream_is_aborted() {
    // Compressed bytes reaching the client prove the body was polled; then the client leaves.
    const ENOUGH: usize = 16 * 1024;
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start(compressed(probe)).await;
        match proto {
            Proto::Http1 => {
                let mut raw = RawConnection::open(&server).await;
                raw.send("GET /noise HTTP/1.1\r\nhost: localhost\r\naccept-encoding: gzip\r\n\r\n")
                    .await;
                let mut seen = 0;
                let mut buffer = [0u8; 8192];
                within("compressed bytes", async {
                    while seen < ENOUGH {
                        let read = raw.stream.read(&mut buffer).await.unwrap();
                        assert!(read > 0, "connection closed early");
                        seen += read;
                    }
                })
                .await;
                drop(raw);
            }
            Proto::Http2 => {
                let client = common::client(proto);
                let response = request(&client, &server, Method::GET, "/noise", &GZIP).await;
                assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
                let mut body = response.into_body();
                let mut seen = 0;
                while seen < ENOUGH {
                    let frame = within("compressed bytes", body.frame())
                        .await
                        .expect("the body ended early")
                        .unwrap();
                    seen += frame.into_data().map_or(0, |data| data.len());
                }
                drop(body); // resets the stream
            }
        }
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Aborted, "{proto:?}");
        assert_eq!(outcome.status(), Some(StatusCode::OK));
        // The wrapper hands a 256 KiB frame on in 64 KiB slices (issue 10): the layer took
        // some whole slices before the client left, never more than the body.
        let taken = outcome.body_bytes();
        assert!(taken > 0 && taken <= NOISE_LEN as u64, "{proto:?}: {taken}");
        assert_eq!(
            taken % (64 * 1024),
            0,
            "{proto:?}: {taken} is not whole slices"
        );
    }
}

#[test]
fn trace_layer_sees_the_response_before_any_block_runs() {
    let logs = common::logs::Capture::new();
    logs.block_on(async {
        for proto in PROTOCOLS {
            let (probe, mut observer) = Probe::new();
            let (on_response, on_eos) = (probe.clone(), probe.clone());
            let trace = tower_http::trace::TraceLayer::new_for_http()
                .on_response(
                    move |_: &http::Response<_>, _: Duration, _: &tracing::Span| {
                        on_response.send(Event::Step("on_response"));
                    },
                )
                .on_eos(
                    move |_: Option<&http::HeaderMap>, _: Duration, _: &tracing::Span| {
                        on_eos.send(Event::Step("on_eos"));
                    },
                );
            let router = Router::new()
                .route("/gated", get(gated))
                .route("/known", get(known_length))
                .layer(trace)
                .with_state(probe);
            let mut server = Server::start(router).await;
            let client = common::client(proto);

            // A stream: TraceLayer's on_eos fires when it is polled to its end, our blocks after.
            let response = request(&client, &server, Method::GET, "/gated", &[]).await;
            assert_eq!(observer.next_step().await, "on_response", "{proto:?}");
            assert!(
                observer.is_quiet(),
                "{proto:?}: nothing else before the body ends"
            );
            observer.open_gate(1);
            assert_eq!(read_body(response).await, format!("{FIRST}{SECOND}"));
            server.settle().await;
            assert_eq!(observer.next_step().await, "on_eos", "{proto:?}");
            let outcome =
                expect_completed(&mut observer, &format!("{proto:?} traced stream")).await;
            assert_eq!(outcome.body_bytes(), (FIRST.len() + SECOND.len()) as u64);

            // A known length: hyper stops at the announced length, so on_eos may never fire
            // (tower-http issue 625); the blocks fire anyway, on drop.
            let (_, body) = common::get(&client, &server, "/known").await;
            assert_eq!(body, text());
            server.settle().await;
            assert_eq!(observer.next_step().await, "on_response", "{proto:?}");
            let mut events = Vec::new();
            loop {
                match observer.next().await {
                    Event::Always(outcome) => {
                        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
                        assert_eq!(outcome.body_bytes(), text().len() as u64);
                        break;
                    }
                    other => events.push(format!("{other:?}")),
                }
            }
            assert!(
                events.iter().any(|event| event == "Plain"),
                "{proto:?}: the plain block ran before the always-block: {events:?}"
            );
        }
        // The blocks' span is a child of the handler's, which is TraceLayer's request span.
        let lines = logs.lines_with("gated-block-marker");
        assert!(!lines.is_empty());
        assert!(
            lines
                .iter()
                .all(|line| line.contains("/gated version=HTTP")
                    && line.contains("}:after_response{")),
            "TraceLayer's request span reaches the blocks' logs: {lines:#?}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_timeout_cancels_a_slow_handler() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/held", get(held))
            .route("/hello", get(hello))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(50),
            ))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);

        let (parts, _) = common::get(&client, &server, "/held").await;
        assert_eq!(parts.status, StatusCode::REQUEST_TIMEOUT, "{proto:?}");
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Cancelled, "{proto:?}");
        assert_eq!(outcome.status(), None, "the handler produced no response");
        assert_eq!(outcome.body_bytes(), 0);

        // A handler within the timeout is untouched.
        let _ = server.next_completion().await; // the 408's: carries no deferred work
        hello_within_timeout_completes(&client, &mut server, &mut observer, proto).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_body_timeout_is_aborted() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/endless", get(endless))
            .layer(tower_http::timeout::ResponseBodyTimeoutLayer::new(
                Duration::from_millis(50),
            ))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);
        let response = request(&client, &server, Method::GET, "/endless", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = within("the body to fail", response.into_body().collect()).await;
        assert!(body.is_err(), "{proto:?}: the body timed out mid-stream");
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Aborted, "{proto:?}");
        assert_eq!(outcome.status(), Some(StatusCode::OK));
        assert_eq!(outcome.body_bytes(), "first-chunk".len() as u64);
    }
}

/// An error handler can defer work too: it is a handler like any other.
#[after_response]
async fn on_timeout(probe: Probe, error: BoxError) -> (StatusCode, String) {
    defer! {
        probe.send(Event::Step("error handler's block"));
    }
    if error.is::<tower::timeout::error::Elapsed>() {
        (StatusCode::REQUEST_TIMEOUT, "timed out".to_owned())
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_error_layer_with_tower_timeout_cancels() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let for_errors = probe.clone();
        let layers = tower::ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |error: BoxError| {
                on_timeout(for_errors.clone(), error)
            }))
            .timeout(Duration::from_millis(50));
        let router = Router::new()
            .route("/held", get(held))
            .route("/hello", get(hello))
            .layer(layers)
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);

        let (parts, body) = common::get(&client, &server, "/held").await;
        assert_eq!(parts.status, StatusCode::REQUEST_TIMEOUT, "{proto:?}");
        assert_eq!(body, "timed out");
        server.settle().await; // the error handler's response and its block
        let mut events = [observer.next().await, observer.next().await].map(|event| match event {
            Event::Always(outcome) => {
                assert_eq!(outcome.kind(), OutcomeKind::Cancelled, "{proto:?}");
                assert_eq!(outcome.status(), None);
                "cancelled"
            }
            Event::Step(step) => step,
            Event::Plain => panic!("{proto:?}: the timed-out handler's plain block ran"),
        });
        events.sort_unstable();
        assert_eq!(events, ["cancelled", "error handler's block"], "{proto:?}");
        assert!(observer.is_quiet());

        hello_within_timeout_completes(&client, &mut server, &mut observer, proto).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_panic_layer_is_panicked_and_the_connection_keeps_serving() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/panics", get(panics))
            .route("/hello", get(hello))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                |_: Box<dyn std::any::Any + Send>| {
                    (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
                },
            ))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let mut connection = Connection::open(proto, &server).await;

        let (status, body) = connection.get("/panics").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{proto:?}");
        assert_eq!(body, "try again");
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Panicked, "{proto:?}");
        assert_eq!(outcome.status(), None);

        // Same connection, next request: served, and its blocks fire Completed.
        let _ = server.next_completion().await; // the panic response's: no deferred work
        let (status, body) = connection.get("/hello").await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
        server.settle().await;
        expect_completed(&mut observer, &format!("{proto:?} after a panic")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nest_fallback_and_with_state() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let greeting = Greeting {
            probe: probe.clone(),
            text: "hello from v2",
        };
        let v2 = Router::new()
            .route("/greet", get(greet))
            .with_state(greeting);
        let api = Router::new().route("/hello", get(hello)).nest("/v2", v2);
        let router = Router::new()
            .nest("/api", api)
            .fallback(not_found)
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);

        for (path, status, body) in [
            ("/api/hello", StatusCode::OK, "hello"),
            ("/api/v2/greet", StatusCode::OK, "hello from v2"),
            ("/api/missing", StatusCode::NOT_FOUND, "no such page"),
            ("/elsewhere", StatusCode::NOT_FOUND, "no such page"),
        ] {
            let (parts, received) = common::get(&client, &server, path).await;
            assert_eq!((parts.status, &received[..]), (status, body.as_bytes()));
            server.settle().await;
            // A 404 that reached the client is a completed response: the plain block runs.
            let outcome = expect_completed(&mut observer, &format!("{proto:?} {path}")).await;
            assert_eq!(outcome.status(), Some(status));
            assert_eq!(outcome.body_bytes(), body.len() as u64, "{proto:?} {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_routers_answering_head_complete() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/get", get(hello))
            .route("/any", any(hello))
            .route("/on", on(MethodFilter::GET.or(MethodFilter::POST), hello))
            .route("/explicit", get(hello).head(explicit_head))
            .nest("/nested", Router::new().route("/get", get(hello)))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);

        for path in ["/get", "/any", "/on", "/nested/get"] {
            let response = request(&client, &server, Method::HEAD, path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{proto:?} {path}");
            assert_eq!(response.headers()[header::CONTENT_LENGTH], "5");
            assert!(read_body(response).await.is_empty());
            server.settle().await;
            let outcome = expect_completed(&mut observer, &format!("{proto:?} HEAD {path}")).await;
            assert_eq!(outcome.body_bytes(), 0, "{proto:?} HEAD {path}");
        }

        // The explicit HEAD handler runs instead of the GET one.
        let response = request(&client, &server, Method::HEAD, "/explicit", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(read_body(response).await.is_empty());
        server.settle().await;
        let outcome = observer.only_outcome().await;
        assert_eq!(outcome.kind(), OutcomeKind::Completed, "{proto:?}");
        assert_eq!(outcome.body_bytes(), 0);
    }
}

/// An `#[after_response]` middleware: its block runs after the response it passed on.
#[after_response]
async fn audited(
    State(probe): State<Probe>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    defer! {
        probe.send(Event::Step("middleware"));
    }
    next.run(request).await
}

/// The handler behind it: its block waits on the gate, so it ends when the test says.
#[after_response]
async fn gated_block(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.wait_for_gate().await;
        probe.send(Event::Step("handler"));
    }
    "behind a middleware"
}

#[tokio::test]
async fn one_completion_covers_every_registry_the_response_passed_through() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/", get(gated_block))
            .layer(axum::middleware::from_fn_with_state(probe.clone(), audited))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let client = common::client(proto);
        let response = request(&client, &server, Method::GET, "/", &[]).await;
        assert_eq!(read_body(response).await, "behind a middleware");
        let completion = server.next_completion().await;
        // The middleware's block has run; the handler's waits on the gate: not complete yet.
        assert_eq!(observer.next_step().await, "middleware", "{proto:?}");
        assert!(
            !completion.is_done(),
            "{proto:?}: the handler's block has not ended"
        );
        observer.open_gate(1);
        within("both registries' blocks", completion.wait()).await;
        assert_eq!(observer.next_step().await, "handler", "{proto:?}");
    }
}
