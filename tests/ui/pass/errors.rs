//! `?` over several error types, converted by `From` into the handler's error, and early
//! `return` of an error.
use std::fmt;
use std::num::ParseIntError;

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[derive(Debug)]
enum AppError {
    BadNumber(ParseIntError),
    Io(std::io::Error),
    Json(axum::Error),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadNumber(error) => write!(f, "bad number: {error}"),
            Self::Io(error) => write!(f, "io: {error}"),
            Self::Json(error) => write!(f, "json: {error}"),
        }
    }
}

impl From<ParseIntError> for AppError {
    fn from(error: ParseIntError) -> Self {
        Self::BadNumber(error)
    }
}

impl From<std::io::Error> for AppError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::UNPROCESSABLE_ENTITY, self.to_string()).into_response()
    }
}

fn read(name: &str) -> std::io::Result<u32> {
    if name == "missing" {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such thing"))
    } else {
        Ok(1)
    }
}

#[after_response]
async fn several(Path(text): Path<String>) -> Result<Json<u32>, AppError> {
    defer! { MARKS.mark(); }
    let base = read(&text)?;
    let number: u32 = text.parse()?;
    if number == 0 {
        return Err(AppError::Json(axum::Error::new("zero")));
    }
    Ok(Json(base + number))
}

#[after_response]
async fn tuple_error(Path(text): Path<String>) -> Result<String, (StatusCode, String)> {
    defer! { MARKS.mark(); }
    let number: i64 = text
        .parse()
        .map_err(|error: ParseIntError| (StatusCode::BAD_REQUEST, error.to_string()))?;
    Ok(format!("{}", number * 2))
}

#[after_response]
async fn status_error(Path(text): Path<String>) -> Result<&'static str, StatusCode> {
    defer! { MARKS.mark(); }
    let found = ["a", "b"].iter().find(|name| **name == text).ok_or(StatusCode::NOT_FOUND)?;
    Ok(found)
}

#[after_response]
async fn question_in_block(Path(text): Path<String>) -> Result<String, AppError> {
    // `?` inside the deferred block is the block's own: its `Err` is logged after the response.
    defer! {
        let _: u8 = "not a number".parse().map_err(|_| "the block's own error")?;
        MARKS.mark();
        Ok::<(), &str>(())
    }
    defer! { MARKS.mark(); }
    let number: u32 = text.parse()?;
    Ok(number.to_string())
}

pub fn router() -> Router {
    Router::new()
        .route("/several/{text}", get(several))
        .route("/tuple/{text}", get(tuple_error))
        .route("/status/{text}", get(status_error))
        .route("/in_block/{text}", get(question_in_block))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/several/41").expect(200, "42", 1),
        Check::get("/several/x").expect(422, "bad number", 1),
        Check::get("/several/missing").expect(422, "io: no such thing", 1),
        Check::get("/several/0").expect(422, "json: zero", 1),
        Check::get("/tuple/21").expect(200, "42", 1),
        Check::get("/tuple/x").expect(400, "invalid digit", 1),
        Check::get("/status/b").expect(200, "b", 1),
        Check::get("/status/c").expect(404, "", 1),
        Check::get("/in_block/7").expect(200, "7", 1),
    ]
}
