//! `defer!` inside another macro's input (`tokio::select!` arms, `vec!`, `format!`) is
//! rewritten too: in braces as a statement (no `;` needed, handle discarded), in parentheses
//! and brackets as an expression (the handle).
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler() -> &'static str {
    let (sender, receiver) = tokio::sync::oneshot::channel::<u8>();
    sender.send(1).unwrap();
    tokio::select! {
        Ok(value) = receiver => {
            defer! {
                RAN.fetch_add(usize::from(value), Ordering::SeqCst);
            }
            let handle = defer!(|_outcome| {
                RAN.fetch_add(10, Ordering::SeqCst);
            });
            drop(handle);
        }
        () = tokio::task::yield_now() => {
            defer!(|_outcome| {
                RAN.fetch_add(1000, Ordering::SeqCst);
            })
        }
    }
    let handles = vec![
        defer! { RAN.fetch_add(100, Ordering::SeqCst); },
        defer! { RAN.fetch_add(1000, Ordering::SeqCst); }
    ];
    handles[1].cancel();
    // In a macro's parentheses, `defer!` is an expression: here, the handle is formatted.
    let text = format!("{:?}", defer! { RAN.fetch_add(10_000, Ordering::SeqCst); });
    assert!(text.starts_with("DeferHandle"));
    "selected"
}

fn main() {
    let app = Router::new().route("/", get(handler));
    assert_eq!(support::run(app, support::get("/")).1, "selected");
    assert_eq!(RAN.load(Ordering::SeqCst), 10_111);
}
