//! Deferred blocks that diverge: `panic!`, `todo!`, `unreachable!`, an endless `loop`,
//! `std::process::exit`, in both forms. They compile in both editions (no `()` fallback is
//! needed); the ones that run panic or time out in isolation, the response is unaffected.
use std::time::Duration;

use after_response::{after_response, defer};
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

fn log() {
    MARKS.mark();
}

#[after_response]
async fn panics() -> &'static str {
    defer! {
        log();
        panic!("deliberate: a deferred block that panics");
    }
    defer!(|_outcome| {
        log();
        panic!("deliberate: an always block that panics")
    });
    "panics"
}

#[after_response]
async fn todo_and_unreachable() -> &'static str {
    defer! {
        log();
        todo!()
    }
    defer! {
        log();
        unreachable!("deliberate")
    }
    defer!(|_outcome| {
        log();
        unimplemented!()
    });
    "todo"
}

#[after_response]
async fn endless() -> &'static str {
    defer!(timeout = Duration::from_millis(50) => {
        log();
        loop {
            tokio::task::yield_now().await;
        }
    });
    defer!(timeout = Duration::from_millis(50) => |_outcome| loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    "endless"
}

#[after_response]
async fn exits() -> &'static str {
    // Registered, then cancelled: the process must not exit during the test.
    defer! { std::process::exit(0) }.cancel();
    defer!(|_outcome| std::process::exit(1)).cancel();
    "exits"
}

pub fn router() -> Router {
    Router::new()
        .route("/panics", get(panics))
        .route("/todo", get(todo_and_unreachable))
        .route("/endless", get(endless))
        .route("/exits", get(exits))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/panics").expect(200, "panics", 2),
        Check::get("/todo").expect(200, "todo", 3),
        Check::get("/endless").expect(200, "endless", 1),
        Check::get("/exits").expect(200, "exits", 0),
    ]
}
