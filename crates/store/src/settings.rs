//! What a store is opened with: where the database is, its connections, the slow-query
//! log. The server's configuration fills these in from its settings.

use std::time::Duration;

pub use crate::database_url::{DatabaseUrl, DatabaseUrlError, redact_url_password};

/// Everything [`crate::Store::open`] needs.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The database.
    pub database: DatabaseUrl,
    /// SQLite reader connections (reads run in parallel; writes go through one writer).
    pub readers: u32,
    /// How long SQLite waits on a lock before giving up.
    pub busy_timeout: Duration,
    /// PostgreSQL connection pool settings.
    pub pool: PoolSettings,
    /// Statements slower than this are logged with their SQL; `None` turns the log off.
    pub slow_query: Option<Duration>,
    /// Whether the slow-query log includes parameter values (they may be personal data).
    pub log_slow_query_parameters: bool,
}

/// How oxbase pools PostgreSQL connections. The defaults suit this 2-core machine: a
/// PostgreSQL backend per core kept open, room to grow for requests that hold their
/// connection across several round trips (16 carried 25 % more embedded reads than 8 in
/// the benchmark), and the extra connections closed again once a burst is over.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once (lost ones are reopened on next use).
    pub max_size: u32,
    /// Connections kept open even when idle: opened at start (at least one, so that start
    /// fails when the database does not answer); more are opened on demand up to `max_size`.
    pub min_idle: u32,
    /// Connections idle longer than this are closed, down to `min_idle`; `None` keeps
    /// every opened connection.
    pub idle_timeout: Option<Duration>,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every statement oxbase runs.
    pub statement_timeout: Duration,
    /// Connections older than this are closed and reopened on next use.
    pub max_lifetime: Duration,
    /// Run `SELECT 1` before handing out a connection (off: a lost connection is noticed
    /// by its first failing statement and reopened for the next request).
    pub test_before_acquire: bool,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}
