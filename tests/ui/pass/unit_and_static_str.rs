//! `()` (no return type at all) and `&'static str` returns.
use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[after_response]
async fn nothing() {
    defer! {
        println!("after an empty 200");
    }
}

#[after_response]
async fn explicit_unit() -> () {
    defer! {}
}

#[after_response]
async fn text() -> &'static str {
    defer! {}
    "text"
}

fn main() {
    let _app: Router = Router::new()
        .route("/nothing", get(nothing))
        .route("/unit", get(explicit_unit))
        .route("/text", get(text));
}
