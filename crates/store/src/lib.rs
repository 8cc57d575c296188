//! Storage: connections, execution, migrations and bulk loading, one module per engine.
//!
//! The rest of the server talks to a [`Store`]; which engine sits behind it is decided once,
//! from the database URL. Errors are [`StoreError`]s in storage terms (unavailable, conflict,
//! internal), never HTTP statuses; driver messages are logged here and never returned.

pub mod audit;
pub mod auth;
pub mod change;
mod database_url;
pub mod exec;
pub mod json;
pub mod migrate;
pub mod postgres;
mod read;
pub mod seed;
pub mod settings;
pub mod sqlite;
mod transaction;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use oxbase_query::plan::ReadPlan;
use oxbase_schema::Schema;
use oxbase_schema::model::Literal;

use crate::settings::{DatabaseUrl, StoreSettings};

/// The database behind a running server.
pub enum Store {
    /// An embedded SQLite file.
    Sqlite(sqlite::SqliteStore),
    /// A PostgreSQL database.
    Postgres(postgres::PostgresStore),
}

/// Rows read for one request, already encoded.
#[derive(Debug)]
pub struct ReadOutput {
    /// A JSON array of row objects.
    pub body: Vec<u8>,
    /// How many rows the array holds.
    pub rows: usize,
    /// Statements executed for the request.
    pub statements: u32,
    /// Time spent in the database, including encoding the rows as they were read.
    pub database_time: Duration,
    /// Every matching row, when the plan asked for a count.
    pub total: Option<u64>,
    /// The last root row's order-term values, for the next page's cursor.
    pub last_order_values: Option<Vec<Literal>>,
}

impl ReadOutput {
    /// The one row of a single-object answer: the array's only element, without its
    /// brackets (the caller has checked there is exactly one row).
    pub fn only_row(&self) -> &[u8] {
        &self.body[1..self.body.len() - 1]
    }
}

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is too busy right now; retrying may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The connection broke (the database restarted or the network dropped): the same
    /// statement on a fresh connection may succeed.
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    /// The write collided with concurrent writes (a deadlock or serialization failure) and
    /// was rolled back; running it again may succeed.
    #[error("the write collided with concurrent writes: {0}")]
    Contention(String),
    /// The response would exceed one of the read's bounds ([`ResponseBounds`]); nothing was
    /// sent. `bound` names the setting.
    ///
    /// [`ResponseBounds`]: oxbase_query::plan::ResponseBounds
    #[error("{message}")]
    TooLarge { bound: &'static str, limit: u64, message: String },
    /// This engine is not served yet.
    #[error("{0}")]
    Unsupported(String),
    /// The database refused a value of the request as malformed (a regular expression
    /// its engine does not take): the client's to fix.
    #[error("{0}")]
    InvalidInput(String),
    /// A fault inside oxbase or the database; details are logged, not returned.
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl Store {
    /// Opens the database `config` names.
    pub async fn open(config: &StoreSettings, schema: Arc<Schema>) -> Result<Store, StoreError> {
        match &config.database {
            DatabaseUrl::Sqlite(path) => {
                let store = sqlite::SqliteStore::open(path, schema, config.readers, config.busy_timeout)
                    .await?
                    .with_slow_query_log(slow_query_log(config));
                Ok(Store::Sqlite(store))
            }
            DatabaseUrl::Postgres(url) => Ok(Store::Postgres(
                postgres::PostgresStore::open(url, schema, &config.pool)
                    .await?
                    .with_slow_query_log(slow_query_log(config)),
            )),
        }
    }

    /// Reads the rows a plan asks for, encoded as a JSON array.
    #[tracing::instrument(name = "store.read", level = "debug", skip_all, fields(resource = %plan.root.resource))]
    pub async fn read(&self, plan: ReadPlan) -> Result<ReadOutput, StoreError> {
        match self {
            Store::Sqlite(store) => store.read(plan).await,
            Store::Postgres(store) => store.read(plan).await,
        }
    }

    /// Runs a write request in one transaction, as `options` say.
    #[tracing::instrument(name = "store.write", level = "debug", skip_all, fields(resource = %request.resource()))]
    pub async fn write(
        &self,
        request: write::WriteRequest,
        options: write::WriteOptions,
    ) -> Result<write::WriteOutcome, write::WriteFailure> {
        match self {
            Store::Sqlite(store) => store.write(request, options).await,
            Store::Postgres(store) => store.write(request, options).await,
        }
    }

    /// The statements a read plan runs, with the engine's plan for each.
    pub async fn explain(&self, plan: ReadPlan) -> Result<serde_json::Value, StoreError> {
        match self {
            Store::Sqlite(store) => store.explain(plan).await,
            Store::Postgres(store) => store.explain(plan).await,
        }
    }

    /// Connection pool statistics.
    pub fn pool_statistics(&self) -> serde_json::Value {
        match self {
            Store::Sqlite(store) => store.statistics(),
            Store::Postgres(store) => {
                let mut statistics = serde_json::to_value(store.statistics()).unwrap_or_default();
                statistics["engine"] = "postgres".into();
                statistics
            }
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.ping().await,
            Store::Postgres(store) => store.ping().await,
        }
    }
}

/// The slow-query log a configuration asks for.
fn slow_query_log(config: &StoreSettings) -> Option<exec::SlowQueryLog> {
    config
        .slow_query
        .map(|threshold| exec::SlowQueryLog { threshold, with_parameters: config.log_slow_query_parameters })
}
