use after_response::after_response;

trait Handlers {
    #[after_response]
    async fn handler() -> &'static str;
}

fn main() {}
