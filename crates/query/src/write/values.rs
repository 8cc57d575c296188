//! One JSON value checked against one field, and turned into the stored literal.

use oxbase_schema::model::{Field, FieldType, Literal};
use oxbase_schema::values;
use serde_json::Value;

/// The literal stored for `value` in `field`, or what is wrong with it.
pub fn check_value(field: &Field, value: &Value) -> Result<Literal, String> {
    if value.is_null() {
        return if field.nullable { Ok(Literal::Null) } else { Err("must not be null".to_owned()) };
    }
    let literal = typed(&field.field_type, value)?;
    check_constraints(field, &literal)?;
    Ok(literal)
}

fn typed(field_type: &FieldType, value: &Value) -> Result<Literal, String> {
    let found = || match value {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::Null => "null",
    };
    match (field_type, value) {
        (FieldType::Integer, Value::Number(number)) => match number.as_i64() {
            Some(integer) if i32::try_from(integer).is_ok() => Ok(Literal::Integer(integer)),
            Some(_) => Err("is out of range for an integer (32-bit); use a bigint field".to_owned()),
            None => Err(format!("expected an integer, found {number}")),
        },
        (FieldType::Bigint, Value::Number(number)) => {
            number.as_i64().map(Literal::Integer).ok_or_else(|| format!("expected an integer, found {number}"))
        }
        (FieldType::Float, Value::Number(number)) => number
            .as_f64()
            .filter(|float| float.is_finite())
            .map(Literal::Float)
            .ok_or_else(|| "expected a number".to_owned()),
        (FieldType::Decimal, Value::Number(number)) => Ok(Literal::Text(number.to_string())),
        (FieldType::Decimal, Value::String(text)) => match text.parse::<f64>() {
            Ok(parsed) if parsed.is_finite() && !text.trim().is_empty() => Ok(Literal::Text(text.trim().to_owned())),
            _ => Err(format!("expected a decimal number, found '{text}'")),
        },
        (FieldType::Boolean, Value::Bool(flag)) => Ok(Literal::Boolean(*flag)),
        (FieldType::Text | FieldType::Enum(_), Value::String(text)) if text.contains('\0') => Err(NO_NUL.to_owned()),
        (FieldType::Text, Value::String(text)) => Ok(Literal::Text(text.clone())),
        (FieldType::Enum(allowed), Value::String(text)) => {
            if allowed.contains(text) {
                Ok(Literal::Text(text.clone()))
            } else {
                Err(format!("'{text}' is not one of {}", allowed.join(", ")))
            }
        }
        (FieldType::Date, Value::String(text)) => values::canonical_date(text).map(Literal::Text),
        (FieldType::Timestamp, Value::String(text)) => values::canonical_timestamp(text).map(Literal::Text),
        (FieldType::Uuid, Value::String(text)) if values::is_uuid(text) => Ok(Literal::Text(text.to_ascii_lowercase())),
        (FieldType::Uuid, Value::String(text)) => Err(format!("'{text}' is not a uuid")),
        (FieldType::Json, other) if holds_nul(other) => Err(NO_NUL.to_owned()),
        (FieldType::Json, other) => Ok(Literal::Text(other.to_string())),
        (expected, _) => Err(format!("expected {}, found {}", describe(expected), found())),
    }
}

/// PostgreSQL can store the NUL character neither in text nor in JSON, so neither engine
/// takes it: the same answer on both.
const NO_NUL: &str = "must not contain the NUL character (\\u0000)";

/// Whether a string or an object key anywhere in `value` holds the NUL character.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(object) => object.iter().any(|(key, item)| key.contains('\0') || holds_nul(item)),
        _ => false,
    }
}

fn describe(field_type: &FieldType) -> &'static str {
    match field_type {
        FieldType::Integer | FieldType::Bigint => "an integer",
        FieldType::Float | FieldType::Decimal => "a number",
        FieldType::Boolean => "true or false",
        FieldType::Text => "a string",
        FieldType::Enum(_) => "one of the enum's strings",
        FieldType::Date => "a date string (YYYY-MM-DD)",
        FieldType::Timestamp => "a timestamp string (RFC 3339)",
        FieldType::Json => "JSON",
        FieldType::Uuid => "a uuid string",
    }
}

fn check_constraints(field: &Field, literal: &Literal) -> Result<(), String> {
    let number = match literal {
        Literal::Integer(integer) => Some(*integer as f64),
        Literal::Float(float) => Some(*float),
        Literal::Text(text) if field.field_type == FieldType::Decimal => text.parse::<f64>().ok(),
        _ => None,
    };
    if let Some(number) = number {
        if let Some(min) = field.min
            && number < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = field.max
            && number > max
        {
            return Err(format!("must be at most {max}"));
        }
    }
    if let Literal::Text(text) = literal
        && field.field_type.is_textual()
    {
        let length = text.chars().count();
        if let Some(min_length) = field.min_length
            && length < min_length as usize
        {
            return Err(format!("must be at least {min_length} characters long"));
        }
        if let Some(max_length) = field.max_length
            && length > max_length as usize
        {
            return Err(format!("must be at most {max_length} characters long"));
        }
        if let Some(pattern) = &field.pattern_regex
            && !pattern.is_match(text)
        {
            return Err(format!("must match the pattern {}", pattern.as_str()));
        }
    }
    Ok(())
}
