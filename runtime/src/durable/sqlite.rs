//! The `SQLite` store, on apalis-sqlite's public queries.

use apalis_core::backend::TaskResult;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{queries, Config, SqlitePool};

use super::store::{Backend, BoxFuture};
use super::{DurableError, DurableJob, DurableStore};

struct Sqlite {
    pool: SqlitePool,
    config: Config,
}

impl<J: DurableJob> DurableStore<J> {
    /// A store on the apalis-sqlite queue `config.queue` in `pool` (set up with
    /// `SqliteStorage::setup`). Workers read the same queue with
    /// `SqliteStorage::<Envelope<J>>::new(&pool).with_config(config)`.
    ///
    /// # Errors
    /// The worker row for this process could not be written.
    pub async fn sqlite(pool: &SqlitePool, config: &Config) -> Result<Self, DurableError> {
        let backend = Sqlite {
            pool: pool.clone(),
            config: config.clone(),
        };
        Self::start(
            Box::new(backend),
            config.queue.to_string(),
            config.heartbeat_interval,
        )
        .await
    }
}

impl Backend for Sqlite {
    fn register<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), DurableError>> {
        Box::pin(async move {
            queries::register_worker(&self.pool, &self.config, worker, "after-response")
                .await
                .map_err(DurableError::store)
        })
    }

    fn keep_alive<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), DurableError>> {
        Box::pin(async move {
            queries::keep_alive(&self.pool, &self.config, worker)
                .await
                .map_err(DurableError::store)
        })
    }

    fn persist_locked<'a>(
        &'a self,
        task: Task<Vec<u8>>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<(), DurableError>> {
        Box::pin(async move {
            let id = task.task_id().map(ToString::to_string).unwrap_or_default();
            let mut transaction = self.pool.begin().await.map_err(DurableError::store)?;
            queries::push_tasks(&mut *transaction, self.config.queue.as_ref(), &[task])
                .await
                .map_err(DurableError::store)?;
            let locked = queries::lock_tasks(&mut *transaction, &[id], worker)
                .await
                .map_err(DurableError::store)?;
            if locked != 1 {
                return Err(DurableError::NotLocked);
            }
            transaction.commit().await.map_err(DurableError::store)
        })
    }

    fn ack<'a>(
        &'a self,
        result: &'a TaskResult<serde_json::Value>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<bool, DurableError>> {
        Box::pin(async move {
            queries::ack_tasks(&self.pool, &[result], worker)
                .await
                .map(|rows| rows == 1)
                .map_err(DurableError::store)
        })
    }
}
