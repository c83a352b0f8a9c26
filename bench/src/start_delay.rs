//! Start delay at light load: when the deferred block's first line runs, measured from
//! (a) the moment the handler's body hands out its last (only) chunk — an upper bound of
//! "body dropped → block started", since hyper drops the body after taking that chunk — and
//! (b) the moment the client has read the last byte (negative: the block started first).
//! One request at a time, 1 ms apart. `/stamp-spawn` is the control: a body whose `Drop` does a
//! bare `tokio::spawn` (no registry, no tracker, no semaphore).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::bodies::LAST_CHUNK_NS;
use crate::client::{Conn, Error, Proto};
use crate::clock;
use crate::plan::Plan;
use crate::probes::{BLOCK_STARTED, BLOCK_START_NS};
use crate::stats::{self, mark};

/// One protocol's samples, in nanoseconds.
pub struct Row {
    proto: Proto,
    path: &'static str,
    from_chunk: Vec<u64>,
    from_receipt: Vec<i64>,
}

/// Measures HTTP/1.1 and HTTP/2 against the probe server at `addr`.
pub async fn run(addr: SocketAddr, plan: &Plan) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for (proto, path) in [
        (Proto::Http1, "/stamp"),
        (Proto::Http1, "/stamp-spawn"),
        (Proto::Http2, "/stamp"),
        (Proto::Http2, "/stamp-spawn"),
    ] {
        let mut conn = Conn::open(addr, proto).await?;
        let mut row = Row {
            proto,
            path,
            from_chunk: Vec::new(),
            from_receipt: Vec::new(),
        };
        for i in 0..plan.delay_samples + 50 {
            conn.get(path).await?;
            let receipt = clock::now_ns();
            tokio::time::timeout(Duration::from_secs(1), BLOCK_STARTED.notified())
                .await
                .map_err(|_| format!("the {path} block did not start within 1 s"))?;
            let started = BLOCK_START_NS.load(Relaxed);
            let chunk = LAST_CHUNK_NS.load(Relaxed);
            if i >= 50 {
                row.from_chunk.push(started.saturating_sub(chunk));
                row.from_receipt.push(
                    i64::try_from(started).unwrap_or(i64::MAX)
                        - i64::try_from(receipt).unwrap_or(i64::MAX),
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The markdown table.
pub fn table(rows: &mut [Row]) -> String {
    let mut out = String::from(
        "| protocol | handler | last chunk yielded → block's first line p50 / p99 / max | client has last byte → block's first line p50 / p99 | target (p99 ≤ 100 µs) |\n\
         | --- | --- | ---: | ---: | --- |\n",
    );
    for row in rows {
        let proto = match row.proto {
            Proto::Http1 => "HTTP/1.1",
            Proto::Http2 => "HTTP/2",
        };
        let p99 = stats::percentile(&mut row.from_chunk, 99.0);
        let _ = writeln!(
            out,
            "| {proto} | {} | {} / {} / {} | {} / {} | {} |",
            if row.path == "/stamp" {
                "`defer!`"
            } else {
                "control: bare spawn in `Drop`"
            },
            stats::us(stats::percentile(&mut row.from_chunk, 50.0)),
            stats::us(p99),
            stats::us(stats::percentile(&mut row.from_chunk, 100.0)),
            stats::us_signed(stats::percentile_signed(&mut row.from_receipt, 50.0)),
            stats::us_signed(stats::percentile_signed(&mut row.from_receipt, 99.0)),
            if row.path == "/stamp" {
                mark(p99 <= 100_000)
            } else {
                ""
            },
        );
    }
    out
}
