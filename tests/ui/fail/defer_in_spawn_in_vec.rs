use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    let tasks = vec![tokio::spawn(async move {
        defer! {
            println!("registered after the response may have left");
        }
    })];
    drop(tasks);
    "ok"
}

fn main() {
    let _ = handler;
}
