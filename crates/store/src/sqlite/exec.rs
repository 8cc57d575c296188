//! Running statements on an SQLite connection: binding plan literals and mapping
//! constraint violations.

use oxbase_query::sql::Statement;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use rusqlite::types::{ToSqlOutput, Value as SqliteValue, ValueRef};
use rusqlite::{Connection, ErrorCode};

use crate::exec::{Executor, Refusal, SlowQueryLog, StatementError, Value, key_list_json};
use crate::sqlite::internal;

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

    fn rows(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, StatementError> {
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
                values.push(match row.get_ref(index).map_err(internal)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(number) => Value::Integer(number),
                    ValueRef::Real(number) => Value::Real(number),
                    ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
                    ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
                });
            }
            result.push(values);
        }
        Ok(result)
    }
}

/// A plan's literal as an SQLite parameter.
pub(crate) fn bind(value: &Literal) -> ToSqlOutput<'_> {
    match value {
        Literal::Null => ToSqlOutput::Owned(SqliteValue::Null),
        Literal::Boolean(flag) => ToSqlOutput::Owned(SqliteValue::Integer(i64::from(*flag))),
        Literal::Integer(number) => ToSqlOutput::Owned(SqliteValue::Integer(*number)),
        Literal::Float(number) => ToSqlOutput::Owned(SqliteValue::Real(*number)),
        Literal::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
    }
}

/// Maps a constraint violation to what it means; anything else is internal.
fn constraint_failure(error: rusqlite::Error) -> StatementError {
    let rusqlite::Error::SqliteFailure(failure, message) = &error else {
        return StatementError::Store(internal(error));
    };
    if failure.code != ErrorCode::ConstraintViolation {
        return StatementError::Store(internal(error));
    }
    let message = message.clone().unwrap_or_default();
    let refusal = match failure.extended_code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY: "UNIQUE constraint failed: t.a, t.b"
        2067 | 1555 => {
            let fields: Vec<String> = message
                .split_once(": ")
                .map(|(_, columns)| {
                    columns.split(", ").map(|column| column.rsplit('.').next().unwrap_or(column).to_owned()).collect()
                })
                .unwrap_or_default();
            Refusal::Duplicate { message: format!("a row with the same {} already exists", fields.join(", ")), fields }
        }
        // SQLITE_CONSTRAINT_FOREIGNKEY
        787 => Refusal::Constraint(
            "a reference points at a row that does not exist, or a row is still referenced".to_owned(),
        ),
        // SQLITE_CONSTRAINT_CHECK: "CHECK constraint failed: trackers_priority_max_check"
        275 => Refusal::Constraint(format!(
            "a value breaks the database rule {}",
            message.split_once(": ").map_or(message.as_str(), |(_, name)| name)
        )),
        // SQLITE_CONSTRAINT_NOTNULL: "NOT NULL constraint failed: t.column"
        1299 => Refusal::Constraint(format!(
            "a required value is missing ({})",
            message.split_once(": ").map_or(message.as_str(), |(_, name)| name)
        )),
        // A foreign-key failure found at statement end can carry the plain constraint code.
        _ if message.contains("FOREIGN KEY") => Refusal::Constraint(
            "a reference points at a row that does not exist, or a row is still referenced".to_owned(),
        ),
        _ => Refusal::Constraint(message),
    };
    StatementError::Refused(refusal)
}
