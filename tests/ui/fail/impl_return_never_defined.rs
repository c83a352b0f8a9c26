use after_response::after_response;
use axum::http::StatusCode;
use axum::response::IntoResponse;

#[after_response]
async fn handler() -> Result<impl IntoResponse, StatusCode> {
    todo!()
}

fn main() {
    let _ = handler;
}
