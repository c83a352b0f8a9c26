//! Emission through the `metrics` facade (cargo feature `metrics`): counters, gauges and
//! histograms labelled only by `handler` and by `outcome` or `ending`, described (with units)
//! to the installed recorder the first time deferred work is counted.
//!
//! The names and their meaning are tabled in the README ("Metrics") and in the crate docs.

#![allow(
    clippy::cast_precision_loss,
    reason = "the facade's gauges are f64; block counts stay far below 2^52"
)]

use std::sync::Once;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Unit};

use crate::stats::Ending;
use crate::OutcomeKind;

const BLOCKS_FIRED: &str = "after_response_blocks_fired_total";
const BLOCKS_ENDED: &str = "after_response_blocks_ended_total";
const BLOCKS_IN_FLIGHT: &str = "after_response_blocks_in_flight";
const RESPONSES_QUEUED: &str = "after_response_responses_queued";
const BLOCK_DURATION: &str = "after_response_block_duration_seconds";
const BLOCK_START_DELAY: &str = "after_response_block_start_delay_seconds";
const QUEUE_WAIT: &str = "after_response_queue_wait_seconds";
const FAILURE_HOOK_PANICS: &str = "after_response_failure_hook_panics_total";

/// `ending` label values for endings that [`Ending`] does not name (blocks never fired).
pub(super) const CANCELLED: &str = "cancelled";
pub(super) const SHED: &str = "shed";

/// The `ending` label value of `ending`: the same word as its [`crate::Stats`] field.
pub(super) const fn label(ending: Ending) -> &'static str {
    match ending {
        Ending::Finished => "finished",
        Ending::Failed => "failed",
        Ending::Panicked => "panicked",
        Ending::TimedOut => "timed_out",
        Ending::Skipped => "skipped",
        Ending::Abandoned => "abandoned",
        Ending::Lost => "lost",
    }
}

/// Describes every metric to the recorder installed now, once per process. Called before the
/// first emission, so an exporter installed at start-up gets the descriptions and units.
fn describe() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
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
    });
}

/// `blocks` blocks that end without having been fired (or fired blocks in [`unfinished`]).
pub(super) fn ended(handler: &'static str, ending: &'static str, blocks: u64) {
    describe();
    counter!(BLOCKS_ENDED, "handler" => handler, "ending" => ending).increment(blocks);
}

pub(super) fn fired(handler: &'static str, outcome: OutcomeKind, blocks: u64, queued: bool) {
    describe();
    counter!(BLOCKS_FIRED, "handler" => handler, "outcome" => outcome.as_str()).increment(blocks);
    gauge!(BLOCKS_IN_FLIGHT, "handler" => handler).increment(blocks as f64);
    if queued {
        gauge!(RESPONSES_QUEUED, "handler" => handler).increment(1.0);
    }
}

/// `waited` is the time to a slot; `None` when the task was dropped while it waited.
pub(super) fn left_queue(handler: &'static str, waited: Option<Duration>) {
    gauge!(RESPONSES_QUEUED, "handler" => handler).decrement(1.0);
    if let Some(waited) = waited {
        histogram!(QUEUE_WAIT, "handler" => handler).record(waited);
    }
}

pub(super) fn started(handler: &'static str, start_delay: Duration) {
    histogram!(BLOCK_START_DELAY, "handler" => handler).record(start_delay);
}

/// A started block ended after running for `duration`.
pub(super) fn block_ended(handler: &'static str, ending: Ending, duration: Duration) {
    let ending = label(ending);
    counter!(BLOCKS_ENDED, "handler" => handler, "ending" => ending).increment(1);
    gauge!(BLOCKS_IN_FLIGHT, "handler" => handler).decrement(1.0);
    histogram!(BLOCK_DURATION, "handler" => handler, "ending" => ending).record(duration);
}

/// Fired blocks that leave `in_flight` without running to an end (abandoned or lost).
pub(super) fn unfinished(handler: &'static str, ending: Ending, blocks: u64) {
    ended(handler, label(ending), blocks);
    gauge!(BLOCKS_IN_FLIGHT, "handler" => handler).decrement(blocks as f64);
}

pub(super) fn failure_hook_panicked(handler: &'static str) {
    describe();
    counter!(FAILURE_HOOK_PANICS, "handler" => handler).increment(1);
}
