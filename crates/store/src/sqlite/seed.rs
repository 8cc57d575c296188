//! Bulk loading on SQLite: one prepared insert per resource, reused for every row, all
//! inside one transaction.

use oxbase_examples::RowSink;
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use rusqlite::Transaction;

use crate::StoreError;
use crate::sqlite::exec::bind;
use crate::sqlite::internal;

/// Inserts generated rows through an open transaction.
pub struct SqliteRowSink<'a> {
    pub transaction: &'a Transaction<'a>,
    pub schema: &'a Schema,
}

impl RowSink for SqliteRowSink<'_> {
    type Error = StoreError;

    fn rows(&mut self, resource: &str, columns: &[&str], rows: &[Vec<Literal>]) -> Result<(), StoreError> {
        let table = self
            .schema
            .resource(resource)
            .ok_or_else(|| StoreError::Internal(format!("the generator wrote to unknown resource '{resource}'")))?
            .table
            .clone();
        let dialect = Dialect::Sqlite;
        let mut sql = format!("INSERT INTO {} (", dialect.quote(&table));
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                sql.push_str(", ");
            }
            dialect.push_quoted(&mut sql, column);
        }
        sql.push_str(") VALUES (");
        for index in 1..=columns.len() {
            if index > 1 {
                sql.push_str(", ");
            }
            dialect.push_placeholder(&mut sql, index);
        }
        sql.push(')');
        let mut statement = self.transaction.prepare_cached(&sql).map_err(internal)?;
        for row in rows {
            statement.execute(rusqlite::params_from_iter(row.iter().map(bind))).map_err(internal)?;
        }
        Ok(())
    }
}
