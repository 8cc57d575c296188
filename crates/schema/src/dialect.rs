//! SQL dialects: identifier quoting and literal rendering.
//!
//! Identifiers reach SQL only after [`crate::validate`] has checked them against
//! `[a-z_][a-z0-9_]*`, so quoting here is defence in depth, not the only guard.

use serde::{Deserialize, Serialize};

use crate::model::Literal;

/// A database engine oxbase speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `name` as a quoted identifier.
    pub fn quote(self, name: &str) -> String {
        let mut quoted = String::with_capacity(name.len() + 2);
        self.push_quoted(&mut quoted, name);
        quoted
    }

    /// Appends `name` as a quoted identifier.
    pub fn push_quoted(self, out: &mut String, name: &str) {
        out.push('"');
        for character in name.chars() {
            if character == '"' {
                out.push('"');
            }
            out.push(character);
        }
        out.push('"');
    }

    /// Appends the placeholder for the bind parameter with 1-based `index`.
    pub fn push_placeholder(self, out: &mut String, index: usize) {
        use std::fmt::Write;
        match self {
            Dialect::Sqlite => {
                let _ = write!(out, "?{index}");
            }
            Dialect::Postgres => {
                let _ = write!(out, "${index}");
            }
        }
    }

    /// A literal for DDL (defaults, check constraints, partial-index predicates), where
    /// bind parameters are not available.
    pub fn literal(self, value: &Literal) -> String {
        match value {
            Literal::Null => "NULL".to_owned(),
            Literal::Boolean(flag) => match (self, flag) {
                (Dialect::Sqlite, true) => "1".to_owned(),
                (Dialect::Sqlite, false) => "0".to_owned(),
                (Dialect::Postgres, true) => "TRUE".to_owned(),
                (Dialect::Postgres, false) => "FALSE".to_owned(),
            },
            Literal::Integer(number) => number.to_string(),
            Literal::Float(number) => format_float(*number),
            Literal::Text(text) => quote_string(text),
        }
    }
}

/// A float as SQL: always with a decimal point so engines keep it a real number.
pub fn format_float(number: f64) -> String {
    let text = number.to_string();
    if text.contains(['.', 'e', 'E']) { text } else { format!("{text}.0") }
}

/// `text` as a single-quoted SQL string literal.
pub fn quote_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for character in text.chars() {
        if character == '\'' {
            quoted.push('\'');
        }
        quoted.push(character);
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_strings() {
        assert_eq!(Dialect::Sqlite.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_string("it's"), "'it''s'");
        assert_eq!(Dialect::Postgres.literal(&Literal::Boolean(true)), "TRUE");
        assert_eq!(Dialect::Sqlite.literal(&Literal::Boolean(true)), "1");
        assert_eq!(Dialect::Sqlite.literal(&Literal::Float(2.0)), "2.0");
    }
}
