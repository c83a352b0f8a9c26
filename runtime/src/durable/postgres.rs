//! The Postgres store, on apalis-postgres's public queries.

use apalis_core::backend::TaskResult;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{queries, Config, PgPool};

use super::store::{Backend, BoxFuture};
use super::{DurableError, DurableJob, DurableStore};

struct Postgres {
    pool: PgPool,
    queue: String,
}

impl<J: DurableJob> DurableStore<J> {
    /// A store on the apalis-postgres queue `config.queue` in `pool` (set up with
    /// `PostgresStorage::setup`). Workers read the same queue with
    /// `PostgresStorage::<Envelope<J>>::new(&pool).with_config(config)`.
    ///
    /// # Errors
    /// The worker row for this process could not be written.
    pub async fn postgres(pool: &PgPool, config: &Config) -> Result<Self, DurableError> {
        let backend = Postgres {
            pool: pool.clone(),
            queue: config.queue.to_string(),
        };
        Self::start(
            Box::new(backend),
            config.queue.to_string(),
            config.heartbeat_interval,
        )
        .await
    }
}

impl Backend for Postgres {
    fn register<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), DurableError>> {
        // apalis-postgres's `register_worker` takes its crate-private `Timestamp`, so it cannot
        // be called from outside; this is the same row its `register.sql` writes.
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen, started_at) \
                 VALUES ($1, $2, 'after-response', '', NOW(), NOW())",
            )
            .bind(worker.name())
            .bind(&self.queue)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(DurableError::store)
        })
    }

    fn keep_alive<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), DurableError>> {
        Box::pin(async move {
            let mut connection = self.pool.acquire().await.map_err(DurableError::store)?;
            queries::keep_alive(&mut *connection, &self.queue, worker)
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
            queries::push_tasks(&mut *transaction, &self.queue, vec![task])
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
            let mut connection = self.pool.acquire().await.map_err(DurableError::store)?;
            queries::handle_results(&mut *connection, &[result], worker)
                .await
                .map(|rows| rows == 1)
                .map_err(DurableError::store)
        })
    }
}
