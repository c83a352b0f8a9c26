use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(|outcome, extra| {
        println!("{:?} {extra}", outcome.kind());
    });
    "ok"
}

fn main() {
    let _ = handler;
}
