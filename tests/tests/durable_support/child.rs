//! The server process of the crash and drain tests, and what their parents share: starting it,
//! reading its output, taking over with an apalis worker.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use after_response::durable::DurableStore;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::{
    open_queue_db, open_records, queue_config, runs, spawn_sqlite_worker, sqlite_jobs, until,
    Record, Server, PATIENCE,
};

pub const QUEUE: &str = "durable-crash";
/// The bound of the child's deferred work: one response's blocks at a time, eight waiting;
/// a hung in-process job therefore holds the responses after it, and sheds the rest.
pub const MAX_QUEUED: usize = 8;

/// The server process's body: serves `/job` on the database its parent named, until killed, or
/// until told on stdin to drain (then it prints its counters).
pub async fn child_main() {
    let db = std::env::var("DURABLE_CHILD_DB").expect("started by durable_crash's tests");
    let executor = after_response::Config::default()
        .max_in_flight(1)
        .max_queued(MAX_QUEUED)
        .build();
    let pool = open_queue_db(db.as_ref()).await;
    open_records(&pool).await;
    let store = DurableStore::<Record>::sqlite(&pool, &queue_config(QUEUE))
        .await
        .unwrap();
    let server = Server::start_on(store.clone(), Some(executor.clone())).await;
    println!("LISTENING {}", server.addr);
    if std::env::var("DURABLE_CHILD_MODE").as_deref() != Ok("drain") {
        // Killed by the parent long before this; the bound keeps an orphan from living on.
        tokio::time::sleep(PATIENCE).await;
        return;
    }
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = tokio::time::timeout(PATIENCE, stdin.next_line()).await;
    drop(server);
    let report = executor.shutdown(Duration::from_millis(100)).await;
    let handed_at_drain = store.hand_back_unfinished().await;
    let durable = after_response::durable::stats();
    println!(
        "STATS shed={} abandoned={} handed_at_drain={handed_at_drain} handed_back={} ran_in_process={}",
        executor.stats().shed,
        report.abandoned + report.never_started,
        durable.handed_back,
        durable.ran_in_process,
    );
}

pub struct ChildServer {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStdout>>,
    pub base: String,
}

impl ChildServer {
    pub async fn start(db: &std::path::Path, mode: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "durable_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DURABLE_CHILD_DB", db)
            .env("DURABLE_CHILD_MODE", mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = Self::wait_for(&mut lines, "LISTENING ").await;
        Self {
            child,
            lines,
            base: format!("http://{addr}/job?"),
        }
    }

    pub async fn wait_for(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
        tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                // The test harness may print `test durable_child ... ` before it on the line.
                if let Some(at) = line.find(prefix) {
                    return line[at + prefix.len()..].to_owned();
                }
            }
            panic!("the server process ended before printing {prefix:?}")
        })
        .await
        .expect("the server process's output")
    }
}

/// A small xorshift generator: the test's randomness, reproducible from the printed seed.
pub struct Random(u64);

impl Random {
    pub fn seeded() -> Self {
        let seed = std::env::var("DURABLE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                u64::try_from(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                        % u128::from(u64::MAX),
                )
                .unwrap()
                    | 1
            });
        eprintln!("durable crash test seed: {seed} (DURABLE_SEED={seed} repeats it)");
        Self(seed)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// What the jobs of a run went through, read from the database after the kills.
#[derive(Debug, Default)]
pub struct Tally {
    pub persisted: usize,
    pub killed_before_response: usize,
    pub killed_after_response_before_run: usize,
    pub killed_mid_run: usize,
}

/// Takes over with an apalis worker and checks that every persisted job ran at least once and
/// every delivered response's job was persisted; returns the number of duplicate runs.
pub async fn take_over_and_check(
    pool: &apalis_sqlite::SqlitePool,
    delivered: &BTreeSet<u32>,
) -> (usize, u64) {
    let persisted: BTreeSet<u32> = sqlite_jobs(pool, QUEUE).await.into_keys().collect();
    let lost_before_store: Vec<_> = delivered.difference(&persisted).collect();
    assert!(
        lost_before_store.is_empty(),
        "responses delivered for jobs never persisted: {lost_before_store:?}"
    );
    let worker = spawn_sqlite_worker(pool, &queue_config(QUEUE), "durable-crash-rescuer");
    until("every persisted job to have run", || async {
        let done = runs(pool, "done").await;
        persisted.iter().all(|n| done.contains_key(n))
    })
    .await;
    worker.abort();
    let done = runs(pool, "done").await;
    let duplicates = done.values().map(|runs| runs.total() - 1).sum();
    (persisted.len(), duplicates)
}
