//! Reads on SQLite: run the planned statement and encode rows to JSON as they come.

use std::time::Instant;

use oxbase_query::read::ReadPlan;
use oxbase_query::sql::{Statement, select_rows};
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::{FieldType, Literal};
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};

use crate::store::json;
use crate::store::sqlite::internal;
use crate::store::{ReadOutput, StoreError};

pub(super) fn read(
    connection: &Connection,
    schema: &Schema,
    plan: &ReadPlan,
) -> Result<ReadOutput, StoreError> {
    let started = Instant::now();
    let resource = schema
        .resource(&plan.resource)
        .expect("plans name validated resources");
    let Statement { sql, parameters } = select_rows(schema, plan, Dialect::Sqlite);
    let mut statement = connection.prepare_cached(&sql).map_err(internal)?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(parameters.iter().map(bind)))
        .map_err(internal)?;
    let mut body = Vec::with_capacity(256);
    body.push(b'[');
    let mut count = 0;
    while let Some(row) = rows.next().map_err(internal)? {
        if count > 0 {
            body.push(b',');
        }
        body.push(b'{');
        for (index, field) in resource.fields.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            json::write_string(&mut body, &field.name);
            body.push(b':');
            write_value(
                &mut body,
                row.get_ref(index).map_err(internal)?,
                &field.field_type,
            );
        }
        body.push(b'}');
        count += 1;
    }
    body.push(b']');
    Ok(ReadOutput {
        body,
        rows: count,
        statements: 1,
        database_time: started.elapsed(),
    })
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

/// Encodes one stored value as the JSON its field type calls for.
fn write_value(out: &mut Vec<u8>, value: ValueRef<'_>, field_type: &FieldType) {
    match (value, field_type) {
        (ValueRef::Null, _) => out.extend_from_slice(b"null"),
        (ValueRef::Integer(number), FieldType::Boolean) => {
            out.extend_from_slice(if number != 0 { b"true" } else { b"false" })
        }
        (ValueRef::Integer(number), _) => json::write_integer(out, number),
        (ValueRef::Real(number), _) => json::write_float(out, number),
        (ValueRef::Text(bytes), FieldType::Json | FieldType::Decimal) => {
            json::write_raw_or_string(out, &String::from_utf8_lossy(bytes))
        }
        (ValueRef::Text(bytes), _) => json::write_string(out, &String::from_utf8_lossy(bytes)),
        (ValueRef::Blob(bytes), _) => json::write_string(out, &String::from_utf8_lossy(bytes)),
    }
}
