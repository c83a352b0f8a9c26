//! Reliability under faults, over a real loopback server, HTTP/1.1 and HTTP/2:
//! disconnect storm, panic storm and handler cancellation.
//!
//! Short counts by default; `AFTER_RESPONSE_SOAK=full` selects the full ones (see
//! `tests/RELIABILITY.md`). Each test's server counts on an executor of its own.

use after_response_tests as common;
use after_response_tests::soak;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use after_response::{after_response, defer, Outcome, OutcomeKind};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::{logs, within, Proto, Server, PROTOCOLS};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use soak::Rng;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, Semaphore};

/// Concurrent clients per scenario.
const CLIENTS: u64 = 32;
/// One chunk of a streamed body.
const CHUNK: &[u8] = b"0123456789abcdef";
const MAX_CHUNKS: u64 = 6;
const PANIC_MESSAGE: &str = "deliberate deferred-block panic";

#[derive(Debug)]
enum Ev {
    Plain(u64),
    Always(u64, Outcome),
    /// Block `position` of request `id` ran (panic storm).
    Ran(u64, u8),
}

/// Per-request hand-off between a client and its handler.
struct Lane {
    /// One permit per chunk the handler's body may send, plus one for its end.
    permits: Semaphore,
    /// The handler's body was polled for the first time (storm), or the handler started
    /// (cancellation).
    reached: Notify,
}

#[derive(Clone)]
struct App {
    events: mpsc::UnboundedSender<Ev>,
    lanes: Arc<Mutex<HashMap<u64, Arc<Lane>>>>,
}

impl App {
    fn new() -> (Self, mpsc::UnboundedReceiver<Ev>) {
        let (events, rx) = mpsc::unbounded_channel();
        let app = Self {
            events,
            lanes: Arc::default(),
        };
        (app, rx)
    }

    fn open_lane(&self, id: u64) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            permits: Semaphore::new(0),
            reached: Notify::new(),
        });
        self.lanes.lock().unwrap().insert(id, Arc::clone(&lane));
        lane
    }

    fn take_lane(&self, id: u64) -> Arc<Lane> {
        self.lanes
            .lock()
            .unwrap()
            .remove(&id)
            .expect("the client opened a lane")
    }
}

/// Streams `chunks` chunks, each only once the client released a permit for it, then ends
/// once the client released one more: the client decides exactly how far the body got. With
/// `sized` = 1 the body announces its exact length (Content-Length): hyper then stops at the
/// last byte without waiting for the end.
#[after_response]
async fn stream(State(app): State<App>, Path((id, chunks, sized)): Path<(u64, u64, u8)>) -> Body {
    let plain = app.events.clone();
    defer! {
        plain.send(Ev::Plain(id)).unwrap();
    }
    let always = app.events.clone();
    defer!(|outcome| {
        always.send(Ev::Always(id, outcome)).unwrap();
    });
    let lane = app.take_lane(id);
    let body = futures_util::stream::unfold(0, move |sent| {
        let lane = Arc::clone(&lane);
        async move {
            if sent == 0 {
                lane.reached.notify_one();
            }
            lane.permits.acquire().await.unwrap().forget();
            (sent < chunks).then(|| (Ok::<_, std::io::Error>(Bytes::from_static(CHUNK)), sent + 1))
        }
    });
    let body = Body::from_stream(body);
    if sized == 1 {
        Body::new(Announced {
            inner: body,
            len: chunks * CHUNK.len() as u64,
        })
    } else {
        body
    }
}

/// A body that announces an exact length.
struct Announced {
    inner: Body,
    len: u64,
}

impl http_body::Body for Announced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

/// Three blocks; the one at `id % 3` panics, the others report that they ran.
#[after_response]
async fn panicky(State(app): State<App>, Path(id): Path<u64>) -> &'static str {
    let doomed = u8::try_from(id % 3).unwrap();
    let first = app.events.clone();
    defer! {
        assert!(doomed != 0, "{PANIC_MESSAGE}");
        first.send(Ev::Ran(id, 0)).unwrap();
    }
    let second = app.events.clone();
    defer!(|outcome| {
        assert!(outcome.is_completed());
        assert!(doomed != 1, "{PANIC_MESSAGE}");
        second.send(Ev::Ran(id, 1)).unwrap();
    });
    let third = app.events.clone();
    defer! {
        assert!(doomed != 2, "{PANIC_MESSAGE}");
        third.send(Ev::Ran(id, 2)).unwrap();
    }
    "answered"
}

/// Registers its blocks, says it started, then waits until the client hangs up.
#[after_response]
async fn waits(State(app): State<App>, Path(id): Path<u64>) -> &'static str {
    let plain = app.events.clone();
    defer! {
        plain.send(Ev::Plain(id)).unwrap();
    }
    let always = app.events.clone();
    defer!(|outcome| {
        always.send(Ev::Always(id, outcome)).unwrap();
    });
    app.take_lane(id).reached.notify_one();
    std::future::pending::<()>().await;
    "unreachable"
}

fn router(app: App) -> Router {
    Router::new()
        .route("/stream/{id}/{chunks}/{sized}", get(stream))
        .route("/panic/{id}", get(panicky))
        .route("/wait/{id}", get(waits))
        .with_state(app)
}

/// Runs `count` client jobs, `CLIENTS` at a time; each gets the next id. Returns their results
/// indexed by id.
async fn fan_out<T, F, Fut>(count: u64, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let job = Arc::new(job);
    let mut workers = Vec::new();
    for _ in 0..CLIENTS.min(count) {
        let (next, job) = (Arc::clone(&next), Arc::clone(&job));
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= count {
                    return results;
                }
                results.push((id, job(id).await));
            }
        }));
    }
    let mut results: Vec<(u64, T)> = Vec::new();
    for worker in workers {
        results.extend(soak::within_long("the clients", worker).await.unwrap());
    }
    results.sort_by_key(|(id, _)| *id);
    results.into_iter().map(|(_, result)| result).collect()
}

/// One storm request's shape and hang-up point, drawn from the seed.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Chunks the body has.
    chunks: u64,
    /// Chunks the client reads before hanging up; `chunks + 1`: it reads the whole body.
    cut: u64,
    /// HTTP/2: hang up by closing a connection of its own rather than resetting the stream.
    kill_connection: bool,
    /// The body announces its exact length.
    sized: bool,
}

/// What one storm client saw.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// Body bytes received.
    bytes: u64,
    /// It had the whole body: read to its end, or every announced byte.
    whole: bool,
}

enum Transport {
    Http1,
    Http2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

/// One storm request: the handler streams `chunks` chunks; the client releases and reads
/// `cut` of them and hangs up, or (`cut > chunks`) reads the whole body.
async fn storm_request(
    app: &App,
    addr: std::net::SocketAddr,
    h2: &Transport,
    id: u64,
    plan: Plan,
) -> Seen {
    let Plan {
        chunks,
        cut,
        kill_connection,
        sized,
    } = plan;
    let lane = app.open_lane(id);
    let path = format!("/stream/{id}/{chunks}/{}", u8::from(sized));
    // HTTP/1.1: a connection of its own, killed to hang up. HTTP/2: the shared connection,
    // where hanging up resets the stream (or, with `kill_connection`, a connection of its own).
    let (response, connection) = match h2 {
        Transport::Http1 => {
            let stream = TokioIo::new(TcpStream::connect(addr).await.unwrap());
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(stream).await.unwrap();
            let connection = tokio::spawn(connection);
            let request = http::Request::get(path)
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = within("the response head", sender.send_request(request)).await;
            (response.unwrap(), Some(connection))
        }
        Transport::Http2(shared) => {
            let request = http::Request::get(format!("http://localhost{path}"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            if kill_connection {
                let stream = TokioIo::new(TcpStream::connect(addr).await.unwrap());
                let (mut sender, connection) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), stream)
                        .await
                        .unwrap();
                let connection = tokio::spawn(connection);
                let response = within("the response head", sender.send_request(request)).await;
                (response.unwrap(), Some(connection))
            } else {
                let mut sender = shared.clone();
                within("the connection", sender.ready()).await.unwrap();
                let response = within("the response head", sender.send_request(request)).await;
                (response.unwrap(), None)
            }
        }
    };
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut seen = Seen {
        bytes: 0,
        whole: false,
    };
    if cut > chunks {
        lane.permits
            .add_permits(usize::try_from(chunks).unwrap() + 1);
        let bytes = within("the whole body", body.collect())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(bytes.len() as u64, chunks * CHUNK.len() as u64);
        seen = Seen {
            bytes: bytes.len() as u64,
            whole: true,
        };
    } else {
        // Hang up with the handler's body waiting on its next permit: it has been polled.
        within("the body's first poll", lane.reached.notified()).await;
        for _ in 0..cut {
            lane.permits.add_permits(1);
            let frame = within("a chunk", body.frame()).await.unwrap().unwrap();
            seen.bytes += frame.into_data().unwrap().len() as u64;
        }
        // With a Content-Length, the last byte is the end: hyper drops the body there.
        seen.whole = sized && seen.bytes == chunks * CHUNK.len() as u64;
        drop(body);
    }
    if let Some(connection) = connection {
        connection.abort();
        let _ = connection.await;
    }
    seen
}

async fn h2_connection(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let stream = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), stream)
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// `count` storm requests drawn from `seed`.
fn draw_plans(seed: u64, count: u64) -> Vec<Plan> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let chunks = 1 + rng.below(MAX_CHUNKS);
            // A third read the whole body; the rest hang up after 0..=chunks chunks.
            let cut = if rng.below(3) == 0 {
                chunks + 1
            } else {
                rng.below(chunks + 1)
            };
            Plan {
                chunks,
                cut,
                kill_connection: rng.below(4) == 0,
                sized: rng.below(3) == 0,
            }
        })
        .collect()
}

#[test]
fn disconnect_storm() {
    let requests = soak::scale(300, 2_000) as u64;
    soak::runtime().block_on(async {
        for proto in PROTOCOLS {
            let (app, mut events) = App::new();
            let mut server = Server::start(router(app.clone())).await;
            let executor = server.executor.clone();
            let addr = server.addr;
            let before = executor.stats();
            // Every request's shape and hang-up point, drawn up front from the seed.
            let plan = Arc::new(draw_plans(soak::seed() ^ proto as u64, requests));
            let h2 = Arc::new(match proto {
                Proto::Http1 => Transport::Http1,
                Proto::Http2 => Transport::Http2(h2_connection(addr).await),
            });
            let seen = {
                let (app, plan) = (app.clone(), Arc::clone(&plan));
                fan_out(requests, move |id| {
                    let (app, plan, h2) = (app.clone(), Arc::clone(&plan), Arc::clone(&h2));
                    async move {
                        let plan = plan[usize::try_from(id).unwrap()];
                        storm_request(&app, addr, &h2, id, plan).await
                    }
                })
                .await
            };
            // Every response's blocks have finished once its completion handle resolves.
            for _ in 0..requests {
                within("deferred blocks", server.next_completion().await.wait()).await;
            }
            let after = executor.stats();

            let mut always = HashMap::new();
            let mut plain_ran = HashSet::new();
            while let Ok(event) = events.try_recv() {
                match event {
                    Ev::Always(id, outcome) => {
                        assert!(
                            always.insert(id, outcome).is_none(),
                            "{proto:?}: #{id} twice"
                        );
                    }
                    Ev::Plain(id) => assert!(plain_ran.insert(id), "{proto:?}: plain #{id} twice"),
                    Ev::Ran(..) => unreachable!(),
                }
            }
            assert_eq!(
                always.len() as u64,
                requests,
                "{proto:?}: every always-block ran"
            );
            let mut completed = 0;
            for (id, seen) in seen.iter().enumerate() {
                let id = id as u64;
                let outcome = always[&id];
                let expected = if seen.whole {
                    OutcomeKind::Completed
                } else {
                    OutcomeKind::Aborted
                };
                assert_eq!(outcome.kind(), expected, "{proto:?}: #{id} {seen:?}");
                assert_eq!(outcome.body_bytes(), seen.bytes, "{proto:?}: #{id}");
                assert_eq!(outcome.status(), Some(http::StatusCode::OK));
                assert_eq!(
                    plain_ran.contains(&id),
                    seen.whole,
                    "{proto:?}: plain block of #{id}"
                );
                completed += u64::from(seen.whole);
            }
            let aborted = requests - completed;
            assert!(completed > 0 && aborted > 0, "the storm mixes both endings");
            let delta = soak::delta(&before, &after);
            assert_eq!(delta.in_flight, 0, "{proto:?}");
            assert_eq!(delta.finished, requests + completed, "{proto:?}");
            assert_eq!(delta.skipped, aborted, "{proto:?}");
            assert_eq!(
                (delta.lost, delta.panicked, delta.shed),
                (0, 0, 0),
                "{proto:?}"
            );
            println!(
                "disconnect storm {proto:?}: {requests} requests, {completed} completed, \
                 {aborted} aborted; blocks run {}, plain skipped {}, lost {}",
                delta.finished, delta.skipped, delta.lost
            );
        }
    });
}

#[test]
fn panic_storm() {
    let logs = logs::Capture::new();
    let _entered = logs.enter();
    soak::quiet_deliberate_panics(PANIC_MESSAGE);
    let requests = soak::scale(1_000, 10_000) as u64;
    logs.runtime(2).block_on(async {
        for proto in PROTOCOLS {
            let (app, mut events) = App::new();
            let mut server = Server::start(router(app)).await;
            let executor = server.executor.clone();
            let client = Arc::new(common::client(proto));
            let base = Arc::new(server.url("/panic/"));
            let logged_before = logs.lines_with("deferred block panicked").len();
            let before = executor.stats();
            let answers = fan_out(requests, move |id| {
                let (client, base) = (Arc::clone(&client), Arc::clone(&base));
                async move {
                    let request = http::Request::get(format!("{base}{id}"))
                        .body(Empty::new())
                        .unwrap();
                    let response = within("the response", client.request(request))
                        .await
                        .unwrap();
                    let status = response.status();
                    let body = within("the body", response.into_body().collect()).await;
                    (status, body.unwrap().to_bytes())
                }
            })
            .await;
            for (status, body) in &answers {
                assert_eq!(
                    (*status, body.as_ref()),
                    (http::StatusCode::OK, &b"answered"[..])
                );
            }
            for _ in 0..requests {
                within("deferred blocks", server.next_completion().await.wait()).await;
            }
            let after = executor.stats();
            let mut ran: HashMap<u64, Vec<u8>> = HashMap::new();
            while let Ok(event) = events.try_recv() {
                let Ev::Ran(id, position) = event else {
                    unreachable!()
                };
                ran.entry(id).or_default().push(position);
            }
            for id in 0..requests {
                let expected: Vec<u8> = (0..3).filter(|p| u64::from(*p) != id % 3).collect();
                assert_eq!(
                    ran.get(&id),
                    Some(&expected),
                    "{proto:?}: blocks of #{id}, in order"
                );
            }
            let delta = soak::delta(&before, &after);
            assert_eq!(delta.panicked, requests, "{proto:?}: one panic per request");
            assert_eq!(
                delta.finished,
                2 * requests,
                "{proto:?}: every other block ran"
            );
            assert_eq!(
                (delta.in_flight, delta.lost, delta.failed),
                (0, 0, 0),
                "{proto:?}"
            );
            let logged = logs.lines_with("deferred block panicked").len() - logged_before;
            assert_eq!(logged as u64, requests, "{proto:?}: each panic logged");
            println!(
                "panic storm {proto:?}: {requests} requests answered, {} blocks, {} ran, \
                 {} panicked (logged {logged}), lost {}",
                3 * requests,
                delta.finished,
                delta.panicked,
                delta.lost
            );
        }
    });
}

#[test]
fn handler_cancellation() {
    let requests = soak::scale(200, 2_000) as u64;
    soak::runtime().block_on(async {
        for proto in PROTOCOLS {
            let (app, mut events) = App::new();
            let server = Server::start(router(app.clone())).await;
            let executor = server.executor.clone();
            let addr = server.addr;
            let shared = match proto {
                Proto::Http1 => None,
                Proto::Http2 => Some(h2_connection(addr).await),
            };
            let before = executor.stats();
            fan_out(requests, move |id| {
                let (app, shared) = (app.clone(), shared.clone());
                async move {
                    let lane = app.open_lane(id);
                    if let Some(mut sender) = shared {
                        // HTTP/2: the request is dropped mid-handler; the client resets the stream.
                        let request = http::Request::get(format!("http://localhost/wait/{id}"))
                            .body(Empty::<Bytes>::new())
                            .unwrap();
                        within("the connection", sender.ready()).await.unwrap();
                        let pending =
                            tokio::spawn(async move { sender.send_request(request).await });
                        within("the handler to start", lane.reached.notified()).await;
                        pending.abort();
                        let _ = pending.await;
                    } else {
                        // HTTP/1.1: the client closes the connection mid-handler.
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        let request = format!("GET /wait/{id} HTTP/1.1\r\nhost: localhost\r\n\r\n");
                        stream.write_all(request.as_bytes()).await.unwrap();
                        within("the handler to start", lane.reached.notified()).await;
                        drop(stream);
                    }
                }
            })
            .await;
            let mut cancelled = HashSet::new();
            for _ in 0..requests {
                match within("a cancelled block", events.recv()).await.unwrap() {
                    Ev::Always(id, outcome) => {
                        assert_eq!(outcome.kind(), OutcomeKind::Cancelled, "{proto:?}: #{id}");
                        assert_eq!((outcome.status(), outcome.body_bytes()), (None, 0));
                        assert!(cancelled.insert(id), "{proto:?}: #{id} ran twice");
                    }
                    other => panic!("{proto:?}: only always-blocks run, got {other:?}"),
                }
            }
            // Every block has left in-flight: nothing else is running, so nothing else can run.
            let after = soak::until_stats(&executor, "in-flight back to zero", |s| {
                s.in_flight == before.in_flight
            })
            .await;
            assert!(events.try_recv().is_err(), "{proto:?}: no block ran twice");
            let delta = soak::delta(&before, &after);
            assert_eq!(delta.finished, requests, "{proto:?}: each ran exactly once");
            assert_eq!(delta.skipped, requests, "{proto:?}: no plain block ran");
            assert_eq!(delta.lost, 0);
            println!(
                "handler cancellation {proto:?}: {requests} requests, {} cancelled blocks run, \
                 {} plain skipped, lost {}",
                delta.finished, delta.skipped, delta.lost
            );
            drop(server);
        }
    });
}

/// A value whose `Drop` panics: user code that must not run on the connection.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{PANIC_MESSAGE} in a captured value's Drop");
    }
}

/// Only a plain block, which a cancelled handler does not run: it is dropped instead.
#[after_response]
async fn held_with_a_bomb() -> &'static str {
    let bomb = PanicOnDrop;
    defer! {
        let _bomb = bomb;
    }
    std::future::pending::<()>().await;
    "unreachable"
}

/// A timeout layer cancels the handler and answers 408. The handler's registry is dropped
/// inside the layer's future, on the connection; its plain block is not run but dropped there,
/// so the captured value's `Drop` (user code) runs on the connection task (SPEC: "user code
/// never runs inside `poll_frame` or `Drop`").
#[test]
fn a_cancelled_handlers_skipped_blocks_are_not_dropped_on_the_connection() {
    soak::quiet_deliberate_panics(PANIC_MESSAGE);
    let mut answers = Vec::new();
    soak::runtime().block_on(async {
        for proto in PROTOCOLS {
            let router = Router::new().route("/held", get(held_with_a_bomb)).layer(
                tower_http::timeout::TimeoutLayer::with_status_code(
                    http::StatusCode::REQUEST_TIMEOUT,
                    std::time::Duration::from_millis(20),
                ),
            );
            let server = Server::start(router).await;
            let client = common::client(proto);
            let request = http::Request::get(server.url("/held"))
                .body(Empty::new())
                .unwrap();
            let answer = within("the response", client.request(request))
                .await
                .map(|response| response.status())
                .map_err(|error| error.to_string());
            println!("timed-out handler with a panicking capture, {proto:?}: {answer:?}");
            answers.push((proto, answer));
        }
    });
    for (proto, answer) in answers {
        assert_eq!(
            answer,
            Ok(http::StatusCode::REQUEST_TIMEOUT),
            "{proto:?}: the 408 arrives"
        );
    }
}
