//! A body that declares its own `use` items and shadows common names (`Result`, `Response`,
//! `Box`, `Ok`, `Some`, `drop`): the expansion names everything by absolute path.
#![allow(dead_code, non_snake_case)]

use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

struct Box;
struct Option;
fn drop() {}
mod core {}

#[after_response]
async fn handler() -> Result<String, String> {
    use std::fmt::Write as _;
    type Result = ();
    struct Response;
    enum Ok {}
    fn Some() {}
    let after_response_registry = Response;
    let _ = (after_response_registry, Box, Option);
    defer! {
        use std::collections::HashMap as Response;
        let _: Response<u8, u8> = Response::new();
    }
    let mut text = String::new();
    write!(text, "shadowed").unwrap();
    let _: Result = ();
    std::result::Result::Ok(text)
}

fn main() {
    let app = Router::new().route("/", get(handler));
    assert_eq!(support::run(app, support::get("/")).1, "shadowed");
}
