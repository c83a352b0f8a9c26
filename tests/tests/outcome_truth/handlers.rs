//! The response shapes real apps send, each an `#[after_response]` handler with a plain block
//! and an always-block that report to the test.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

use super::harness::Report;

/// The downloaded file: 16 MiB, more than the kernel's socket buffers hold, so a client that
/// hangs up early leaves part of it unsent.
pub const FILE_LEN: u64 = 16 * 1024 * 1024;
/// The single-frame body: 20 MiB in one `Bytes`.
pub const BIG_LEN: usize = 20 * 1024 * 1024;
/// What `/short` announces, and what it sends.
pub const SHORT_ANNOUNCED: u64 = 10_000;
pub const SHORT_SENT: usize = 3_000;
pub const SSE_EVENTS: usize = 3;

/// The plain block of `/gated` waits for a permit here.
pub static GATE: Semaphore = Semaphore::const_new(0);

/// The byte at `offset` of the file and of the big body: a pattern, so ranges can be checked.
pub fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

fn pattern_bytes(len: usize) -> Vec<u8> {
    (0..len as u64).map(pattern).collect()
}

/// The directory `ServeDir` serves; holds `big.bin` (created once per test process).
pub fn file_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outcome-truth");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("big.bin");
        let current = std::fs::metadata(&file).map(|m| m.len()).ok();
        if current != Some(FILE_LEN) {
            let staging = dir.join(format!("big.bin.{}", std::process::id()));
            std::fs::write(&staging, pattern_bytes(usize::try_from(FILE_LEN).unwrap())).unwrap();
            std::fs::rename(&staging, &file).unwrap();
        }
        dir
    })
}

pub fn file_path() -> PathBuf {
    file_dir().join("big.bin")
}

/// Every shape under test, each route one handler.
pub fn router() -> Router<Report> {
    Router::new()
        .route("/file", get(serve_file))
        .route("/dir/{*rest}", get(serve_dir))
        .route("/reader", get(reader_stream))
        .route("/short", get(short_body))
        .route("/big", get(big_frame))
        .route("/big-untracked", get(big_frame_untracked))
        .route("/big-unbuffered", get(big_frame_unbuffered))
        .route("/stream", get(chunked_stream))
        .route("/stream-untracked", get(chunked_stream_untracked))
        .route("/sse-endless", get(sse_endless))
        .route("/sse-finite", get(sse_finite))
        .route("/ws", any(websocket))
        .route("/redirect", get(redirect))
        .route("/json", get(status_headers_json))
        .route("/endless", get(endless))
        .route("/small", get(small))
        .route("/gated", get(gated))
        .route("/echo", post(echo))
}

#[after_response]
async fn serve_file(State(report): State<Report>, request: Request) -> Response {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let response = ServeFile::new(file_path()).oneshot(request).await;
    response.unwrap().map(Body::new)
}

#[after_response]
async fn serve_dir(State(report): State<Report>, request: Request) -> Response {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    // The router hands the whole path on: strip the route's prefix as `nest_service` would.
    let (mut parts, body) = request.into_parts();
    let rest = parts.uri.path().trim_start_matches("/dir").to_owned();
    parts.uri = rest.parse().unwrap();
    let response = ServeDir::new(file_dir())
        .oneshot(Request::from_parts(parts, body))
        .await;
    response.unwrap().map(Body::new)
}

#[after_response]
async fn reader_stream(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let file = tokio::fs::File::open(file_path()).await.unwrap();
    let stream = tokio_util::io::ReaderStream::new(file);
    (
        [(header::CONTENT_LENGTH, FILE_LEN.to_string())],
        Body::from_stream(stream),
    )
}

#[after_response]
async fn short_body(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let chunk = Bytes::from(vec![b's'; SHORT_SENT]);
    let stream = futures_util::stream::iter([Ok::<_, Infallible>(chunk)]);
    (
        [(header::CONTENT_LENGTH, SHORT_ANNOUNCED.to_string())],
        Body::from_stream(stream),
    )
}

fn big_bytes() -> Bytes {
    static BIG: OnceLock<Bytes> = OnceLock::new();
    BIG.get_or_init(|| Bytes::from(pattern_bytes(BIG_LEN)))
        .clone()
}

#[after_response]
async fn big_frame(State(report): State<Report>) -> Body {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    Body::from(big_bytes())
}

/// The big body, asking a proxy in front not to buffer it (nginx's `X-Accel-Buffering`).
#[after_response]
async fn big_frame_unbuffered(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    ([("x-accel-buffering", "no")], Body::from(big_bytes()))
}

async fn big_frame_untracked() -> Body {
    Body::from(big_bytes())
}

/// Two frames of unknown length: the second bigger than a slice.
fn two_frame_stream() -> Body {
    let frames = [
        Bytes::from_static(b"first frame;"),
        big_bytes().slice(..300_000),
    ];
    Body::from_stream(futures_util::stream::iter(frames.map(Ok::<_, Infallible>)))
}

#[after_response]
async fn chunked_stream(State(report): State<Report>) -> Body {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    two_frame_stream()
}

async fn chunked_stream_untracked() -> Body {
    two_frame_stream()
}

#[after_response]
async fn sse_endless(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let ticks =
        futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Event::default().data("tick")));
    Sse::new(ticks)
}

#[after_response]
async fn sse_finite(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let events =
        (0..SSE_EVENTS).map(|i| Ok::<_, Infallible>(Event::default().data(format!("event {i}"))));
    // One event at a time, with a pause between, as a real event source would.
    let paced = futures_util::stream::iter(events).then(|event| async move {
        tokio::task::yield_now().await;
        event
    });
    Sse::new(paced)
}

#[after_response]
async fn websocket(State(report): State<Report>, upgrade: WebSocketUpgrade) -> Response {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    upgrade.on_upgrade(|mut socket| async move {
        // Echo one message: the session outlives the 101 response.
        if let Some(Ok(message)) = socket.recv().await {
            let _ = socket.send(message).await;
        }
    })
}

#[after_response]
async fn redirect(State(report): State<Report>) -> Redirect {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    Redirect::to("/small")
}

#[after_response]
async fn status_headers_json(State(report): State<Report>) -> impl IntoResponse {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    (
        StatusCode::CREATED,
        [("x-shape", "status-headers-json")],
        Json(serde_json_value()),
    )
}

fn serde_json_value() -> std::collections::BTreeMap<&'static str, u32> {
    std::collections::BTreeMap::from([("id", 7), ("count", 3)])
}

/// One chunk, then pending forever: the client decides when it ends.
#[after_response]
async fn endless(State(report): State<Report>) -> Body {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    let first = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"first"))]);
    Body::from_stream(first.chain(futures_util::stream::pending()))
}

#[after_response]
async fn small(State(report): State<Report>) -> &'static str {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    "small"
}

/// Its plain block waits for [`GATE`] before it reports.
#[after_response]
async fn gated(State(report): State<Report>) -> &'static str {
    let (plain, always) = (report.clone(), report);
    defer! {
        GATE.acquire().await.unwrap().forget();
        plain.plain();
    }
    defer!(|outcome| {
        always.always(outcome);
    });
    "gated"
}

#[after_response]
async fn echo(State(report): State<Report>, body: Bytes) -> Bytes {
    let (plain, always) = (report.clone(), report);
    defer! { plain.plain(); }
    defer!(|outcome| {
        always.always(outcome);
    });
    body
}
