// `#[axum::debug_handler]` expands first and copies the body into a check function of its
// own, where `defer!` is outside any `#[after_response]`: the error says to swap the two.
use after_response::{after_response, defer};
use axum::extract::State;

#[axum::debug_handler]
#[after_response]
async fn handler(State(name): State<String>) -> String {
    let copy = name.clone();
    defer! {
        drop(copy);
    }
    name
}

fn main() {
    let _ = handler;
}
