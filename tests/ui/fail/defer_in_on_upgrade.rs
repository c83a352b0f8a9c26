use after_response::{after_response, defer};
use axum::extract::ws::WebSocketUpgrade;
use axum::response::IntoResponse;

#[after_response]
async fn handler(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(|socket| async move {
        defer! {
            drop(socket);
        }
    })
}

fn main() {
    let _ = handler;
}
