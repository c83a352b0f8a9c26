//! Benchmark of after-response against plain axum, `tokio::spawn` and tower-http's `TraceLayer`.
//!
//! `cargo run -p after-response-bench --release -- [--quick]` starts every server variant on
//! loopback in this process (a server runtime with its own worker thread), drives it from a
//! client runtime on the main thread (hyper 1 connections), and prints markdown tables.
//! `--only SECTION` runs one section, `--trace-allocs` shows where each server-side allocation
//! of one request comes from, `--variant V` keeps only the baseline and V (for profiling, see
//! `bench/callgrind.sh`), `--completion-handles` serves every variant under an executor with
//! `Config::completion_handles(true)` (what tests get from the `test-util` feature). Built with `--features metrics`, it serves with the runtime's metrics on, into a
//! Prometheus recorder. Method and measured figures: `bench/RESULTS.md`.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "benchmark statistics: counts and nanoseconds far below 2^52"
)]

mod alloc;
mod allocs;
mod bigframe;
mod bodies;
mod client;
mod clock;
mod cpu;
mod isolation;
mod plan;
mod probes;
mod server;
mod start_delay;
mod stats;
mod throughput;
mod trace;
mod variants;

use std::time::Instant;

use crate::client::Error;
use crate::plan::Plan;
use crate::server::Server;
use crate::variants::Variant;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Server worker threads: one of the two cores; the client runtime takes the other.
const SERVER_WORKERS: usize = 1;

/// The executor tests and completion-awaiting middleware use: each response with deferred work
/// carries a `Completion` (4 allocations more than the default).
fn with_completion_handles() -> after_response::Executor {
    after_response::Config::default()
        .completion_handles(true)
        .build()
}

/// `router` under `executor`'s layer, if one was asked for (`--completion-handles`).
fn on_executor(router: axum::Router, executor: Option<&after_response::Executor>) -> axum::Router {
    match executor {
        Some(executor) => router.layer(executor.clone()),
        None => router,
    }
}

// One flat list of the sections, in the order they print.
#[allow(clippy::too_many_lines)]
fn main() -> Result<(), Error> {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut trace_allocs = false;
    let mut variant: Option<String> = None;
    let mut executor: Option<after_response::Executor> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = args.next(),
            "--trace-allocs" => trace_allocs = true,
            "--variant" => variant = args.next(),
            // Every variant's router (the baseline too) then runs under that executor's layer.
            "--completion-handles" => executor = Some(with_completion_handles()),
            "-h" | "--help" => {
                println!("usage: after-response-bench [--quick] [--only throughput|allocs|isolation|delay|bigframe] [--trace-allocs] [--variant 1|2|3|3h|4|5|6|1c|6c] [--completion-handles]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let wanted = |section: &str| only.as_deref().is_none_or(|only| only == section);
    let plan = Plan::new(quick);
    let started = Instant::now();
    clock::now_ns();

    let server = Server::new(SERVER_WORKERS)?;
    if only.as_deref() == Some("bigframe") {
        return bigframe::serve_and_run(&server, variant.as_deref() == Some("3"));
    }
    let mut targets = Vec::new();
    for v in Variant::ALL {
        // `--variant 3` keeps the baseline and variant 3 (e.g. to profile one under callgrind).
        let keep = variant
            .as_deref()
            .is_none_or(|only| v == Variant::Plain || v.label().split(' ').next() == Some(only));
        if keep {
            targets.push((v, server.serve(on_executor(v.router(), executor.as_ref()))?));
        }
    }
    let probes = server.serve(probes::router())?;
    let client = client::runtime()?;

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "# after-response benchmark{}\n\n{cores} cores; server: tokio multi-thread runtime, {SERVER_WORKERS} worker; \
         client: tokio current-thread runtime on the main thread (hyper 1 client, HTTP/1.1 keep-alive \
         unless stated); both share the machine. Body: 13 bytes, `Content-Length` unless \"chunked\".\n",
        if plan.quick { " (--quick)" } else { "" }
    );

    if trace_allocs {
        println!("{}", client.block_on(trace::run(&targets))?);
        return Ok(());
    }
    if wanted("throughput") {
        let mut rows = client.block_on(throughput::run(&targets, &plan))?;
        let (throughput, latency) = throughput::tables(&mut rows);
        println!(
        "## Throughput\n\n{} round(s); in each, every variant runs one {} ms slice paired with \
         a baseline slice (order alternating by round) on warm keep-alive connections. Ratio = \
         median over rounds of variant ÷ paired baseline (interquartile range in brackets). \
         Server CPU/req = on-CPU time of the server thread (schedstat) ÷ requests.\n\n{throughput}\n\
         ## Latency (time to last byte at the client, pooled over all slices)\n\n{latency}",
        plan.rounds,
        plan.measure.as_millis(),
    );
    }
    if wanted("allocs") {
        let rows = client.block_on(allocs::run(&targets, &plan))?;
        println!(
        "## Allocations per request (server threads only)\n\n{} sequential requests on one warm \
         keep-alive connection, counted by a `#[global_allocator]` on the server runtime's threads \
         (alloc + alloc_zeroed + realloc), including a 50 ms settle so deferred work has ended; \
         median of {} repetitions. \"work runs/req\" counts the atomic increments actually done.\n\n{}",
        plan.alloc_requests,
        plan.alloc_reps,
        allocs::table(&rows)
    );
    }
    if wanted("isolation") {
        let mut rows = client.block_on(isolation::run(probes, &plan))?;
        println!(
            "## Isolation: a deferred block sleeping 200 ms\n\n{} pairs of requests per protocol \
         (time to last byte at the client), alternating handlers.\n\n{}",
            plan.isolation_pairs,
            isolation::table(&mut rows)
        );
    }
    if wanted("delay") {
        let mut rows = client.block_on(start_delay::run(probes, &plan))?;
        println!(
            "## Start delay at light load\n\n{} requests per protocol, one at a time, 1 ms apart. \
         Measured from the instant the handler's body yields its last chunk (the body's drop \
         follows it inside hyper, so this bounds drop → first line from above) and from the \
         client's receipt of the last byte.\n\n{}",
            plan.delay_samples,
            start_delay::table(&mut rows)
        );
    }

    println!("Total run time: {:.1} s", started.elapsed().as_secs_f64());
    drop(client);
    drop(server);
    Ok(())
}
