//! The one thing reads and writes need from an engine: run a statement, get rows.
//!
//! Rows come back as [`Value`]s whatever the engine (booleans are 0/1, dates, timestamps,
//! uuids and decimals are their canonical text, json is its text), so planning, assembling
//! embedded rows, encoding JSON and the write logic exist once. A statement fails with a
//! [`StatementError`]: storage failed, or the database refused it by one of its rules
//! (which only a write can meet; the write path turns it into its own failure).

use std::time::{Duration, Instant};

use crate::StoreError;
use crate::postgres::notify::ChangeNotice;
use oxbase_query::sql::Statement;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;

/// One value of a row, in the form both engines' rows are read into.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// Storage failed: unavailable, lost, contention, internal.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database refused the statement by one of its rules.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// A database rule a statement broke.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A unique key already holds these values.
    #[error("{message}")]
    Duplicate { message: String, fields: Vec<String> },
    /// A reference or another constraint failed.
    #[error("{0}")]
    Constraint(String),
    /// A new key would not fit the key's type.
    #[error("{message}")]
    KeysExhausted { message: String },
}

/// A read cannot break a rule; if the database says one did, it is oxbase's fault.
impl From<StatementError> for StoreError {
    fn from(error: StatementError) -> StoreError {
        match error {
            StatementError::Store(error) => error,
            StatementError::Refused(refusal) => StoreError::Internal(format!("a read was refused: {refusal}")),
        }
    }
}

/// A connection (or transaction) that runs statements.
pub trait Executor {
    /// The SQL dialect statements must be rendered in.
    fn dialect(&self) -> Dialect;

    /// Runs `statement`; `keys` fills its key-list placeholder (a child read, a write by
    /// keys). A broken rule comes back as a [`StatementError::Refused`].
    fn rows(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, StatementError>;

    /// Where slow statements are reported, if anywhere.
    fn slow_query_log(&self) -> Option<SlowQueryLog>;

    /// What this engine runs at the end of a write transaction that changed rows, if
    /// anything: PostgreSQL tells every listening instance of the change at commit.
    fn change_statement(&self, _notice: &ChangeNotice) -> Option<Statement> {
        None
    }

    /// What this engine runs after rows were written with keys the client chose, so later
    /// database-assigned keys do not collide with them: PostgreSQL moves its sequence on;
    /// SQLite needs nothing (a new row gets the largest key plus one).
    fn keys_chosen_statement(&self, _table: &str, _key: &str, _highest: i64) -> Option<Statement> {
        None
    }

    /// [`Executor::rows`], logging the statement when it is slower than the slow-query
    /// threshold. `resource` names what the statement reads or writes.
    fn run(
        &mut self,
        resource: &str,
        statement: &Statement,
        keys: Option<&[Literal]>,
    ) -> Result<Vec<Vec<Value>>, StatementError> {
        let started = Instant::now();
        let result = self.rows(statement, keys);
        if let Some(log) = self.slow_query_log() {
            let elapsed = started.elapsed();
            if elapsed >= log.threshold {
                let duration_ms = elapsed.as_secs_f64() * 1000.0;
                if log.with_parameters {
                    let parameters = format!("{:?}", statement.parameters);
                    tracing::warn!(resource, duration_ms, sql = %statement.sql, parameters, "slow query");
                } else {
                    tracing::warn!(resource, duration_ms, sql = %statement.sql, "slow query");
                }
            }
        }
        result
    }
}

/// The slow-query log's settings.
#[derive(Debug, Clone, Copy)]
pub struct SlowQueryLog {
    /// Statements at least this slow are logged.
    pub threshold: Duration,
    /// Whether parameter values are logged too (they may be personal data).
    pub with_parameters: bool,
}

/// The key list as a JSON array: SQLite's one `json_each(?)` parameter.
pub fn key_list_json(keys: &[Literal]) -> String {
    let values: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| match key {
            Literal::Integer(number) => (*number).into(),
            Literal::Float(number) => {
                serde_json::Number::from_f64(*number).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Literal::Text(text) => text.clone().into(),
            Literal::Boolean(flag) => (*flag).into(),
            Literal::Null => serde_json::Value::Null,
        })
        .collect();
    serde_json::to_string(&values).expect("literals serialise")
}
