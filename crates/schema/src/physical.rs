//! The database objects a schema needs in one dialect: tables, columns, constraints, indexes.
//!
//! A [`PhysicalSchema`] is what migrations compare: the one applied last is stored (as JSON)
//! in the migration history, and the difference to the current file's becomes DDL.

use serde::{Deserialize, Serialize};

use crate::dialect::{Dialect, quote_string};
use crate::model::{DefaultValue, Field, FieldType, OnDelete, Resource, Schema};
use crate::values::database_name;

/// Every table of a schema in one dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalSchema {
    pub dialect: Dialect,
    pub tables: Vec<Table>,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub indexes: Vec<PhysicalIndex>,
}

/// One column with its constraints, already rendered for the dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub sql_type: String,
    pub primary_key: bool,
    /// An integer key the database assigns.
    pub identity: bool,
    pub not_null: bool,
    /// Default as SQL.
    pub default_sql: Option<String>,
    /// Whether the default is an expression (SQLite cannot `ADD COLUMN` with one).
    pub default_is_expression: bool,
    /// Named CHECK constraints: (name, condition).
    pub checks: Vec<(String, String)>,
    pub references: Option<ForeignKey>,
}

/// A foreign-key constraint on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub table: String,
    pub column: String,
    pub on_delete: OnDelete,
}

/// One index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalIndex {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// Partial-index condition as SQL.
    pub predicate: Option<String>,
}

/// The canonical text form oxbase stores timestamps in on SQLite: fixed width, UTC, so that
/// text order is time order.
pub const SQLITE_NOW_TIMESTAMP: &str =
    "(strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z')";

impl PhysicalSchema {
    /// The physical form of `schema` in `dialect`.
    pub fn of(schema: &Schema, dialect: Dialect) -> PhysicalSchema {
        let tables = schema.resources.values().map(|resource| table_of(schema, resource, dialect)).collect();
        PhysicalSchema { dialect, tables }
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|table| table.name == name)
    }
}

fn table_of(schema: &Schema, resource: &Resource, dialect: Dialect) -> Table {
    let columns = resource.fields.iter().map(|field| column_of(schema, resource, field, dialect)).collect();
    let indexes = resource
        .indexes
        .iter()
        .map(|index| PhysicalIndex {
            name: index.name.clone(),
            columns: index.columns.clone(),
            unique: index.unique,
            predicate: index.predicate.as_ref().map(|predicate| predicate.to_sql(dialect)),
        })
        .collect();
    Table { name: resource.table.clone(), columns, indexes }
}

fn column_of(schema: &Schema, resource: &Resource, field: &Field, dialect: Dialect) -> Column {
    let column = dialect.quote(&field.name);
    let constraint = |suffix: &str| database_name(format!("{}_{}_{suffix}", resource.table, field.name));
    let mut checks = Vec::new();
    let sql_type = sql_type(dialect, &field.field_type).to_owned();
    if dialect == Dialect::Sqlite {
        match &field.field_type {
            FieldType::Boolean => checks.push((constraint("check"), format!("{column} IN (0, 1)"))),
            FieldType::Date => checks.push((constraint("check"), format!("{column} = date({column})"))),
            FieldType::Timestamp => checks.push((
                constraint("check"),
                format!("{column} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'"),
            )),
            FieldType::Json => checks.push((constraint("check"), format!("json_valid({column})"))),
            FieldType::Uuid => checks.push((constraint("check"), format!("length({column}) = 36"))),
            FieldType::Integer | FieldType::Bigint => {
                checks.push((constraint("type_check"), format!("typeof({column}) IN ('integer', 'null')")))
            }
            _ => {}
        }
    }
    if let FieldType::Enum(values) = &field.field_type {
        let list: Vec<String> = values.iter().map(|value| quote_string(value)).collect();
        checks.push((constraint("enum_check"), format!("{column} IN ({})", list.join(", "))));
    }
    // SQLite keeps decimals as text, which never compares as a number: cast for the bounds.
    let bounded = match (dialect, &field.field_type) {
        (Dialect::Sqlite, FieldType::Decimal) => format!("CAST({column} AS REAL)"),
        _ => column.clone(),
    };
    if let Some(min) = field.min {
        checks.push((constraint("min_check"), format!("{bounded} >= {}", number(min))));
    }
    if let Some(max) = field.max {
        checks.push((constraint("max_check"), format!("{bounded} <= {}", number(max))));
    }
    let length = match dialect {
        Dialect::Sqlite => "length",
        Dialect::Postgres => "char_length",
    };
    if let Some(min_length) = field.min_length {
        checks.push((constraint("min_length_check"), format!("{length}({column}) >= {min_length}")));
    }
    if let Some(max_length) = field.max_length {
        checks.push((constraint("max_length_check"), format!("{length}({column}) <= {max_length}")));
    }
    if let (Dialect::Postgres, Some(pattern)) = (dialect, &field.pattern) {
        checks.push((constraint("pattern_check"), format!("{column} ~ {}", quote_string(pattern))));
    }
    let (default_sql, default_is_expression) = match &field.default {
        None => (None, false),
        Some(DefaultValue::Literal(literal)) => (Some(dialect.literal(literal)), false),
        Some(DefaultValue::Now) => match (dialect, &field.field_type) {
            (Dialect::Sqlite, FieldType::Date) => (Some("(date('now'))".to_owned()), true),
            (Dialect::Sqlite, _) => (Some(SQLITE_NOW_TIMESTAMP.to_owned()), true),
            (Dialect::Postgres, FieldType::Date) => (Some("CURRENT_DATE".to_owned()), true),
            (Dialect::Postgres, _) => (Some("now()".to_owned()), true),
        },
    };
    let references = field.reference.as_ref().map(|reference| ForeignKey {
        table: schema
            .resource(&reference.resource)
            .map_or_else(|| reference.resource.clone(), |target| target.table.clone()),
        column: reference.field.clone(),
        on_delete: reference.on_delete,
    });
    Column {
        name: field.name.clone(),
        sql_type,
        primary_key: field.primary_key,
        identity: field.primary_key && field.field_type == FieldType::Integer,
        not_null: !field.nullable,
        default_sql,
        default_is_expression,
        checks,
        references,
    }
}

/// The column type a field type takes in `dialect`.
pub fn sql_type(dialect: Dialect, field_type: &FieldType) -> &'static str {
    match (dialect, field_type) {
        (Dialect::Sqlite, FieldType::Integer | FieldType::Bigint) => "INTEGER",
        (Dialect::Sqlite, FieldType::Float) => "REAL",
        (Dialect::Sqlite, FieldType::Boolean) => "INTEGER",
        (Dialect::Sqlite, _) => "TEXT",
        (Dialect::Postgres, FieldType::Integer) => "INTEGER",
        (Dialect::Postgres, FieldType::Bigint) => "BIGINT",
        (Dialect::Postgres, FieldType::Float) => "DOUBLE PRECISION",
        (Dialect::Postgres, FieldType::Decimal) => "NUMERIC",
        (Dialect::Postgres, FieldType::Boolean) => "BOOLEAN",
        (Dialect::Postgres, FieldType::Text | FieldType::Enum(_)) => "TEXT",
        (Dialect::Postgres, FieldType::Date) => "DATE",
        (Dialect::Postgres, FieldType::Timestamp) => "TIMESTAMPTZ",
        (Dialect::Postgres, FieldType::Json) => "JSONB",
        (Dialect::Postgres, FieldType::Uuid) => "UUID",
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { value.to_string() }
}

impl Column {
    /// The column definition inside CREATE TABLE or ADD COLUMN.
    pub fn definition(&self, dialect: Dialect) -> String {
        let mut sql = format!("{} {}", dialect.quote(&self.name), self.sql_type);
        if self.primary_key {
            match (dialect, self.identity) {
                (Dialect::Sqlite, true) => sql.push_str(" PRIMARY KEY AUTOINCREMENT"),
                (Dialect::Postgres, true) => sql.push_str(" GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
                (_, false) => sql.push_str(" PRIMARY KEY NOT NULL"),
            }
        } else if self.not_null {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &self.default_sql {
            sql.push_str(" DEFAULT ");
            sql.push_str(default);
        }
        for (name, condition) in &self.checks {
            sql.push_str(&format!(" CONSTRAINT {} CHECK ({condition})", dialect.quote(name)));
        }
        if let Some(reference) = &self.references {
            sql.push_str(&format!(
                " REFERENCES {} ({}) ON DELETE {}",
                dialect.quote(&reference.table),
                dialect.quote(&reference.column),
                reference.on_delete.sql()
            ));
        }
        sql
    }
}

impl Table {
    /// CREATE TABLE for this table under `name` (the table's own name, or a temporary one
    /// during a rebuild).
    pub fn create_statement(&self, name: &str, dialect: Dialect) -> String {
        let columns: Vec<String> =
            self.columns.iter().map(|column| format!("  {}", column.definition(dialect))).collect();
        format!("CREATE TABLE {} (\n{}\n)", dialect.quote(name), columns.join(",\n"))
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

impl PhysicalIndex {
    /// CREATE INDEX for this index on `table`.
    pub fn create_statement(&self, table: &str, dialect: Dialect) -> String {
        let columns: Vec<String> = self.columns.iter().map(|column| dialect.quote(column)).collect();
        let mut sql = format!(
            "CREATE {}INDEX {} ON {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            dialect.quote(&self.name),
            dialect.quote(table),
            columns.join(", ")
        );
        if let Some(predicate) = &self.predicate {
            sql.push_str(" WHERE ");
            sql.push_str(predicate);
        }
        sql
    }
}
