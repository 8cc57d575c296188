//! Running statements on PostgreSQL: values bound by the parameter types PostgreSQL
//! infers, rows decoded into the neutral value form, constraint violations mapped.

use std::collections::HashMap;
use std::error::Error;

use oxbase_query::sql::Statement;
use oxbase_query::sql::write::advance_identity;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use oxbase_schema::values;
use postgres::GenericClient;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use time::format_description::well_known::Rfc3339;

use crate::StoreError;
use crate::exec::{Executor, Refusal, SlowQueryLog, StatementError, Value};
use crate::postgres::notify::{ChangeNotice, notify_statement};

/// A PostgreSQL client (or open transaction) as an [`Executor`], with the connection's
/// prepared statements.
pub struct PostgresExecutor<'a, C: GenericClient> {
    pub client: &'a mut C,
    /// Statements prepared on this connection, by SQL text.
    pub prepared: &'a mut HashMap<String, postgres::Statement>,
    pub slow_query_log: Option<SlowQueryLog>,
}

impl<C: GenericClient> Executor for PostgresExecutor<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn slow_query_log(&self) -> Option<SlowQueryLog> {
        self.slow_query_log
    }

    fn change_statement(&self, notice: &ChangeNotice) -> Option<Statement> {
        // Delivered to every listening instance at commit, in commit order.
        Some(notify_statement(notice))
    }

    fn keys_chosen_statement(&self, table: &str, key: &str, highest: i64) -> Option<Statement> {
        Some(advance_identity(table, key, highest))
    }

    fn rows(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, StatementError> {
        let prepared = match self.prepared.get(&statement.sql) {
            Some(prepared) => prepared.clone(),
            None => {
                let prepared = self.client.prepare(&statement.sql).map_err(failure)?;
                self.prepared.insert(statement.sql.clone(), prepared.clone());
                prepared
            }
        };
        let rows = match self.query(&prepared, statement, keys)? {
            // A migration changed a table under a statement prepared earlier: prepare it
            // again (outside a transaction the retry is safe; inside one it fails cleanly).
            Err(error)
                if error
                    .as_db_error()
                    .is_some_and(|database| database.message().contains("cached plan must not change result type")) =>
            {
                self.prepared.remove(&statement.sql);
                let fresh = self.client.prepare(&statement.sql).map_err(failure)?;
                self.prepared.insert(statement.sql.clone(), fresh.clone());
                self.query(&fresh, statement, keys)?.map_err(failure)?
            }
            result => result.map_err(failure)?,
        };
        rows.iter().map(decode_row).collect()
    }
}

impl<C: GenericClient> PostgresExecutor<'_, C> {
    /// Binds the statement's values by the prepared statement's parameter types (a value
    /// that cannot take its type is the outer error) and runs it (the inner result).
    fn query(
        &mut self,
        prepared: &postgres::Statement,
        statement: &Statement,
        keys: Option<&[Literal]>,
    ) -> Result<Result<Vec<postgres::Row>, postgres::Error>, StatementError> {
        let mut parameters: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(statement.parameters.len());
        for (index, (value, parameter_type)) in statement.parameters.iter().zip(prepared.params()).enumerate() {
            parameters.push(if statement.key_list == Some(index + 1) {
                key_array(keys.unwrap_or_default(), parameter_type)?
            } else {
                typed_parameter(value, parameter_type)?
            });
        }
        let references: Vec<&(dyn ToSql + Sync)> =
            parameters.iter().map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync)).collect();
        Ok(self.client.query(prepared, &references))
    }
}

/// A plan literal as the value of a parameter PostgreSQL typed `parameter_type` (also what
/// the benchmark harness binds with, so its database limit runs the same values).
pub fn typed_parameter(value: &Literal, parameter_type: &Type) -> Result<Box<dyn ToSql + Sync + Send>, StatementError> {
    let mismatch = || {
        StatementError::Store(StoreError::Internal(format!(
            "cannot bind {value:?} to a PostgreSQL {parameter_type} parameter"
        )))
    };
    if *value == Literal::Null {
        return Ok(Box::new(Null));
    }
    let as_integer = || match value {
        Literal::Integer(number) => Some(*number),
        Literal::Boolean(flag) => Some(i64::from(*flag)),
        _ => None,
    };
    let as_text = || match value {
        Literal::Text(text) => Some(text.clone()),
        _ => None,
    };
    Ok(match *parameter_type {
        Type::BOOL => Box::new(match value {
            Literal::Boolean(flag) => *flag,
            Literal::Integer(number) => *number != 0,
            _ => return Err(mismatch()),
        }),
        Type::INT2 => Box::new(i16::try_from(as_integer().ok_or_else(mismatch)?).map_err(|_| mismatch())?),
        Type::INT4 => Box::new(i32::try_from(as_integer().ok_or_else(mismatch)?).map_err(|_| mismatch())?),
        Type::INT8 => Box::new(as_integer().ok_or_else(mismatch)?),
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
        Type::DATE => {
            let text = as_text().ok_or_else(mismatch)?;
            let format = time::macros::format_description!("[year]-[month]-[day]");
            Box::new(time::Date::parse(&text, &format).map_err(|_| mismatch())?)
        }
        Type::TIMESTAMPTZ | Type::TIMESTAMP => {
            let text = as_text().ok_or_else(mismatch)?;
            let instant = time::OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| mismatch())?;
            if *parameter_type == Type::TIMESTAMPTZ {
                Box::new(instant)
            } else {
                Box::new(time::PrimitiveDateTime::new(instant.date(), instant.time()))
            }
        }
        Type::UUID => Box::new(uuid::Uuid::parse_str(&as_text().ok_or_else(mismatch)?).map_err(|_| mismatch())?),
        Type::JSON | Type::JSONB => Box::new(
            serde_json::from_str::<serde_json::Value>(&as_text().ok_or_else(mismatch)?).map_err(|_| mismatch())?,
        ),
        Type::NUMERIC => Box::new(NumericText(match value {
            Literal::Text(text) => text.clone(),
            Literal::Integer(number) => number.to_string(),
            Literal::Float(number) => number.to_string(),
            _ => return Err(mismatch()),
        })),
        _ => return Err(mismatch()),
    })
}

/// The parents' keys as the array a `= ANY($n)` parameter takes.
fn key_array(keys: &[Literal], parameter_type: &Type) -> Result<Box<dyn ToSql + Sync + Send>, StatementError> {
    let integers =
        || keys.iter().filter_map(|key| if let Literal::Integer(number) = key { Some(*number) } else { None });
    let texts = || keys.iter().filter_map(|key| if let Literal::Text(text) = key { Some(text.clone()) } else { None });
    Ok(match *parameter_type {
        Type::INT4_ARRAY => Box::new(integers().filter_map(|number| i32::try_from(number).ok()).collect::<Vec<i32>>()),
        Type::INT8_ARRAY => Box::new(integers().collect::<Vec<i64>>()),
        Type::INT2_ARRAY => Box::new(integers().filter_map(|number| i16::try_from(number).ok()).collect::<Vec<i16>>()),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => Box::new(texts().collect::<Vec<String>>()),
        Type::UUID_ARRAY => {
            Box::new(texts().filter_map(|text| uuid::Uuid::parse_str(&text).ok()).collect::<Vec<uuid::Uuid>>())
        }
        ref other => {
            return Err(StatementError::Store(StoreError::Internal(format!(
                "cannot bind a key list to a PostgreSQL {other} parameter"
            ))));
        }
    })
}

/// One row in the neutral value form.
fn decode_row(row: &postgres::Row) -> Result<Vec<Value>, StatementError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let decode_error = |error: postgres::Error| {
            StatementError::Store(StoreError::Internal(format!("cannot read column {}: {error}", column.name())))
        };
        let value = match *column.type_() {
            Type::BOOL => row
                .try_get::<_, Option<bool>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |flag| Value::Integer(i64::from(flag))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |number| Value::Integer(number.into())),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |number| Value::Integer(number.into())),
            Type::INT8 => {
                row.try_get::<_, Option<i64>>(index).map_err(decode_error)?.map_or(Value::Null, Value::Integer)
            }
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |number| Value::Real(number.into())),
            Type::FLOAT8 => {
                row.try_get::<_, Option<f64>>(index).map_err(decode_error)?.map_or(Value::Null, Value::Real)
            }
            Type::DATE => {
                row.try_get::<_, Option<time::Date>>(index).map_err(decode_error)?.map_or(Value::Null, |date| {
                    let format = time::macros::format_description!("[year]-[month]-[day]");
                    Value::Text(date.format(&format).unwrap_or_default())
                })
            }
            Type::TIMESTAMPTZ => row
                .try_get::<_, Option<time::OffsetDateTime>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |instant| Value::Text(values::format_timestamp(instant))),
            Type::TIMESTAMP => row
                .try_get::<_, Option<time::PrimitiveDateTime>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |instant| Value::Text(values::format_timestamp(instant.assume_utc()))),
            Type::UUID => row
                .try_get::<_, Option<uuid::Uuid>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |key| Value::Text(key.to_string())),
            Type::JSON | Type::JSONB => row
                .try_get::<_, Option<serde_json::Value>>(index)
                .map_err(decode_error)?
                .map_or(Value::Null, |json| Value::Text(json.to_string())),
            _ => row.try_get::<_, Option<String>>(index).map_err(decode_error)?.map_or(Value::Null, Value::Text),
        };
        values.push(value);
    }
    Ok(values)
}

/// A driver error in storage terms: constraint violations by kind, lost connections as
/// unavailable, anything else internal.
pub(crate) fn failure(error: postgres::Error) -> StatementError {
    let Some(database) = error.as_db_error() else {
        if error.is_closed() || error.source().is_some_and(|source| source.is::<std::io::Error>()) {
            return StatementError::Store(StoreError::ConnectionLost(error.to_string()));
        }
        return StatementError::Store(StoreError::Internal(error.to_string()));
    };
    let code = database.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        // "Key (username)=(ada) already exists."
        let fields: Vec<String> = database
            .detail()
            .and_then(|detail| detail.strip_prefix("Key ("))
            .and_then(|rest| rest.split_once(")="))
            .map(|(columns, _)| columns.split(", ").map(str::to_owned).collect())
            .unwrap_or_default();
        return StatementError::Refused(Refusal::Duplicate {
            message: format!("a row with the same {} already exists", fields.join(", ")),
            fields,
        });
    }
    if *code == SqlState::FOREIGN_KEY_VIOLATION {
        return StatementError::Refused(Refusal::Constraint(
            "a reference points at a row that does not exist, or a row is still referenced".to_owned(),
        ));
    }
    if *code == SqlState::CHECK_VIOLATION {
        return StatementError::Refused(Refusal::Constraint(format!(
            "a value breaks the database rule {}",
            database.constraint().unwrap_or("(unnamed)")
        )));
    }
    if *code == SqlState::NOT_NULL_VIOLATION {
        return StatementError::Refused(Refusal::Constraint(format!(
            "a required value is missing ({})",
            database.column().unwrap_or("(unknown column)")
        )));
    }
    if *code == SqlState::SEQUENCE_GENERATOR_LIMIT_EXCEEDED {
        return StatementError::Refused(Refusal::KeysExhausted {
            message: format!("no new ids are left: {}", database.message()),
        });
    }
    if *code == SqlState::INVALID_REGULAR_EXPRESSION {
        // A `match` pattern the planner's engine took and PostgreSQL's does not.
        return StatementError::Store(StoreError::InvalidInput(format!(
            "PostgreSQL refuses the regular expression: {}",
            database.message()
        )));
    }
    if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
        return StatementError::Store(StoreError::Contention(database.message().to_owned()));
    }
    if *code == SqlState::QUERY_CANCELED {
        return StatementError::Store(StoreError::Unavailable(
            "the statement took longer than the statement timeout".to_owned(),
        ));
    }
    if matches!(code.code().get(..2), Some("08"))
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
    {
        return StatementError::Store(StoreError::ConnectionLost(database.message().to_owned()));
    }
    if matches!(code.code().get(..2), Some("57")) {
        return StatementError::Store(StoreError::Unavailable(database.message().to_owned()));
    }
    StatementError::Store(StoreError::Internal(format!("{}: {}", code.code(), database.message())))
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

/// A decimal in its text form, sent in PostgreSQL's binary NUMERIC format.
#[derive(Debug)]
struct NumericText(String);

impl ToSql for NumericText {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let text = self.0.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.chars().chain(fraction.chars()).all(|character| character.is_ascii_digit())
        {
            return Err(format!("'{text}' is not a decimal").into());
        }
        let whole = whole.trim_start_matches('0');
        // Base-10000 groups: the whole part is grouped from the right, the fraction from
        // the left, each padded to four digits.
        let whole_padding = (4 - whole.len() % 4) % 4;
        let whole_padded = format!("{}{whole}", "0".repeat(whole_padding));
        let fraction_padding = (4 - fraction.len() % 4) % 4;
        let fraction_padded = format!("{fraction}{}", "0".repeat(fraction_padding));
        let mut groups: Vec<i16> = Vec::new();
        for chunk in whole_padded.as_bytes().chunks(4).chain(fraction_padded.as_bytes().chunks(4)) {
            groups.push(std::str::from_utf8(chunk)?.parse()?);
        }
        let mut weight = i16::try_from(whole_padded.len() / 4)? - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        out.extend_from_slice(&i16::try_from(groups.len())?.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&(if negative && !groups.is_empty() { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&u16::try_from(fraction.len())?.to_be_bytes());
        for group in groups {
            out.extend_from_slice(&group.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(parameter_type: &Type) -> bool {
        *parameter_type == Type::NUMERIC
    }

    to_sql_checked!();
}
