//! Bulk loading on PostgreSQL: each batch of generated rows goes in as one
//! `COPY … FROM STDIN` in text format, inside the caller's transaction.
//!
//! Generated rows carry explicit ids, which identity columns accept but do not count, so
//! after loading [`reset_identity_sequences`] moves every sequence past the highest id.
//!
//! Checking every foreign key row by row and growing every index row by row costs most of
//! the load, so [`suspend_indexes_and_foreign_keys`] drops them before a bulk load into
//! empty tables and hands back the DDL that puts them back: each index is then built once
//! and each foreign key checked by one join, in the same transaction.

use std::io::Write;

use oxbase_examples::RowSink;
use oxbase_schema::Schema;
use oxbase_schema::dialect::{Dialect, quote_string};
use oxbase_schema::migration::postgres_foreign_key_name;
use oxbase_schema::model::{FieldType, Literal};
use oxbase_schema::physical::PhysicalSchema;
use postgres::GenericClient;

use crate::StoreError;
use crate::postgres::migrate::database_message;

/// Loads generated rows with COPY through a client or an open transaction.
pub struct PostgresRowSink<'a, C: GenericClient> {
    client: &'a mut C,
    schema: &'a Schema,
    /// One batch in COPY text format, reused from batch to batch.
    buffer: Vec<u8>,
}

impl<'a, C: GenericClient> PostgresRowSink<'a, C> {
    /// A sink writing the tables of `schema` through `client`.
    pub fn new(client: &'a mut C, schema: &'a Schema) -> Self {
        PostgresRowSink { client, schema, buffer: Vec::new() }
    }
}

impl<C: GenericClient> RowSink for PostgresRowSink<'_, C> {
    type Error = StoreError;

    fn rows(&mut self, resource: &str, columns: &[&str], rows: &[Vec<Literal>]) -> Result<(), StoreError> {
        let table = &self
            .schema
            .resource(resource)
            .ok_or_else(|| StoreError::Internal(format!("the generator wrote to unknown resource '{resource}'")))?
            .table;
        let dialect = Dialect::Postgres;
        let mut sql = String::from("COPY ");
        dialect.push_quoted(&mut sql, table);
        sql.push_str(" (");
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                sql.push_str(", ");
            }
            dialect.push_quoted(&mut sql, column);
        }
        sql.push_str(") FROM STDIN");
        self.buffer.clear();
        for row in rows {
            push_copy_row(&mut self.buffer, row);
        }
        let failed = |error: postgres::Error| {
            StoreError::Internal(format!("loading {table} failed: {}", database_message(&error)))
        };
        let mut writer = self.client.copy_in(&sql).map_err(failed)?;
        writer
            .write_all(&self.buffer)
            .map_err(|error| StoreError::Internal(format!("loading {table} failed: {error}")))?;
        writer.finish().map_err(failed)?;
        Ok(())
    }
}

/// Appends one row in COPY text format: tab-separated, `\N` for null, newline-terminated.
pub fn push_copy_row(out: &mut Vec<u8>, row: &[Literal]) {
    for (index, value) in row.iter().enumerate() {
        if index > 0 {
            out.push(b'\t');
        }
        push_copy_value(out, value);
    }
    out.push(b'\n');
}

fn push_copy_value(out: &mut Vec<u8>, value: &Literal) {
    match value {
        Literal::Null => out.extend_from_slice(b"\\N"),
        Literal::Boolean(true) => out.push(b't'),
        Literal::Boolean(false) => out.push(b'f'),
        Literal::Integer(number) => {
            let _ = write!(out, "{number}");
        }
        Literal::Float(number) if number.is_nan() => out.extend_from_slice(b"NaN"),
        Literal::Float(number) if number.is_infinite() => {
            out.extend_from_slice(if *number > 0.0 { b"Infinity" } else { b"-Infinity" })
        }
        Literal::Float(number) => {
            let _ = write!(out, "{number}");
        }
        Literal::Text(text) => push_copy_text(out, text),
    }
}

/// Text with the characters COPY's text format gives meaning to escaped: backslash, and the
/// tab, newline and carriage return that would otherwise end a value or a row.
fn push_copy_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (position, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..position]);
        out.extend_from_slice(escaped);
        plain_from = position + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
}

/// Drops every foreign key and every index except primary keys from the tables of `schema`,
/// and returns the statements that create them again, as migrations named them. Run both
/// in one transaction, or a failure leaves the tables without them.
pub fn suspend_indexes_and_foreign_keys(
    client: &mut impl GenericClient,
    schema: &Schema,
) -> Result<Vec<String>, StoreError> {
    let dialect = Dialect::Postgres;
    let physical = PhysicalSchema::of(schema, dialect);
    let mut drops = Vec::new();
    let mut indexes = Vec::new();
    let mut foreign_keys = Vec::new();
    for table in &physical.tables {
        let quoted_table = dialect.quote(&table.name);
        for column in &table.columns {
            if let Some(reference) = &column.references {
                let name = dialect.quote(&postgres_foreign_key_name(&table.name, &column.name));
                drops.push(format!("ALTER TABLE {quoted_table} DROP CONSTRAINT {name}"));
                foreign_keys.push(format!(
                    "ALTER TABLE {quoted_table} ADD CONSTRAINT {name} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                    dialect.quote(&column.name),
                    dialect.quote(&reference.table),
                    dialect.quote(&reference.column),
                    reference.on_delete.sql()
                ));
            }
        }
        for index in &table.indexes {
            indexes.push(index.create_statement(&table.name, dialect));
        }
    }
    // Foreign keys rely on the unique indexes of the columns they reference: drop them first
    // and add them back last.
    for table in &physical.tables {
        drops.extend(table.indexes.iter().map(|index| format!("DROP INDEX {}", dialect.quote(&index.name))));
    }
    for statement in &drops {
        client.batch_execute(statement).map_err(|error| {
            StoreError::Internal(format!("preparing the bulk load failed: {}", database_message(&error)))
        })?;
    }
    indexes.extend(foreign_keys);
    Ok(indexes)
}

/// Moves the identity sequence of every integer `id` past the highest id in its table, so
/// the next insert without an id gets a fresh one. An empty table starts again at 1.
pub fn reset_identity_sequences(client: &mut impl GenericClient, schema: &Schema) -> Result<(), StoreError> {
    let dialect = Dialect::Postgres;
    for resource in schema.resources.values() {
        let key = resource.primary_key();
        if key.field_type != FieldType::Integer {
            continue;
        }
        let table = dialect.quote(&resource.table);
        let column = dialect.quote(&key.name);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({column}), 1), max({column}) IS NOT NULL) FROM {table}",
            quote_string(&table),
            quote_string(&key.name),
        );
        client.batch_execute(&sql).map_err(|error| {
            StoreError::Internal(format!(
                "resetting the id sequence of {} failed: {}",
                resource.table,
                database_message(&error)
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_escaped_for_copy_text_format() {
        let mut out = Vec::new();
        push_copy_row(
            &mut out,
            &[
                Literal::Integer(-7),
                Literal::Null,
                Literal::Boolean(true),
                Literal::Boolean(false),
                Literal::Float(2.5),
                Literal::Text("a\\b\tc\nd\re \\N".to_owned()),
                Literal::Text(String::new()),
            ],
        );
        assert_eq!(String::from_utf8(out).unwrap(), "-7\t\\N\tt\tf\t2.5\ta\\\\b\\tc\\nd\\re \\\\N\t\n");
    }
}
