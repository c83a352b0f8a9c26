//! Generic handlers (`where`, const generics), `impl<S> Api<S>` blocks with `Self::`, methods
//! on `&self`, and handlers produced by `macro_rules!`.
use std::fmt::Display;
use std::marker::PhantomData;

use after_response::{after_response, defer};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[derive(Clone)]
pub struct App {
    name: String,
}

impl Display for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

#[after_response]
async fn generic<T>(State(value): State<T>) -> String
where
    T: Display + Clone + Send + Sync + 'static,
{
    let text = value.to_string();
    defer! { drop(text); MARKS.mark(); }
    format!("generic {value}")
}

#[after_response]
async fn generic_impl<T: Display + Send + Sync + Clone + 'static>(
    State(value): State<T>,
) -> impl IntoResponse {
    defer! { MARKS.mark(); }
    format!("impl {value}")
}

#[after_response]
async fn const_generic<const N: usize>() -> Json<Vec<u8>> {
    defer! { MARKS.mark(); }
    Json([7; N].to_vec())
}

/// Handlers on a generic type, reached through `Self::`.
struct Api<S>(PhantomData<S>);

impl<S: Display + Clone + Send + Sync + 'static> Api<S> {
    fn label(state: &S) -> String {
        format!("api {state}")
    }

    #[after_response]
    async fn show(State(state): State<S>) -> String {
        defer! { MARKS.mark(); }
        Self::label(&state)
    }

    #[after_response]
    async fn show_impl(State(state): State<S>) -> impl IntoResponse {
        let label = Self::label(&state);
        defer!(|_outcome| {
            drop(label);
            MARKS.mark();
        });
        Self::label(&state)
    }
}

impl App {
    #[after_response]
    async fn greeting(&self) -> String {
        let name = self.name.clone();
        defer! { drop(name); MARKS.mark(); }
        format!("hello {}", self.name)
    }
}

#[after_response]
async fn via_method(State(app): State<App>) -> axum::response::Response {
    app.greeting().await
}

/// Handlers written by a macro, as real apps do for families of routes.
macro_rules! handlers {
    ($($name:ident => $text:literal),* $(,)?) => {$(
        #[after_response]
        async fn $name() -> &'static str {
            defer! { MARKS.mark(); }
            $text
        }
    )*};
}

handlers! {
    from_macro_a => "macro a",
    from_macro_b => "macro b",
}

pub fn router() -> Router {
    Router::new()
        .route("/generic", get(generic::<App>))
        .route("/generic_impl", get(generic_impl::<App>))
        .route("/const", get(const_generic::<3>))
        .route("/api", get(Api::<App>::show))
        .route("/api_impl", get(Api::<App>::show_impl))
        .route("/method", get(via_method))
        .route("/macro_a", get(from_macro_a))
        .route("/macro_b", get(from_macro_b))
        .with_state(App { name: "ann".to_owned() })
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/generic").expect(200, "generic ann", 1),
        Check::get("/generic_impl").expect(200, "impl ann", 1),
        Check::get("/const").expect(200, "[7,7,7]", 1),
        Check::get("/api").expect(200, "api ann", 1),
        Check::get("/api_impl").expect(200, "api ann", 1),
        Check::get("/method").expect(200, "hello ann", 1),
        Check::get("/macro_a").expect(200, "macro a", 1),
        Check::get("/macro_b").expect(200, "macro b", 1),
    ]
}
