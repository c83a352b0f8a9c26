//! `defer!` inside a closure called by the handler and inside async blocks it awaits: they
//! borrow the request's registry, so they register on this request.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler() -> &'static str {
    let register = |amount: usize| {
        defer! {
            RAN.fetch_add(amount, Ordering::SeqCst);
        }
    };
    register(1);
    register(10);
    async {
        defer! { RAN.fetch_add(100, Ordering::SeqCst); }
    }
    .await;
    let nested = async move {
        tokio::task::yield_now().await;
        defer!(|_outcome| {
            RAN.fetch_add(1000, Ordering::SeqCst);
        })
        .set_timeout(std::time::Duration::from_secs(60));
        "nested"
    };
    nested.await
}

fn main() {
    let app = Router::new().route("/", get(handler));
    assert_eq!(support::run(app, support::get("/")).1, "nested");
    assert_eq!(RAN.load(Ordering::SeqCst), 1111);
}
