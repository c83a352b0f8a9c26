use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(|outcome| async move {
        println!("{:?}", outcome.kind());
    });
    "ok"
}

fn main() {
    let _ = handler;
}
