//! The settings an [`Executor`](crate::Executor) is built from; the defaults need no call at all.

use std::time::Duration;

/// Limits and defaults for one [`Executor`](crate::Executor): a small builder, turned into an
/// executor by [`build`](Config::build). The process default executor, which serves every
/// handler no executor layer covers, uses `Config::default()`: `max_in_flight` 1024,
/// `max_queued` 16384, no block timeout, completion handles off (on with the `test-util`
/// feature).
///
/// ```
/// use std::time::Duration;
///
/// let executor = after_response::Config::default()
///     .max_in_flight(256)
///     .max_queued(4096)
///     .block_timeout(Duration::from_secs(30))
///     .build();
/// # drop(executor);
/// ```
///
/// # When deferred work is full
/// At most [`max_in_flight`](Config::max_in_flight) responses run their blocks at once on one
/// executor. A response that finds them all taken waits for a slot (without holding its
/// connection: the response has been sent), as long as fewer than
/// [`max_queued`](Config::max_queued) responses are already waiting; waiting responses get
/// slots in the order they ended. Past that, its blocks are **shed**: dropped without running
/// (what they captured is freed at once), logged at WARN with the handler's name and counted in
/// [`crate::Stats::shed`]. So memory held by deferred work stays bounded under any flood, even
/// one whose blocks never finish; there is no unbounded queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) max_in_flight: usize,
    pub(crate) max_queued: usize,
    pub(crate) block_timeout: Option<Duration>,
    pub(crate) completion_handles: bool,
    /// The failure hook ([`Config::on_failure`], defined beside it in `observe`).
    pub(crate) observe: crate::observe::Observer,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            max_queued: 16 * 1024,
            block_timeout: None,
            // Off: a handle costs 4 allocations and ~1,900 instructions per response, and only
            // tests and some middleware await one (bench/RESULTS.md, "Completion handles").
            completion_handles: cfg!(feature = "test-util"),
            observe: crate::observe::Observer::default(),
        }
    }
}

impl Config {
    /// Whether responses that carry deferred work also carry a [`crate::Completion`] in their
    /// extensions (default: off; on when the crate's `test-util` feature is enabled, as it is
    /// in a test crate's `[dev-dependencies]`).
    ///
    /// The handle is what tests and middleware await. It costs 4 allocations and about 1,900
    /// instructions per response that registered a block (a latch and the extension map), so a
    /// production server that never awaits one does not pay for it. Middleware that awaits
    /// completions turns it on for its executor. [`crate::Completion::of`] panics, rather
    /// than answer "already complete" for work it cannot see, while executors without handles
    /// exist in the process and none with them.
    #[must_use]
    pub fn completion_handles(mut self, enabled: bool) -> Self {
        self.completion_handles = enabled;
        self
    }

    /// How many responses may run their deferred blocks at once (default 1024; at least 1). A
    /// response's blocks run one after another, so this also bounds the blocks running at once.
    #[must_use]
    pub fn max_in_flight(mut self, responses: usize) -> Self {
        self.max_in_flight = responses.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// How many responses may wait for a slot when `max_in_flight` are running (default
    /// 16384; 0 sheds as soon as every slot is taken). Past that, new work is shed: dropped,
    /// logged and counted in [`crate::Stats::shed`]. Waiting never holds the connection: the
    /// response has already been sent.
    #[must_use]
    pub fn max_queued(mut self, responses: usize) -> Self {
        self.max_queued = responses;
        self
    }

    /// A timeout for every block that does not set its own with
    /// `defer!(timeout = DURATION => ..)` (default: none). It runs from the block's start (time
    /// spent waiting for a slot does not count). A block that exceeds it is cancelled (dropped
    /// at its current `.await`), logged at ERROR with the handler's name and counted in
    /// [`crate::Stats::timed_out`]; the next block of the same response still runs. Needs a
    /// runtime with the time driver enabled.
    #[must_use]
    pub fn block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = Some(timeout);
        self
    }
}
