//! `defer_durable` on the request's [`Registry`], and the handle it returns.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use super::{DurableError, DurableJob, DurableStore};
use crate::{DeferHandle, Registry};

/// Adds [`defer_durable`](DeferDurable::defer_durable) to [`Registry`].
pub trait DeferDurable {
    /// Persists `job` in `store`, locked by this process, and registers an always-block that
    /// runs it right after the response completes (or removes it from the queue if the
    /// response was not completed).
    ///
    /// Await it in the handler, before the response is returned: when it returns `Ok`, the job
    /// survives this process.
    ///
    /// # Errors
    /// The job did not serialize, or the store failed: nothing was persisted and nothing is
    /// registered; the handler chooses the response.
    fn defer_durable<'r, J: DurableJob>(
        &'r self,
        store: &'r DurableStore<J>,
        job: J,
    ) -> impl Future<Output = Result<DurableHandle<'r>, DurableError>> + Send + 'r;
}

impl DeferDurable for Registry {
    async fn defer_durable<'r, J: DurableJob>(
        &'r self,
        store: &'r DurableStore<J>,
        job: J,
    ) -> Result<DurableHandle<'r>, DurableError> {
        let claim = store.persist(job).await?;
        let cancelled = claim.cancel_flag();
        let handle = self.defer_always(move |outcome| claim.settle::<J>(outcome));
        Ok(DurableHandle { handle, cancelled })
    }
}

/// What [`DeferDurable::defer_durable`] returns: a [`DeferHandle`] whose `cancel` also removes
/// the job from the queue.
#[derive(Debug)]
pub struct DurableHandle<'a> {
    handle: DeferHandle<'a>,
    cancelled: Arc<AtomicBool>,
}

impl DurableHandle<'_> {
    /// Removes the job: it is acked `Killed` and neither this process nor a worker runs it.
    pub fn cancel(&self) {
        self.cancelled.store(true, Relaxed);
        self.handle.cancel();
    }

    /// A timeout for the in-process run; past it the job is handed back to the queue.
    pub fn set_timeout(&self, timeout: Duration) {
        self.handle.set_timeout(timeout);
    }
}
