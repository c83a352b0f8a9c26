use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    defer!(|| {
        println!("no outcome");
    });
    "ok"
}

fn main() {
    let _ = handler;
}
