//! Order with other attributes: `#[axum::debug_handler]` below (with and without `state =`),
//! `#[tracing::instrument]` above and below, with `skip_all`, `fields`, `ret` and `err`.
use after_response::{after_response, defer};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[derive(Clone)]
pub struct App;

#[after_response]
#[axum::debug_handler]
async fn debug_handler_below() -> &'static str {
    defer! { MARKS.mark(); }
    "debug"
}

#[after_response]
#[axum::debug_handler(state = App)]
async fn debug_handler_state(State(_app): State<App>) -> &'static str {
    defer! { MARKS.mark(); }
    "debug state"
}

#[tracing::instrument(skip_all, fields(id = id))]
#[after_response]
async fn instrument_above(Path(id): Path<u32>) -> String {
    defer! {
        tracing::info!("after the response");
        MARKS.mark();
    }
    id.to_string()
}

#[after_response]
#[tracing::instrument(skip_all, fields(id = %id))]
async fn instrument_below(Path(id): Path<u32>) -> String {
    defer! { MARKS.mark(); }
    id.to_string()
}

#[tracing::instrument(ret, err)]
#[after_response]
async fn ret_err_above(Path(id): Path<u32>) -> Result<String, String> {
    defer! { MARKS.mark(); }
    if id == 0 {
        return Err("zero".to_owned());
    }
    Ok(id.to_string())
}

#[after_response]
#[tracing::instrument(ret, err)]
async fn ret_err_below(Path(id): Path<u32>) -> Result<String, String> {
    defer!(|_outcome| MARKS.mark());
    if id == 0 {
        return Err("zero".to_owned());
    }
    Ok(id.to_string())
}

#[after_response]
#[tracing::instrument(err(Debug), skip_all)]
async fn err_below_status(Path(id): Path<u32>) -> Result<&'static str, StatusCode> {
    defer! { MARKS.mark(); }
    if id == 0 { Err(StatusCode::NOT_FOUND) } else { Ok("found") }
}

#[after_response]
#[axum::debug_handler]
#[tracing::instrument(skip_all)]
async fn debug_then_instrument(State(_app): State<App>) -> &'static str {
    defer! { MARKS.mark(); }
    "both"
}

#[tracing::instrument(skip_all)]
#[after_response]
#[axum::debug_handler]
async fn instrument_then_debug(State(_app): State<App>) -> &'static str {
    defer! { MARKS.mark(); }
    "both"
}

pub fn router() -> Router {
    Router::new()
        .route("/debug", get(debug_handler_below))
        .route("/debug_state", get(debug_handler_state))
        .route("/above/{id}", get(instrument_above))
        .route("/below/{id}", get(instrument_below))
        .route("/ret_err_above/{id}", get(ret_err_above))
        .route("/ret_err_below/{id}", get(ret_err_below))
        .route("/err_status/{id}", get(err_below_status))
        .route("/debug_instrument", get(debug_then_instrument))
        .route("/instrument_debug", get(instrument_then_debug))
        .with_state(App)
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/debug").expect(200, "debug", 1),
        Check::get("/debug_state").expect(200, "debug state", 1),
        Check::get("/above/5").expect(200, "5", 1),
        Check::get("/below/6").expect(200, "6", 1),
        Check::get("/ret_err_above/7").expect(200, "7", 1),
        Check::get("/ret_err_above/0").expect(200, "zero", 1),
        Check::get("/ret_err_below/8").expect(200, "8", 1),
        Check::get("/ret_err_below/0").expect(200, "zero", 1),
        Check::get("/err_status/1").expect(200, "found", 1),
        Check::get("/err_status/0").expect(404, "", 1),
        Check::get("/debug_instrument").expect(200, "both", 1),
        Check::get("/instrument_debug").expect(200, "both", 1),
    ]
}
