//! The durable path on `SQLite` (a temp file), through a real server and a real apalis worker:
//! what becomes of the job for each way a request can end.
//!
//! One test, several scenarios in order: the job records its runs in a `SQLite` pool that belongs
//! to one tokio runtime, and every `#[tokio::test]` has a runtime of its own.

mod durable_support;

use after_response::durable::{self, DurableStore};
use durable_support::{
    fetch, open_queue_db, open_records, queue_config, runs, spawn_sqlite_worker, sqlite_jobs,
    temp_db, until, Record, Runs, Server,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_jobs_on_sqlite() {
    let path = temp_db("durable");
    let pool = open_queue_db(&path).await;
    open_records(&pool).await;
    let config = queue_config("durable-semantics");
    let store = DurableStore::<Record>::sqlite(&pool, &config)
        .await
        .unwrap();
    // The queue's own worker runs beside the server all along: it must leave alone what this
    // process holds, and take what it hands back.
    let worker = spawn_sqlite_worker(&pool, &config, "durable-semantics-worker");
    let mut server = Server::start(store.clone()).await;
    let before = durable::stats();

    // Completed: run here, after the response, and acked Done; the worker never runs it.
    let (status, _) = fetch(&server.url("n=1")).await.unwrap();
    assert_eq!(status, 200);
    server.settle_next().await;
    assert_eq!(
        runs(&pool, "done").await.get(&1),
        Some(&Runs {
            process: 1,
            queue: 0
        })
    );
    assert_eq!(sqlite_jobs(&pool, store.queue()).await[&1], "Done");

    // Cancelled through the handle: acked Killed, run by nobody.
    fetch(&server.url("n=2&cancel=true")).await.unwrap();
    server.settle_next().await;
    until("job 2 killed", || async {
        sqlite_jobs(&pool, store.queue()).await[&2] == "Killed"
    })
    .await;

    // The response never completes (the client gives up, the handler future is dropped):
    // removed, acked Killed.
    let url = server.url("n=3&hang_before_response=true");
    let hung = tokio::spawn(async move { fetch(&url).await });
    until("job 3 persisted", || async {
        sqlite_jobs(&pool, store.queue()).await.contains_key(&3)
    })
    .await;
    hung.abort();
    until("job 3 killed", || async {
        sqlite_jobs(&pool, store.queue()).await[&3] == "Killed"
    })
    .await;

    // Timed out mid-run here: handed back, and the queue's worker runs it, with the same key.
    fetch(&server.url("n=4&hang_in_process=true&timeout_ms=50"))
        .await
        .unwrap();
    server.settle_next().await;
    until("job 4 done by the worker", || async {
        runs(&pool, "done").await.contains_key(&4)
    })
    .await;
    assert_eq!(
        runs(&pool, "started").await[&4],
        Runs {
            process: 1,
            queue: 1
        }
    );
    assert_eq!(
        runs(&pool, "done").await[&4],
        Runs {
            process: 0,
            queue: 1
        }
    );
    let keys: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT key FROM runs WHERE n = 4")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        keys.len(),
        1,
        "one idempotency key for every run of a job: {keys:?}"
    );

    // A store that is down: the handler gets the error before it answers.
    let down_pool = open_queue_db(&path).await;
    let down = DurableStore::<Record>::sqlite(&down_pool, &config)
        .await
        .unwrap();
    down_pool.close().await;
    let down_server = Server::start(down).await;
    let (status, body) = fetch(&down_server.url("n=5")).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(!sqlite_jobs(&pool, store.queue()).await.contains_key(&5));

    let after = durable::stats();
    assert_eq!(after.persisted - before.persisted, 4);
    assert_eq!(after.ran_in_process - before.ran_in_process, 1);
    assert_eq!(after.removed - before.removed, 2);
    assert_eq!(after.handed_back - before.handed_back, 1);
    assert_eq!(after.persist_failed - before.persist_failed, 1);
    assert_eq!(after.ran_from_queue - before.ran_from_queue, 1);
    worker.abort();
    drop(server);
    durable_support::remove_db(&path);
}
