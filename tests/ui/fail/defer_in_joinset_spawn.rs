// A `defer!` inside a task spawned through a method (here `JoinSet::spawn`) is not caught by
// name, but the registry is only borrowed by the handler's body, so the borrow checker still
// rejects it: the task could outlive the handler.
use after_response::{after_response, defer};

#[after_response]
async fn handler() -> &'static str {
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        defer! {
            println!("registered too late");
        }
    });
    "ok"
}

fn main() {
    let _ = handler;
}
