//! Body shapes: one line, many lines, `let else`, early `return`, items and inner attributes
//! in the body, and names that look like the generated ones.
use after_response::{after_response, defer};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[after_response]
async fn one_line() -> &'static str {
    "one line"
}

#[after_response]
async fn one_line_call() -> String {
    String::from("call")
}

#[after_response]
async fn one_line_defer() -> &'static str {
    defer! { MARKS.mark(); } "short"
}

#[after_response]
async fn many_lines(Path(n): Path<u32>) -> String {
    let doubled = n * 2;
    let text = format!("{doubled}");
    defer! {
        MARKS.mark();
    }
    let mut out = String::new();
    for _ in 0..2 {
        out.push_str(&text);
    }
    out
}

#[after_response]
async fn let_else(Path(text): Path<String>) -> Result<String, StatusCode> {
    let Ok(n) = text.parse::<u32>() else {
        defer!(|_outcome| MARKS.mark());
        return Err(StatusCode::BAD_REQUEST);
    };
    defer! { MARKS.mark(); }
    Ok(n.to_string())
}

#[after_response]
async fn early_return(Path(n): Path<u32>) -> &'static str {
    defer! { MARKS.mark(); }
    if n == 0 {
        return "zero";
    }
    "other"
}

#[after_response]
async fn items_in_body() -> Result<String, String> {
    // The body's own `Result` alias: the declared return type still means the prelude's.
    type Result<T> = std::result::Result<T, std::fmt::Error>;
    use std::fmt::Write as _;
    fn helper() -> Result<String> {
        let mut out = String::new();
        write!(out, "items")?;
        Ok(out)
    }
    defer! { MARKS.mark(); }
    helper().map_err(|error| error.to_string())
}

#[after_response]
async fn inner_attributes() -> String {
    #![allow(clippy::useless_format)]
    defer! { MARKS.mark(); }
    format!("inner")
}

#[after_response]
async fn shadowed_names() -> String {
    let registry = "mine";
    let after_response_registry = 1;
    let after_response_output = 2;
    let output = 3;
    defer! { MARKS.mark(); }
    format!("{registry} {}", after_response_registry + after_response_output + output)
}

pub fn router() -> Router {
    Router::new()
        .route("/one_line", get(one_line))
        .route("/one_line_call", get(one_line_call))
        .route("/one_line_defer", get(one_line_defer))
        .route("/many/{n}", get(many_lines))
        .route("/let_else/{text}", get(let_else))
        .route("/early/{n}", get(early_return))
        .route("/items", get(items_in_body))
        .route("/inner", get(inner_attributes))
        .route("/shadowed", get(shadowed_names))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/one_line").expect(200, "one line", 0),
        Check::get("/one_line_call").expect(200, "call", 0),
        Check::get("/one_line_defer").expect(200, "short", 1),
        Check::get("/many/4").expect(200, "88", 1),
        Check::get("/let_else/5").expect(200, "5", 1),
        Check::get("/let_else/x").expect(400, "", 1),
        Check::get("/early/0").expect(200, "zero", 1),
        Check::get("/early/1").expect(200, "other", 1),
        Check::get("/items").expect(200, "items", 1),
        Check::get("/inner").expect(200, "inner", 1),
        Check::get("/shadowed").expect(200, "mine 6", 1),
    ]
}
