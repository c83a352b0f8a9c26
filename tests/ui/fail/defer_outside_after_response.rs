use after_response::defer;

async fn handler() -> &'static str {
    defer! {
        println!("never registered");
    }
    "forgot the attribute"
}

fn main() {
    let _ = handler;
}
