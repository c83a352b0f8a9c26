use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(|outcome| {
        println!("{:?}", outcome.kind());
    }, "and then");
    "ok"
}

fn main() {
    let _ = handler;
}
