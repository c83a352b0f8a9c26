//! Throughput, server CPU per request and latency: HTTP/1.1 keep-alive, 1, 32 and 64 connections.
//!
//! Every variant is measured in short slices paired with a baseline slice right before or after
//! it (the order alternates by round), on warm connections kept open across slices; a ratio is
//! variant ÷ its paired baseline, so background load that drifts over seconds cancels out. The
//! figure is the median over rounds, with the interquartile range beside it.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::client::{Error, Pool};
use crate::cpu;
use crate::plan::Plan;
use crate::stats::{self, mark};
use crate::variants::Variant;

/// Connection counts measured.
pub const CONNS: [usize; 3] = [1, 32, 64];

#[derive(Default)]
struct Cell {
    rps: Vec<f64>,
    cpu_ns: Vec<f64>,
    ratios: Vec<f64>,
    cpu_ratios: Vec<f64>,
    latencies_ns: Vec<u64>,
}

impl Cell {
    fn push(&mut self, sample: Sample) {
        self.rps.push(sample.rps);
        self.cpu_ns.push(sample.cpu_ns);
        self.latencies_ns.extend(sample.latencies_ns);
    }
}

/// One variant's figures.
pub struct Row {
    variant: Variant,
    cells: [Cell; CONNS.len()],
}

struct Sample {
    rps: f64,
    /// Server-thread CPU nanoseconds per request.
    cpu_ns: f64,
    latencies_ns: Vec<u64>,
}

async fn slice(pool: &mut Pool, plan: &Plan) -> Result<Sample, Error> {
    let cpu_before = cpu::server_ns();
    let load = pool.run(plan.measure).await?;
    let cpu = cpu::server_ns() - cpu_before;
    Ok(Sample {
        rps: load.rps(),
        cpu_ns: cpu as f64 / load.requests.max(1) as f64,
        latencies_ns: load.latencies_ns,
    })
}

/// Measures every target; `targets[0]` must be the baseline.
pub async fn run(targets: &[(Variant, SocketAddr)], plan: &Plan) -> Result<Vec<Row>, Error> {
    let mut rows: Vec<Row> = targets
        .iter()
        .map(|&(variant, _)| Row {
            variant,
            cells: Default::default(),
        })
        .collect();
    let others = targets.len() - 1;
    for (c, &conns) in CONNS.iter().enumerate() {
        let mut pools = Vec::new();
        for &(_, addr) in targets {
            let mut pool = Pool::open(addr, conns).await?;
            pool.run(plan.warmup).await?;
            pools.push(pool);
        }
        for round in 0..plan.rounds {
            for k in 0..others {
                let i = 1 + (k + round) % others;
                let (base, sample) = if round % 2 == 0 {
                    let base = slice(&mut pools[0], plan).await?;
                    (base, slice(&mut pools[i], plan).await?)
                } else {
                    let sample = slice(&mut pools[i], plan).await?;
                    (slice(&mut pools[0], plan).await?, sample)
                };
                let cell = &mut rows[i].cells[c];
                cell.ratios.push(sample.rps / base.rps);
                cell.cpu_ratios.push(sample.cpu_ns / base.cpu_ns);
                cell.push(sample);
                rows[0].cells[c].push(base);
            }
        }
    }
    Ok(rows)
}

/// Median and interquartile range of ratios, as text; "1" for the baseline (no ratios).
fn ratio(ratios: &[f64]) -> (f64, String) {
    if ratios.is_empty() {
        return (1.0, "1".to_owned());
    }
    let median = stats::median(ratios);
    let (q1, q3) = stats::quartiles(ratios);
    (median, format!("{median:.3} ({q1:.3}–{q3:.3})"))
}

/// The throughput table and the latency table.
pub fn tables(rows: &mut [Row]) -> (String, String) {
    let mut out = String::from("| variant ");
    let mut lat = String::from("| variant ");
    for conns in CONNS {
        let _ = write!(
            out,
            "| req/s, {conns} conn | ratio (IQR) | server CPU/req, {conns} conn | ratio "
        );
        let _ = write!(lat, "| p50 / p99, {conns} conn ");
    }
    out.push_str("| target (every conn count) |\n| --- ");
    lat.push_str("|\n| --- ");
    out.push_str(&"| ---: | ---: | ---: | ---: ".repeat(CONNS.len()));
    lat.push_str(&"| ---: ".repeat(CONNS.len()));
    out.push_str("| --- |\n");
    lat.push_str("|\n");
    for row in rows {
        let target = match row.variant {
            Variant::NoBlock => Some(0.99),
            Variant::OneDefer => Some(0.97),
            _ => None,
        };
        let (mut met, mut met_cpu) = (true, true);
        let _ = write!(out, "| {} ", row.variant.label());
        let _ = write!(lat, "| {} ", row.variant.label());
        for cell in &mut row.cells {
            let (median, rps_ratio) = ratio(&cell.ratios);
            let (cpu_median, cpu_ratio) = ratio(&cell.cpu_ratios);
            met &= target.is_none_or(|t| median >= t);
            // At saturation throughput is the inverse of CPU per request.
            met_cpu &= target.is_none_or(|t| 1.0 / cpu_median >= t);
            let _ = write!(
                out,
                "| {:.0} | {rps_ratio} | {:.1} µs | {cpu_ratio} ",
                stats::median(&cell.rps),
                stats::median(&cell.cpu_ns) / 1000.0,
            );
            let p50 = stats::percentile(&mut cell.latencies_ns, 50.0);
            let p99 = stats::percentile(&mut cell.latencies_ns, 99.0);
            let _ = write!(lat, "| {} / {} ", stats::us(p50), stats::us(p99));
        }
        let target = target.map_or(String::new(), |t| {
            format!("≥ {t}: req/s {}, 1 ÷ CPU {}", mark(met), mark(met_cpu))
        });
        let _ = writeln!(out, "| {target} |");
        let _ = writeln!(lat, "|");
    }
    (out, lat)
}
