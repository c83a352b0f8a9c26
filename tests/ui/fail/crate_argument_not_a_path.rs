use after_response::after_response;

#[after_response(crate = "not a path")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = handler;
}
