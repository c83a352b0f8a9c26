//! `#[axum::debug_handler]` below `#[after_response]`: the rewrite comes first and
//! `debug_handler` checks the rewritten handler. (The other order fails with an error that
//! says to swap them: see `ui/fail/debug_handler_above_after_response.rs`.)
use after_response::{after_response, defer};
use axum::extract::State;
use axum::{routing::get, Router};

#[after_response]
#[axum::debug_handler]
async fn handler(State(name): State<String>) -> String {
    let copy = name.clone();
    defer!(|outcome| {
        let _ = (copy, outcome);
    });
    name
}

fn main() {
    let _app: Router = Router::new()
        .route("/", get(handler))
        .with_state("x".to_owned());
}
