//! `--trace-allocs`: where each server-side allocation of one request comes from, per variant
//! (a backtrace per allocation, shown as its first frames outside std and the allocator).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use crate::alloc;
use crate::client::{Conn, Error, Proto};
use crate::variants::Variant;

/// Frames from these crates are plumbing, not the allocation's cause.
const SKIP: [&str; 6] = [
    "std::",
    "core::",
    "alloc::",
    "after_response_bench::alloc",
    "__rust",
    "<after_response_bench::alloc",
];

/// One request per target, after warm-up; returns a report.
pub async fn run(targets: &[(Variant, SocketAddr)]) -> Result<String, Error> {
    let mut out = String::new();
    for &(variant, addr) in targets {
        let mut conn = Conn::open(addr, Proto::Http1).await?;
        for _ in 0..200 {
            conn.get("/").await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        alloc::take_traces();
        alloc::set_tracing(true);
        alloc::start();
        conn.get("/").await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        alloc::stop();
        alloc::set_tracing(false);
        let traces = alloc::take_traces();
        let _ = writeln!(
            out,
            "### {} — {} allocations\n",
            variant.label(),
            traces.len()
        );
        for (size, backtrace) in traces {
            let frames: Vec<String> = backtrace
                .to_string()
                .lines()
                .filter_map(|line| line.trim().split_once(": ").map(|(_, f)| f.to_owned()))
                .filter(|frame| !SKIP.iter().any(|skip| frame.starts_with(skip)))
                .take(4)
                .collect();
            let _ = writeln!(out, "- {size} B: {}", frames.join(" ← "));
        }
        out.push('\n');
    }
    Ok(out)
}
