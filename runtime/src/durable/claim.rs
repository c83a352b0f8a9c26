//! This process's hold on one persisted job: settles it after the response, or hands it back
//! to the queue if it is dropped unsettled (shed, timeout, drain deadline, cancel).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use apalis_core::task::status::Status;
use tracing::Instrument as _;

use super::stats::COUNTERS;
use super::store::Inner;
use super::{DurableJob, Envelope, RanBy};
use crate::Outcome;

pub(crate) struct Claim {
    inner: Arc<Inner>,
    key: String,
    /// The job as the store holds it: the in-process run decodes these bytes, as a worker does.
    bytes: Vec<u8>,
    /// Set by [`crate::durable::DurableHandle::cancel`]: dropped unsettled, the job is removed.
    cancelled: Arc<AtomicBool>,
    settled: bool,
}

impl Claim {
    pub(crate) fn new(inner: Arc<Inner>, key: String, bytes: Vec<u8>) -> Self {
        Self {
            inner,
            key,
            bytes,
            cancelled: Arc::default(),
            settled: false,
        }
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }

    /// The always-block: run and ack `Done` (or `Failed`) on a completed response, ack `Killed`
    /// otherwise.
    pub(crate) async fn settle<J: DurableJob>(mut self, outcome: Outcome) {
        let span = tracing::info_span!("durable job", key = %self.key, outcome = %outcome.kind());
        async {
            if !outcome.is_completed() {
                let reason = format!("removed by after-response: the response was {}", outcome.kind());
                if self.finish(0, Status::Killed, Err(reason)).await {
                    COUNTERS.removed.increment();
                }
                return;
            }
            let (status, result) = match serde_json::from_slice::<Envelope<J>>(&self.bytes) {
                Ok(envelope) => match envelope.run(RanBy::ThisProcess).await {
                    Ok(()) => (Status::Done, Ok(serde_json::Value::Null)),
                    Err(error) => (Status::Failed, Err(error.to_string())),
                },
                Err(error) => (Status::Failed, Err(format!("the stored job did not decode: {error}"))),
            };
            let failed = status == Status::Failed;
            if let Err(error) = &result {
                tracing::error!(%error, "after-response: durable job failed in process; the queue retries it");
            }
            self.finish(1, status, result).await;
            if failed {
                COUNTERS.failed_in_process.increment();
            } else {
                COUNTERS.ran_in_process.increment();
            }
        }
        .instrument(span)
        .await;
    }

    async fn finish(
        &mut self,
        attempt: usize,
        status: Status,
        result: Result<serde_json::Value, String>,
    ) -> bool {
        let acked = self.inner.ack(&self.key, attempt, status, result).await;
        // Only now: a claim dropped during the ack is still handed back.
        self.settled = true;
        acked
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled || !self.inner.unclaim(&self.key) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let key = std::mem::take(&mut self.key);
        let cancelled = self.cancelled.load(Relaxed);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            COUNTERS.left_locked.increment();
            tracing::warn!(key, "after-response: durable job dropped outside a tokio runtime; the queue runs it once this process's lock expires");
            return;
        };
        let pending = LeftLocked(true);
        runtime.spawn(async move {
            let mut pending = pending;
            if cancelled {
                let reason = String::from("removed by after-response: cancelled by the handler");
                if inner.ack(&key, 0, Status::Killed, Err(reason)).await {
                    COUNTERS.removed.increment();
                }
            } else {
                // Shed, timed out, or dropped by the runtime mid-run.
                inner.hand_back(&key, "dropped before it finished").await;
            }
            pending.0 = false;
        });
    }
}

/// Counts a hand-back task the runtime dropped before it ran (it was shutting down).
struct LeftLocked(bool);

impl Drop for LeftLocked {
    fn drop(&mut self) {
        if self.0 {
            COUNTERS.left_locked.increment();
        }
    }
}
