//! `defer!` inside `if` / `else` branches and `match` arms: only the branch taken registers.
//! Both statement position (no `;`) and expression position (a `match` arm) work.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

static IF: AtomicUsize = AtomicUsize::new(0);
static ELSE: AtomicUsize = AtomicUsize::new(0);
static ARMS: AtomicUsize = AtomicUsize::new(0);

#[after_response]
async fn handler(Path(n): Path<u32>) -> String {
    if n % 2 == 0 {
        defer! { IF.fetch_add(1, Ordering::SeqCst); }
    } else {
        defer! { ELSE.fetch_add(1, Ordering::SeqCst); }
    }
    let handle = match n {
        0 => Some(defer! { ARMS.fetch_add(100, Ordering::SeqCst); }),
        1 | 2 => Some(defer!(|_outcome| {
            ARMS.fetch_add(1, Ordering::SeqCst);
        })),
        _ => None,
    };
    drop(handle);
    n.to_string()
}

fn main() {
    let app = Router::new().route("/{n}", get(handler));
    for n in 0..4 {
        support::run(app.clone(), support::get(&format!("/{n}")));
    }
    assert_eq!(IF.load(Ordering::SeqCst), 2);
    assert_eq!(ELSE.load(Ordering::SeqCst), 2);
    assert_eq!(ARMS.load(Ordering::SeqCst), 102);
}
