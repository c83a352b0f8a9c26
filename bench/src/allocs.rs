//! Server-side allocations per request.
//!
//! Method: one HTTP/1.1 keep-alive connection per variant, warmed up; then the allocator counts
//! (on server-runtime threads only) over `n` strictly sequential requests plus a 50 ms settle
//! for deferred work to end; divided by `n`. Repeated; the median is reported (the spread is
//! printed). Connection set-up is outside the window, so this is the steady per-request cost.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::alloc;
use crate::client::{Conn, Error, Proto};
use crate::plan::Plan;
use crate::stats::{self, mark};
use crate::variants::{Variant, WORK};

const SETTLE: Duration = Duration::from_millis(50);

/// One variant's allocation figures.
pub struct Row {
    variant: Variant,
    allocs: Vec<f64>,
    bytes: Vec<f64>,
    work: Vec<f64>,
}

/// Counts every target; `targets[0]` must be the baseline.
pub async fn run(targets: &[(Variant, SocketAddr)], plan: &Plan) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for &(variant, addr) in targets {
        let mut conn = Conn::open(addr, Proto::Http1).await?;
        for _ in 0..200 {
            conn.get("/").await?;
        }
        tokio::time::sleep(SETTLE).await;
        let mut row = Row {
            variant,
            allocs: Vec::new(),
            bytes: Vec::new(),
            work: Vec::new(),
        };
        for _ in 0..plan.alloc_reps {
            let n = plan.alloc_requests;
            let work_before = WORK.load(Relaxed);
            alloc::start();
            let before = alloc::snapshot();
            for _ in 0..n {
                conn.get("/").await?;
            }
            tokio::time::sleep(SETTLE).await;
            let after = alloc::snapshot();
            alloc::stop();
            let work = WORK.load(Relaxed) - work_before;
            row.allocs
                .push((after.allocs - before.allocs) as f64 / n as f64);
            row.bytes
                .push((after.bytes - before.bytes) as f64 / n as f64);
            row.work.push(work as f64 / n as f64);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The markdown table.
pub fn table(rows: &[Row]) -> String {
    let base = stats::median(&rows[0].allocs);
    let mut out = String::from(
        "| variant | allocs/req (range) | extra vs 1 | bytes/req | work runs/req (expected) | target |\n\
         | --- | ---: | ---: | ---: | ---: | --- |\n",
    );
    for row in rows {
        let allocs = stats::median(&row.allocs);
        let (lo, hi) = stats::range(&row.allocs);
        let extra = allocs - base;
        let target = match row.variant {
            Variant::NoBlock => format!("0 extra: {}", mark(extra <= 0.005)),
            Variant::OneDefer => format!("≤ 3 extra: {}", mark(extra <= 3.005)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {allocs:.2} ({lo:.2}–{hi:.2}) | {extra:+.2} | {:.0} | {:.2} ({}) | {target} |",
            row.variant.label(),
            stats::median(&row.bytes),
            stats::median(&row.work),
            row.variant.expected_work(),
        );
    }
    out
}
