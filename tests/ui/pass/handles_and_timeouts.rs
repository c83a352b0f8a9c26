//! `let handle = defer! { .. };` evaluates to a `DeferHandle`: `cancel()` stops that block;
//! `defer!(timeout = .. => ..)` gives a block its own timeout; a block may end in
//! `Result<(), E: Display>` and use `?`.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use after_response::{after_response, defer, Outcome};
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler() -> &'static str {
    let cancelled = defer! {
        RAN.fetch_add(1000, Ordering::SeqCst);
    };
    let kept = defer!(|outcome: Outcome| {
        if outcome.is_completed() {
            RAN.fetch_add(1, Ordering::SeqCst);
        }
    });
    defer!(timeout = Duration::from_secs(30) => {
        RAN.fetch_add(10, Ordering::SeqCst);
    });
    defer!(timeout = Duration::from_secs(30) => |_outcome| {
        RAN.fetch_add(100, Ordering::SeqCst);
    })
    .set_timeout(Duration::from_secs(60));
    defer! {
        let n: u32 = "7".parse()?;
        RAN.fetch_add(n as usize * 10_000, Ordering::SeqCst);
        Ok::<(), std::num::ParseIntError>(())
    }
    defer! {
        Err::<(), _>("this failure is logged, not lost")
    }
    let timeout = Duration::from_secs(1);
    defer! {
        // A block that starts with a local called `timeout` is not the `timeout =` option.
        let timeout = timeout * 2;
        let _ = timeout;
    }
    cancelled.cancel();
    cancelled.cancel();
    drop(kept);
    "handled"
}

fn main() {
    let app = Router::new().route("/", get(handler));
    assert_eq!(support::run(app, support::get("/")).1, "handled");
    assert_eq!(RAN.load(Ordering::SeqCst), 70_111);
}
