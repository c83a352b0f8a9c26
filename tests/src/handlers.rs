//! Handlers more than one test binary serves.

use after_response::{after_response, defer};
use axum::extract::State;

use crate::probe::{Event, Probe};

/// Its block reports `Step("started")`, waits for the probe's gate, then reports
/// `Step("finished")`: the test decides when (and whether) it ends.
#[after_response]
pub async fn held(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.send(Event::Step("started"));
        probe.wait_for_gate().await;
        probe.send(Event::Step("finished"));
    }
    "held"
}
