use after_response::{after_response, defer};

struct Handlers;

#[after_response]
impl Handlers {
    async fn handler() -> &'static str {
        defer! {}
        "ok"
    }

    #[after_response]
    async fn already_marked() -> &'static str {
        defer! {}
        "ok"
    }
}

fn main() {
    let _ = (Handlers::handler, Handlers::already_marked);
}
