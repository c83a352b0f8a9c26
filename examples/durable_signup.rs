//! Durable deferred work on `SQLite`: the welcome e-mail is persisted before the response leaves,
//! sent by this process right after the response, and, when the server is killed before it
//! could send it, sent by an apalis worker instead.
//!
//! Run with `cargo run --example durable_signup`. It exits by itself in a few seconds: part 1
//! serves in this process; part 2 starts the same example as a server process, kills -9 it with
//! three e-mails unsent, and a worker here finishes them once the dead process's lock expires.

use std::fmt::Display;
use std::process::Stdio;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::mpsc;

static START: OnceLock<Instant> = OnceLock::new();
static SENT_BY_WORKER: AtomicUsize = AtomicUsize::new(0);

fn log(side: &str, what: impl Display) {
    let elapsed = START.get_or_init(Instant::now).elapsed();
    println!("{:>8.1} ms  {side:<7} {what}", elapsed.as_secs_f64() * 1e3);
}

/// The job: serializable, stored in the queue before the response leaves.
#[derive(Serialize, Deserialize)]
struct WelcomeEmail {
    to: String,
    /// The server in part 2 is a slow mailer: it is killed before it sends.
    slow_here: bool,
}

impl DurableJob for WelcomeEmail {
    type Error = std::convert::Infallible;

    async fn run(self, context: JobContext) -> Result<(), Self::Error> {
        let who = match context.ran_by() {
            RanBy::ThisProcess => "this process",
            RanBy::Queue => "the queue's worker",
        };
        if self.slow_here && context.ran_by() == RanBy::ThisProcess {
            log("server", format!("sending to {} (slowly)...", self.to));
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        log(
            if context.ran_by() == RanBy::Queue {
                "worker"
            } else {
                "server"
            },
            format!(
                "welcome e-mail sent to {} by {who} (key {})",
                self.to,
                context.idempotency_key()
            ),
        );
        if context.ran_by() == RanBy::Queue {
            SENT_BY_WORKER.fetch_add(1, SeqCst);
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Signup {
    email: String,
    #[serde(default)]
    slow: bool,
}

/// Persists the e-mail (a store that is down is a 503 here), then answers.
async fn signup(
    State(store): State<DurableStore<WelcomeEmail>>,
    Query(signup): Query<Signup>,
) -> Response {
    let registry = Registry::new("signup");
    let job = WelcomeEmail {
        to: signup.email.clone(),
        slow_here: signup.slow,
    };
    if let Err(error) = registry.defer_durable(&store, job).await {
        return (http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
    }
    registry
        .attach(http::Response::new(Body::from(format!(
            "welcome, {}",
            signup.email
        ))))
        .into_response()
}

fn config() -> Config {
    // One-second heartbeats: a dead server's lock expires after two missed ones.
    Config::default()
        .queue("welcome-emails")
        .heartbeat_interval(Duration::from_secs(1))
        .missed_heartbeats(2)
}

async fn open(path: &str) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .unwrap()
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    pool
}

/// Serves `/signup` on 127.0.0.1:0; each response's [`Completion`] goes to `completions`.
async fn serve(
    path: &str,
    completions: mpsc::UnboundedSender<Completion>,
) -> (String, DurableStore<WelcomeEmail>) {
    let pool = open(path).await;
    let store = DurableStore::sqlite(&pool, &config()).await.unwrap();
    let app = Router::new()
        .route("/signup", post(signup))
        .with_state(store.clone())
        .layer(axum::middleware::map_response(move |response: Response| {
            let _ = completions.send(Completion::of(&response));
            async move { response }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), store)
}

async fn post_signup(base: &str, query: &str) -> Response<hyper::body::Incoming> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = http::Request::post(format!("{base}/signup?{query}"))
        .body(http_body_util::Empty::default())
        .unwrap();
    client.request(request).await.unwrap()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--serve") {
        // Part 2's server process: serve until killed (30 s at most).
        let (base, _store) = serve(&args.next().unwrap(), mpsc::unbounded_channel().0).await;
        println!("LISTENING {base}");
        tokio::time::sleep(Duration::from_secs(30)).await;
        return;
    }
    let path = std::env::temp_dir().join(format!(
        "after-response-durable-signup-{}.db",
        std::process::id()
    ));
    let path = path.to_str().unwrap().to_owned();

    log(
        "part 1",
        "in process: the e-mail is persisted, the response leaves, then this process sends it",
    );
    let (completions, mut completed) = mpsc::unbounded_channel();
    let (base, store) = serve(&path, completions).await;
    let response = post_signup(&base, "email=ada@example.com").await;
    log("client", format!("response {} received", response.status()));
    drop(response);
    // The server's completion handle of that response: resolves once the e-mail was sent.
    completed.recv().await.unwrap().await;
    let stats = after_response::durable::stats();
    log(
        "part 1",
        format!(
            "persisted {}, run in process {}",
            stats.persisted, stats.ran_in_process
        ),
    );
    drop(store);

    log(
        "part 2",
        "a server process persists three e-mails, answers, and is killed -9 before sending them",
    );
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &path])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child_base = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server process started");
        if let Some(base) = line.strip_prefix("LISTENING ") {
            break base.to_owned();
        }
    };
    for email in [
        "grace@example.com",
        "alan@example.com",
        "edsger@example.com",
    ] {
        let response = post_signup(&child_base, &format!("email={email}&slow=true")).await;
        log(
            "client",
            format!(
                "response {} for {email}: the e-mail is in the queue",
                response.status()
            ),
        );
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    log(
        "part 2",
        "server process killed; a worker takes over once its lock expires (~2 s)",
    );

    let pool = open(&path).await;
    let storage = SqliteStorage::<Envelope<WelcomeEmail>>::new(&pool)
        .with_config(config())
        .poll_with_interval(Duration::from_millis(100));
    let worker = WorkerBuilder::new("welcome-worker")
        .backend(storage)
        .build(run_queued::<WelcomeEmail>);
    let worker = tokio::spawn(async move { worker.run().await.unwrap() });
    let deadline = Instant::now() + Duration::from_secs(20);
    while SENT_BY_WORKER.load(SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker did not finish the dead server's e-mails"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    log(
        "part 2",
        "every e-mail the dead server persisted was sent by the worker",
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}
