//! Durable deferred work on Postgres, with the queue's worker in a separate process: the server
//! persists each e-mail before answering and sends it itself right after the response; the one
//! it gives up on (its in-process run times out) is handed back, and the worker process sends it.
//!
//! Run with `AFTER_RESPONSE_POSTGRES_URL=postgres://... cargo run --example durable_postgres`
//! (`source .ci/postgres && postgres_start` starts a throwaway one). Without the variable it says
//! so and exits 0.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use after_response::durable::{
    run_queued, DeferDurable as _, DurableJob, DurableStore, Envelope, JobContext, RanBy,
};
use after_response::Registry;
use apalis_core::backend::ext::BackendExt as _;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_postgres::{Config, PgPool, PostgresStorage};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[derive(Serialize, Deserialize)]
struct WelcomeEmail {
    to: String,
    /// This server's mailer is too slow for this one: its run here times out.
    slow_here: bool,
}

impl DurableJob for WelcomeEmail {
    type Error = std::convert::Infallible;

    async fn run(self, context: JobContext) -> Result<(), Self::Error> {
        if self.slow_here && context.ran_by() == RanBy::ThisProcess {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        let who = match context.ran_by() {
            RanBy::ThisProcess => "the server process, right after the response",
            RanBy::Queue => "the worker process",
        };
        println!("SENT {} by {who} (pid {})", self.to, std::process::id());
        Ok(())
    }
}

#[derive(Deserialize)]
struct Signup {
    email: String,
    #[serde(default)]
    slow: bool,
}

async fn signup(
    State(store): State<DurableStore<WelcomeEmail>>,
    Query(signup): Query<Signup>,
) -> Response {
    let registry = Registry::new("signup");
    let job = WelcomeEmail {
        to: signup.email.clone(),
        slow_here: signup.slow,
    };
    match registry.defer_durable(&store, job).await {
        // Past this, the in-process run gives up and hands the job to the queue.
        Ok(handle) => handle.set_timeout(Duration::from_millis(200)),
        Err(error) => {
            return (http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
    }
    registry
        .attach(http::Response::new(Body::from("welcome")))
        .into_response()
}

fn config(queue: &str) -> Config {
    Config::default()
        .queue(queue)
        .heartbeat_interval(Duration::from_secs(1))
        .missed_heartbeats(2)
}

/// The worker process: runs the queue's jobs for 30 s at most (the parent kills it sooner).
async fn worker(pool: PgPool, queue: &str) {
    let storage = PostgresStorage::<Envelope<WelcomeEmail>>::new(&pool)
        .with_config(config(queue))
        .poll_with_interval(Duration::from_millis(100));
    let worker = WorkerBuilder::new(format!("{queue}-worker-{}", std::process::id()))
        .backend(storage)
        .build(run_queued::<WelcomeEmail>);
    println!("WORKER READY");
    let _ = tokio::time::timeout(Duration::from_secs(30), worker.run()).await;
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("AFTER_RESPONSE_POSTGRES_URL") else {
        println!("durable_postgres: AFTER_RESPONSE_POSTGRES_URL is not set; skipping.");
        println!("  start one with `source .ci/postgres && postgres_start`, then run this again.");
        return;
    };
    let pool = PgPool::connect(&url).await.unwrap();
    PostgresStorage::setup(&pool).await.unwrap();
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--worker") {
        worker(pool, &args.next().unwrap()).await;
        return;
    }
    let started = Instant::now();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let queue = format!("welcome-emails-{nanos}");

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--worker", &queue])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut from_worker = BufReader::new(child.stdout.take().unwrap()).lines();
    while from_worker.next_line().await.unwrap().as_deref() != Some("WORKER READY") {}
    println!(
        "worker process {} is polling queue {queue}",
        child.id().unwrap()
    );

    let store = DurableStore::<WelcomeEmail>::postgres(&pool, &config(&queue))
        .await
        .unwrap();
    let app = Router::new()
        .route("/signup", post(signup))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    for query in ["email=ada@example.com", "email=grace@example.com&slow=true"] {
        let request = http::Request::post(format!("http://{addr}/signup?{query}"))
            .body(http_body_util::Empty::default())
            .unwrap();
        let status = client.request(request).await.unwrap().status();
        println!("client: {status} for {query} (the e-mail is in Postgres)");
    }
    // The slow one is handed back after 200 ms; the worker process sends it.
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = from_worker
                .next_line()
                .await
                .unwrap()
                .expect("the worker process runs");
            if line.starts_with("SENT grace@example.com") {
                return line;
            }
        }
    })
    .await
    .expect("the worker process sent the handed-back e-mail");
    println!("worker: {line}");
    child.start_kill().unwrap();
    let stats = after_response::durable::stats();
    println!(
        "server: persisted {}, ran here {}, handed back {}; done in {:?}",
        stats.persisted,
        stats.ran_in_process,
        stats.handed_back,
        started.elapsed()
    );
}
