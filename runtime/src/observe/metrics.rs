//! Emission through the `metrics` facade (cargo feature `metrics`): counters, gauges and
//! histograms labelled only by `handler` and by `outcome` or `ending`, described (with units)
//! to the installed recorder the first time deferred work is counted.
//!
//! Each handler's handles are registered with the recorder once, on first use, and kept in a
//! small map: a response then costs one map look-up, not one registration per emission (each
//! of which would allocate its labels). The names and their meaning are tabled in the README
//! ("Observability") and in the crate docs.
#![allow(
    clippy::cast_precision_loss,
    reason = "the facade's gauges are f64; block counts stay far below 2^52"
)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Unit};

use crate::stats::BlockEnd;
use crate::OutcomeKind;

const BLOCKS_FIRED: &str = "after_response_blocks_fired_total";
const BLOCKS_ENDED: &str = "after_response_blocks_ended_total";
const BLOCKS_IN_FLIGHT: &str = "after_response_blocks_in_flight";
const RESPONSES_QUEUED: &str = "after_response_responses_queued";
const BLOCK_DURATION: &str = "after_response_block_duration_seconds";
const BLOCK_START_DELAY: &str = "after_response_block_start_delay_seconds";
const QUEUE_WAIT: &str = "after_response_queue_wait_seconds";
const FAILURE_HOOK_PANICS: &str = "after_response_failure_hook_panics_total";

/// Every `ending` label value, in [`ending_index`] order: the words of the [`crate::Stats`]
/// fields.
const ENDINGS: [&str; 9] = [
    "finished",
    "failed",
    "panicked",
    "timed_out",
    "skipped",
    "abandoned",
    "lost",
    "cancelled",
    "shed",
];
pub(super) const CANCELLED: usize = 7;
pub(super) const SHED: usize = 8;
const OUTCOMES: [OutcomeKind; 4] = [
    OutcomeKind::Completed,
    OutcomeKind::Aborted,
    OutcomeKind::Cancelled,
    OutcomeKind::Panicked,
];

/// The index of `ending` in [`ENDINGS`].
pub(super) const fn ending_index(ending: BlockEnd) -> usize {
    match ending {
        BlockEnd::Finished => 0,
        BlockEnd::Failed => 1,
        BlockEnd::Panicked => 2,
        BlockEnd::TimedOut => 3,
        BlockEnd::Skipped => 4,
        BlockEnd::Abandoned => 5,
        BlockEnd::Lost => 6,
    }
}

const fn outcome_index(outcome: OutcomeKind) -> usize {
    match outcome {
        OutcomeKind::Completed => 0,
        OutcomeKind::Aborted => 1,
        OutcomeKind::Cancelled => 2,
        OutcomeKind::Panicked => 3,
    }
}

/// One handler's handles, each registered with the recorder on its first use (so a scrape shows
/// only the series that happened).
pub(crate) struct HandlerMetrics {
    handler: &'static str,
    fired: [OnceLock<Counter>; 4],
    ended: [OnceLock<Counter>; 9],
    in_flight: OnceLock<Gauge>,
    queued: OnceLock<Gauge>,
    duration: [OnceLock<Histogram>; 9],
    start_delay: OnceLock<Histogram>,
    queue_wait: OnceLock<Histogram>,
    hook_panics: OnceLock<Counter>,
}

/// The handles of `handler`, created (and every metric described) on first use.
pub(crate) fn of(handler: &'static str) -> Arc<HandlerMetrics> {
    static HANDLERS: OnceLock<RwLock<HashMap<&'static str, Arc<HandlerMetrics>>>> = OnceLock::new();
    let handlers = HANDLERS.get_or_init(|| {
        describe();
        RwLock::default()
    });
    // No user code runs under this lock (handles are registered later, outside it).
    let known = handlers
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(handler)
        .cloned();
    known.unwrap_or_else(|| {
        let mut handlers = handlers.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            handlers
                .entry(handler)
                .or_insert_with(|| Arc::new(HandlerMetrics::new(handler))),
        )
    })
}

impl HandlerMetrics {
    fn new(handler: &'static str) -> Self {
        Self {
            handler,
            fired: Default::default(),
            ended: Default::default(),
            in_flight: OnceLock::new(),
            queued: OnceLock::new(),
            duration: Default::default(),
            start_delay: OnceLock::new(),
            queue_wait: OnceLock::new(),
            hook_panics: OnceLock::new(),
        }
    }

    /// `blocks` blocks ended as `ENDINGS[ending]` (without running, or never to run again).
    pub(super) fn ended(&self, ending: usize, blocks: u64) {
        let label = ENDINGS[ending];
        self.ended[ending]
            .get_or_init(|| counter!(BLOCKS_ENDED, "handler" => self.handler, "ending" => label))
            .increment(blocks);
    }

    pub(super) fn fired(&self, outcome: OutcomeKind, blocks: u64, queued: bool) {
        let label = OUTCOMES[outcome_index(outcome)].as_str();
        self.fired[outcome_index(outcome)]
            .get_or_init(|| counter!(BLOCKS_FIRED, "handler" => self.handler, "outcome" => label))
            .increment(blocks);
        self.in_flight().increment(blocks as f64);
        if queued {
            self.queued().increment(1.0);
        }
    }

    /// `waited` is the time to a slot; `None` when the task was dropped while it waited.
    pub(super) fn left_queue(&self, waited: Option<Duration>) {
        self.queued().decrement(1.0);
        if let Some(waited) = waited {
            self.queue_wait
                .get_or_init(|| histogram!(QUEUE_WAIT, "handler" => self.handler))
                .record(waited);
        }
    }

    pub(super) fn started(&self, start_delay: Duration) {
        self.start_delay
            .get_or_init(|| histogram!(BLOCK_START_DELAY, "handler" => self.handler))
            .record(start_delay);
    }

    /// A started block ended after running for `duration`.
    pub(super) fn block_ended(&self, ending: BlockEnd, duration: Duration) {
        let index = ending_index(ending);
        self.ended(index, 1);
        self.in_flight().decrement(1.0);
        let label = ENDINGS[index];
        self.duration[index]
            .get_or_init(
                || histogram!(BLOCK_DURATION, "handler" => self.handler, "ending" => label),
            )
            .record(duration);
    }

    /// Fired blocks that leave `in_flight` without running to an end (abandoned or lost).
    pub(super) fn unfinished(&self, ending: BlockEnd, blocks: u64) {
        self.ended(ending_index(ending), blocks);
        self.in_flight().decrement(blocks as f64);
    }

    pub(super) fn failure_hook_panicked(&self) {
        self.hook_panics
            .get_or_init(|| counter!(FAILURE_HOOK_PANICS, "handler" => self.handler))
            .increment(1);
    }

    fn in_flight(&self) -> &Gauge {
        self.in_flight
            .get_or_init(|| gauge!(BLOCKS_IN_FLIGHT, "handler" => self.handler))
    }

    fn queued(&self) -> &Gauge {
        self.queued
            .get_or_init(|| gauge!(RESPONSES_QUEUED, "handler" => self.handler))
    }
}

/// Describes every metric to the recorder installed now; called once, before the first
/// handles are registered, so an exporter installed at start-up gets the descriptions and units.
fn describe() {
    metrics::describe_counter!(
        BLOCKS_FIRED,
        Unit::Count,
        "Deferred blocks handed to a task to run, by handler and response outcome"
    );
    metrics::describe_counter!(
        BLOCKS_ENDED,
        Unit::Count,
        "Deferred blocks that ended, by handler and ending (finished, failed, panicked, \
         timed_out, cancelled, skipped, shed, abandoned, lost); each block ends once"
    );
    metrics::describe_gauge!(
        BLOCKS_IN_FLIGHT,
        Unit::Count,
        "Deferred blocks fired and not yet ended (waiting for a slot, behind an earlier \
         block of their response, or running), by handler"
    );
    metrics::describe_gauge!(
        RESPONSES_QUEUED,
        Unit::Count,
        "Responses whose blocks wait for one of the max_in_flight slots, by handler"
    );
    metrics::describe_histogram!(
        BLOCK_DURATION,
        Unit::Seconds,
        "Time from a deferred block's first line to its end, by handler and ending"
    );
    metrics::describe_histogram!(
        BLOCK_START_DELAY,
        Unit::Seconds,
        "Time from the end of the response to a deferred block's first line, by handler"
    );
    metrics::describe_histogram!(
        QUEUE_WAIT,
        Unit::Seconds,
        "Time a response that found every slot taken waited for one, by handler"
    );
    metrics::describe_counter!(
        FAILURE_HOOK_PANICS,
        Unit::Count,
        "Panics caught in the failure hook (Config::on_failure), by handler"
    );
}
