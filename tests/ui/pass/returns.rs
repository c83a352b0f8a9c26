//! Every return shape axum handlers use, `impl Trait` ones included.
use after_response::{after_response, defer};
use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[after_response]
async fn unit() {
    defer! { MARKS.mark(); }
}

#[after_response]
async fn explicit_unit() -> () {
    defer! { MARKS.mark(); }
}

#[after_response]
async fn static_str() -> &'static str {
    defer! { MARKS.mark(); }
    "static"
}

#[after_response]
async fn string() -> String {
    defer! { MARKS.mark(); }
    String::from("owned")
}

#[after_response]
async fn html() -> Html<&'static str> {
    defer! { MARKS.mark(); }
    Html("<p>html</p>")
}

#[after_response]
async fn json() -> Json<Vec<u32>> {
    defer! { MARKS.mark(); }
    Json(vec![1, 2])
}

#[after_response]
async fn redirect() -> Redirect {
    defer! { MARKS.mark(); }
    Redirect::to("/static")
}

#[after_response]
async fn status() -> StatusCode {
    defer! { MARKS.mark(); }
    StatusCode::ACCEPTED
}

#[after_response]
async fn body() -> Body {
    defer! { MARKS.mark(); }
    Body::from("a body")
}

#[after_response]
async fn response() -> Response {
    defer! { MARKS.mark(); }
    (StatusCode::CREATED, "a response").into_response()
}

#[after_response]
async fn status_tuple() -> (StatusCode, &'static str) {
    defer! { MARKS.mark(); }
    (StatusCode::IM_A_TEAPOT, "teapot")
}

#[after_response]
async fn headers_tuple() -> (StatusCode, [(HeaderName, &'static str); 1], String) {
    defer! { MARKS.mark(); }
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "with headers".to_owned())
}

#[after_response]
async fn header_map() -> (HeaderMap, &'static str) {
    let mut headers = HeaderMap::new();
    headers.insert("x-made", "yes".parse().expect("a header value"));
    defer! { MARKS.mark(); }
    (headers, "header map")
}

#[after_response]
async fn bytes_vec() -> Vec<u8> {
    defer! { MARKS.mark(); }
    b"vec".to_vec()
}

#[after_response]
async fn impl_into_response() -> impl IntoResponse {
    defer! { MARKS.mark(); }
    (StatusCode::CREATED, "made")
}

#[after_response]
async fn result_impl(axum::extract::Path(n): axum::extract::Path<i32>) -> Result<impl IntoResponse, StatusCode> {
    defer! { MARKS.mark(); }
    if n < 0 {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(Json(n * 2))
}

#[after_response]
async fn result_impl_impl(
    axum::extract::Path(n): axum::extract::Path<i32>,
) -> Result<impl IntoResponse, impl IntoResponse> {
    defer! { MARKS.mark(); }
    if n == 0 {
        Err((StatusCode::NOT_FOUND, "zero"))
    } else {
        Ok(format!("n={n}"))
    }
}

#[after_response]
async fn impl_send_static() -> impl IntoResponse + Send + 'static {
    defer! { MARKS.mark(); }
    "send static"
}

#[after_response]
async fn impl_use() -> impl IntoResponse + use<> {
    defer! { MARKS.mark(); }
    "precise capture"
}

#[after_response]
async fn no_defer() -> impl IntoResponse {
    "nothing deferred"
}

pub fn router() -> Router {
    Router::new()
        .route("/unit", get(unit))
        .route("/explicit_unit", get(explicit_unit))
        .route("/static", get(static_str))
        .route("/string", get(string))
        .route("/html", get(html))
        .route("/json", get(json))
        .route("/redirect", get(redirect))
        .route("/status", get(status))
        .route("/body", get(body))
        .route("/response", get(response))
        .route("/status_tuple", get(status_tuple))
        .route("/headers_tuple", get(headers_tuple))
        .route("/header_map", get(header_map))
        .route("/vec", get(bytes_vec))
        .route("/impl", get(impl_into_response))
        .route("/result_impl/{n}", get(result_impl))
        .route("/result_impl_impl/{n}", get(result_impl_impl))
        .route("/impl_send_static", get(impl_send_static))
        .route("/impl_use", get(impl_use))
        .route("/no_defer", get(no_defer))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/unit").expect(200, "", 1),
        Check::get("/explicit_unit").expect(200, "", 1),
        Check::get("/static").expect(200, "static", 1),
        Check::get("/string").expect(200, "owned", 1),
        Check::get("/html").expect(200, "<p>html</p>", 1),
        Check::get("/json").expect(200, "[1,2]", 1),
        Check::get("/redirect").expect(303, "", 1),
        Check::get("/status").expect(202, "", 1),
        Check::get("/body").expect(200, "a body", 1),
        Check::get("/response").expect(201, "a response", 1),
        Check::get("/status_tuple").expect(418, "teapot", 1),
        Check::get("/headers_tuple").expect(200, "with headers", 1),
        Check::get("/header_map").expect(200, "header map", 1),
        Check::get("/vec").expect(200, "vec", 1),
        Check::get("/impl").expect(201, "made", 1),
        Check::get("/result_impl/21").expect(200, "42", 1),
        Check::get("/result_impl/-1").expect(400, "", 1),
        Check::get("/result_impl_impl/3").expect(200, "n=3", 1),
        Check::get("/result_impl_impl/0").expect(404, "zero", 1),
        Check::get("/impl_send_static").expect(200, "send static", 1),
        Check::get("/impl_use").expect(200, "precise capture", 1),
        Check::get("/no_defer").expect(200, "nothing deferred", 0),
    ]
}
