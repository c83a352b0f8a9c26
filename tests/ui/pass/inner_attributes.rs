//! Inner attributes at the top of the body keep applying to the whole body.
use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[after_response]
async fn handler() -> &'static str {
    #![allow(unused_variables, clippy::let_unit_value)]
    #![deny(unreachable_code)]
    let unused = 1;
    defer! {
        let also_unused = 2;
    }
    "ok"
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
