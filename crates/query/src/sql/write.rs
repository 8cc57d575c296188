//! Write plans → SQL: multi-row inserts chunked under the dialect's parameter limit,
//! updates and deletes by key list, bulk updates through a `VALUES` table.
//!
//! Updates and deletes with a filter run in two steps inside one transaction: select the
//! matching keys (and the old values, so change events carry only what changed), then
//! write those keys. That keeps the filter evaluated once and the event exact.

use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;

use crate::plan::Condition;
use crate::sql::Statement;
use crate::sql::writer::{Writer, write_condition};
use crate::write::{Conflict, InsertTarget};

/// The most bind parameters one statement may carry.
pub fn max_parameters(dialect: Dialect) -> usize {
    match dialect {
        // SQLITE_MAX_VARIABLE_NUMBER since 3.32.
        Dialect::Sqlite => 32_766,
        // The wire protocol counts parameters in 16 bits.
        Dialect::Postgres => 65_535,
    }
}

/// How many rows of `columns` values fit one statement.
pub fn rows_per_statement(dialect: Dialect, columns: usize) -> usize {
    (max_parameters(dialect) / columns.max(1)).clamp(1, 1000)
}

/// PostgreSQL: moves the identity sequence of `table.key` up to `highest` when it is
/// behind, after rows were written with explicit keys (an upsert naming its ids), so later
/// plain inserts do not collide with them. Never moves it down. SQLite needs nothing: it
/// gives a new row the largest key plus one.
pub fn advance_identity(table: &str, key: &str, highest: i64) -> Statement {
    let mut writer = Writer::new(Dialect::Postgres);
    let mut quoted_table = String::new();
    Dialect::Postgres.push_quoted(&mut quoted_table, table);
    writer.push("SELECT setval(identity.sequence::regclass, ");
    writer.parameter(Literal::Integer(highest));
    writer.push(") FROM (SELECT pg_get_serial_sequence(");
    writer.parameter(Literal::Text(quoted_table));
    writer.push(", ");
    writer.parameter(Literal::Text(key.to_owned()));
    writer.push(") AS sequence) AS identity WHERE ");
    writer.parameter(Literal::Integer(highest));
    writer.push(" > COALESCE(pg_sequence_last_value(identity.sequence::regclass), 0)");
    writer.finish(None)
}

/// `INSERT … VALUES (…), (…) [ON CONFLICT …] RETURNING key` for `rows`.
pub fn insert_statement(
    target: &InsertTarget,
    rows: &[&[Literal]],
    conflict: Conflict,
    conflict_columns: &[String],
    merged_columns: &[String],
    dialect: Dialect,
) -> Statement {
    let mut writer = Writer::new(dialect);
    writer.push("INSERT INTO ");
    dialect.push_quoted(&mut writer.sql, &target.table);
    writer.push(" (");
    for (index, column) in target.columns.iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        dialect.push_quoted(&mut writer.sql, column);
    }
    writer.push(") VALUES ");
    for (row_index, row) in rows.iter().enumerate() {
        if row_index > 0 {
            writer.push(", ");
        }
        writer.push("(");
        for (index, value) in row.iter().enumerate() {
            if index > 0 {
                writer.push(", ");
            }
            // A row of an upsert without a key gets a new one: PostgreSQL's identity
            // column takes DEFAULT (SQLite assigns one for NULL).
            if dialect == Dialect::Postgres && *value == Literal::Null && target.columns[index] == target.key {
                writer.push("DEFAULT");
            } else {
                writer.parameter(value.clone());
            }
        }
        writer.push(")");
    }
    if conflict != Conflict::Fail {
        writer.push(" ON CONFLICT (");
        for (index, column) in conflict_columns.iter().enumerate() {
            if index > 0 {
                writer.push(", ");
            }
            dialect.push_quoted(&mut writer.sql, column);
        }
        writer.push(")");
        let updated: Vec<&String> = merged_columns.iter().filter(|column| !conflict_columns.contains(column)).collect();
        if conflict == Conflict::Ignore || updated.is_empty() {
            writer.push(" DO NOTHING");
        } else {
            writer.push(" DO UPDATE SET ");
            for (index, column) in updated.into_iter().enumerate() {
                if index > 0 {
                    writer.push(", ");
                }
                dialect.push_quoted(&mut writer.sql, column);
                writer.push(" = excluded.");
                dialect.push_quoted(&mut writer.sql, column);
            }
        }
    }
    writer.push(" RETURNING ");
    dialect.push_quoted(&mut writer.sql, &target.key);
    writer.finish(None)
}

/// `SELECT key, columns… FROM table WHERE condition ORDER BY key`: the rows a filtered
/// update or delete will change, with their old values.
pub fn select_for_write(
    table: &str,
    key: &str,
    columns: &[String],
    condition: Option<&Condition>,
    dialect: Dialect,
) -> Statement {
    let mut writer = select_key_and_columns(table, key, columns, dialect);
    if let Some(condition) = condition {
        writer.push(" WHERE ");
        write_condition(&mut writer, condition, "t");
    }
    lock_in_key_order(&mut writer, key, dialect);
    writer.finish(None)
}

/// ` ORDER BY key`, and on PostgreSQL ` FOR UPDATE`: the rows a write is about to change
/// are locked as they are selected, in key order, so concurrent writes to overlapping rows
/// queue instead of deadlocking. (SQLite has one writer at a time and no row locks.)
fn lock_in_key_order(writer: &mut Writer, key: &str, dialect: Dialect) {
    writer.push(" ORDER BY ");
    writer.column("t", key);
    if dialect == Dialect::Postgres {
        writer.push(" FOR UPDATE");
    }
}

/// [`select_by_keys`] for rows about to be changed: ordered by key and, on PostgreSQL,
/// locked in that order ([`lock_in_key_order`]).
pub fn lock_by_keys(table: &str, key: &str, columns: &[String], dialect: Dialect) -> Statement {
    let (mut writer, key_list) = selection_by_keys(table, key, columns, dialect);
    lock_in_key_order(&mut writer, key, dialect);
    writer.finish(Some(key_list))
}

/// `SELECT t.key, t.columns… FROM table AS t`, the start of both key selections.
fn select_key_and_columns(table: &str, key: &str, columns: &[String], dialect: Dialect) -> Writer {
    let mut writer = Writer::new(dialect);
    writer.push("SELECT ");
    writer.column("t", key);
    for column in columns {
        writer.push(", ");
        writer.column("t", column);
    }
    writer.push(" FROM ");
    writer.table(table, "t");
    writer
}

/// `SELECT key, columns… FROM table WHERE key IN (keys)`: old values of a bulk update.
pub fn select_by_keys(table: &str, key: &str, columns: &[String], dialect: Dialect) -> Statement {
    let (writer, key_list) = selection_by_keys(table, key, columns, dialect);
    writer.finish(Some(key_list))
}

/// `SELECT t.key, t.columns… FROM table AS t WHERE t.key IN (keys)`, and the key list's
/// parameter number.
fn selection_by_keys(table: &str, key: &str, columns: &[String], dialect: Dialect) -> (Writer, usize) {
    let mut writer = select_key_and_columns(table, key, columns, dialect);
    writer.push(" WHERE ");
    writer.column("t", key);
    let key_list = key_list(&mut writer);
    (writer, key_list)
}

/// `SELECT t.key FROM table AS t WHERE t.key IN (keys) AND (condition) IS NOT TRUE`: the
/// rows among `keys` that a rule does not let through (a null outcome counts as not), in
/// key order. A write checks its rows against the caller's rules with it.
pub fn keys_outside(table: &str, key: &str, condition: &Condition, dialect: Dialect) -> Statement {
    let (mut writer, key_list) = selection_by_keys(table, key, &[], dialect);
    writer.push(" AND (");
    write_condition(&mut writer, condition, "t");
    writer.push(") IS NOT TRUE ORDER BY ");
    writer.column("t", key);
    writer.finish(Some(key_list))
}

/// `UPDATE table SET column = value, … WHERE key IN (keys)`.
pub fn update_by_keys(table: &str, key: &str, set: &[(String, Literal)], dialect: Dialect) -> Statement {
    let mut writer = Writer::new(dialect);
    writer.push("UPDATE ");
    dialect.push_quoted(&mut writer.sql, table);
    writer.push(" SET ");
    for (index, (column, value)) in set.iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        dialect.push_quoted(&mut writer.sql, column);
        writer.push(" = ");
        writer.parameter(value.clone());
    }
    writer.push(" WHERE ");
    dialect.push_quoted(&mut writer.sql, key);
    let key_list = key_list(&mut writer);
    writer.finish(Some(key_list))
}

/// `DELETE FROM table WHERE key IN (keys)`.
pub fn delete_by_keys(table: &str, key: &str, dialect: Dialect) -> Statement {
    let mut writer = Writer::new(dialect);
    writer.push("DELETE FROM ");
    dialect.push_quoted(&mut writer.sql, table);
    writer.push(" WHERE ");
    dialect.push_quoted(&mut writer.sql, key);
    let key_list = key_list(&mut writer);
    writer.finish(Some(key_list))
}

/// Each row its own values: `WITH v(key, columns…) AS (VALUES …) UPDATE table SET column =
/// v.column … FROM v WHERE table.key = v.key`. `types` are the SQL types of the key and of
/// each column: PostgreSQL cannot infer the types of a VALUES list's parameters, so the
/// first row casts them.
pub fn bulk_update(
    table: &str,
    key: &str,
    columns: &[String],
    types: &[&str],
    rows: &[(&Literal, &[Literal])],
    dialect: Dialect,
) -> Statement {
    let mut writer = Writer::new(dialect);
    writer.push("WITH \"_oxbase_values\" (");
    dialect.push_quoted(&mut writer.sql, "_oxbase_key");
    for column in columns {
        writer.push(", ");
        dialect.push_quoted(&mut writer.sql, column);
    }
    writer.push(") AS (VALUES ");
    for (row_index, (key_value, values)) in rows.iter().enumerate() {
        if row_index > 0 {
            writer.push(", ");
        }
        writer.push("(");
        let cast = |writer: &mut Writer, position: usize| {
            if row_index == 0 && dialect == Dialect::Postgres {
                writer.push("::");
                writer.push(types[position]);
            }
        };
        writer.parameter((*key_value).clone());
        cast(&mut writer, 0);
        for (index, value) in values.iter().enumerate() {
            writer.push(", ");
            writer.parameter(value.clone());
            cast(&mut writer, index + 1);
        }
        writer.push(")");
    }
    writer.push(") UPDATE ");
    dialect.push_quoted(&mut writer.sql, table);
    writer.push(" SET ");
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        dialect.push_quoted(&mut writer.sql, column);
        writer.push(" = ");
        writer.column("_oxbase_values", column);
    }
    writer.push(" FROM \"_oxbase_values\" WHERE ");
    writer.column(table, key);
    writer.push(" = ");
    writer.column("_oxbase_values", "_oxbase_key");
    writer.finish(None)
}

/// ` IN (keys)` with the keys as one parameter; returns its placeholder number.
fn key_list(writer: &mut Writer) -> usize {
    let index = writer.parameters.len() + 1;
    match writer.dialect {
        Dialect::Sqlite => {
            writer.push(" IN (SELECT value FROM json_each(");
            writer.dialect.push_placeholder(&mut writer.sql, index);
            writer.push("))");
        }
        Dialect::Postgres => {
            writer.push(" = ANY(");
            writer.dialect.push_placeholder(&mut writer.sql, index);
            writer.push(")");
        }
    }
    writer.parameters.push(Literal::Null);
    index
}

/// Bumps a resource's version and returns the new one (the first write creates it at 1).
pub fn bump_version(resource: &str, dialect: Dialect) -> Statement {
    let mut writer = Writer::new(dialect);
    writer.push("INSERT INTO \"_oxbase_versions\" (\"resource\", \"version\") VALUES (");
    writer.parameter(Literal::Text(resource.to_owned()));
    writer.push(", 1) ON CONFLICT (\"resource\") DO UPDATE SET \"version\" = \"_oxbase_versions\".\"version\" + 1 RETURNING \"version\"");
    writer.finish(None)
}
