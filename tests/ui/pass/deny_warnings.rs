//! Every form of the macro under `#![deny(warnings)]`: no rustc lint fires from generated code.
//!
//! `tests/tests/ui.rs` also compiles this file as a module, so `cargo clippy --all-targets
//! -- -D warnings` checks it under `clippy::pedantic` too.
#![deny(warnings)]
#![warn(clippy::pedantic)]

use std::fmt;
use std::time::Duration;

use after_response::{after_response, defer, Outcome};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Json, Router};

mod reexport {
    pub use after_response as inner;
}

/// An error type for the `Result` handler.
#[derive(Debug)]
pub struct AppError;

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("app error")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

/// Shared state.
#[derive(Clone, Default)]
pub struct App {
    name: String,
}

impl App {
    #[after_response]
    async fn associated(State(app): State<Self>) -> impl IntoResponse {
        let name = app.name.clone();
        defer! {
            drop(name);
        }
        app.name
    }

    #[after_response]
    async fn method(&self) -> String {
        let name = self.name.clone();
        defer!(|outcome| {
            drop((name, outcome));
        });
        self.name.clone()
    }
}

#[after_response]
async fn every_form(Path(id): Path<u32>) -> Result<Json<u32>, AppError> {
    defer! {
        let _ = id;
    }
    defer!(|outcome| {
        let _ = outcome.status();
    });
    defer!(|outcome: Outcome| {
        let _ = outcome.kind();
    });
    defer!(timeout = Duration::from_secs(5) => {
        tokio::task::yield_now().await;
    });
    defer!(timeout = Duration::from_secs(5) => |outcome| {
        let _ = outcome.elapsed();
    });
    let handle = defer! {
        tokio::task::yield_now().await;
    };
    let fallible = defer! {
        let parsed: u32 = "1".parse().map_err(|_| AppError)?;
        let _ = parsed;
        Ok::<(), AppError>(())
    };
    fallible.set_timeout(Duration::from_secs(1));
    if id == 0 {
        handle.cancel();
        return Err(AppError);
    }
    for step in 0..2_u32 {
        defer! { let _ = step; }
    }
    match id {
        1 => drop(defer! {}),
        _ => defer!(|_outcome| {}).cancel(),
    }
    Ok(Json(id))
}

#[after_response]
async fn generic<T>(State(value): State<T>) -> String
where
    T: fmt::Display + Clone + Send + Sync + 'static,
{
    let text = value.to_string();
    defer! {
        drop(text);
    }
    value.to_string()
}

#[after_response]
async fn no_defer() -> &'static str {
    "nothing deferred"
}

#[reexport::inner::after_response(crate = "reexport::inner")]
async fn through_reexport() -> StatusCode {
    reexport::inner::defer! {}
    StatusCode::NO_CONTENT
}

#[after_response]
async fn via_method(State(app): State<App>) -> Response {
    app.method().await
}

/// Builds the router, so that every handler is used.
pub fn main() {
    let _app: Router = Router::new()
        .route("/{id}", get(every_form))
        .route("/associated", get(App::associated))
        .route("/method", get(via_method))
        .route("/generic", get(generic::<App>))
        .route("/none", get(no_defer))
        .route("/reexport", get(through_reexport))
        .with_state(App::default());
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
