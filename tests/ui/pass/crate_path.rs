//! `#[after_response(crate = "path")]` for users who reach the runtime through a re-export.
mod framework {
    pub use after_response as deferred;
}

use axum::{routing::get, Router};
use framework::deferred::{self, defer};

#[path = "../support/run.rs"]
mod support;

static RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[deferred::after_response(crate = "crate::framework::deferred")]
async fn imported() -> &'static str {
    defer! {
        RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    "imported"
}

#[framework::deferred::after_response(crate = "framework::deferred")]
async fn by_path() -> &'static str {
    framework::deferred::defer!(|_outcome| {
        RAN.fetch_add(10, std::sync::atomic::Ordering::SeqCst);
    });
    deferred::defer! {
        RAN.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
    }
    "by path"
}

fn main() {
    let app = Router::new().route("/a", get(imported)).route("/b", get(by_path));
    assert_eq!(support::run(app.clone(), support::get("/a")).1, "imported");
    assert_eq!(support::run(app, support::get("/b")).1, "by path");
    assert_eq!(RAN.load(std::sync::atomic::Ordering::SeqCst), 111);
}
