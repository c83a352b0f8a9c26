use after_response::{after_response, defer};

#[after_response]
#[after_response]
async fn handler() -> &'static str {
    defer! {
        println!("later");
    }
    "ok"
}

fn main() {
    let _ = handler;
}
