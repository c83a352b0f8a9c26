//! Response isolation: time to last byte of a response whose deferred block sleeps 200 ms
//! against one with no block, and of the next request on the same keep-alive connection
//! (sent as soon as the first response is read, while the first block still sleeps). An empty
//! block is measured too, to separate the fixed cost of having a block from its slowness.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use crate::client::{Conn, Error, Proto};
use crate::plan::Plan;
use crate::stats::{self, mark};

const PATHS: [&str; 3] = ["/none", "/noop", "/sleep"];

fn ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// One protocol's samples per handler of [`PATHS`], first and second request.
pub struct Row {
    proto: Proto,
    first: [Vec<u64>; 3],
    second: [Vec<u64>; 3],
}

/// Measures HTTP/1.1 and HTTP/2 against the probe server at `addr`.
pub async fn run(addr: SocketAddr, plan: &Plan) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for proto in [Proto::Http1, Proto::Http2] {
        let mut conns = Vec::new();
        for path in PATHS {
            let mut conn = Conn::open(addr, proto).await?;
            for _ in 0..20 {
                conn.get(path).await?;
            }
            conns.push(conn);
        }
        let mut row = Row {
            proto,
            first: Default::default(),
            second: Default::default(),
        };
        for pair in 0..plan.isolation_pairs {
            for k in 0..PATHS.len() {
                // Rotate which handler goes first, so drift hits all alike.
                let which = (k + pair) % PATHS.len();
                let first = conns[which].get(PATHS[which]).await?;
                let second = conns[which].get(PATHS[which]).await?;
                row.first[which].push(ns(first));
                row.second[which].push(ns(second));
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
        "| protocol | request | no block p50 / p99 | empty block p50 / p99 | block sleeping 200 ms p50 / p99 \
         | ratio sleeping ÷ no block, p50 (p99) | ratio sleeping ÷ empty, p50 | target (≤ 1.05) |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for row in rows {
        let proto = match row.proto {
            Proto::Http1 => "HTTP/1.1",
            Proto::Http2 => "HTTP/2",
        };
        for (name, samples) in [
            ("first", &mut row.first),
            ("second, same connection", &mut row.second),
        ] {
            let p50: Vec<u64> = samples
                .iter_mut()
                .map(|s| stats::percentile(s, 50.0))
                .collect();
            let p99: Vec<u64> = samples
                .iter_mut()
                .map(|s| stats::percentile(s, 99.0))
                .collect();
            let ratio = p50[2] as f64 / p50[0] as f64;
            let _ = writeln!(
                out,
                "| {proto} | {name} | {} / {} | {} / {} | {} / {} | {ratio:.3} ({:.3}) | {:.3} | {} |",
                stats::us(p50[0]),
                stats::us(p99[0]),
                stats::us(p50[1]),
                stats::us(p99[1]),
                stats::us(p50[2]),
                stats::us(p99[2]),
                p99[2] as f64 / p99[0] as f64,
                p50[2] as f64 / p50[1] as f64,
                mark(ratio <= 1.05),
            );
        }
    }
    out
}
