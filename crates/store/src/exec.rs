//! The one thing reads and writes need from an engine: run a statement, get rows.
//!
//! Rows come back as [`Value`]s whatever the engine (SQLite's value type serves as the
//! neutral form: booleans are 0/1, dates, timestamps, uuids and decimals are their
//! canonical text, json is its text), so planning, assembling embedded rows, encoding JSON
//! and the write logic exist once.

use std::time::{Duration, Instant};

use oxbase_query::sql::Statement;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
pub use rusqlite::types::Value;

use crate::write::WriteFailure;

/// A connection (or transaction) that runs statements.
pub trait Executor {
    /// The SQL dialect statements must be rendered in.
    fn dialect(&self) -> Dialect;

    /// Runs `statement`; `keys` fills its key-list placeholder (a child read, a write by
    /// keys). Constraint violations come back as the matching [`WriteFailure`].
    fn rows(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, WriteFailure>;

    /// Where slow statements are reported, if anywhere.
    fn slow_query_log(&self) -> Option<SlowQueryLog>;

    /// [`Executor::rows`], logging the statement when it is slower than the slow-query
    /// threshold. `resource` names what the statement reads or writes.
    fn run(
        &mut self,
        resource: &str,
        statement: &Statement,
        keys: Option<&[Literal]>,
    ) -> Result<Vec<Vec<Value>>, WriteFailure> {
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
