use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    fn helper() {
        defer! {
            println!("which request is this?");
        }
    }
    helper();
    "ok"
}

fn main() {
    let _ = handler;
}
