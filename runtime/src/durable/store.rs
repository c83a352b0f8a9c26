//! A durable store: one apalis queue, and this process registered on it as the worker that
//! holds the lock of every job it persisted.

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_core::backend::TaskResult;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::status::Status;
use apalis_core::task::task_id::TaskId;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use ulid::Ulid;

use super::claim::Claim;
use super::stats::COUNTERS;
use super::{DurableError, DurableJob, Envelope};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The few apalis queries the durable path uses, per database.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Adds this process's worker row (apalis's `Workers` table) so its locks are valid and
    /// expire when its heartbeats stop.
    fn register<'a>(&'a self, worker: &'a WorkerContext)
        -> BoxFuture<'a, Result<(), DurableError>>;
    /// One heartbeat of this process's worker row.
    fn keep_alive<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), DurableError>>;
    /// Pushes `task` and locks it for `worker` in one transaction.
    fn persist_locked<'a>(
        &'a self,
        task: Task<Vec<u8>>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<(), DurableError>>;
    /// Acks one task held by `worker`; `false` when the lock was no longer `worker`'s.
    fn ack<'a>(
        &'a self,
        result: &'a TaskResult<serde_json::Value>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<bool, DurableError>>;
}

pub(crate) struct Inner {
    backend: Box<dyn Backend>,
    worker: WorkerContext,
    queue: String,
    max_attempts: usize,
    /// Keys of the jobs persisted here and not yet settled.
    claimed: Mutex<HashSet<String>>,
    heartbeat: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Inner {
    /// Acks the job `key` with `status`; logs and counts an ack that did not apply.
    pub(crate) async fn ack(
        &self,
        key: &str,
        attempt: usize,
        status: Status,
        result: Result<serde_json::Value, String>,
    ) -> bool {
        self.unclaim(key);
        let Ok(id) = Ulid::from_string(key) else {
            unreachable!("durable job keys are ULIDs made by this module")
        };
        let payload = TaskResult {
            task_id: TaskId::from_ulid(id),
            attempt,
            status: status.clone(),
            result,
        };
        match self.backend.ack(&payload, self.worker.name()).await {
            Ok(true) => true,
            Ok(false) => {
                COUNTERS.settle_failed.increment();
                tracing::warn!(key, %status, "after-response: durable job's lock was taken from this process (it was thought dead); the queue runs it");
                false
            }
            Err(error) => {
                COUNTERS.settle_failed.increment();
                tracing::error!(key, %status, %error, "after-response: durable job's ack failed; the queue runs it once this process's lock expires");
                false
            }
        }
    }

    /// Hands `key` back to the queue unrun: acked `Failed` without an attempt, which apalis's
    /// workers retry at once.
    pub(crate) async fn hand_back(&self, key: &str, why: &str) -> bool {
        let handed = self
            .ack(
                key,
                0,
                Status::Failed,
                Err(format!("handed back by after-response: {why}")),
            )
            .await;
        if handed {
            COUNTERS.handed_back.increment();
            tracing::info!(
                key,
                why,
                "after-response: durable job handed back to the queue"
            );
        } else {
            COUNTERS.left_locked.increment();
        }
        handed
    }

    /// Forgets `key`; `false` when it was already settled or handed back.
    pub(crate) fn unclaim(&self, key: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }
}

/// One apalis queue for jobs of type `J`, and this process registered on it as a worker.
///
/// Create it once at startup ([`DurableStore::sqlite`] or [`DurableStore::postgres`]), inside
/// the tokio runtime: it registers a worker row for this process and keeps it alive with
/// apalis's heartbeat, every `heartbeat_interval` of the apalis `Config` it was given. Jobs it
/// persisted are locked by that row; if the heartbeats stop (the process died), the queue's
/// workers re-enqueue them after `heartbeat_interval × missed_heartbeats`. Cloning is cheap.
pub struct DurableStore<J> {
    pub(crate) inner: Arc<Inner>,
    job: PhantomData<fn(J)>,
}

impl<J> Clone for DurableStore<J> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            job: PhantomData,
        }
    }
}

impl<J> std::fmt::Debug for DurableStore<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStore")
            .field("queue", &self.inner.queue)
            .field("worker", &self.inner.worker.name())
            .finish_non_exhaustive()
    }
}

impl<J: DurableJob> DurableStore<J> {
    pub(crate) async fn start(
        backend: Box<dyn Backend>,
        queue: String,
        heartbeat_interval: Duration,
    ) -> Result<Self, DurableError> {
        let name = format!("after-response-{}-{}", std::process::id(), Ulid::generate());
        let worker = WorkerContext::new(&name);
        backend.register(&worker).await?;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            backend,
            worker,
            queue,
            max_attempts: 25,
            claimed: Mutex::default(),
            heartbeat: tokio::spawn(heartbeat(weak.clone(), heartbeat_interval)).abort_handle(),
        });
        tracing::debug!(
            worker = name,
            queue = inner.queue,
            "after-response: durable store registered"
        );
        Ok(Self {
            inner,
            job: PhantomData,
        })
    }

    /// The apalis queue (its `job_type`) this store writes to; a worker's storage must use the
    /// same.
    #[must_use]
    pub fn queue(&self) -> &str {
        &self.inner.queue
    }

    /// The name of this process's worker row, which holds the locks of the jobs it persisted.
    #[must_use]
    pub fn worker_name(&self) -> &str {
        self.inner.worker.name()
    }

    /// How many times the queue may run a job persisted from now on (apalis's
    /// `max_attempts`, 25 by default), counting the in-process run.
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.max_attempts = max_attempts.max(1);
        }
        self
    }

    /// Hands every job persisted here and not yet settled back to the queue, now; returns how
    /// many. Call it after [`crate::shutdown`]: jobs a drain deadline left behind are then run
    /// by the queue's workers at once instead of after this process's lock expires. A job
    /// still running here may then run twice (at-least-once).
    pub async fn hand_back_unfinished(&self) -> usize {
        let keys: Vec<String> = self
            .inner
            .claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        let mut handed = 0;
        for key in keys {
            if self.inner.hand_back(&key, "drain deadline").await {
                handed += 1;
            }
        }
        handed
    }

    /// Writes `job` to the queue, locked by this process.
    pub(crate) async fn persist(&self, job: J) -> Result<Claim, DurableError> {
        let result = self.try_persist(job).await;
        match &result {
            Ok(claim) => {
                COUNTERS.persisted.increment();
                tracing::debug!(
                    key = claim.key(),
                    queue = self.inner.queue,
                    "after-response: durable job persisted"
                );
            }
            Err(error) => {
                COUNTERS.persist_failed.increment();
                tracing::error!(queue = self.inner.queue, %error, "after-response: durable job not persisted");
            }
        }
        result
    }

    async fn try_persist(&self, job: J) -> Result<Claim, DurableError> {
        let id = Ulid::generate();
        let key = id.to_string();
        let envelope = Envelope {
            key: key.clone(),
            job,
        };
        let bytes = serde_json::to_vec(&envelope).map_err(DurableError::Encode)?;
        // A second in the past: lockable at once (Postgres locks only tasks whose `run_at` has
        // passed); the lock taken in the same transaction keeps workers off it.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let task = TaskBuilder::new(bytes.clone())
            .task_id(TaskId::from_ulid(id))
            .run_at_timestamp(now.saturating_sub(1))
            .idempotency_key(&key)
            .max_attempts(self.inner.max_attempts)
            .build();
        self.inner
            .claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
        if let Err(error) = self
            .inner
            .backend
            .persist_locked(task, self.inner.worker.name())
            .await
        {
            self.inner.unclaim(&key);
            return Err(error);
        }
        Ok(Claim::new(Arc::clone(&self.inner), key, bytes))
    }
}

/// Keeps this process's worker row alive until the store is dropped.
async fn heartbeat(inner: Weak<Inner>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(error) = inner.backend.keep_alive(&inner.worker).await {
            tracing::error!(worker = inner.worker.name(), %error, "after-response: durable store heartbeat failed; if it keeps failing, the queue takes this process's jobs");
        }
    }
}
