use after_response::{after_response, defer};

#[after_response(timeout = 5)]
async fn handler() -> &'static str {
    defer! {
        println!("no cascade: this `defer!` is made inert after the attribute's error");
    }
    "ok"
}

fn main() {
    let _ = handler;
}
