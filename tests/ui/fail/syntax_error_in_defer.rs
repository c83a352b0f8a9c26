use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer! {
        let x = ;
    }
    defer! {
        println!("this one is fine");
    }
    "ok"
}

fn main() {
    let _ = handler;
}
