//! Shared parts of the durable tests: a job that records each run in a `SQLite` table, a real
//! axum server whose handler persists it, an apalis worker that takes over, and queries that
//! read what ran.
#![allow(dead_code, clippy::missing_panics_doc)]

pub mod child;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use after_response::durable::{
    run_queued, DeferDurable as _, DurableJob, DurableStore, Envelope, JobContext, RanBy,
};
use after_response::{Completion, Registry};
use apalis_core::backend::ext::BackendExt as _;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_sqlite::{Config, SqliteConnectOptions, SqlitePool, SqliteStorage};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Upper bound for any wait: a hang becomes a failure, never a stuck CI (not a speed check).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Where [`Record`] writes its runs; set once per process by [`open_records`].
static RECORDS: OnceLock<SqlitePool> = OnceLock::new();

/// The durable job of these tests: records that it started and that it finished, with who ran
/// it. `hang_in_process` makes the in-process run stop between the two, forever.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub n: u32,
    pub hang_in_process: bool,
}

impl DurableJob for Record {
    type Error = sqlx::Error;

    async fn run(self, context: JobContext) -> Result<(), sqlx::Error> {
        let pool = RECORDS.get().expect("open_records first");
        let by = match context.ran_by() {
            RanBy::ThisProcess => "process",
            RanBy::Queue => "queue",
        };
        record(pool, self.n, "started", by, context.idempotency_key()).await?;
        if self.hang_in_process && context.ran_by() == RanBy::ThisProcess {
            std::future::pending::<()>().await;
        }
        record(pool, self.n, "done", by, context.idempotency_key()).await
    }
}

async fn record(
    pool: &SqlitePool,
    n: u32,
    phase: &str,
    by: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO runs (n, phase, ran_by, key, pid) VALUES (?, ?, ?, ?, ?)")
        .bind(n)
        .bind(phase)
        .bind(by)
        .bind(key)
        .bind(std::process::id())
        .execute(pool)
        .await
        .map(drop)
}

/// A fresh database file name in the temp dir.
pub fn temp_db(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "after-response-{name}-{}-{nanos}.db",
        std::process::id()
    ))
}

/// Removes the database file at `path` and `SQLite`'s WAL and shared-memory files beside it.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// Opens (creating) the `SQLite` file at `path` with apalis's schema.
pub async fn open_queue_db(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_if_missing(true)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePool::connect_with(options).await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    pool
}

/// Makes `pool` the place [`Record`] writes to, creating its table.
pub async fn open_records(pool: &SqlitePool) {
    sqlx::query("CREATE TABLE IF NOT EXISTS runs (n INTEGER, phase TEXT, ran_by TEXT, key TEXT, pid INTEGER)")
        .execute(pool)
        .await
        .unwrap();
    let _ = RECORDS.set(pool.clone());
}

/// The apalis config of queue `queue`: one-second heartbeats, a lock expires after two missed.
pub fn queue_config(queue: &str) -> Config {
    Config::default()
        .queue(queue)
        .heartbeat_interval(Duration::from_secs(1))
        .missed_heartbeats(2)
}

/// An apalis worker on `queue` running [`Record`]s through `run_queued`, polling every 50 ms.
pub fn spawn_sqlite_worker(
    pool: &SqlitePool,
    config: &Config,
    name: &str,
) -> tokio::task::JoinHandle<()> {
    let storage = SqliteStorage::<Envelope<Record>>::new(pool)
        .with_config(config.clone())
        .poll_with_interval(Duration::from_millis(50));
    let worker = WorkerBuilder::new(name)
        .backend(storage)
        .build(run_queued::<Record>);
    tokio::spawn(async move {
        worker.run().await.unwrap();
    })
}

/// How many `phase` runs each job had, by who ran them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Runs {
    pub process: u64,
    pub queue: u64,
}

impl Runs {
    pub const fn total(self) -> u64 {
        self.process + self.queue
    }
}

pub async fn runs(pool: &SqlitePool, phase: &str) -> BTreeMap<u32, Runs> {
    let rows: Vec<(u32, String, i64)> =
        sqlx::query_as("SELECT n, ran_by, COUNT(*) FROM runs WHERE phase = ? GROUP BY n, ran_by")
            .bind(phase)
            .fetch_all(pool)
            .await
            .unwrap();
    let mut runs = BTreeMap::<u32, Runs>::new();
    for (n, by, count) in rows {
        let entry = runs.entry(n).or_default();
        let count = u64::try_from(count).unwrap();
        if by == "process" {
            entry.process += count;
        } else {
            entry.queue += count;
        }
    }
    runs
}

/// The `n` of every job of `queue` in apalis's `SQLite` `Jobs` table, with its status.
pub async fn sqlite_jobs(pool: &SqlitePool, queue: &str) -> BTreeMap<u32, String> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT json_extract(CAST(job AS TEXT), '$.job.n'), status FROM Jobs WHERE job_type = ?",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(n, status)| (u32::try_from(n).unwrap(), status))
        .collect()
}

/// Polls `condition` every 20 ms until it holds; fails the test after [`PATIENCE`].
pub async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the test handler is asked to do.
#[derive(Debug, Deserialize)]
pub struct Ask {
    pub n: u32,
    #[serde(default)]
    pub hang_in_process: bool,
    #[serde(default)]
    pub hang_before_response: bool,
    #[serde(default)]
    pub cancel: bool,
    /// Milliseconds; the in-process run's own timeout.
    pub timeout_ms: Option<u64>,
}

/// The handler: persists a [`Record`] through the plain `Registry` API, answers 503 when the
/// store fails.
async fn handle(State(store): State<DurableStore<Record>>, Query(ask): Query<Ask>) -> Response {
    let registry = Registry::new("durable_test");
    let job = Record {
        n: ask.n,
        hang_in_process: ask.hang_in_process,
    };
    match registry.defer_durable(&store, job).await {
        Ok(handle) => {
            if let Some(ms) = ask.timeout_ms {
                handle.set_timeout(Duration::from_millis(ms));
            }
            if ask.cancel {
                handle.cancel();
            }
        }
        Err(error) => {
            return (http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
    }
    if ask.hang_before_response {
        std::future::pending::<()>().await;
    }
    registry
        .attach(http::Response::new(Body::from("ok")))
        .into_response()
}

/// A real axum server on 127.0.0.1:0 whose `/job` persists a [`Record`] in `store`, with a tap
/// that hands each response's [`Completion`] to the test.
pub struct Server {
    pub addr: SocketAddr,
    pub completions: mpsc::UnboundedReceiver<Completion>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(store: DurableStore<Record>) -> Self {
        Self::start_on(store, None).await
    }

    /// [`Server::start`], with the handler's blocks on `executor` (its layer) when given, else
    /// on the process default.
    pub async fn start_on(
        store: DurableStore<Record>,
        executor: Option<after_response::Executor>,
    ) -> Self {
        let (tx, completions) = mpsc::unbounded_channel();
        let mut app = Router::new()
            .route("/job", get(handle))
            .with_state(store)
            .layer(axum::middleware::map_response(move |response: Response| {
                let _ = tx.send(Completion::of(&response));
                async move { response }
            }));
        if let Some(executor) = executor {
            app = app.layer(executor);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            completions,
            task,
        }
    }

    pub fn url(&self, query: &str) -> String {
        format!("http://{}/job?{query}", self.addr)
    }

    /// Waits for the next response's deferred blocks to end.
    pub async fn settle_next(&mut self) {
        let completion = tokio::time::timeout(PATIENCE, self.completions.recv())
            .await
            .expect("a response")
            .expect("server running");
        tokio::time::timeout(PATIENCE, completion.wait())
            .await
            .expect("deferred blocks ended");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// GET `url` with a fresh hyper-util client; returns the status and body.
pub async fn fetch(url: &str) -> Result<(http::StatusCode, String), String> {
    use http_body_util::BodyExt as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client
        .get(url.parse().unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
