//! Every extractor shape, destructured in the argument list as real handlers do.
use std::collections::HashMap;
use std::net::SocketAddr;

use after_response::{after_response, defer};
use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRef, FromRequest, FromRequestParts, Multipart, OptionalFromRequestParts, Path,
    Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use axum_extra::extract::WithRejection;
use serde::Deserialize;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[derive(Clone)]
struct App {
    prefix: &'static str,
    db: Db,
}

/// A substate, extracted from `App` through `FromRef`.
#[derive(Clone)]
struct Db(&'static str);

impl FromRef<App> for Db {
    fn from_ref(app: &App) -> Self {
        app.db.clone()
    }
}

#[derive(Deserialize)]
struct Paging {
    page: u32,
}

#[derive(Deserialize)]
struct Signup {
    name: String,
}

/// A custom extractor from the request head.
struct Caller(String);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts.headers.get("x-caller").ok_or(StatusCode::UNAUTHORIZED)?;
        Ok(Self(caller.to_str().map_err(|_| StatusCode::BAD_REQUEST)?.to_owned()))
    }
}

/// Optional too: absent when the header is.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = StatusCode;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key("x-caller") {
            <Self as FromRequestParts<S>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A custom extractor of the whole request (body included).
struct Shout(String);

impl<S: Send + Sync> FromRequest<S> for Shout {
    type Rejection = StatusCode;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let text = String::from_request(request, state)
            .await
            .map_err(|_| StatusCode::BAD_REQUEST)?;
        Ok(Self(text.to_uppercase()))
    }
}

/// The rejection type of `WithRejection`.
struct Rejected(String);

impl From<axum::extract::rejection::JsonRejection> for Rejected {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        Self(rejection.body_text())
    }
}

impl axum::response::IntoResponse for Rejected {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::UNPROCESSABLE_ENTITY, format!("rejected: {}", self.0)).into_response()
    }
}

#[after_response]
async fn nothing() -> &'static str {
    defer! { MARKS.mark(); }
    "nothing"
}

#[after_response]
async fn state(State(app): State<App>) -> String {
    defer! { MARKS.mark(); }
    app.prefix.to_owned()
}

#[after_response]
async fn substate(State(Db(name)): State<Db>) -> &'static str {
    defer! { MARKS.mark(); }
    name
}

#[after_response]
async fn path(Path(id): Path<u32>) -> String {
    defer! { MARKS.mark(); }
    format!("id {id}")
}

#[after_response]
async fn path_tuple(Path((section, id)): Path<(String, u32)>) -> String {
    defer! { MARKS.mark(); }
    format!("{section}/{id}")
}

#[after_response]
async fn query(Query(paging): Query<Paging>) -> String {
    defer! { MARKS.mark(); }
    format!("page {}", paging.page)
}

#[after_response]
async fn query_map(Query(params): Query<HashMap<String, String>>) -> String {
    let count = params.len();
    defer!(|_outcome| {
        drop(params);
        MARKS.mark();
    });
    format!("{count} params")
}

#[after_response]
async fn json(Json(signup): Json<Signup>) -> Json<String> {
    let name = signup.name.clone();
    defer! {
        assert!(!name.is_empty());
        MARKS.mark();
    }
    Json(signup.name)
}

#[after_response]
async fn form(Form(signup): Form<Signup>) -> String {
    defer! { MARKS.mark(); }
    format!("form {}", signup.name)
}

#[after_response]
async fn bytes(body: Bytes) -> String {
    defer! { MARKS.mark(); }
    format!("{} bytes", body.len())
}

#[after_response]
async fn text(body: String) -> String {
    defer! { MARKS.mark(); }
    body
}

#[after_response]
async fn multipart(mut multipart: Multipart) -> Result<String, StatusCode> {
    let mut names = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| StatusCode::BAD_REQUEST)? {
        names.push(field.name().unwrap_or_default().to_owned());
    }
    defer! { MARKS.mark(); }
    Ok(names.join(","))
}

#[after_response]
async fn whole_request(request: Request) -> String {
    let method = request.method().clone();
    defer!(|outcome| {
        assert!(outcome.is_completed());
        MARKS.mark();
    });
    format!("{method} {}", request.uri().path())
}

#[after_response]
async fn head_parts(method: Method, uri: Uri, headers: HeaderMap) -> String {
    defer! { MARKS.mark(); }
    format!("{method} {} {}", uri.path(), headers.len())
}

#[after_response]
async fn connect_info(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    defer! { MARKS.mark(); }
    format!("loopback {}", peer.ip().is_loopback())
}

#[after_response]
async fn optional(caller: Option<Caller>) -> String {
    defer! { MARKS.mark(); }
    match caller {
        Some(Caller(caller)) => format!("caller {caller}"),
        None => "no caller".to_owned(),
    }
}

#[after_response]
async fn custom(Caller(caller): Caller, Shout(text): Shout) -> String {
    defer! { MARKS.mark(); }
    format!("{caller}: {text}")
}

#[after_response]
async fn with_rejection(WithRejection(Json(signup), _): WithRejection<Json<Signup>, Rejected>) -> String {
    defer! { MARKS.mark(); }
    signup.name
}

#[after_response]
async fn everything(
    State(app): State<App>,
    Path(id): Path<u32>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
    Json(signup): Json<Signup>,
) -> String {
    defer! { MARKS.mark(); }
    format!("{}{id}/{}/{}/{}", app.prefix, paging.page, !headers.is_empty(), signup.name)
}

pub fn router() -> Router {
    Router::new()
        .route("/nothing", get(nothing))
        .route("/state", get(state))
        .route("/substate", get(substate))
        .route("/path/{id}", get(path))
        .route("/tuple/{section}/{id}", get(path_tuple))
        .route("/query", get(query))
        .route("/query_map", get(query_map))
        .route("/json", post(json))
        .route("/form", post(form))
        .route("/bytes", post(bytes))
        .route("/text", post(text))
        .route("/multipart", post(multipart))
        .route("/request", get(whole_request))
        .route("/head", get(head_parts))
        .route("/connect_info", get(connect_info))
        .route("/optional", get(optional))
        .route("/custom", post(custom))
        .route("/with_rejection", post(with_rejection))
        .route("/everything/{id}", post(everything))
        .with_state(App { prefix: "/", db: Db("main") })
}

const MULTIPART: &str = "--b\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b\r\ncontent-disposition: form-data; name=\"b\"\r\n\r\n2\r\n--b--\r\n";

pub fn checks() -> Vec<Check> {
    let json = "application/json";
    vec![
        Check::get("/nothing").expect(200, "nothing", 1),
        Check::get("/state").expect(200, "/", 1),
        Check::get("/substate").expect(200, "main", 1),
        Check::get("/path/7").expect(200, "id 7", 1),
        Check::get("/path/x").expect(400, "", 0),
        Check::get("/tuple/docs/3").expect(200, "docs/3", 1),
        Check::get("/query?page=2").expect(200, "page 2", 1),
        Check::get("/query_map?a=1&b=2").expect(200, "2 params", 1),
        Check::post("/json", json, r#"{"name":"ada"}"#).expect(200, "\"ada\"", 1),
        Check::post("/form", "application/x-www-form-urlencoded", "name=bo").expect(200, "form bo", 1),
        Check::post("/bytes", "application/octet-stream", "abc").expect(200, "3 bytes", 1),
        Check::post("/text", "text/plain", "echo").expect(200, "echo", 1),
        Check::post("/multipart", "multipart/form-data; boundary=b", MULTIPART).expect(200, "a,b", 1),
        Check::get("/request").expect(200, "GET /request", 1),
        Check::get("/head").header("x-one", "1").expect(200, "GET /head", 1),
        Check::get("/connect_info").expect(200, "loopback true", 1),
        Check::get("/optional").header("x-caller", "ann").expect(200, "caller ann", 1),
        Check::get("/optional").expect(200, "no caller", 1),
        Check::post("/custom", "text/plain", "hi").header("x-caller", "cy").expect(200, "cy: HI", 1),
        Check::post("/custom", "text/plain", "hi").expect(401, "", 0),
        Check::post("/with_rejection", json, r#"{"name":"di"}"#).expect(200, "di", 1),
        Check::post("/with_rejection", json, "{").expect(422, "rejected", 0),
        Check::post("/everything/5?page=1", json, r#"{"name":"ed"}"#).expect(200, "/5/1/true/ed", 1),
    ]
}
