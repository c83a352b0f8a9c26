use after_response::{after_response, defer};

struct Opaque;

#[after_response]
async fn handler() -> &'static str {
    defer! {
        Err::<(), _>(Opaque)
    }
    "ok"
}

fn main() {
    let _ = handler;
}
