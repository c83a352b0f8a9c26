//! Chaos against a tight bound, over a real loopback server, HTTP/1.1 and HTTP/2: completed
//! responses, client disconnects mid-body and handler cancellations all at once, with blocks
//! that yield, fail and panic, under `max_in_flight(4).max_queued(24)`, so that slots are taken,
//! freed, waited for and shed concurrently.
//!
//! Checked: every response's blocks ran as one batch or were shed as one; a batch that ran ran
//! each block once, with the outcome matching what the client did; and every block registered
//! ends in exactly one counter, none lost.
//!
//! Runs on an executor of its own with that tight bound.

use after_response_tests as common;
use after_response_tests::soak;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use after_response::{after_response, defer, Config, OutcomeKind};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::{logs, within, Proto, Server, PROTOCOLS};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use soak::Rng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

const CLIENTS: u64 = 32;
const PANIC_MESSAGE: &str = "deliberate chaos panic";
const SHED_LOG: &str = "deferred work is full";

/// What the client does with its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// Reads the whole response.
    Complete,
    /// Reads the first chunk of an endless body and hangs up.
    Abort,
    /// Hangs up while the handler awaits.
    Cancel,
}

impl Act {
    fn kind(self) -> OutcomeKind {
        match self {
            Self::Complete => OutcomeKind::Completed,
            Self::Abort => OutcomeKind::Aborted,
            Self::Cancel => OutcomeKind::Cancelled,
        }
    }
}

#[derive(Debug)]
enum Ev {
    Plain(u64),
    Always(u64, OutcomeKind),
}

#[derive(Clone)]
struct App {
    events: mpsc::UnboundedSender<Ev>,
    entered: Arc<Mutex<HashMap<u64, Arc<Notify>>>>,
}

/// Two blocks; `fault` 1 makes the plain one fail, 2 makes the always one panic. Both yield
/// `spin` times first, so that batches overlap and compete for the slots.
#[after_response]
async fn chaos(
    State(app): State<App>,
    Path((id, act, fault, spin)): Path<(u64, u8, u8, u8)>,
) -> Body {
    let plain = app.events.clone();
    defer! {
        for _ in 0..spin {
            tokio::task::yield_now().await;
        }
        plain.send(Ev::Plain(id)).unwrap();
        if fault == 1 {
            return Err("deliberate chaos error");
        }
        Ok(())
    }
    let always = app.events.clone();
    defer!(|outcome| {
        for _ in 0..spin {
            tokio::task::yield_now().await;
        }
        always.send(Ev::Always(id, outcome.kind())).unwrap();
        assert!(fault != 2, "{PANIC_MESSAGE}");
    });
    match act {
        0 => Body::from("complete"),
        1 => common::endless_body(&["first"]),
        _ => {
            let entered = app.entered.lock().unwrap().remove(&id).unwrap();
            entered.notify_one();
            std::future::pending::<()>().await;
            Body::empty()
        }
    }
}

/// One request over a connection of its own (HTTP/1.1) or the shared one (HTTP/2).
async fn one_request(
    app: &App,
    addr: std::net::SocketAddr,
    shared: Option<hyper::client::conn::http2::SendRequest<Empty<Bytes>>>,
    id: u64,
    (act, fault, spin): (Act, u8, u8),
) {
    let entered = Arc::new(Notify::new());
    if act == Act::Cancel {
        app.entered.lock().unwrap().insert(id, Arc::clone(&entered));
    }
    let act_code = match act {
        Act::Complete => 0,
        Act::Abort => 1,
        Act::Cancel => 2,
    };
    let path = format!("/chaos/{id}/{act_code}/{fault}/{spin}");
    let (request, connection) = if let Some(mut sender) = shared {
        let request = http::Request::get(format!("http://localhost{path}"))
            .body(Empty::new())
            .unwrap();
        within("the connection", sender.ready()).await.unwrap();
        (
            tokio::spawn(async move { sender.send_request(request).await }),
            None,
        )
    } else {
        let stream = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut sender, connection) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        let connection = tokio::spawn(connection);
        let request = http::Request::get(path)
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        (
            tokio::spawn(async move { sender.send_request(request).await }),
            Some(connection),
        )
    };
    match act {
        Act::Complete => {
            let response = within("the response", request).await.unwrap().unwrap();
            let body = within("the body", response.into_body().collect()).await;
            assert_eq!(body.unwrap().to_bytes(), "complete");
        }
        Act::Abort => {
            let response = within("the response", request).await.unwrap().unwrap();
            let mut body = response.into_body();
            within("the first chunk", body.frame())
                .await
                .unwrap()
                .unwrap();
            drop(body);
        }
        Act::Cancel => {
            within("the handler to start", entered.notified()).await;
            request.abort();
            let _ = request.await;
        }
    }
    if let Some(connection) = connection {
        connection.abort();
        let _ = connection.await;
    }
}

/// Each request's act, fault and spin, drawn from `seed`.
fn draw_plan(seed: u64, requests: u64) -> Vec<(Act, u8, u8)> {
    let mut rng = Rng::new(seed);
    (0..requests)
        .map(|_| {
            let act = [Act::Complete, Act::Complete, Act::Abort, Act::Cancel]
                [usize::try_from(rng.below(4)).unwrap()];
            let fault = u8::try_from(rng.below(4)).unwrap().min(2);
            (act, fault, u8::try_from(rng.below(4)).unwrap())
        })
        .collect()
}

/// Sends every planned request from `CLIENTS` concurrent clients.
async fn run_clients(
    app: &App,
    addr: std::net::SocketAddr,
    shared: Option<hyper::client::conn::http2::SendRequest<Empty<Bytes>>>,
    plan: &Arc<Vec<(Act, u8, u8)>>,
    requests: u64,
) {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (app, plan, next, shared) = (
            app.clone(),
            Arc::clone(plan),
            Arc::clone(&next),
            shared.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= requests {
                    return;
                }
                let step = plan[usize::try_from(id).unwrap()];
                one_request(&app, addr, shared.clone(), id, step).await;
            }
        }));
    }
    for worker in workers {
        soak::within_long("the clients", worker).await.unwrap();
    }
}

/// Blocks that ended, in whichever counter.
fn ended(delta: &after_response::Stats) -> u64 {
    delta.finished
        + delta.failed
        + delta.panicked
        + delta.timed_out
        + delta.cancelled
        + delta.skipped
        + delta.shed
        + delta.abandoned
        + delta.lost
}

#[test]
fn chaos_against_a_tight_bound() {
    let executor = Config::default().max_in_flight(4).max_queued(24).build();
    let logs = logs::Capture::counting(&[SHED_LOG]);
    let _entered = logs.enter();
    soak::quiet_deliberate_panics(PANIC_MESSAGE);
    let requests = soak::scale(600, 20_000) as u64;
    logs.runtime(2).block_on(async {
        for proto in PROTOCOLS {
            let (events_tx, mut events) = mpsc::unbounded_channel();
            let app = App {
                events: events_tx,
                entered: Arc::default(),
            };
            let server = Server::start_on(
                Router::new()
                    .route("/chaos/{id}/{act}/{fault}/{spin}", get(chaos))
                    .with_state(app.clone()),
                executor.clone(),
            )
            .await;
            let addr = server.addr;
            let plan = Arc::new(draw_plan(
                soak::seed() ^ 0xC4A0_5000 ^ proto as u64,
                requests,
            ));
            let shared = match proto {
                Proto::Http1 => None,
                Proto::Http2 => {
                    let stream = TokioIo::new(TcpStream::connect(addr).await.unwrap());
                    let (sender, connection) =
                        hyper::client::conn::http2::handshake(TokioExecutor::new(), stream)
                            .await
                            .unwrap();
                    tokio::spawn(connection);
                    Some(sender)
                }
            };
            let shed_logged_before = logs.count(SHED_LOG);
            let before = executor.stats();
            run_clients(&app, addr, shared, &plan, requests).await;
            // Responses fire when hyper drops their bodies, which may be after the client is
            // done: wait until the books balance (every block registered has ended in one
            // counter) or give up, which is a failure.
            let registered = 2 * requests;
            let after = soak::until_stats(&executor, "every block to end in one counter", |s| {
                s.in_flight == before.in_flight && ended(&soak::delta(&before, s)) == registered
            })
            .await;
            let delta = soak::delta(&before, &after);

            let mut always_ran: HashMap<u64, OutcomeKind> = HashMap::new();
            let mut plain_runs: HashMap<u64, u32> = HashMap::new();
            while let Ok(event) = events.try_recv() {
                match event {
                    Ev::Always(id, kind) => {
                        assert!(
                            always_ran.insert(id, kind).is_none(),
                            "{proto:?}: #{id} twice"
                        );
                    }
                    Ev::Plain(id) => *plain_runs.entry(id).or_default() += 1,
                }
            }
            let (mut ran_batches, mut shed_batches, mut shed_blocks) = (0u64, 0u64, 0u64);
            for id in 0..requests {
                let (act, _, _) = plan[usize::try_from(id).unwrap()];
                let plain_ran = plain_runs.get(&id).copied().unwrap_or(0);
                if let Some(kind) = always_ran.get(&id) {
                    ran_batches += 1;
                    assert_eq!(*kind, act.kind(), "{proto:?}: #{id}");
                    let expected = u32::from(act == Act::Complete);
                    assert_eq!(plain_ran, expected, "{proto:?}: plain block of #{id}");
                } else {
                    // Shed as a whole: neither block ran.
                    assert_eq!(plain_ran, 0, "{proto:?}: #{id} half ran");
                    shed_batches += 1;
                    shed_blocks += 1 + u64::from(act == Act::Complete);
                }
            }
            assert_eq!(delta.shed, shed_blocks, "{proto:?}");
            assert_eq!(
                logs.count(SHED_LOG) - shed_logged_before,
                shed_batches,
                "{proto:?}: each shed response logged"
            );
            assert_eq!((delta.lost, delta.abandoned, delta.timed_out), (0, 0, 0));
            let ran = delta.finished + delta.failed + delta.panicked;
            let events_seen =
                always_ran.len() as u64 + plain_runs.values().map(|n| u64::from(*n)).sum::<u64>();
            assert_eq!(ran, events_seen, "{proto:?}: each block that ran, ran once");
            println!(
                "chaos {proto:?}: {requests} requests, {registered} blocks; {ran_batches} \
                 responses ran their blocks, {shed_batches} shed; ran {ran} (finished {}, \
                 failed {}, panicked {}), skipped {}, shed {}, lost {}",
                delta.finished, delta.failed, delta.panicked, delta.skipped, delta.shed, delta.lost
            );
            drop(server);
        }
    });
}
