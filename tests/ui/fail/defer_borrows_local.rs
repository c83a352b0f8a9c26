use after_response::{after_response, defer};

#[after_response]
async fn handler(body: String) -> String {
    let text = body.as_str();
    defer! {
        println!("{text}");
    }
    body.clone()
}

fn main() {
    let _ = handler;
}
