//! The job a durable block runs, the envelope it is stored in, and the function the queue's
//! workers run.

use std::fmt::{self, Display};
use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::stats::COUNTERS;

/// Work that must not be lost: a serializable value and the function that does it.
///
/// The same [`run`](DurableJob::run) is called in this process after the response (through
/// [`crate::durable::DeferDurable::defer_durable`]) and by the queue's apalis workers (through
/// [`run_queued`]); the value reaches both as the JSON the store holds.
pub trait DurableJob: Serialize + DeserializeOwned + Send + 'static {
    /// What a failed run reports; the attempt is acked `Failed` and the queue retries it.
    type Error: Display + Send;

    /// Does the work. May run more than once for one job (at-least-once): use
    /// [`JobContext::idempotency_key`] to make a repeat harmless.
    fn run(self, context: JobContext) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Who is running a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RanBy {
    /// The process that served the request, right after the response.
    ThisProcess,
    /// A worker of the queue: the serving process died, or handed the job back.
    Queue,
}

/// What a [`DurableJob::run`] knows about its job.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub(crate) idempotency_key: String,
    pub(crate) ran_by: RanBy,
}

impl JobContext {
    /// A key that is the same on every attempt of this job, in every process, and different
    /// for every other `defer_durable` call: one per request and block.
    #[must_use]
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// Whether this run is the in-process one or a queue worker's.
    #[must_use]
    pub const fn ran_by(&self) -> RanBy {
        self.ran_by
    }
}

/// How a job is stored: the job and its idempotency key. This is the apalis task's `Args`, so
/// a worker's storage is `SqliteStorage<Envelope<J>>` or `PostgresStorage<Envelope<J>>`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<J> {
    /// The key [`JobContext::idempotency_key`] returns.
    pub key: String,
    /// The job.
    pub job: J,
}

impl<J: DurableJob> Envelope<J> {
    pub(crate) async fn run(self, ran_by: RanBy) -> Result<(), J::Error> {
        let context = JobContext {
            idempotency_key: self.key,
            ran_by,
        };
        self.job.run(context).await
    }
}

/// The function a queue worker runs: `WorkerBuilder::new(..).backend(storage).build(run_queued::<J>)`.
///
/// # Errors
/// The job's error, as text; apalis acks the attempt `Failed` and retries it.
pub async fn run_queued<J: DurableJob>(envelope: Envelope<J>) -> Result<(), QueuedJobError> {
    let key = envelope.key.clone();
    let result = envelope.run(RanBy::Queue).await;
    COUNTERS.ran_from_queue.increment();
    result.map_err(|error| {
        tracing::error!(key, %error, "after-response: durable job failed in a queue worker");
        QueuedJobError(error.to_string())
    })
}

/// A job's error as a queue worker reports it to apalis.
#[derive(Debug)]
pub struct QueuedJobError(String);

impl Display for QueuedJobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueuedJobError {}
