use after_response::after_response;

#[after_response(timeout = 5)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = handler;
}
