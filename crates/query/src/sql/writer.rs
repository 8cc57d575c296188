//! The SQL text builder shared by reads and writes: quoting, placeholders, conditions.

use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::{FieldType, Literal};

use crate::plan::Condition;
use crate::sql::Statement;

pub(crate) struct Writer {
    pub(crate) dialect: Dialect,
    pub(crate) sql: String,
    pub(crate) parameters: Vec<Literal>,
}

impl Writer {
    pub(crate) fn new(dialect: Dialect) -> Writer {
        Writer { dialect, sql: String::with_capacity(256), parameters: Vec::new() }
    }

    pub(crate) fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    pub(crate) fn column(&mut self, alias: &str, field: &str) {
        self.dialect.push_quoted(&mut self.sql, alias);
        self.sql.push('.');
        self.dialect.push_quoted(&mut self.sql, field);
    }

    /// A column as a comparable value: decimals are text on SQLite and compare as numbers
    /// only when cast.
    pub(crate) fn comparable(&mut self, alias: &str, field: &str, field_type: &FieldType) {
        let cast = self.dialect == Dialect::Sqlite && *field_type == FieldType::Decimal;
        if cast {
            self.push("CAST(");
        }
        self.column(alias, field);
        if cast {
            self.push(" AS REAL)");
        }
    }

    pub(crate) fn parameter(&mut self, value: Literal) {
        self.parameters.push(value);
        self.dialect.push_placeholder(&mut self.sql, self.parameters.len());
    }

    pub(crate) fn table(&mut self, table: &str, alias: &str) {
        self.dialect.push_quoted(&mut self.sql, table);
        self.push(" AS ");
        self.dialect.push_quoted(&mut self.sql, alias);
    }

    pub(crate) fn finish(self, key_list: Option<usize>) -> Statement {
        Statement { sql: self.sql, parameters: self.parameters, key_list }
    }
}

/// A condition on the columns of the table aliased `alias`.
pub(crate) fn write_condition(writer: &mut Writer, condition: &Condition, alias: &str) {
    match condition {
        Condition::And(parts) | Condition::Or(parts) => {
            if parts.is_empty() {
                writer.push(if matches!(condition, Condition::And(_)) { "1 = 1" } else { "1 = 0" });
                return;
            }
            let separator = if matches!(condition, Condition::And(_)) { " AND " } else { " OR " };
            writer.push("(");
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    writer.push(separator);
                }
                write_condition(writer, part, alias);
            }
            writer.push(")");
        }
        Condition::Not(inner) => {
            writer.push("NOT (");
            write_condition(writer, inner, alias);
            writer.push(")");
        }
        Condition::Compare { field, field_type, operator, value } => {
            writer.comparable(alias, field, field_type);
            writer.push(" ");
            writer.push(operator.sql());
            writer.push(" ");
            writer.parameter(value.clone());
        }
        Condition::In { field, field_type, values } => {
            if values.is_empty() {
                writer.push("1 = 0");
                return;
            }
            writer.comparable(alias, field, field_type);
            writer.push(" IN (");
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    writer.push(", ");
                }
                writer.parameter(value.clone());
            }
            writer.push(")");
        }
        Condition::Like { field, pattern, case_insensitive } => match (writer.dialect, case_insensitive) {
            (Dialect::Sqlite, true) => {
                writer.push("lower(");
                writer.column(alias, field);
                writer.push(") LIKE lower(");
                writer.parameter(Literal::Text(pattern.clone()));
                writer.push(")");
            }
            (_, false) => {
                writer.column(alias, field);
                writer.push(" LIKE ");
                writer.parameter(Literal::Text(pattern.clone()));
            }
            (Dialect::Postgres, true) => {
                writer.column(alias, field);
                writer.push(" ILIKE ");
                writer.parameter(Literal::Text(pattern.clone()));
            }
        },
        Condition::Match { field, pattern, case_insensitive } => match writer.dialect {
            Dialect::Postgres => {
                writer.column(alias, field);
                writer.push(if *case_insensitive { " ~* " } else { " ~ " });
                writer.parameter(Literal::Text(pattern.clone()));
            }
            // The function every SQLite connection of oxbase's registers (store/sqlite).
            Dialect::Sqlite => {
                writer.push("oxbase_regexp(");
                writer.parameter(Literal::Text(pattern.clone()));
                writer.push(", ");
                writer.column(alias, field);
                writer.push(if *case_insensitive { ", 1)" } else { ", 0)" });
            }
        },
        Condition::IsNull { field } => {
            writer.column(alias, field);
            writer.push(" IS NULL");
        }
        Condition::IsBoolean { field, value } => {
            writer.column(alias, field);
            writer.push(if *value { " IS TRUE" } else { " IS FALSE" });
        }
    }
}
