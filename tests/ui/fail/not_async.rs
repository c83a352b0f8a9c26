use after_response::{after_response, defer};

#[after_response]
fn handler() -> &'static str {
    defer! {
        println!("later");
    }
    "not async"
}

fn main() {
    let _ = handler;
}
