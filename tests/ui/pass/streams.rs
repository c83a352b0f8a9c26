//! `Sse<impl Stream<Item = ..>>` and streamed bodies: the `impl Trait` bounds still drive
//! inference (`Ok`'s error type comes from `Item = Result<Event, Infallible>`).
use std::convert::Infallible;
use std::time::Duration;

use after_response::{after_response, defer};
use axum::body::{Body, Bytes};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt as _};

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[after_response]
async fn sse() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    defer! { MARKS.mark(); }
    let events = stream::iter(["one", "two"]).map(|text| Event::default().data(text));
    Sse::new(events.map(Ok))
}

#[after_response]
async fn sse_axum_error() -> Sse<impl Stream<Item = Result<Event, axum::Error>>> {
    defer!(|outcome| {
        assert!(outcome.is_completed());
        MARKS.mark();
    });
    Sse::new(stream::once(async { Ok(Event::default().data("once")) }))
}

#[after_response]
async fn sse_keep_alive() -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static> {
    defer! { MARKS.mark(); }
    let events = stream::iter(0..2_u8).map(|n| Ok(Event::default().data(n.to_string())));
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(30)))
}

/// The bounds name the handler's own generic parameter: it is carried into the check.
#[after_response]
async fn sse_generic<E>() -> Sse<impl Stream<Item = Result<Event, E>>>
where
    E: Into<axum::BoxError> + Send + Sync + 'static,
{
    defer! { MARKS.mark(); }
    Sse::new(stream::iter(["generic"]).map(|text| Ok(Event::default().data(text))))
}

#[after_response]
async fn streamed() -> Body {
    defer! { MARKS.mark(); }
    let chunks = stream::iter(["stre", "amed"]).map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk)));
    Body::from_stream(chunks)
}

pub fn router() -> Router {
    Router::new()
        .route("/sse", get(sse))
        .route("/sse_axum_error", get(sse_axum_error))
        .route("/sse_keep_alive", get(sse_keep_alive))
        .route("/sse_generic", get(sse_generic::<Infallible>))
        .route("/streamed", get(streamed))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/sse").expect(200, "data: two", 1),
        Check::get("/sse_axum_error").expect(200, "data: once", 1),
        Check::get("/sse_keep_alive").expect(200, "data: 1", 1),
        Check::get("/sse_generic").expect(200, "data: generic", 1),
        Check::get("/streamed").expect(200, "streamed", 1),
    ]
}
