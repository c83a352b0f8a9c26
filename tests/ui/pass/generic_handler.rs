//! Generic handlers: type parameters with bounds, a `where` clause, and a lifetime-free
//! `impl Trait` argument position is not needed: axum handlers are plain generic functions.
use std::fmt::Display;
use std::sync::Arc;

use after_response::{after_response, defer};
use axum::extract::State;
use axum::{routing::get, Router};

#[path = "../support/run.rs"]
mod support;

trait Greeter: Send + Sync + 'static {
    fn greet(&self) -> String;
}

struct English;

impl Greeter for English {
    fn greet(&self) -> String {
        "hello".to_owned()
    }
}

#[after_response]
async fn greet<G: Greeter>(State(greeter): State<Arc<G>>) -> String {
    let later = Arc::clone(&greeter);
    defer! {
        let _ = later.greet();
    }
    greeter.greet()
}

#[after_response]
async fn show<T, const N: usize>(State(values): State<Arc<[T; N]>>) -> String
where
    T: Display + Send + Sync + 'static,
{
    let values_later = Arc::clone(&values);
    defer!(|_outcome| {
        let _ = values_later.len();
    });
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn main() {
    let app = Router::new()
        .route("/", get(greet::<English>))
        .with_state(Arc::new(English));
    assert_eq!(support::run(app, support::get("/")).1, "hello");
    let app = Router::new()
        .route("/", get(show::<u8, 3>))
        .with_state(Arc::new([1_u8, 2, 3]));
    assert_eq!(support::run(app, support::get("/")).1, "1,2,3");
}
