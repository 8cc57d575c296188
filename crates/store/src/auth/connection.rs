//! The few statements identity runs, on either engine: bound values, rows as cells, and a
//! transaction around a closure. The SQL is written once with `$1` placeholders (SQLite
//! reads `?1` for them) and identifiers quoted as both engines accept.

use std::collections::HashMap;

use crate::StoreError;

/// A bound value. Nulls are typed, as PostgreSQL checks each parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl Cell {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(value) => Some(*value),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Cell::Text(value) => Some(value.clone()),
            Cell::Int(value) => Some(value.to_string()),
            Cell::Null => None,
        }
    }
}

/// A connection identity's statements run on.
pub(crate) trait AuthConnection {
    /// Rows changed.
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError>;
    /// Every row.
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError>;
    /// Statements without parameters or rows (`BEGIN`, `COMMIT`).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// What locks a row read in a transaction until it ends (nothing on SQLite, whose one
    /// writer serialises every write).
    fn for_update(&self) -> &'static str;
    /// How a transaction that writes starts.
    fn begin(&self) -> &'static str;
}

/// Runs `work` in one transaction: committed when it returns `Ok`, rolled back otherwise.
pub(crate) fn in_transaction<T>(
    connection: &mut dyn AuthConnection,
    work: impl FnOnce(&mut dyn AuthConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let begin = connection.begin();
    connection.batch(begin)?;
    match work(connection) {
        Ok(value) => {
            connection.batch("COMMIT")?;
            Ok(value)
        }
        Err(error) => {
            let _ = connection.batch("ROLLBACK");
            Err(error)
        }
    }
}

/// An SQLite connection.
pub(crate) struct SqliteAuth<'a>(pub(crate) &'a rusqlite::Connection);

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_params(params: &[Param]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|param| match param {
            Param::Int(value) => rusqlite::types::Value::Integer(*value),
            Param::Text(value) => rusqlite::types::Value::Text(value.clone()),
            Param::NullInt | Param::NullText => rusqlite::types::Value::Null,
        })
        .collect()
}

impl AuthConnection for SqliteAuth<'_> {
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(&sqlite_sql(sql)).map_err(crate::sqlite::internal)?;
        let changed =
            statement.execute(rusqlite::params_from_iter(sqlite_params(params))).map_err(crate::sqlite::internal)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let mut statement = self.0.prepare_cached(&sqlite_sql(sql)).map_err(crate::sqlite::internal)?;
        let columns = statement.column_count();
        let rows = statement
            .query_map(rusqlite::params_from_iter(sqlite_params(params)), |row| {
                (0..columns)
                    .map(|index| {
                        Ok(match row.get::<_, rusqlite::types::Value>(index)? {
                            rusqlite::types::Value::Integer(value) => Cell::Int(value),
                            rusqlite::types::Value::Text(value) => Cell::Text(value),
                            rusqlite::types::Value::Real(value) => Cell::Text(value.to_string()),
                            rusqlite::types::Value::Null | rusqlite::types::Value::Blob(_) => Cell::Null,
                        })
                    })
                    .collect::<Result<Vec<Cell>, rusqlite::Error>>()
            })
            .map_err(crate::sqlite::internal)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(crate::sqlite::internal)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql).map_err(crate::sqlite::internal)
    }

    fn for_update(&self) -> &'static str {
        ""
    }

    fn begin(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
}

/// A PostgreSQL connection with its prepared statements.
pub(crate) struct PostgresAuth<'a> {
    pub(crate) client: &'a mut postgres::Client,
    pub(crate) prepared: &'a mut HashMap<String, postgres::Statement>,
}

fn postgres_error(error: postgres::Error) -> StoreError {
    StoreError::from(crate::postgres::exec::failure(error))
}

impl PostgresAuth<'_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(postgres_error)?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn postgres_params(params: &[Param]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|param| -> Box<dyn postgres::types::ToSql + Sync> {
            match param {
                Param::Int(value) => Box::new(*value),
                Param::Text(value) => Box::new(value.clone()),
                Param::NullInt => Box::new(None::<i64>),
                Param::NullText => Box::new(None::<String>),
            }
        })
        .collect()
}

impl AuthConnection for PostgresAuth<'_> {
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let values = postgres_params(params);
        let references: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|value| &**value).collect();
        self.client.execute(&statement, &references).map_err(postgres_error)
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError> {
        use postgres::types::Type;
        let statement = self.statement(sql)?;
        let values = postgres_params(params);
        let references: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|value| &**value).collect();
        let rows = self.client.query(&statement, &references).map_err(postgres_error)?;
        let cell = |row: &postgres::Row, index: usize| -> Result<Cell, postgres::Error> {
            Ok(match *row.columns()[index].type_() {
                Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map_or(Cell::Null, |value| Cell::Int(value.into())),
                Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map_or(Cell::Null, |value| Cell::Int(value.into())),
                Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map_or(Cell::Null, Cell::Int),
                Type::BOOL => {
                    row.try_get::<_, Option<bool>>(index)?.map_or(Cell::Null, |value| Cell::Int(value.into()))
                }
                _ => row.try_get::<_, Option<String>>(index)?.map_or(Cell::Null, Cell::Text),
            })
        };
        rows.iter()
            .map(|row| (0..row.len()).map(|index| cell(row, index)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(postgres_error)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.client.batch_execute(sql).map_err(postgres_error)
    }

    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn begin(&self) -> &'static str {
        "BEGIN"
    }
}
