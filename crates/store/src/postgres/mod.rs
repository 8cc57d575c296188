//! PostgreSQL: a pool of connections, statements prepared once per connection, values
//! bound by the types PostgreSQL infers for each parameter.
//!
//! Connections are the synchronous `postgres` client, used on blocking threads like the
//! SQLite connections, so the read assembly and the write logic ([`crate::exec`])
//! serve both engines unchanged.

pub mod audit_triggers;
mod connect_error;
pub mod exec;
pub mod migrate;
pub mod notify;
mod pool;
pub mod seed;
pub mod triggers;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::unmanaged::{Object, Pool, PoolConfig};
use oxbase_query::plan::ReadPlan;
use oxbase_schema::Schema;

use crate::settings::PoolSettings;

/// How many times a write runs when it keeps colliding with concurrent writes (deadlock or
/// serialization failure) before it is answered 503 `write_contention`.
const WRITE_ATTEMPTS: u32 = 3;
use crate::exec::SlowQueryLog;
use crate::postgres::exec::PostgresExecutor;
use crate::postgres::pool::{Connection, Growth};
use crate::read::{explain_with, read_with};
use crate::transaction::write_in_transaction;
use crate::write::{WriteFailure, WriteOptions, WriteOutcome, WriteRequest};
use crate::{ReadOutput, StoreError};

/// Counters of how requests got their connections.
#[derive(Default)]
struct Acquisitions {
    count: AtomicU64,
    timeouts: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
    reconnects: AtomicU64,
    /// Requests waiting for a connection right now (deadpool's own count only moves when
    /// a wait ends).
    waiting: AtomicU64,
    /// Connections opened to grow the pool, after those opened at start.
    grown: AtomicU64,
    /// Connections closed after idling longer than the idle timeout.
    idle_closed: Arc<AtomicU64>,
}

/// The pool's state and history, for `/admin/pool` and metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolStatistics {
    pub max_size: usize,
    pub min_idle: usize,
    pub size: usize,
    pub idle: usize,
    pub in_use: usize,
    pub waiting: usize,
    pub acquisitions: u64,
    pub acquire_timeouts: u64,
    pub average_acquire_ms: f64,
    pub max_acquire_ms: f64,
    pub reconnects: u64,
    pub grown: u64,
    pub idle_closed: u64,
}

/// A PostgreSQL database behind a pool of connections.
pub struct PostgresStore {
    url: String,
    settings: PoolSettings,
    pool: Pool<Connection>,
    schema: Arc<Schema>,
    acquisitions: Arc<Acquisitions>,
    /// Where slow statements are reported.
    slow_query_log: Option<SlowQueryLog>,
    /// Connections being opened to grow the pool.
    growth: Growth,
    /// The task closing idle connections, ended with the store.
    idle_reaper: Option<tokio::task::AbortHandle>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(reaper) = self.idle_reaper.take() {
            reaper.abort();
        }
    }
}

impl PostgresStore {
    /// Opens the pool's first `min_idle` connections (at least one, so that a database
    /// that does not answer is found at start), and starts closing idle ones.
    pub async fn open(url: &str, schema: Arc<Schema>, settings: &PoolSettings) -> Result<PostgresStore, StoreError> {
        let max_size = settings.max_size.max(1) as usize;
        let min_idle = (settings.min_idle as usize).min(max_size);
        let mut config = PoolConfig::new(max_size);
        config.runtime = Some(Runtime::Tokio1);
        let pool = Pool::from_config(&config);
        pool::fill(&pool, url, settings, min_idle.max(1)).await?;
        let acquisitions = Arc::new(Acquisitions::default());
        let idle_reaper = settings.idle_timeout.map(|idle_timeout| {
            let task =
                pool::close_idle_connections(pool.clone(), min_idle, idle_timeout, acquisitions.idle_closed.clone());
            tokio::spawn(task).abort_handle()
        });
        Ok(PostgresStore {
            url: url.to_owned(),
            settings: settings.clone(),
            pool,
            schema,
            acquisitions,
            slow_query_log: None,
            growth: Growth::default(),
            idle_reaper,
        })
    }

    /// Reports statements slower than the log's threshold.
    pub fn with_slow_query_log(mut self, log: Option<SlowQueryLog>) -> PostgresStore {
        self.slow_query_log = log;
        self
    }

    /// The pool's state and how requests got their connections.
    pub fn statistics(&self) -> PoolStatistics {
        let status = self.pool.status();
        let count = self.acquisitions.count.load(Ordering::Relaxed);
        let total = self.acquisitions.total_micros.load(Ordering::Relaxed);
        PoolStatistics {
            max_size: status.max_size,
            min_idle: (self.settings.min_idle as usize).min(status.max_size),
            size: status.size,
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            waiting: usize::try_from(self.acquisitions.waiting.load(Ordering::Relaxed)).unwrap_or(usize::MAX),
            acquisitions: count,
            acquire_timeouts: self.acquisitions.timeouts.load(Ordering::Relaxed),
            average_acquire_ms: if count == 0 { 0.0 } else { total as f64 / count as f64 / 1000.0 },
            max_acquire_ms: self.acquisitions.max_micros.load(Ordering::Relaxed) as f64 / 1000.0,
            reconnects: self.acquisitions.reconnects.load(Ordering::Relaxed),
            grown: self.acquisitions.grown.load(Ordering::Relaxed),
            idle_closed: self.acquisitions.idle_closed.load(Ordering::Relaxed),
        }
    }

    /// A connection for one request: an idle one if there is one, else a new one while the
    /// pool is below `max_size`, else the first one given back within `wait`.
    async fn acquire(&self, wait: Duration) -> Result<Object<Connection>, StoreError> {
        let started = Instant::now();
        if let Ok(connection) = self.pool.try_get() {
            return Ok(connection);
        }
        if let Some(reservation) = self.growth.reserve(&self.pool) {
            let (url, settings) = (self.url.clone(), self.settings.clone());
            let client = tokio::task::spawn_blocking(move || connect_with(&url, &settings))
                .await
                .map_err(|error| StoreError::Internal(error.to_string()))??;
            self.acquisitions.grown.fetch_add(1, Ordering::Relaxed);
            // Into the pool, for whoever waits longest (this request, or one before it).
            if let Err((connection, error)) = self.pool.try_add(Connection::new(client)) {
                drop(connection);
                tracing::warn!(%error, "cannot pool a new connection");
            }
            drop(reservation);
        }
        let left = wait.saturating_sub(started.elapsed());
        self.pool.timeout_get(Some(left)).await.map_err(|error| {
            self.acquisitions.timeouts.fetch_add(1, Ordering::Relaxed);
            StoreError::Unavailable(format!("no database connection became free in {wait:?}: {error}"))
        })
    }

    /// Runs `work` on a pooled connection on a blocking thread, reconnecting first if the
    /// connection was lost or is past its lifetime (so service resumes by itself when the
    /// database returns).
    /// Its errors are the work's: a [`StoreError`] for reads, a [`WriteFailure`] for writes.
    pub(crate) async fn with_connection<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        work: impl FnOnce(&mut postgres::Client, &mut HashMap<String, postgres::Statement>, &Schema) -> Result<T, E>
        + Send
        + 'static,
    ) -> Result<T, E> {
        let waited = Instant::now();
        let wait = self.settings.acquire_timeout;
        self.acquisitions.waiting.fetch_add(1, Ordering::Relaxed);
        let acquired = self.acquire(wait).await;
        self.acquisitions.waiting.fetch_sub(1, Ordering::Relaxed);
        let mut connection = acquired?;
        let micros = u64::try_from(waited.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.acquisitions.count.fetch_add(1, Ordering::Relaxed);
        self.acquisitions.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.acquisitions.max_micros.fetch_max(micros, Ordering::Relaxed);
        let (url, settings, schema, acquisitions) =
            (self.url.clone(), self.settings.clone(), self.schema.clone(), self.acquisitions.clone());
        // The blocking thread works inside the request's span, so its log lines (the slow
        // query log) carry the request id.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let connection = &mut *connection;
            let lost = connection.client.as_ref().is_none_or(postgres::Client::is_closed);
            let expired = connection.opened.elapsed() > settings.max_lifetime;
            let failed_ping = !lost
                && settings.test_before_acquire
                && connection.client.as_mut().is_some_and(|client| client.simple_query("SELECT 1").is_err());
            if lost || expired || failed_ping {
                connection.prepared.clear();
                connection.client = None;
                acquisitions.reconnects.fetch_add(1, Ordering::Relaxed);
                connection.client = Some(connect_with(&url, &settings).map_err(E::from)?);
                connection.opened = Instant::now();
            }
            let client = connection.client.as_mut().expect("connected above");
            let result = work(client, &mut connection.prepared, &schema);
            if client.is_closed() {
                connection.client = None;
            }
            connection.last_used = Instant::now();
            result
        })
        .await
        .map_err(|error| E::from(StoreError::Internal(format!("a database task failed: {error}"))))?
    }

    /// Reads the rows a plan asks for. A read that fails because its connection was lost
    /// (the database restarted) is tried once more on a fresh connection.
    pub async fn read(&self, plan: ReadPlan) -> Result<ReadOutput, StoreError> {
        // Shared rather than cloned for the retry: copying and dropping a plan took about as
        // many instructions as running a point read's statement (callgrind).
        let plan = Arc::new(plan);
        match self.read_once(plan.clone()).await {
            Err(StoreError::ConnectionLost(_)) => self.read_once(plan).await,
            result => result,
        }
    }

    async fn read_once(&self, plan: Arc<ReadPlan>) -> Result<ReadOutput, StoreError> {
        let slow_query_log = self.slow_query_log;
        self.with_connection(move |client, prepared, _| {
            read_with(&mut PostgresExecutor { client, prepared, slow_query_log }, &plan)
        })
        .await
    }

    /// Runs a write request in one transaction.
    pub async fn write(&self, request: WriteRequest, options: WriteOptions) -> Result<WriteOutcome, WriteFailure> {
        let slow_query_log = self.slow_query_log;
        self.with_connection(move |client, prepared, schema| {
            let started = Instant::now();
            let mut attempt = 1;
            loop {
                let result = (|| {
                    let mut transaction = client.transaction().map_err(exec::failure).map_err(WriteFailure::from)?;
                    let outcome = write_in_transaction(
                        &mut PostgresExecutor { client: &mut transaction, prepared: &mut *prepared, slow_query_log },
                        schema,
                        &request,
                        options.clone(),
                    )?;
                    if options.rollback {
                        transaction.rollback().map_err(exec::failure).map_err(WriteFailure::from)?;
                    } else {
                        transaction.commit().map_err(exec::failure).map_err(WriteFailure::from)?;
                    }
                    Ok(outcome)
                })();
                match result {
                    // A deadlock or serialization failure rolled the whole transaction back:
                    // nothing of it remains, so running it again is safe.
                    Err(WriteFailure::Store(StoreError::Contention(reason))) if attempt < WRITE_ATTEMPTS => {
                        tracing::debug!(attempt, reason, "write collided with concurrent writes; running it again");
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(fastrand::u64(1..=10) * u64::from(attempt)));
                    }
                    Ok(mut outcome) => {
                        outcome.database_time = started.elapsed();
                        return Ok(outcome);
                    }
                    Err(failure) => return Err(failure),
                }
            }
        })
        .await
    }

    /// The statements a plan runs and PostgreSQL's analysed plan for each.
    pub async fn explain(&self, plan: ReadPlan) -> Result<serde_json::Value, StoreError> {
        self.with_connection(move |client, prepared, _| {
            explain_with(&mut PostgresExecutor { client, prepared, slow_query_log: None }, &plan)
        })
        .await
    }

    /// Runs a trivial statement (once more on a fresh connection if the first was lost).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let ping = || {
            self.with_connection(|client, _, _| {
                client.simple_query("SELECT 1").map(|_| ()).map_err(|error| StoreError::from(exec::failure(error)))
            })
        };
        match ping().await {
            Err(StoreError::ConnectionLost(_)) => ping().await,
            result => result,
        }
    }
}

/// Opens one pooled connection: `application_name` and `statement_timeout` set from the
/// pool settings.
fn connect_with(url: &str, settings: &PoolSettings) -> Result<postgres::Client, StoreError> {
    let mut config = parse_url(url)?;
    config.application_name(&settings.application_name);
    // The external-write triggers skip this session's writes: oxbase bumps and notifies itself.
    config.options(&format!(
        "-c statement_timeout={} {}",
        settings.statement_timeout.as_millis(),
        notify::WRITER_OPTION
    ));
    config.connect_timeout(settings.acquire_timeout);
    open(&config)
}

/// Opens one connection (no TLS: oxbase talks to PostgreSQL on a trusted network or
/// loopback; TLS arrives with the deployment guide).
pub fn connect(url: &str) -> Result<postgres::Client, StoreError> {
    open(&parse_url(url)?)
}

fn parse_url(url: &str) -> Result<postgres::Config, StoreError> {
    url.parse().map_err(|error| StoreError::Unavailable(format!("invalid PostgreSQL URL: {error}")))
}

/// Connects, saying what failed and where (never the password) when it does.
fn open(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    config.connect(postgres::NoTls).map_err(|error| StoreError::Unavailable(connect_error::describe(config, &error)))
}
