//! Plan literals as PostgreSQL parameters (the server's binder: a value is bound by the
//! type PostgreSQL inferred for its parameter when the statement was prepared), and column
//! values back as literals for the harness's tokio-postgres client.

use std::error::Error;

use oxbase_schema::model::Literal;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql, Type};

/// One bound parameter.
pub type Parameter = Box<dyn ToSql + Sync + Send>;

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A plan literal as the value of a parameter PostgreSQL typed `parameter_type`: the
/// server's own binder, so both run the same values.
pub fn bind(value: &Literal, parameter_type: &Type) -> Result<Parameter, String> {
    oxbase_store::postgres::exec::typed_parameter(value, parameter_type).map_err(|error| error.to_string())
}

/// An integer or text key column's value (`None` for null and other types).
pub fn key_integer(row: &Row, index: usize) -> Option<i64> {
    match *row.columns()[index].type_() {
        Type::INT8 => row.try_get::<_, Option<i64>>(index).ok().flatten(),
        Type::INT4 => row.try_get::<_, Option<i32>>(index).ok().flatten().map(i64::from),
        Type::INT2 => row.try_get::<_, Option<i16>>(index).ok().flatten().map(i64::from),
        _ => None,
    }
}

/// A text key column's value (`None` for null and other types).
pub fn key_text(row: &Row, index: usize) -> Option<String> {
    match *row.columns()[index].type_() {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index).ok().flatten()
        }
        _ => None,
    }
}

/// A column's value as a literal: numbers and booleans as such, dates and timestamps in
/// their text forms (as SQLite stores them), anything else as text.
pub fn literal(row: &Row, index: usize) -> Result<Literal, String> {
    let column = &row.columns()[index];
    let failed = |error: tokio_postgres::Error| format!("cannot read column {}: {error}", column.name());
    Ok(match *column.type_() {
        Type::BOOL => row.try_get::<_, Option<bool>>(index).map_err(failed)?.map(Literal::Boolean),
        Type::INT2 | Type::INT4 | Type::INT8 => key_integer(row, index).map(Literal::Integer),
        Type::FLOAT4 => {
            row.try_get::<_, Option<f32>>(index).map_err(failed)?.map(|number| Literal::Float(number.into()))
        }
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index).map_err(failed)?.map(Literal::Float),
        Type::DATE => row
            .try_get::<_, Option<time::Date>>(index)
            .map_err(failed)?
            .map(|date| Literal::Text(date.format(DATE_FORMAT).unwrap_or_default())),
        Type::TIMESTAMPTZ => row
            .try_get::<_, Option<time::OffsetDateTime>>(index)
            .map_err(failed)?
            .map(|instant| Literal::Text(oxbase_schema::values::format_timestamp(instant))),
        _ => row.try_get::<_, Option<String>>(index).map_err(failed)?.map(Literal::Text),
    }
    .unwrap_or(Literal::Null))
}

/// The length of a column's value on the wire, of any type, without decoding it: how the
/// database limit reads every value of every row.
#[derive(Debug, Clone, Copy)]
pub struct WireLength(pub usize);

impl<'a> FromSql<'a> for WireLength {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<WireLength, Box<dyn Error + Sync + Send>> {
        Ok(WireLength(raw.len()))
    }

    fn from_sql_null(_: &Type) -> Result<WireLength, Box<dyn Error + Sync + Send>> {
        Ok(WireLength(0))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_bind_by_the_parameter_type() {
        assert!(bind(&Literal::Integer(7), &Type::INT4).is_ok());
        assert!(bind(&Literal::Integer(1 << 40), &Type::INT4).is_err());
        assert!(bind(&Literal::Text("2027-01-31".into()), &Type::DATE).is_ok());
        assert!(bind(&Literal::Text("2026-01-01T00:00:00Z".into()), &Type::TIMESTAMPTZ).is_ok());
        assert!(bind(&Literal::Text("tomorrow".into()), &Type::DATE).is_err());
        assert!(bind(&Literal::Null, &Type::UUID).is_ok());
        assert!(bind(&Literal::Text("x".into()), &Type::POINT).is_err());
    }
}
