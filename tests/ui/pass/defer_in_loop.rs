//! `defer!` in loops registers once per iteration, and the blocks run in registration order.
use std::sync::Mutex;

use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static ORDER: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[after_response]
async fn handler() -> &'static str {
    for i in 0..3 {
        defer! {
            ORDER.lock().unwrap().push(i);
        }
    }
    let mut j = 10;
    while j < 12 {
        defer!(|_outcome| {
            ORDER.lock().unwrap().push(j);
        });
        j += 1;
    }
    loop {
        defer! { ORDER.lock().unwrap().push(99); }
        break;
    }
    "looped"
}

fn main() {
    let app = Router::new().route("/", get(handler));
    support::run(app, support::get("/"));
    assert_eq!(*ORDER.lock().unwrap(), [0, 1, 2, 10, 11, 99]);
}
