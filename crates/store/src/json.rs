//! Writing JSON straight into a byte buffer, without an intermediate value tree; and
//! literals as the JSON values clients see.

use oxbase_schema::model::{FieldType, Literal};

/// Appends `text` as a JSON string.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    // serde_json's writer escapes exactly as JSON requires and allocates nothing here.
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

/// Appends an integer.
pub fn write_integer(out: &mut Vec<u8>, number: i64) {
    serde_json::to_writer(&mut *out, &number).expect("writing to a Vec cannot fail");
}

/// Appends a float; non-finite values, which JSON cannot hold, become null.
pub fn write_float(out: &mut Vec<u8>, number: f64) {
    if number.is_finite() {
        serde_json::to_writer(&mut *out, &number).expect("writing to a Vec cannot fail");
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends text that is already valid JSON (a json column, a decimal), or the text as a
/// string if it is not.
pub fn write_raw_or_string(out: &mut Vec<u8>, text: &str) {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        out.extend_from_slice(text.as_bytes());
    } else {
        write_string(out, text);
    }
}

/// A literal as the JSON a client sees for a field of `field_type`.
pub fn literal_json(value: &Literal, field_type: &FieldType) -> serde_json::Value {
    match value {
        Literal::Null => serde_json::Value::Null,
        Literal::Boolean(flag) => (*flag).into(),
        Literal::Integer(number) if *field_type == FieldType::Boolean => (*number != 0).into(),
        Literal::Integer(number) => (*number).into(),
        Literal::Float(number) => {
            serde_json::Number::from_f64(*number).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        Literal::Text(text) if matches!(field_type, FieldType::Json | FieldType::Decimal) => {
            serde_json::from_str(text).unwrap_or_else(|_| text.clone().into())
        }
        Literal::Text(text) => text.clone().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json_values() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"b\n");
        out.push(b',');
        write_float(&mut out, f64::NAN);
        out.push(b',');
        write_raw_or_string(&mut out, "{\"x\":1}");
        out.push(b',');
        write_raw_or_string(&mut out, "not json");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\n\",null,{\"x\":1},\"not json\"");
    }
}
