//! A real server process persists durable jobs, sheds some, and is cut by a drain deadline
//! with one job hung mid-run and others waiting; it hands them all back to the queue, and an
//! apalis worker in this process runs every one of them.
//!
//! The server is this test binary again, running the `#[ignore]`d `durable_child` test.

mod durable_support;

use std::collections::BTreeSet;

use durable_support::child::{take_over_and_check, ChildServer};
use durable_support::{fetch, open_queue_db, open_records, runs, temp_db, until};
use tokio::io::AsyncWriteExt as _;
use tokio::task::JoinSet;

/// The server process. Does nothing unless started by the test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the server process of the drain test; it starts it"]
async fn durable_child() {
    durable_support::child::child_main().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_deadline_hands_jobs_back() {
    const JOBS: u32 = 60;
    let path = temp_db("durable-drain");
    let pool = open_queue_db(&path).await;
    open_records(&pool).await;
    let mut server = ChildServer::start(&path, "drain").await;
    // Job 0 hangs mid-run in the server and holds the single slot; the next eight wait
    // behind it, the rest are shed.
    let (status, _) = fetch(&format!("{}n=0&hang_in_process=true", server.base))
        .await
        .unwrap();
    assert_eq!(status, 200);
    until("job 0 running in the server", || async {
        runs(&pool, "started").await.contains_key(&0)
    })
    .await;
    let mut answering = JoinSet::new();
    for n in 1..JOBS {
        let url = format!("{}n={n}", server.base);
        answering.spawn(async move { (n, fetch(&url).await) });
    }
    let mut delivered = BTreeSet::from([0]);
    while let Some(joined) = answering.join_next().await {
        let (n, result) = joined.unwrap();
        assert_eq!(result.unwrap().0, 200);
        delivered.insert(n);
    }
    // Drain with a deadline the hung job cannot meet.
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b"drain\n").await.unwrap();
    let child_stats = ChildServer::wait_for(&mut server.lines, "STATS ").await;
    assert!(server.child.wait().await.unwrap().success());
    let field = |name: &str| -> u64 {
        child_stats
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {child_stats}"))
    };
    assert!(field("shed") > 0, "{child_stats}");
    assert!(field("handed_at_drain") > 0, "{child_stats}");
    assert_eq!(
        field("handed_back"),
        field("shed") + field("handed_at_drain"),
        "{child_stats}"
    );
    let (persisted, duplicates) = take_over_and_check(&pool, &delivered).await;
    assert_eq!(persisted, usize::try_from(JOBS).unwrap());
    eprintln!("durable drain: {child_stats}; every one of {persisted} persisted jobs ran, 0 lost, {duplicates} duplicate runs");
    durable_support::remove_db(&path);
}
