//! `-> Result<Json<T>, AppError>` with `?`: the error converts through `From` as before, and a
//! block registered before the `?` still runs when the error response is sent.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Json, Router};
use serde::Serialize;

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize)]
struct User {
    id: u32,
}

struct AppError(String);

impl From<std::num::ParseIntError> for AppError {
    fn from(error: std::num::ParseIntError) -> Self {
        Self(error.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0).into_response()
    }
}

#[after_response]
async fn handler(Path(id): Path<String>) -> Result<Json<User>, AppError> {
    defer! {
        RAN.fetch_add(1, Ordering::SeqCst);
    }
    let id: u32 = id.parse()?;
    Ok(Json(User { id }))
}

fn main() {
    let app = Router::new().route("/users/{id}", get(handler));
    let (status, body) = support::run(app.clone(), support::get("/users/7"));
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"id":7}"#));
    let (status, _) = support::run(app, support::get("/users/seven"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(RAN.load(Ordering::SeqCst), 2);
}
