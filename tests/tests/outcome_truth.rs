//! Outcome truth: on the response shapes real apps send, over a real server on HTTP/1.0,
//! HTTP/1.1 and HTTP/2, the outcome is the one the client saw; plain blocks run exactly for
//! Completed, always-blocks exactly once with the bytes the connection took; blocks start only
//! after the response's last bytes were written; and behind nginx, what Completed means.

#[path = "outcome_truth/connection.rs"]
mod connection;
#[path = "outcome_truth/handlers.rs"]
mod handlers;
#[path = "outcome_truth/harness.rs"]
mod harness;
#[path = "outcome_truth/ordering.rs"]
mod ordering;
#[path = "outcome_truth/proxy.rs"]
mod proxy;
#[path = "outcome_truth/shapes.rs"]
mod shapes;
