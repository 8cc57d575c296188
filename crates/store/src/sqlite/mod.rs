//! SQLite: one file in WAL mode, a pool of reader connections and a single writer.
//!
//! SQLite serialises writes anyway; one writer connection avoids busy errors and lets
//! writes batch. Readers never block each other or the writer. Statements run on
//! blocking threads so a long query never stalls the async workers.

pub mod exec;
pub mod migrate;
pub mod seed;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::unmanaged::{Pool, PoolConfig};
use oxbase_query::plan::ReadPlan;
use oxbase_schema::Schema;
use rusqlite::{Connection, OpenFlags};

use crate::exec::SlowQueryLog;
use crate::read::{explain_with, read_with};
use crate::sqlite::exec::SqliteExecutor;
use crate::write::{WriteFailure, WriteOptions, WriteOutcome, WriteRequest};
use crate::{ReadOutput, StoreError};

/// How long a request waits for a free reader before the database counts as unavailable.
const READER_WAIT: Duration = Duration::from_secs(5);

/// An open SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    readers: Pool<Connection>,
    /// The one connection that writes.
    writer: Arc<tokio::sync::Mutex<Connection>>,
    schema: Arc<Schema>,
    /// Where slow statements are reported.
    slow_query_log: Option<SlowQueryLog>,
}

/// Opens (creating if missing) an SQLite file with oxbase's settings.
pub fn open_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|error| {
            StoreError::Unavailable(format!("cannot create the directory {}: {error}", parent.display()))
        })?;
    }
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| StoreError::Unavailable(format!("cannot open {}: {error}", path.display())))?;
    configure(&connection, busy_timeout)?;
    Ok(connection)
}

/// Settings every connection gets, the writer's as much as the readers': a filter must
/// match the same rows in a PATCH or DELETE as in the GET before it. `case_sensitive_like`
/// makes `like` match PostgreSQL's (`ilike` lowers both sides).
fn configure(connection: &Connection, busy_timeout: Duration) -> Result<(), StoreError> {
    connection.busy_timeout(busy_timeout).map_err(internal)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -16000;
             PRAGMA case_sensitive_like = ON;",
        )
        .map_err(internal)?;
    register_regexp(connection)?;
    connection.set_prepared_statement_cache_capacity(256);
    // The statement cache clears a statement's bindings when it takes it back, and SQLite
    // then re-prepares any statement whose plan depends on a bound value (every `LIMIT ?`)
    // on its next run. A stable plan per statement keeps cached statements prepared:
    // measured by the bench harness, a point read went from ~20k/s to ~500k/s.
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(internal)?;
    Ok(())
}

/// A driver error that is oxbase's or the database's fault: logged by the caller's layer.
pub(crate) fn internal(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Internal(error.to_string()),
    }
}

impl SqliteStore {
    /// Opens the file with one writer and `readers` reader connections.
    pub async fn open(
        path: &Path,
        schema: Arc<Schema>,
        readers: u32,
        busy_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let opened_path = path.clone();
        let (writer, reader_connections) = tokio::task::spawn_blocking(move || {
            let writer = open_connection(&opened_path, busy_timeout)?;
            let mut reader_connections = Vec::new();
            for _ in 0..readers.max(1) {
                let reader = open_connection(&opened_path, busy_timeout)?;
                reader.execute_batch("PRAGMA query_only = ON").map_err(internal)?;
                reader_connections.push(reader);
            }
            Ok::<_, StoreError>((writer, reader_connections))
        })
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))??;
        let mut pool_config = PoolConfig::new(reader_connections.len());
        // Without a runtime deadpool cannot time out a wait for a free connection.
        pool_config.runtime = Some(Runtime::Tokio1);
        let readers = Pool::from_config(&pool_config);
        for reader in reader_connections {
            readers
                .try_add(reader)
                .map_err(|(_, error)| StoreError::Internal(format!("cannot pool a reader: {error}")))?;
        }
        Ok(SqliteStore {
            path,
            readers,
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            schema,
            slow_query_log: None,
        })
    }

    /// Reports statements slower than the log's threshold.
    pub fn with_slow_query_log(mut self, log: Option<SlowQueryLog>) -> SqliteStore {
        self.slow_query_log = log;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on a reader connection on a blocking thread.
    pub(crate) async fn with_reader<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection, &Schema) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.readers.timeout_get(Some(READER_WAIT)).await.map_err(|error| {
            StoreError::Unavailable(format!("no database connection became free in {READER_WAIT:?}: {error}"))
        })?;
        let schema = self.schema.clone();
        // The blocking thread works inside the request's span, so its log lines (the slow
        // query log) carry the request id.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(&reader, &schema)))
            .await
            .map_err(|error| StoreError::Internal(format!("a database task failed: {error}")))?
    }

    /// Runs `work` on the writer connection on a blocking thread.
    pub(crate) async fn with_writer<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = self.writer.clone().lock_owned().await;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(&writer)))
            .await
            .map_err(|error| StoreError::Internal(format!("a database task failed: {error}")))?
    }

    /// Reads the rows a plan asks for.
    pub async fn read(&self, plan: ReadPlan) -> Result<ReadOutput, StoreError> {
        let slow_query_log = self.slow_query_log;
        self.with_reader(move |connection, _| read_with(&mut SqliteExecutor { connection, slow_query_log }, &plan))
            .await
    }

    /// Runs a write request in one transaction on the writer connection.
    pub async fn write(&self, request: WriteRequest, options: WriteOptions) -> Result<WriteOutcome, WriteFailure> {
        let mut writer = self.writer.clone().lock_owned().await;
        let slow_query_log = self.slow_query_log;
        let schema = self.schema.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| write::write(&mut writer, &schema, &request, options, slow_query_log))
        })
        .await
        .map_err(|error| StoreError::Internal(format!("a database task failed: {error}")))?
    }

    /// The statements a plan runs and SQLite's plan for each.
    pub async fn explain(&self, plan: ReadPlan) -> Result<serde_json::Value, StoreError> {
        self.with_reader(move |connection, _| {
            explain_with(&mut SqliteExecutor { connection, slow_query_log: None }, &plan)
        })
        .await
    }

    /// The reader pool's state.
    pub fn statistics(&self) -> serde_json::Value {
        let status = self.readers.status();
        serde_json::json!({ "engine": "sqlite", "readers": status.max_size, "idle": status.available, "in_use": status.size.saturating_sub(status.available), "waiting": status.waiting })
    }

    /// Runs a trivial statement.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|connection, _| connection.query_row("SELECT 1", [], |_| Ok(())).map_err(internal)).await
    }
}

/// `oxbase_regexp(pattern, value, case_insensitive)`: whether the regular expression
/// matches somewhere in the text (PostgreSQL's `~` and `~*`), for `match` and `imatch`.
/// Patterns are checked when a read is planned, with the same engine and size limit;
/// each statement compiles its pattern once (SQLite keeps it as the argument's aux data).
fn register_regexp(connection: &Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    connection
        .create_scalar_function(
            "oxbase_regexp",
            3,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |context| {
                let case_insensitive: bool = context.get(2)?;
                let regex: std::sync::Arc<regex::Regex> = context.get_or_create_aux(0, |pattern| {
                    regex::RegexBuilder::new(pattern.as_str()?)
                        .case_insensitive(case_insensitive)
                        .size_limit(oxbase_query::plan::MAX_REGEX_BYTES)
                        .build()
                        .map_err(|error| rusqlite::Error::UserFunctionError(Box::new(error)))
                })?;
                Ok(match context.get_raw(1) {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Text(text) => Some(regex.is_match(&String::from_utf8_lossy(text))),
                    _ => Some(false),
                })
            },
        )
        .map_err(internal)
}
