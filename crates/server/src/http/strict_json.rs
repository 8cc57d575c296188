//! Request bodies parsed into `serde_json::Value` in one pass, refusing an object that
//! names a key twice (`{"name":"a","name":"b"}`), at any depth.
//!
//! RFC 8259 §4 leaves duplicate names' meaning to the parser, and serde_json keeps the last
//! value silently, so a client's mistake (or a smuggling attempt past a proxy that reads the
//! first one) would be written as if meant. The check rides on building the value: each
//! object insert already tells whether the key was there. The path of the duplicate is
//! put together only on the way out of a failed parse, so a valid body pays nothing for it.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body is not acceptable JSON.
#[derive(Debug)]
pub enum StrictJsonError {
    /// Not JSON at all (or trailing characters).
    Syntax(serde_json::Error),
    /// An object names `key` twice; `path` locates it (`[2].name`, `comments[0].body`).
    DuplicateKey { key: String, path: String, line: usize, column: usize },
}

/// Parses JSON text, refusing duplicate keys.
pub fn from_slice(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { duplicate: &duplicate }.deserialize(&mut deserializer).and_then(|value| {
        deserializer.end()?;
        Ok(value)
    });
    match (parsed, duplicate.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(error), Some(found)) => {
            let mut path = String::new();
            for segment in found.segments.iter().rev() {
                match segment {
                    Segment::Index(index) => path.push_str(&format!("[{index}]")),
                    Segment::Key(key) => {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(key);
                    }
                }
            }
            Err(StrictJsonError::DuplicateKey { key: found.key, path, line: error.line(), column: error.column() })
        }
        (Err(error), None) => Err(StrictJsonError::Syntax(error)),
    }
}

/// A duplicate found while parsing: the key, and the path to it from the innermost
/// segment outwards (each enclosing value adds its own as the error passes through it).
struct Duplicate {
    key: String,
    segments: Vec<Segment>,
}

enum Segment {
    Index(usize),
    Key(String),
}

/// Builds one value; reports a duplicate in `duplicate` and fails the parse.
#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    duplicate: &'a RefCell<Option<Duplicate>>,
}

impl ValueSeed<'_> {
    /// Adds `segment` to the path of a duplicate found below it.
    fn locate(&self, segment: impl FnOnce() -> Segment) {
        if let Some(found) = self.duplicate.borrow_mut().as_mut() {
            found.segments.push(segment());
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity, so this is always a number.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut values = Vec::with_capacity(sequence.size_hint().unwrap_or(0));
        loop {
            match sequence.next_element_seed(self) {
                Ok(Some(value)) => values.push(value),
                Ok(None) => return Ok(Value::Array(values)),
                Err(error) => {
                    let index = values.len();
                    self.locate(|| Segment::Index(index));
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let value = match entries.next_value_seed(self) {
                Ok(value) => value,
                Err(error) => {
                    self.locate(|| Segment::Key(key));
                    return Err(error);
                }
            };
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() =
                    Some(Duplicate { key: key.clone(), segments: vec![Segment::Key(key.clone())] });
                return Err(de::Error::custom(format_args!("duplicate key '{key}'")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> (String, String) {
        match from_slice(text.as_bytes()) {
            Err(StrictJsonError::DuplicateKey { key, path, .. }) => (key, path),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parses_like_serde_json_when_keys_are_unique() {
        let text = r#"[{"a":1,"b":[true,null,-2,1.5e3,18446744073709551615],"c":{"d":"\u00e9"}},{}]"#;
        assert_eq!(from_slice(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert!(matches!(from_slice(b"{\"a\":1} x"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(from_slice(b"{\"a\":"), Err(StrictJsonError::Syntax(_))));
    }

    #[test]
    fn names_a_duplicate_and_its_path_at_any_depth() {
        assert_eq!(duplicate(r#"{"name":"a","name":"b"}"#), ("name".into(), "name".into()));
        assert_eq!(duplicate(r#"[{},{},{"id":1,"name":"a","name":"b"}]"#), ("name".into(), "[2].name".into()));
        assert_eq!(
            duplicate(r#"{"title":"t","comments":[{"body":"x"},{"body":"y","user":{"id":1,"id":2}}]}"#),
            ("id".into(), "comments[1].user.id".into())
        );
        // Equal values are still a duplicate: the client said the same thing twice by mistake.
        assert_eq!(duplicate(r#"[[{"a":1,"a":1}]]"#), ("a".into(), "[0][0].a".into()));
        // The same key in sibling objects is not a duplicate.
        assert!(from_slice(br#"[{"a":1},{"a":2}]"#).is_ok());
    }
}
