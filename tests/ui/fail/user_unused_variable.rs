#![deny(unused_variables)]

use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    let unused_in_handler = 1;
    defer! {
        let unused_in_block = 2;
    }
    "ok"
}

fn main() {
    let _ = handler;
}
