use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(|outcome| {
        let kind = outcome.kind();
        let x = ;
    });
    "ok"
}

fn main() {
    let _ = handler;
}
