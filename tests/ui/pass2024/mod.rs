//! Shapes only edition 2024 has: let chains in the handler and in a deferred block.
use after_response::{after_response, defer};
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde::Deserialize;

use crate::support::{Check, Marks};

static MARKS: Marks = Marks::new();

#[derive(Deserialize)]
struct Params {
    a: Option<u32>,
    b: Option<u32>,
}

#[after_response]
async fn let_chains(Query(params): Query<Params>) -> String {
    if let Some(a) = params.a
        && let Some(b) = params.b
        && a < b
    {
        defer! {
            if let Some(sum) = a.checked_add(b) && sum > 0 {
                MARKS.mark();
            }
        }
        return format!("{a} < {b}");
    }
    "no chain".to_owned()
}

#[test]
fn let_chains_in_handlers_and_blocks() {
    let router = Router::new().route("/", get(let_chains));
    crate::support::run(
        router,
        &MARKS,
        &[
            Check::get("/?a=1&b=2").expect(200, "1 < 2", 1),
            Check::get("/?a=3&b=2").expect(200, "no chain", 0),
        ],
    );
}
