//! Running statements on an SQLite connection: binding plan literals and mapping
//! constraint violations.

use oxbase_query::sql::Statement;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ErrorCode};

use crate::exec::{Executor, SlowQueryLog, key_list_json};
use crate::sqlite::internal;
use crate::write::WriteFailure;

/// An SQLite connection (or an open transaction on it) as an [`Executor`].
pub struct SqliteExecutor<'a> {
    pub connection: &'a Connection,
    pub slow_query_log: Option<SlowQueryLog>,
}

impl Executor for SqliteExecutor<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn slow_query_log(&self) -> Option<SlowQueryLog> {
        self.slow_query_log
    }

    fn rows(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, WriteFailure> {
        let key_list = keys.map(key_list_json);
        let mut prepared = self.connection.prepare_cached(&statement.sql).map_err(internal)?;
        let parameters = statement.parameters.iter().enumerate().map(|(index, value)| {
            if statement.key_list == Some(index + 1)
                && let Some(list) = &key_list
            {
                return ToSqlOutput::Borrowed(ValueRef::Text(list.as_bytes()));
            }
            bind(value)
        });
        let columns = prepared.column_count();
        let mut rows = prepared.query(rusqlite::params_from_iter(parameters)).map_err(constraint_failure)?;
        let mut result = Vec::new();
        while let Some(row) = rows.next().map_err(constraint_failure)? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(row.get::<_, Value>(index).map_err(internal)?);
            }
            result.push(values);
        }
        Ok(result)
    }
}

/// A plan's literal as an SQLite parameter.
pub(crate) fn bind(value: &Literal) -> ToSqlOutput<'_> {
    match value {
        Literal::Null => ToSqlOutput::Owned(Value::Null),
        Literal::Boolean(flag) => ToSqlOutput::Owned(Value::Integer(i64::from(*flag))),
        Literal::Integer(number) => ToSqlOutput::Owned(Value::Integer(*number)),
        Literal::Float(number) => ToSqlOutput::Owned(Value::Real(*number)),
        Literal::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
    }
}

/// Maps a constraint violation to what it means; anything else is internal.
fn constraint_failure(error: rusqlite::Error) -> WriteFailure {
    let rusqlite::Error::SqliteFailure(failure, message) = &error else {
        return WriteFailure::Store(internal(error));
    };
    if failure.code != ErrorCode::ConstraintViolation {
        return WriteFailure::Store(internal(error));
    }
    let message = message.clone().unwrap_or_default();
    match failure.extended_code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY: "UNIQUE constraint failed: t.a, t.b"
        2067 | 1555 => {
            let fields: Vec<String> = message
                .split_once(": ")
                .map(|(_, columns)| {
                    columns.split(", ").map(|column| column.rsplit('.').next().unwrap_or(column).to_owned()).collect()
                })
                .unwrap_or_default();
            WriteFailure::Duplicate {
                message: format!("a row with the same {} already exists", fields.join(", ")),
                fields,
            }
        }
        // SQLITE_CONSTRAINT_FOREIGNKEY
        787 => WriteFailure::Constraint(
            "a reference points at a row that does not exist, or a row is still referenced".to_owned(),
        ),
        // SQLITE_CONSTRAINT_CHECK: "CHECK constraint failed: trackers_priority_max_check"
        275 => WriteFailure::Constraint(format!(
            "a value breaks the database rule {}",
            message.split_once(": ").map_or(message.as_str(), |(_, name)| name)
        )),
        // SQLITE_CONSTRAINT_NOTNULL: "NOT NULL constraint failed: t.column"
        1299 => WriteFailure::Constraint(format!(
            "a required value is missing ({})",
            message.split_once(": ").map_or(message.as_str(), |(_, name)| name)
        )),
        // A foreign-key failure found at statement end can carry the plain constraint code.
        _ if message.contains("FOREIGN KEY") => WriteFailure::Constraint(
            "a reference points at a row that does not exist, or a row is still referenced".to_owned(),
        ),
        _ => WriteFailure::Constraint(message),
    }
}
