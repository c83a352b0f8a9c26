//! A handler with no `defer!` at all: the attribute changes nothing visible.
use after_response::after_response;
use axum::{routing::get, Router};

#[after_response]
async fn plain() -> &'static str {
    "hello"
}

fn main() {
    let _app: Router = Router::new().route("/", get(plain));
}
