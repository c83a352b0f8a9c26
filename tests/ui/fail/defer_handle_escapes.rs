use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    let handle = defer! {
        println!("later");
    };
    tokio::spawn(async move {
        handle.cancel();
    });
    "ok"
}

fn main() {
    let _ = handler;
}
