//! The two block forms and their handles, as the README shows them: `defer! { .. }` and
//! `defer!(|outcome| ..)`, a typed outcome, fallible blocks, timeouts, cancel, through a
//! re-export with `crate = ".."`.
use std::time::Duration;

use after_response::{after_response, defer, Outcome, OutcomeKind};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

mod reexport {
    pub use after_response as inner;
}

#[after_response]
async fn every_form() -> Result<&'static str, StatusCode> {
    defer! { MARKS.mark(); }
    defer!(|outcome| {
        assert_eq!(outcome.kind(), OutcomeKind::Completed);
        MARKS.mark();
    });
    defer!(|outcome: Outcome| {
        assert_eq!(outcome.status(), Some(StatusCode::OK));
        MARKS.mark();
    });
    let fallible = defer! {
        MARKS.mark();
        Err::<(), String>("logged, not lost".to_owned())
    };
    fallible.set_timeout(Duration::from_secs(30));
    let cancelled = defer! { MARKS.mark(); };
    cancelled.cancel();
    Ok("forms")
}

#[reexport::inner::after_response(crate = "reexport::inner")]
async fn through_reexport() -> StatusCode {
    reexport::inner::defer! { MARKS.mark(); }
    StatusCode::NO_CONTENT
}

#[after_response]
async fn on_error_status() -> (StatusCode, &'static str) {
    // `defer! {..}` runs when the response completed, whatever its status.
    defer! { MARKS.mark(); }
    (StatusCode::SERVICE_UNAVAILABLE, "busy")
}

pub fn router() -> Router {
    Router::new()
        .route("/forms", get(every_form))
        .route("/reexport", get(through_reexport))
        .route("/error_status", get(on_error_status))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/forms").expect(200, "forms", 4),
        Check::get("/reexport").expect(204, "", 1),
        Check::get("/error_status").expect(503, "busy", 1),
    ]
}
