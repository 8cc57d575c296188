//! Plan literals as PostgreSQL parameters, and column values back as literals: the
//! harness's own small binder for tokio-postgres. As the server's (crates/server
//! `store/postgres/exec.rs`), a value is bound by the type PostgreSQL inferred for its
//! parameter when the statement was prepared; only the types the workloads use are
//! covered, anything else is an error that names the type.

use std::error::Error;

use oxbase_schema::model::Literal;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// One bound parameter.
pub type Parameter = Box<dyn ToSql + Sync + Send>;

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A plan literal as the value of a parameter PostgreSQL typed `parameter_type`.
pub fn bind(value: &Literal, parameter_type: &Type) -> Result<Parameter, String> {
    let mismatch = || format!("cannot bind {value:?} to a PostgreSQL {parameter_type} parameter");
    let integer = || match value {
        Literal::Integer(number) => Ok(*number),
        Literal::Boolean(flag) => Ok(i64::from(*flag)),
        _ => Err(mismatch()),
    };
    let text = || match value {
        Literal::Text(text) => Ok(text.as_str()),
        _ => Err(mismatch()),
    };
    if *value == Literal::Null {
        return Ok(Box::new(Null));
    }
    Ok(match *parameter_type {
        Type::BOOL => Box::new(integer()? != 0),
        Type::INT2 => Box::new(i16::try_from(integer()?).map_err(|_| mismatch())?),
        Type::INT4 => Box::new(i32::try_from(integer()?).map_err(|_| mismatch())?),
        Type::INT8 => Box::new(integer()?),
        Type::FLOAT4 | Type::FLOAT8 => {
            let number = match value {
                Literal::Float(number) => *number,
                Literal::Integer(number) => *number as f64,
                _ => return Err(mismatch()),
            };
            if *parameter_type == Type::FLOAT4 { Box::new(number as f32) } else { Box::new(number) }
        }
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Box::new(match value {
            Literal::Text(text) => text.clone(),
            Literal::Integer(number) => number.to_string(),
            Literal::Float(number) => number.to_string(),
            Literal::Boolean(flag) => flag.to_string(),
            Literal::Null => unreachable!("nulls are bound above"),
        }),
        Type::DATE => Box::new(time::Date::parse(text()?, DATE_FORMAT).map_err(|_| mismatch())?),
        Type::TIMESTAMPTZ => Box::new(time::OffsetDateTime::parse(text()?, &Rfc3339).map_err(|_| mismatch())?),
        Type::TIMESTAMP => {
            let instant = time::OffsetDateTime::parse(text()?, &Rfc3339).map_err(|_| mismatch())?;
            Box::new(time::PrimitiveDateTime::new(instant.date(), instant.time()))
        }
        Type::JSON | Type::JSONB => {
            Box::new(serde_json::from_str::<serde_json::Value>(text()?).map_err(|_| mismatch())?)
        }
        _ => return Err(mismatch()),
    })
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

/// SQL NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
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
