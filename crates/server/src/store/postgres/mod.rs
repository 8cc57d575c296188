//! PostgreSQL: a pool of connections, statements prepared once per connection, values
//! bound by the types PostgreSQL infers for each parameter.
//!
//! Connections are the synchronous `postgres` client, used on blocking threads like the
//! SQLite connections, so the read assembly and the write logic ([`crate::store::exec`])
//! serve both engines unchanged.

pub mod exec;
pub mod migrate;
pub mod seed;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::unmanaged::{Pool, PoolConfig};
use oxbase_query::plan::ReadPlan;
use oxbase_schema::Schema;

use crate::store::postgres::exec::PostgresExecutor;
use crate::store::read::read_with;
use crate::store::transaction::write_in_transaction;
use crate::store::write::{WriteFailure, WriteOutcome, WriteRequest};
use crate::store::{ReadOutput, StoreError};

/// How long a request waits for a free connection before the database counts as
/// unavailable.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// A pooled connection with the statements prepared on it.
struct Connection {
    /// `None` after a failed reconnect; the next use tries again.
    client: Option<postgres::Client>,
    prepared: HashMap<String, postgres::Statement>,
}

/// A PostgreSQL database behind a pool of connections.
pub struct PostgresStore {
    url: String,
    pool: Pool<Connection>,
    schema: Arc<Schema>,
}

impl PostgresStore {
    /// Opens `size` connections.
    pub async fn open(url: &str, schema: Arc<Schema>, size: u32) -> Result<PostgresStore, StoreError> {
        let opened_url = url.to_owned();
        let size = size.max(1) as usize;
        let clients =
            tokio::task::spawn_blocking(move || (0..size).map(|_| connect(&opened_url)).collect::<Result<Vec<_>, _>>())
                .await
                .map_err(|error| StoreError::Internal(error.to_string()))??;
        let mut config = PoolConfig::new(size);
        config.runtime = Some(Runtime::Tokio1);
        let pool = Pool::from_config(&config);
        for client in clients {
            pool.try_add(Connection { client: Some(client), prepared: HashMap::new() })
                .map_err(|(_, error)| StoreError::Internal(format!("cannot pool a connection: {error}")))?;
        }
        Ok(PostgresStore { url: url.to_owned(), pool, schema })
    }

    /// Runs `work` on a pooled connection on a blocking thread, reconnecting first if the
    /// connection was lost (so service resumes by itself when the database returns).
    async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(
            &mut postgres::Client,
            &mut HashMap<String, postgres::Statement>,
            &Schema,
        ) -> Result<T, WriteFailure>
        + Send
        + 'static,
    ) -> Result<T, WriteFailure> {
        let mut connection = self.pool.timeout_get(Some(CONNECTION_WAIT)).await.map_err(|error| {
            StoreError::Unavailable(format!("no database connection became free in {CONNECTION_WAIT:?}: {error}"))
        })?;
        let url = self.url.clone();
        let schema = self.schema.clone();
        tokio::task::spawn_blocking(move || {
            let connection = &mut *connection;
            if connection.client.as_ref().is_none_or(postgres::Client::is_closed) {
                connection.prepared.clear();
                connection.client = None;
                connection.client = Some(connect(&url)?);
            }
            let client = connection.client.as_mut().expect("connected above");
            let result = work(client, &mut connection.prepared, &schema);
            if client.is_closed() {
                connection.client = None;
            }
            result
        })
        .await
        .map_err(|error| StoreError::Internal(format!("a database task failed: {error}")))?
    }

    /// Reads the rows a plan asks for.
    pub async fn read(&self, plan: ReadPlan) -> Result<ReadOutput, StoreError> {
        self.with_connection(move |client, prepared, _| {
            read_with(&mut PostgresExecutor { client, prepared }, &plan).map_err(WriteFailure::Store)
        })
        .await
        .map_err(into_store_error)
    }

    /// Runs a write request in one transaction.
    pub async fn write(
        &self,
        request: WriteRequest,
        representation: Option<ReadPlan>,
    ) -> Result<WriteOutcome, WriteFailure> {
        self.with_connection(move |client, prepared, schema| {
            let started = Instant::now();
            let mut transaction = client.transaction().map_err(exec::failure)?;
            let mut outcome = write_in_transaction(
                &mut PostgresExecutor { client: &mut transaction, prepared },
                schema,
                &request,
                representation,
            )?;
            transaction.commit().map_err(exec::failure)?;
            outcome.database_time = started.elapsed();
            Ok(outcome)
        })
        .await
    }

    /// Runs a trivial statement.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.with_connection(|client, _, _| client.simple_query("SELECT 1").map(|_| ()).map_err(exec::failure))
            .await
            .map_err(into_store_error)
    }
}

fn into_store_error(failure: WriteFailure) -> StoreError {
    match failure {
        WriteFailure::Store(error) => error,
        other => StoreError::Internal(other.to_string()),
    }
}

/// Opens one connection (no TLS: oxbase talks to PostgreSQL on a trusted network or
/// loopback; TLS arrives with the deployment guide).
pub fn connect(url: &str) -> Result<postgres::Client, StoreError> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|error| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {error}")))
}
