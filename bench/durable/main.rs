//! Benchmark of the durable path (`SQLite`): what persisting costs the request, and how soon the
//! job starts after the response, in this process versus picked up by an apalis worker alone.
//!
//! `cargo run -p after-response-bench --release --features durable --bin durable-bench -- [--quick]`
//! Prints markdown tables; method and measured figures: `bench/RESULTS.md`.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "benchmark statistics: nanoseconds far below 2^52"
)]

#[path = "../src/clock.rs"]
mod clock;
#[allow(dead_code)]
#[path = "../src/stats.rs"]
mod stats;

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use after_response::durable::{
    run_queued, DeferDurable as _, DurableJob, DurableStore, Envelope, JobContext,
};
use after_response::Registry;
use apalis_core::backend::ext::BackendExt as _;
use apalis_core::backend::TaskSink as _;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_sqlite::{Config, SqliteConnectOptions, SqlitePool, SqliteStorage};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The queue worker's polling interval: apalis's `poll_with_interval`.
const POLL: Duration = Duration::from_millis(100);
/// The gap between two requests of the latency runs, so that the worker's batches never fill.
const PACE: Duration = Duration::from_millis(10);

/// When each job started, by id, on [`clock::now_ns`].
static STARTS: Mutex<Option<HashMap<u64, u64>>> = Mutex::new(None);

fn started(id: u64) -> Option<u64> {
    STARTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()?
        .get(&id)
        .copied()
}

#[derive(Serialize, Deserialize)]
struct BenchJob {
    id: u64,
}

impl DurableJob for BenchJob {
    type Error = std::convert::Infallible;

    async fn run(self, _context: JobContext) -> Result<(), Self::Error> {
        let now = clock::now_ns();
        STARTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(HashMap::new)
            .insert(self.id, now);
        Ok(())
    }
}

#[derive(Clone)]
struct Stores {
    durable: DurableStore<BenchJob>,
    queue: SqliteStorage<Envelope<BenchJob>>,
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

async fn bare() -> &'static str {
    "ok"
}

async fn in_memory() -> Response {
    let registry = Registry::new("in_memory");
    registry.defer(async {});
    registry
        .attach(http::Response::new(Body::from("ok")))
        .into_response()
}

async fn durable(State(stores): State<Stores>, Query(Id { id }): Query<Id>) -> Response {
    let registry = Registry::new("durable");
    if let Err(error) = registry
        .defer_durable(&stores.durable, BenchJob { id })
        .await
    {
        return (http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
    }
    registry
        .attach(http::Response::new(Body::from("ok")))
        .into_response()
}

/// The plain-queue way: push the job to apalis and answer; a worker runs it.
async fn queued(State(mut stores): State<Stores>, Query(Id { id }): Query<Id>) -> Response {
    let envelope = Envelope {
        key: format!("bench-{id}"),
        job: BenchJob { id },
    };
    match stores.queue.push(envelope).await {
        Ok(()) => "ok".into_response(),
        Err(error) => (http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// GET `path`; returns the time the last body byte arrived.
async fn fetch_timed(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> Result<u64, Error> {
    let request = http::Request::get(path)
        .header("host", "bench")
        .body(Empty::new())?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    response.into_body().collect().await?;
    if status != 200 {
        return Err(format!("{path}: {status}").into());
    }
    Ok(clock::now_ns())
}

/// Waits until every job in `ids` has started (60 s at most).
async fn wait_started(ids: impl IntoIterator<Item = u64> + Clone, what: &str) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.clone().into_iter().any(|id| started(id).is_none()) {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{what}: jobs did not start within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn row(name: &str, mut values: Vec<i64>, baseline: Option<f64>) -> String {
    let median = stats::percentile_signed(&mut values, 50.0) as f64 / 1e3;
    let p99 = stats::percentile_signed(&mut values, 99.0) as f64 / 1e3;
    let ratio = baseline.map_or_else(String::new, |base| format!("{:.1}×", median / base));
    format!(
        "| {name} | {} | {median:.1} | {p99:.1} | {ratio} |",
        values.len()
    )
}

/// Prints the request-path table.
fn print_costs(costs: Vec<(&str, Vec<i64>)>, cost_n: usize) {
    println!("## Request-path cost of persisting (SQLite file in WAL mode, as apalis's setup leaves it)\n");
    println!("{cost_n} sequential requests per handler on one HTTP/1.1 keep-alive connection; client round trip.\n");
    println!(
        "| handler | n | median µs | p99 µs | median / bare |\n| --- | --- | --- | --- | --- |"
    );
    let bare_median = {
        let mut first = costs[0].1.clone();
        stats::percentile_signed(&mut first, 50.0) as f64 / 1e3
    };
    let labels = [
        "bare axum handler",
        "`registry.defer` (in memory)",
        "`defer_durable` (persist + lock)",
        "apalis `push` (plain queue)",
    ];
    for ((_, times), label) in costs.into_iter().zip(labels) {
        println!("{}", row(label, times, Some(bare_median)));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (cost_n, latency_n) = if quick { (200, 40) } else { (2000, 300) };
    clock::now_ns();
    let path = std::env::temp_dir().join(format!(
        "after-response-durable-bench-{}.db",
        std::process::id()
    ));
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await?;
    SqliteStorage::setup(&pool).await?;
    let durable_config = Config::default().queue("bench-durable");
    let queue_config = Config::default().queue("bench-queue").batch_size(100);
    let stores = Stores {
        durable: DurableStore::sqlite(&pool, &durable_config).await?,
        queue: SqliteStorage::new(&pool).with_config(queue_config.clone()),
    };
    let worker_storage = SqliteStorage::<Envelope<BenchJob>>::new(&pool)
        .with_config(queue_config)
        .poll_with_interval(POLL);
    let worker = WorkerBuilder::new("bench-worker")
        .backend(worker_storage)
        .build(run_queued::<BenchJob>);
    let worker = tokio::spawn(async move { worker.run().await });

    let app = Router::new()
        .route("/bare", get(bare))
        .route("/in_memory", get(in_memory))
        .route("/durable", get(durable))
        .route("/queued", get(queued))
        .with_state(stores);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);

    // Request-path cost: sequential requests on one keep-alive connection.
    let mut next_id = 0;
    let mut costs = Vec::new();
    for name in ["bare", "in_memory", "durable", "queued"] {
        let mut times = Vec::with_capacity(cost_n);
        for _ in 0..cost_n {
            next_id += 1;
            let sent = clock::now_ns();
            let received = fetch_timed(&mut sender, &format!("/{name}?id={next_id}")).await?;
            times.push((received - sent) as i64);
        }
        costs.push((name, times));
    }
    print_costs(costs, cost_n);

    // The worker first works off the jobs the cost run queued, so that none waits behind them.
    wait_started(
        next_id - cost_n as u64 + 1..=next_id,
        "the cost run's queued jobs",
    )
    .await?;

    // Response end → job start: the client's receipt of the last byte to the job's first line.
    let mut latencies = Vec::new();
    for name in ["durable", "queued"] {
        let mut pending = Vec::with_capacity(latency_n);
        for _ in 0..latency_n {
            next_id += 1;
            let received = fetch_timed(&mut sender, &format!("/{name}?id={next_id}")).await?;
            pending.push((next_id, received));
            tokio::time::sleep(PACE).await;
        }
        wait_started(pending.iter().map(|(id, _)| *id), name).await?;
        let deltas = pending
            .iter()
            .map(|(id, received)| started(*id).unwrap_or_default() as i64 - *received as i64)
            .collect();
        latencies.push((name, deltas));
    }
    println!("\n## Response end → job start\n");
    println!(
        "{latency_n} requests per path, one every {} ms; from the client's receipt of the last byte to the job's start \
         (negative: the job started before the client had read the response).\n",
        PACE.as_millis()
    );
    println!("| path | n | median µs | p99 µs | |\n| --- | --- | --- | --- | --- |");
    let labels = [
        "`defer_durable`: run in this process".to_owned(),
        format!(
            "apalis worker alone, `poll_with_interval({} ms)`",
            POLL.as_millis()
        ),
    ];
    for ((_, deltas), label) in latencies.into_iter().zip(labels) {
        println!("{}", row(&label, deltas, None));
    }
    worker.abort();
    drop(pool);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
