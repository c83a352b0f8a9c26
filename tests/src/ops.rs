//! Helpers for the operations tests: counter deltas, bounded waits for conditions no event
//! announces, and drop witnesses.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use after_response::Stats;

use crate::probe::{Event, Probe};
use crate::within;

/// Every counter that changed from `before` to `after`, by name, in declaration order.
pub fn changes(before: &Stats, after: &Stats) -> Vec<(&'static str, i64)> {
    let fields = [
        ("in_flight", before.in_flight, after.in_flight),
        ("finished", before.finished, after.finished),
        ("failed", before.failed, after.failed),
        ("panicked", before.panicked, after.panicked),
        ("timed_out", before.timed_out, after.timed_out),
        ("cancelled", before.cancelled, after.cancelled),
        ("skipped", before.skipped, after.skipped),
        ("shed", before.shed, after.shed),
        ("abandoned", before.abandoned, after.abandoned),
        ("lost", before.lost, after.lost),
        (
            "failure_hook_panicked",
            before.failure_hook_panicked,
            after.failure_hook_panicked,
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(name, before, after)| {
            let delta = i64::try_from(after).unwrap() - i64::try_from(before).unwrap();
            (name, delta)
        })
        .collect()
}

/// Waits until `condition` holds, re-checking after each yield; gives up after the harness's
/// patience. For conditions no event announces, such as a counter reaching a value.
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// Captured by a block: when dropped it first leaves its census, then reports
/// `Event::Step(label)`, so a test sees exactly when a block's captured values were freed.
pub struct Witness {
    probe: Probe,
    label: &'static str,
    census: Option<Arc<AtomicUsize>>,
}

impl Witness {
    pub fn new(probe: &Probe, label: &'static str) -> Self {
        Self {
            probe: probe.clone(),
            label,
            census: None,
        }
    }

    /// A witness counted in `census` while it is alive: the number of blocks held in memory.
    pub fn counted(probe: &Probe, label: &'static str, census: &Arc<AtomicUsize>) -> Self {
        census.fetch_add(1, SeqCst);
        Self {
            probe: probe.clone(),
            label,
            census: Some(Arc::clone(census)),
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        if let Some(census) = self.census.take() {
            census.fetch_sub(1, SeqCst);
        }
        // The test may be gone already (blocks dropped with the runtime): ignore that.
        let _ = self.probe.events.send(Event::Step(self.label));
    }
}
