//! Process-wide configuration, set once at start-up; the defaults need no call at all.

use std::time::Duration;

/// Limits and defaults for deferred work in this process.
///
/// ```
/// use std::time::Duration;
///
/// after_response::Config::default()
///     .max_in_flight(256)
///     .block_timeout(Duration::from_secs(30))
///     .install()
///     .expect("installed before the first response");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) max_in_flight: usize,
    pub(crate) max_queued: usize,
    pub(crate) block_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            max_queued: 16 * 1024,
            block_timeout: None,
        }
    }
}

impl Config {
    /// How many responses may run their deferred blocks at once (default 1024). A response's
    /// blocks run one after another, so this also bounds the blocks running at once.
    #[must_use]
    pub fn max_in_flight(mut self, responses: usize) -> Self {
        self.max_in_flight = responses.max(1);
        self
    }

    /// How many responses may wait for a slot when `max_in_flight` are running (default
    /// 16384). Past that, new work is shed: dropped, logged and counted in [`crate::Stats::shed`].
    /// Waiting never holds the connection: the response has already been sent.
    #[must_use]
    pub fn max_queued(mut self, responses: usize) -> Self {
        self.max_queued = responses;
        self
    }

    /// A timeout for every block that does not set its own (default: none). A block that
    /// exceeds it is dropped, logged and counted in [`crate::Stats::timed_out`]; the next block
    /// of the same response still runs. Needs a runtime with the time driver enabled.
    #[must_use]
    pub fn block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = Some(timeout);
        self
    }

    /// Makes this the process's configuration.
    ///
    /// # Errors
    /// [`AlreadyInstalled`] once a configuration is in force: an earlier `install`, or the
    /// defaults, taken when the first deferred work fired.
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        crate::executor::install(self)
    }
}

/// [`Config::install`] came after a configuration was already in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyInstalled;

impl std::fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "after-response is already configured: install the Config before the first response",
        )
    }
}

impl std::error::Error for AlreadyInstalled {}
