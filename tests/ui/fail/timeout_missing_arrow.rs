use std::time::Duration;

use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(timeout = Duration::from_secs(5) {
        println!("later");
    });
    "ok"
}

fn main() {
    let _ = handler;
}
