//! Durable deferred work: persisted before the response leaves, run in this process right
//! after it, and run by the queue's workers if this process dies or gives up.
//!
//! `defer!` work lives in memory: a crash, a `kill -9`, a drain deadline or a shed loses it.
//! [`DeferDurable::defer_durable`] writes the job to an [apalis](https://docs.rs/apalis) queue
//! first (`SQLite` with `durable-sqlite`, Postgres with `durable-postgres`), **locked by this
//! process**, and registers an always-block on the request's [`Registry`](crate::Registry):
//!
//! | what happens | what becomes of the job |
//! | --- | --- |
//! | the response completes | this process runs [`DurableJob::run`] right after it and acks the job `Done` (or `Failed`: then the queue retries it) |
//! | the response is not completed (aborted, cancelled, panicked) | acked `Killed`: removed from the queue, not run |
//! | the block is shed, times out, or a drain deadline leaves it behind | handed back: acked `Failed` without having run, so the queue's workers retry it at once |
//! | this process dies at any point after the write | its lock expires (apalis's worker heartbeat: `heartbeat_interval × missed_heartbeats`), a worker re-enqueues and runs it |
//!
//! The write is awaited in the handler: a store that is down is an [`DurableError`] the
//! handler sees, and it chooses the response. The queue's workers run the same
//! [`DurableJob::run`] through [`run_queued`]. Delivery is **at least once**: a job may run
//! twice (this process died after running it but before the ack, or was thought dead while
//! it ran), so [`JobContext::idempotency_key`] gives the function a key that is the same on
//! every attempt, in every process.
//!
//! # How it maps onto apalis
//! The job is pushed with apalis's own `push_tasks` and locked with its `lock_tasks` in the
//! same transaction, by a worker row this store registers and keeps alive with apalis's
//! `keep_alive`; the queue's workers never see it unlocked. Acks go through apalis's ack
//! queries, so `Done`, `Failed` (retried up to the task's `max_attempts`) and `Killed` mean what
//! they mean to every apalis tool. A dead process's locks are re-enqueued by the workers'
//! own orphan sweep.
//!
//! # Shutdown
//! After [`crate::shutdown`], call [`DurableStore::hand_back_unfinished`]: every job this
//! process still holds goes back to the queue now, instead of after the lock expires.
mod claim;
mod error;
mod job;
#[cfg(feature = "durable-postgres")]
mod postgres;
mod registry_ext;
#[cfg(feature = "durable-sqlite")]
mod sqlite;
mod stats;
mod store;

pub use error::DurableError;
pub use job::{run_queued, DurableJob, Envelope, JobContext, QueuedJobError, RanBy};
pub use registry_ext::{DeferDurable, DurableHandle};
pub use stats::{stats, DurableStats};
pub use store::DurableStore;
