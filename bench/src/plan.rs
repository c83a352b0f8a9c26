//! How long and how often each measurement runs (`--quick` for CI).

use std::time::Duration;

/// Durations and sample counts of one run.
pub struct Plan {
    pub quick: bool,
    /// Throughput rounds (each measures every variant once per connection count, paired
    /// with a baseline slice).
    pub rounds: usize,
    pub warmup: Duration,
    pub measure: Duration,
    /// Sequential requests per allocation count (and repetitions of it).
    pub alloc_requests: u64,
    pub alloc_reps: usize,
    /// Request pairs per protocol in the isolation test.
    pub isolation_pairs: usize,
    /// Requests per protocol in the start-delay test.
    pub delay_samples: usize,
}

impl Plan {
    /// The plan for `--quick` or the full run.
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                rounds: 2,
                warmup: Duration::from_millis(100),
                measure: Duration::from_millis(150),
                alloc_requests: 1_000,
                alloc_reps: 2,
                isolation_pairs: 50,
                delay_samples: 300,
            }
        } else {
            Self {
                quick,
                rounds: 10,
                warmup: Duration::from_millis(300),
                measure: Duration::from_millis(300),
                alloc_requests: 10_000,
                alloc_reps: 3,
                isolation_pairs: 1_000,
                delay_samples: 1_500,
            }
        }
    }
}
