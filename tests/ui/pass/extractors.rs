//! The usual extractors, destructured in the argument list: `State`, `Path`, `Query`, `Json`,
//! and a whole `Request` last.
use std::collections::HashMap;

use after_response::{after_response, defer};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::{routing::get, routing::post, Json, Router};
use serde::Deserialize;

#[path = "../support/run.rs"]
mod support;

#[derive(Clone)]
struct App {
    prefix: &'static str,
}

#[derive(Deserialize)]
struct Paging {
    page: u32,
}

#[derive(Deserialize)]
struct Form {
    name: String,
}

#[after_response]
async fn everything(
    State(app): State<App>,
    Path((section, id)): Path<(String, u32)>,
    Query(paging): Query<Paging>,
    Json(form): Json<Form>,
) -> String {
    let name = form.name.clone();
    defer! {
        let _ = name;
    }
    format!("{}{section}/{id}/{}/{}", app.prefix, paging.page, form.name)
}

#[after_response]
async fn raw(Query(params): Query<HashMap<String, String>>, request: Request) -> StatusCode {
    let method = request.method().clone();
    defer!(|outcome| {
        let _ = (method, outcome.kind(), params);
    });
    StatusCode::NO_CONTENT
}

fn main() {
    let app = Router::new()
        .route("/{section}/{id}", post(everything))
        .route("/raw", get(raw))
        .with_state(App { prefix: "/" });
    let request = axum::http::Request::post("/docs/3?page=2")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"name":"ada"}"#))
        .unwrap();
    assert_eq!(support::run(app.clone(), request).1, "/docs/3/2/ada");
    assert_eq!(support::run(app, support::get("/raw?a=b")).0, StatusCode::NO_CONTENT);
}
