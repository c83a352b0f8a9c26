//! How to test a handler's deferred work: `tower::ServiceExt::oneshot` and the completion handle.
//!
//! With after-response's `test-util` feature on (this crate's `[dev-dependencies]` turn it on,
//! as a test crate would), every response that carries deferred work holds a [`Completion`] in
//! its extensions. Take it
//! with `Completion::of(&response)`, consume the body as a client would, then `.await` it: once
//! it resolves, every block of that response has run. No sleeps, no polling loops.
//!
//! The checks below are plain async functions: `main` runs them and prints what it saw
//! (`cargo run --example testing`), and the `tests` module runs them as `#[tokio::test]`s
//! (`cargo test --example testing`, and `cargo test --workspace`).

use std::sync::{Arc, Mutex};

use after_response::{after_response, defer, Completion, OutcomeKind};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// What the handlers' deferred blocks did, for the tests to look at. In an app this would be
/// a fake implementation of the mailer or queue trait the handlers hold.
#[derive(Clone, Default)]
struct App {
    notified: Arc<Mutex<Vec<String>>>,
    outcomes: Arc<Mutex<Vec<OutcomeKind>>>,
}

impl App {
    fn notified(&self) -> Vec<String> {
        self.notified.lock().expect("lock").clone()
    }

    fn outcomes(&self) -> Vec<OutcomeKind> {
        self.outcomes.lock().expect("lock").clone()
    }
}

#[after_response]
async fn comment(State(app): State<App>, text: String) -> (StatusCode, String) {
    let notify = app.clone();
    let subject = text.clone();
    defer! {
        notify.notified.lock().expect("lock").push(format!("subscribers told about {subject:?}"));
    }
    defer!(|outcome| {
        app.outcomes.lock().expect("lock").push(outcome.kind());
    });
    (StatusCode::CREATED, format!("saved {text:?}"))
}

#[after_response]
async fn feed(State(app): State<App>) -> Body {
    let notify = app.clone();
    defer! {
        notify.notified.lock().expect("lock").push("feed fully read".to_owned());
    }
    defer!(|outcome| {
        app.outcomes.lock().expect("lock").push(outcome.kind());
    });
    let items =
        ["item 1\n", "item 2\n", "item 3\n"].map(|item| Ok::<_, std::io::Error>(Bytes::from(item)));
    Body::from_stream(futures_util::stream::iter(items))
}

fn router(app: App) -> Router {
    Router::new()
        .route("/comments", post(comment))
        .route("/feed", get(feed))
        .with_state(app)
}

/// The client reads the whole response: both blocks run, with `Completed`.
async fn completed_response_runs_the_deferred_work() {
    let app = App::default();
    let response = router(app.clone())
        .oneshot(
            Request::post("/comments")
                .body(Body::from("first!"))
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::CREATED);
    let completion = Completion::of(&response);

    // The body is still ours: nothing can have run yet.
    assert!(app.notified().is_empty());

    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "saved \"first!\"");
    // The blocks fire once the body and its last bytes are let go of, as a server does after
    // writing them: `collect` dropped the body; drop the bytes too before waiting.
    drop(body);
    completion.await;
    assert_eq!(app.notified(), ["subscribers told about \"first!\""]);
    assert_eq!(app.outcomes(), [OutcomeKind::Completed]);
    println!(
        "completed: {:?}, outcomes {:?}",
        app.notified(),
        app.outcomes()
    );
}

/// The client stops half-way: only the always-block runs, with `Aborted`.
async fn abandoned_stream_is_aborted() {
    let app = App::default();
    let response = router(app.clone())
        .oneshot(Request::get("/feed").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let completion = Completion::of(&response);
    let mut body = response.into_body();
    let first = body.frame().await.expect("a frame").expect("frame");
    assert_eq!(first.into_data().expect("data"), "item 1\n");
    drop(body); // the client went away
    completion.await;
    assert!(app.notified().is_empty(), "the plain block does not run");
    assert_eq!(app.outcomes(), [OutcomeKind::Aborted]);
    println!("aborted: outcomes {:?}", app.outcomes());
}

/// A body dropped without ever being read counts as Completed: that is how a server ends a
/// HEAD response. To test the Aborted path, read at least one frame first (as above).
async fn unread_body_counts_as_completed() {
    let app = App::default();
    let response = router(app.clone())
        .oneshot(Request::get("/feed").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let completion = Completion::of(&response);
    drop(response);
    completion.await;
    assert_eq!(app.outcomes(), [OutcomeKind::Completed]);
    println!("unread: outcomes {:?}", app.outcomes());
}

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() {
    completed_response_runs_the_deferred_work().await;
    abandoned_stream_is_aborted().await;
    unread_body_counts_as_completed().await;
    println!("all checks passed");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn completed_response_runs_the_deferred_work() {
        super::completed_response_runs_the_deferred_work().await;
    }

    #[tokio::test]
    async fn abandoned_stream_is_aborted() {
        super::abandoned_stream_is_aborted().await;
    }

    #[tokio::test]
    async fn unread_body_counts_as_completed() {
        super::unread_body_counts_as_completed().await;
    }
}
