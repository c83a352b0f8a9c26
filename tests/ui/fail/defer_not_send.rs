use std::rc::Rc;

use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    let shared = Rc::new(5);
    defer! {
        println!("{shared}");
    }
    "ok"
}

fn main() {
    let _ = handler;
}
