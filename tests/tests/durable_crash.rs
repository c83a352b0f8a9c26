//! A real server process persists durable jobs and is SIGKILL-ed at random points; an apalis
//! worker in this process takes over. Every job that was persisted runs at least once, every
//! job whose response was delivered was persisted, and the duplicates are counted and reported.
//!
//! The server is this test binary again, running the `#[ignore]`d `durable_child` test (the
//! parent starts it with `--ignored --exact`); its environment says which database to use.

mod durable_support;

use std::collections::BTreeSet;

use durable_support::child::{take_over_and_check, ChildServer, Random, Tally, QUEUE};
use durable_support::{
    fetch, open_queue_db, open_records, runs, sqlite_jobs, temp_db, until, PATIENCE,
};
use tokio::task::JoinSet;

/// The server process. Does nothing unless started by the test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the server process of the crash test; it starts it"]
async fn durable_child() {
    durable_support::child::child_main().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_no_job() {
    const ROUNDS: u32 = 4;
    const PER_ROUND: u32 = 90;
    let path = temp_db("durable-crash");
    let pool = open_queue_db(&path).await;
    open_records(&pool).await;
    let mut random = Random::seeded();
    let mut delivered = BTreeSet::new();
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let mut server = ChildServer::start(&path, "kill").await;
        let first = round * PER_ROUND;
        // Each round: a few plain jobs, then one that hangs mid-run in the server (it holds the
        // server's one slot, so the jobs after it wait in the queue or are shed), each answered
        // before the next is sent so that they take the slot in this order; then the rest at
        // once: a few handlers that hang before their response, the others plain.
        let hang_in_process = first + u32::try_from(random.below(8)).unwrap();
        let url = |n: u32, hang_before: bool| {
            format!(
                "{}n={n}&hang_in_process={}&hang_before_response={hang_before}",
                server.base,
                n == hang_in_process
            )
        };
        let mut answered = 0;
        for n in first..=hang_in_process {
            let (status, body) = fetch(&url(n, false)).await.unwrap();
            assert_eq!(status, 200, "{body}");
            delivered.insert(n);
            answered += 1;
        }
        let mut answering = JoinSet::new();
        let mut hanging = JoinSet::new();
        let mut expected = answered;
        for n in hang_in_process + 1..first + PER_ROUND {
            let hang_before = random.below(20) == 0;
            let url = url(n, hang_before);
            if hang_before {
                hanging.spawn(async move { fetch(&url).await });
            } else {
                expected += 1;
                answering.spawn(async move { (n, fetch(&url).await) });
            }
        }
        // The kill: after a random share of the answers, while the rest are on their way, and
        // once the hanging job has started in the server (so the kill always catches one job
        // mid-run, whatever the machine's speed).
        let kill_after = expected * 2 / 3
            + usize::try_from(random.below(u64::try_from(expected / 3).unwrap() + 1)).unwrap();
        while answered < kill_after {
            let (n, result) = tokio::time::timeout(PATIENCE, answering.join_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let (status, body) = result.unwrap();
            assert_eq!(status, 200, "{body}");
            delivered.insert(n);
            answered += 1;
        }
        until("the hanging job to start in the server", || async {
            runs(&pool, "started")
                .await
                .get(&hang_in_process)
                .is_some_and(|r| r.process > 0)
        })
        .await;
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        while let Some(joined) = answering.join_next().await {
            if let (n, Ok((status, _))) = joined.unwrap() {
                if status == 200 {
                    delivered.insert(n);
                }
            }
        }
        hanging.abort_all();
        eprintln!("round {round}: killed after {answered} of {expected} answers");
    }
    // Where the kills caught each persisted job, as the database tells it.
    let started = runs(&pool, "started").await;
    let done = runs(&pool, "done").await;
    for n in sqlite_jobs(&pool, QUEUE).await.into_keys() {
        tally.persisted += 1;
        let started_here = started.get(&n).is_some_and(|r| r.process > 0);
        let done_here = done.get(&n).is_some_and(|r| r.process > 0);
        if !delivered.contains(&n) && !started_here {
            tally.killed_before_response += 1;
        } else if !started_here {
            tally.killed_after_response_before_run += 1;
        } else if !done_here {
            tally.killed_mid_run += 1;
        }
    }
    let (persisted, duplicates) = take_over_and_check(&pool, &delivered).await;
    eprintln!("durable crash: {tally:?}; every one of {persisted} persisted jobs ran, 0 lost, {duplicates} duplicate runs");
    assert!(persisted >= 200, "{persisted} jobs persisted");
    assert!(
        tally.killed_before_response > 0
            && tally.killed_after_response_before_run > 0
            && tally.killed_mid_run > 0,
        "{tally:?}"
    );
    durable_support::remove_db(&path);
}
