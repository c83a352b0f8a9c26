use after_response::{after_response, defer};

struct NotAResponse;

#[after_response]
async fn handler() -> NotAResponse {
    defer! {}
    NotAResponse
}

fn main() {
    let _ = handler;
}
