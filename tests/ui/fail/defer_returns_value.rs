use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer! {
        "a value nobody will see"
    }
    "ok"
}

fn main() {
    let _ = handler;
}
