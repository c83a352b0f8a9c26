//! The durable path on Postgres (apalis-postgres), through a real server and a real apalis
//! worker. Needs `AFTER_RESPONSE_POSTGRES_URL` (`.ci/run` starts a Postgres and sets it); without
//! it the test says so loudly and passes, except under CI, where it fails.

mod durable_support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use after_response::durable::{run_queued, DurableStore, Envelope};
use apalis_core::backend::ext::BackendExt as _;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_postgres::{Config, PgPool, PostgresStorage};
use durable_support::{
    fetch, open_queue_db, open_records, runs, temp_db, until, Record, Runs, Server,
};

async fn pg_jobs(pool: &PgPool, queue: &str) -> BTreeMap<u32, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT convert_from(job, 'UTF8')::jsonb -> 'job' ->> 'n', status FROM apalis.jobs WHERE job_type = $1",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(n, status)| (n.parse().unwrap(), status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_jobs_on_postgres() {
    let Ok(url) = std::env::var("AFTER_RESPONSE_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide AFTER_RESPONSE_POSTGRES_URL (.ci/run starts Postgres through .ci/postgres)"
        );
        eprintln!(
            "\n*** SKIPPED durable_jobs_on_postgres: AFTER_RESPONSE_POSTGRES_URL is not set. ***\n\
             *** Run `source .ci/postgres && postgres_start` first (it installs and starts one). ***\n"
        );
        return;
    };
    let pool = PgPool::connect(&url).await.unwrap();
    PostgresStorage::setup(&pool).await.unwrap();
    let records_path = temp_db("durable-pg-records");
    let records = open_queue_db(&records_path).await;
    open_records(&records).await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let queue = format!("durable-pg-{nanos}");
    let config = Config::default()
        .queue(&queue)
        .heartbeat_interval(Duration::from_secs(1))
        .missed_heartbeats(2);
    let store = DurableStore::<Record>::postgres(&pool, &config)
        .await
        .unwrap();
    let storage = PostgresStorage::<Envelope<Record>>::new(&pool)
        .with_config(config.clone())
        .poll_with_interval(Duration::from_millis(50));
    let worker = WorkerBuilder::new(format!("{queue}-worker"))
        .backend(storage)
        .build(run_queued::<Record>);
    let worker = tokio::spawn(async move { worker.run().await.unwrap() });
    let mut server = Server::start(store.clone()).await;

    // Completed: run here after the response, acked Done; the worker leaves it alone.
    assert_eq!(fetch(&server.url("n=1")).await.unwrap().0, 200);
    server.settle_next().await;
    assert_eq!(
        runs(&records, "done").await.get(&1),
        Some(&Runs {
            process: 1,
            queue: 0
        })
    );
    assert_eq!(pg_jobs(&pool, &queue).await[&1], "Done");

    // Cancelled by the handler: acked Killed.
    fetch(&server.url("n=2&cancel=true")).await.unwrap();
    server.settle_next().await;
    until("job 2 killed", || async {
        pg_jobs(&pool, &queue).await[&2] == "Killed"
    })
    .await;

    // Timed out here: handed back, and the worker runs it.
    fetch(&server.url("n=3&hang_in_process=true&timeout_ms=50"))
        .await
        .unwrap();
    server.settle_next().await;
    until("job 3 done by the worker", || async {
        runs(&records, "done").await.contains_key(&3)
    })
    .await;
    assert_eq!(
        runs(&records, "done").await[&3],
        Runs {
            process: 0,
            queue: 1
        }
    );
    until("job 3 acked Done by the worker", || async {
        pg_jobs(&pool, &queue).await[&3] == "Done"
    })
    .await;

    worker.abort();
    drop(server);
    durable_support::remove_db(&records_path);
}
