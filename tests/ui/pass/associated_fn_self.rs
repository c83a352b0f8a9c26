//! Associated functions in `impl` blocks: `Self` in arguments, body and return type, and a
//! method taking `&self` that moves owned copies into its blocks.
use std::sync::atomic::{AtomicUsize, Ordering};

use after_response::{after_response, defer};
use axum::extract::State;
use axum::{routing::get, Json, Router};
use serde::Serialize;

#[path = "../support/run.rs"]
mod support;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Serialize)]
struct Counter {
    name: String,
}

impl Counter {
    fn new(name: &str) -> Self {
        Self { name: name.to_owned() }
    }

    #[after_response]
    async fn handler(State(this): State<Self>) -> Json<Self> {
        let copy: Self = this.clone();
        defer! {
            let _ = copy.name.len();
            RAN.fetch_add(1, Ordering::SeqCst);
        }
        Json(Self::new(&this.name))
    }

    #[after_response]
    async fn method(&self) -> String {
        let name = self.name.clone();
        defer! {
            drop(name);
            RAN.fetch_add(1, Ordering::SeqCst);
        }
        self.name.to_uppercase()
    }
}

#[after_response]
async fn via_method(State(counter): State<Counter>) -> axum::response::Response {
    counter.method().await
}

fn main() {
    let app = Router::new()
        .route("/", get(Counter::handler))
        .route("/method", get(via_method))
        .with_state(Counter::new("c"));
    assert_eq!(support::run(app.clone(), support::get("/")).1, r#"{"name":"c"}"#);
    assert_eq!(support::run(app, support::get("/method")).1, "C");
    assert_eq!(RAN.load(Ordering::SeqCst), 2);
}
