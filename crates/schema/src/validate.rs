//! From schema file to validated model, collecting every error with its line and a hint.
//!
//! Validation never stops at the first problem: `oxbase check` reports all of them at once,
//! each naming the file, the line, the offending name and, where one helps, a fix.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;
use toml::Spanned;

use crate::file::{AccountsDef, FieldDef, IndexDef, PermissionDef, ResourceDef, RoleDef, SchemaFile};
use crate::model::{
    Accounts, Action, AutoTimestamp, DefaultValue, Field, FieldType, Index, Literal, OnDelete, Permission, Preset,
    PresetValue, Reference, Resource, Role, Schema,
};
use crate::predicate::{Predicate, UserValue};
use crate::values;

/// One problem found in a schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// Where in the schema: `resources.trackers.fields.priority`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is an obvious fix.
    pub hint: Option<String>,
}

/// Every problem found in one schema file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CheckErrors {
    /// The file as given on the command line.
    pub file: String,
    pub errors: Vec<CheckError>,
}

impl fmt::Display for CheckErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            match error.line {
                Some(line) => write!(formatter, "{}:{}: ", self.file, line)?,
                None => write!(formatter, "{}: ", self.file)?,
            }
            if !error.path.is_empty() {
                write!(formatter, "{}: ", error.path)?;
            }
            write!(formatter, "{}", error.message)?;
            if let Some(hint) = &error.hint {
                write!(formatter, " (hint: {hint})")?;
            }
        }
        Ok(())
    }
}

/// Reads and validates a schema file.
pub fn load_schema_file(path: &Path) -> Result<Schema, CheckErrors> {
    parse_schema(&read_schema_file(path)?, &path.display().to_string())
}

/// Reads a schema file's text; failing, an error naming the file.
pub fn read_schema_file(path: &Path) -> Result<String, CheckErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(source) => Ok(source),
        Err(error) => Err(CheckErrors {
            file,
            errors: vec![CheckError {
                line: None,
                path: String::new(),
                message: format!("cannot read the schema file: {error}"),
                hint: Some("pass the path of a TOML schema file with --schema".into()),
            }],
        }),
    }
}

/// Parses and validates schema source text; `file` names it in errors.
pub fn parse_schema(source: &str, file: &str) -> Result<Schema, CheckErrors> {
    let parsed: SchemaFile = match toml::from_str(source) {
        Ok(parsed) => parsed,
        Err(error) => {
            let line = error.span().map(|span| line_of(source, span.start));
            return Err(CheckErrors {
                file: file.to_owned(),
                errors: vec![CheckError {
                    line,
                    path: String::new(),
                    message: error.message().trim().to_owned(),
                    hint: Some("see docs/schema.md for every key a schema file may hold".into()),
                }],
            });
        }
    };
    let mut validator = Validator { source, errors: Vec::new() };
    let schema = validator.schema(parsed);
    if validator.errors.is_empty() {
        Ok(schema)
    } else {
        Err(CheckErrors { file: file.to_owned(), errors: validator.errors })
    }
}

/// 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())].iter().filter(|byte| **byte == b'\n').count() + 1
}

/// Query-string parameters of the read grammar; a column with one of these names could not
/// be filtered on.
const QUERY_PARAMETERS: &[&str] =
    &["select", "order", "limit", "offset", "or", "and", "not", "on_conflict", "columns", "after", "resource"];

/// SQL keywords refused as names, so that hand-written SQL against an oxbase database stays
/// easy on both engines.
const SQL_KEYWORDS: &[&str] = &[
    "all",
    "as",
    "asc",
    "between",
    "case",
    "check",
    "column",
    "constraint",
    "create",
    "default",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "false",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "like",
    "null",
    "on",
    "primary",
    "references",
    "table",
    "then",
    "to",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "when",
    "where",
    "with",
];

/// Path segments of `/api/v1/...` that are not resources.
const ROUTE_NAMES: &[&str] = &["rpc", "realtime", "openapi", "openapi.json", "docs"];

const MAX_IDENTIFIER_LENGTH: usize = 63;

struct Validator<'a> {
    source: &'a str,
    errors: Vec<CheckError>,
}

/// What a field declaration resolved to before references are checked.
struct PendingReference {
    resource: String,
    field_name: String,
    target: Spanned<String>,
    on_delete: OnDelete,
    reverse: Option<Spanned<String>>,
    line: usize,
}

impl Validator<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.source, span.start)
    }

    fn error(&mut self, line: usize, path: impl Into<String>, message: impl Into<String>, hint: Option<String>) {
        self.errors.push(CheckError { line: Some(line), path: path.into(), message: message.into(), hint });
    }

    /// Checks an identifier; `kind` says what it names in the message.
    fn identifier(&mut self, name: &str, kind: &str, line: usize, path: &str) -> bool {
        let valid_shape = !name.is_empty()
            && name.len() <= MAX_IDENTIFIER_LENGTH
            && name.chars().next().is_some_and(|first| first.is_ascii_lowercase() || first == '_')
            && name
                .chars()
                .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_');
        if !valid_shape {
            self.error(
                line,
                path,
                format!("invalid {kind} name '{name}'"),
                Some(format!(
                    "names are 1 to {MAX_IDENTIFIER_LENGTH} characters of a-z, 0-9 and _, starting with a letter or _"
                )),
            );
            return false;
        }
        let reserved_prefix = ["_oxbase", "sqlite_", "pg_"].into_iter().find(|prefix| name.starts_with(prefix));
        if let Some(prefix) = reserved_prefix {
            self.error(
                line,
                path,
                format!("{kind} name '{name}' is reserved"),
                Some(format!("names starting with '{prefix}' belong to oxbase or the database; choose another name")),
            );
            return false;
        }
        if SQL_KEYWORDS.contains(&name) {
            self.error(
                line,
                path,
                format!("{kind} name '{name}' is a reserved SQL word"),
                Some(format!("choose another name, e.g. '{name}_name' or a plural")),
            );
            return false;
        }
        true
    }

    fn schema(&mut self, file: SchemaFile) -> Schema {
        let resource_names: Vec<String> = file.resources.keys().cloned().collect();
        let mut resources = IndexMap::new();
        let mut pending_references = Vec::new();
        let mut tables: IndexMap<String, String> = IndexMap::new();
        for (name, definition) in file.resources {
            let line = self.line(definition.span());
            let resource = self.resource(&name, definition.into_inner(), line, &mut pending_references);
            if let Some(other) = tables.insert(resource.table.clone(), name.clone()) {
                self.error(
                    line,
                    format!("resources.{name}"),
                    format!("table '{}' is already used by resource '{other}'", resource.table),
                    Some("give one of them another `table`".into()),
                );
            }
            resources.insert(name, resource);
        }
        self.resolve_references(&mut resources, pending_references, &resource_names);
        for resource in resources.values_mut() {
            add_automatic_indexes(resource);
        }
        self.check_index_names(&resources);
        let roles = file
            .roles
            .into_iter()
            .map(|(name, definition)| {
                let line = self.line(definition.span());
                let role = self.role(&name, definition.into_inner(), line, &resources);
                (name, role)
            })
            .collect();
        let accounts = file.accounts.and_then(|accounts| {
            let line = self.line(accounts.span());
            self.accounts(accounts.into_inner(), line, &resources, &roles)
        });
        // A password hash is a secret: the audit trail never records it.
        if let Some(accounts) = &accounts
            && let Some(resource) = resources.get_mut(&accounts.resource)
            && !resource.audit_exclude.contains(&accounts.password_field)
        {
            resource.audit_exclude.push(accounts.password_field.clone());
        }
        Schema { resources, accounts, roles, realtime: file.realtime, rate_limits: file.rate_limits }
    }

    /// `[accounts]`: the resource and fields exist, with the types logging in needs.
    fn accounts(
        &mut self,
        definition: AccountsDef,
        line: usize,
        resources: &IndexMap<String, Resource>,
        roles: &IndexMap<String, Role>,
    ) -> Option<Accounts> {
        let path = "accounts";
        let resource_name = definition.resource.into_inner();
        let Some(resource) = resources.get(&resource_name) else {
            self.error(
                line,
                path,
                format!("accounts live in unknown resource '{resource_name}'"),
                Some(did_you_mean(&resource_name, resources.keys().map(String::as_str), "resources")),
            );
            return None;
        };
        let field = |this: &mut Self, given: Option<Spanned<String>>, default: &str, purpose: &str| {
            let name = given.map_or_else(|| default.to_owned(), Spanned::into_inner);
            match resource.field(&name) {
                Some(field) => Some(field.clone()),
                None => {
                    this.error(
                        line,
                        path,
                        format!("the {purpose} field '{name}' is not a field of '{resource_name}'"),
                        Some(did_you_mean(&name, resource.fields.iter().map(|field| field.name.as_str()), "fields")),
                    );
                    None
                }
            }
        };
        let username = field(self, definition.username_field, "username", "username");
        let role = field(self, definition.role_field, "role", "role");
        let password = field(self, definition.password_field, "password_hash", "password");
        let (username, role, password) = (username?, role?, password?);
        let mut valid = true;
        if !(username.unique && matches!(username.field_type, FieldType::Text)) {
            self.error(line, path, format!("the username field '{}' must be a unique text field", username.name), None);
            valid = false;
        }
        match &role.field_type {
            FieldType::Text => {}
            FieldType::Enum(values) => {
                for value in values.iter().filter(|value| !roles.is_empty() && !roles.contains_key(*value)) {
                    self.error(
                        line,
                        path,
                        format!("'{value}', a value of the role field '{}', is no declared role", role.name),
                        Some(format!("declare [roles.{value}] or remove the value")),
                    );
                    valid = false;
                }
            }
            _ => {
                self.error(line, path, format!("the role field '{}' must be text or an enum", role.name), None);
                valid = false;
            }
        }
        if !(matches!(password.field_type, FieldType::Text) && password.nullable) {
            self.error(
                line,
                path,
                format!("the password field '{}' must be a nullable text field", password.name),
                Some("accounts are created without a password and given one later".into()),
            );
            valid = false;
        }
        valid.then(|| Accounts {
            resource: resource_name.clone(),
            username_field: username.name,
            role_field: role.name,
            password_field: password.name,
        })
    }

    fn resource(
        &mut self,
        name: &str,
        definition: ResourceDef,
        line: usize,
        pending: &mut Vec<PendingReference>,
    ) -> Resource {
        let path = format!("resources.{name}");
        if self.identifier(name, "resource", line, &path) && ROUTE_NAMES.contains(&name) {
            self.error(
                line,
                &path,
                format!("resource name '{name}' is a reserved route"),
                Some("choose another resource name".into()),
            );
        }
        let table = match &definition.table {
            Some(table) => {
                let table_line = self.line(table.span());
                self.identifier(table.get_ref(), "table", table_line, &format!("{path}.table"));
                table.get_ref().clone()
            }
            None => name.to_owned(),
        };
        let primary_key_type = match &definition.primary_key {
            None => FieldType::Integer,
            Some(kind) => match kind.get_ref().as_str() {
                "integer" => FieldType::Integer,
                "uuid" => FieldType::Uuid,
                other => {
                    let kind_line = self.line(kind.span());
                    self.error(
                        kind_line,
                        format!("{path}.primary_key"),
                        format!("unknown primary key kind '{other}'"),
                        Some("use \"integer\" (an identity column, the default) or \"uuid\"".into()),
                    );
                    FieldType::Integer
                }
            },
        };
        let mut fields = vec![Field {
            name: "id".into(),
            field_type: primary_key_type,
            description: Some("primary key".into()),
            primary_key: true,
            nullable: false,
            default: None,
            unique: true,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
            pattern_regex: None,
            reference: None,
            auto: None,
            read_only: false,
        }];
        for (field_name, field_definition) in definition.fields {
            let field_line = self.line(field_definition.span());
            if field_name == "id" {
                self.error(
                    field_line,
                    format!("{path}.fields.id"),
                    "'id' is the primary key and is declared by oxbase",
                    Some("remove it; set `primary_key = \"uuid\"` on the resource for uuid keys".into()),
                );
                continue;
            }
            if let Some(field) = self.field(name, &field_name, field_definition.into_inner(), field_line, pending) {
                fields.push(field);
            }
        }
        let mut indexes = Vec::new();
        for index_definition in definition.indexes {
            let index_line = self.line(index_definition.span());
            if let Some(index) = self.index(name, &table, &fields, index_definition.into_inner(), index_line) {
                indexes.push(index);
            }
        }
        let mut audit_exclude = Vec::new();
        for excluded in &definition.audit_exclude {
            let excluded_line = self.line(excluded.span());
            let field_name = excluded.get_ref();
            if fields.iter().any(|field| field.name == *field_name) {
                if !audit_exclude.contains(field_name) {
                    audit_exclude.push(field_name.clone());
                }
            } else {
                self.error(
                    excluded_line,
                    format!("{path}.audit_exclude"),
                    format!("unknown field '{field_name}' in audit_exclude"),
                    Some(did_you_mean(field_name, fields.iter().map(|field| field.name.as_str()), "fields")),
                );
            }
        }
        let (cache_enabled, cache_ttl_seconds) = match definition.cache {
            Some(cache) => (cache.enabled.unwrap_or(true), cache.ttl_seconds),
            None => (true, None),
        };
        Resource {
            name: name.to_owned(),
            table,
            description: definition.description,
            fields,
            indexes,
            allow_unfiltered_writes: definition.allow_unfiltered_writes,
            cache_enabled,
            cache_ttl_seconds,
            realtime: definition.realtime.unwrap_or(true),
            audit: definition.audit.unwrap_or(true),
            audit_exclude,
        }
    }

    fn field(
        &mut self,
        resource: &str,
        name: &str,
        definition: FieldDef,
        line: usize,
        pending: &mut Vec<PendingReference>,
    ) -> Option<Field> {
        let path = format!("resources.{resource}.fields.{name}");
        let mut valid = self.identifier(name, "field", line, &path);
        if QUERY_PARAMETERS.contains(&name) {
            self.error(
                line,
                &path,
                format!("field name '{name}' is a reserved query parameter"),
                Some(format!("a column named '{name}' could not be filtered on; choose another name")),
            );
            valid = false;
        }
        let type_name = definition.field_type.get_ref().as_str();
        let field_type = match type_name {
            "integer" => FieldType::Integer,
            "bigint" => FieldType::Bigint,
            "float" => FieldType::Float,
            "decimal" => FieldType::Decimal,
            "boolean" => FieldType::Boolean,
            "text" => FieldType::Text,
            "date" => FieldType::Date,
            "timestamp" => FieldType::Timestamp,
            "json" => FieldType::Json,
            "uuid" => FieldType::Uuid,
            "enum" => match &definition.values {
                Some(values) if !values.is_empty() => {
                    let mut seen = Vec::new();
                    for value in values {
                        if seen.contains(value) {
                            self.error(line, &path, format!("enum value '{value}' is listed twice"), None);
                        }
                        if value.is_empty() {
                            self.error(line, &path, "enum values must not be empty strings", None);
                        }
                        seen.push(value.clone());
                    }
                    FieldType::Enum(values.clone())
                }
                _ => {
                    self.error(
                        line,
                        &path,
                        "an enum field needs a non-empty `values` list",
                        Some("e.g. values = [\"open\", \"closed\"]".into()),
                    );
                    return None;
                }
            },
            unknown => {
                let type_line = self.line(definition.field_type.span());
                self.error(
                    type_line,
                    &path,
                    format!("unknown type '{unknown}'"),
                    Some(did_you_mean(unknown, FieldType::NAMES.iter().copied(), "types")),
                );
                return None;
            }
        };
        if definition.values.is_some() && !matches!(field_type, FieldType::Enum(_)) {
            self.error(
                line,
                &path,
                "`values` is only for enum fields",
                Some(format!("set type = \"enum\" or remove `values` from this {type_name} field")),
            );
            valid = false;
        }
        let min = self.bound(&definition.min, "min", &field_type, &path);
        let max = self.bound(&definition.max, "max", &field_type, &path);
        if let (Some(low), Some(high)) = (min, max)
            && low > high
        {
            self.error(line, &path, format!("min ({low}) is greater than max ({high})"), None);
        }
        if (definition.min_length.is_some() || definition.max_length.is_some()) && !field_type.is_textual() {
            self.error(
                line,
                &path,
                format!("min_length/max_length apply to text fields, not {type_name}"),
                Some("use min/max for numbers".into()),
            );
        }
        if let (Some(low), Some(high)) = (definition.min_length, definition.max_length)
            && low > high
        {
            self.error(line, &path, format!("min_length ({low}) is greater than max_length ({high})"), None);
        }
        let (pattern, pattern_regex) = match &definition.pattern {
            None => (None, None),
            Some(pattern) => {
                let pattern_line = self.line(pattern.span());
                let mut compiled = None;
                if !field_type.is_textual() {
                    self.error(pattern_line, &path, format!("`pattern` applies to text fields, not {type_name}"), None);
                } else {
                    match regex::Regex::new(pattern.get_ref()) {
                        Ok(regex) => compiled = Some(regex),
                        Err(error) => {
                            let first_line = error.to_string().lines().last().unwrap_or_default().trim().to_owned();
                            self.error(
                                pattern_line,
                                &path,
                                format!("invalid pattern '{}': {first_line}", pattern.get_ref()),
                                Some("patterns use Rust regex syntax (like PCRE without look-around)".into()),
                            );
                        }
                    }
                }
                (Some(pattern.get_ref().clone()), compiled)
            }
        };
        let auto = match &definition.auto {
            None => None,
            Some(auto) => {
                let auto_line = self.line(auto.span());
                let value = match auto.get_ref().as_str() {
                    "created" => Some(AutoTimestamp::Created),
                    "updated" => Some(AutoTimestamp::Updated),
                    other => {
                        self.error(
                            auto_line,
                            &path,
                            format!("unknown auto value '{other}'"),
                            Some("use \"created\" or \"updated\"".into()),
                        );
                        None
                    }
                };
                if field_type != FieldType::Timestamp {
                    self.error(auto_line, &path, format!("`auto` needs a timestamp field, not {type_name}"), None);
                }
                if definition.default.is_some() {
                    self.error(
                        auto_line,
                        &path,
                        "a field cannot have both `auto` and `default`",
                        Some("oxbase sets auto fields itself; remove `default`".into()),
                    );
                }
                value
            }
        };
        let default = definition
            .default
            .as_ref()
            .and_then(|default| self.default_value(default, &field_type, definition.nullable, &path));
        let reference = match definition.references {
            None => {
                if let Some(on_delete) = &definition.on_delete {
                    let on_delete_line = self.line(on_delete.span());
                    self.error(on_delete_line, &path, "`on_delete` needs `references`", None);
                }
                if let Some(reverse) = &definition.reverse {
                    let reverse_line = self.line(reverse.span());
                    self.error(reverse_line, &path, "`reverse` needs `references`", None);
                }
                None
            }
            Some(target) => {
                let on_delete = match &definition.on_delete {
                    None => {
                        if definition.nullable {
                            OnDelete::SetNull
                        } else {
                            OnDelete::Restrict
                        }
                    }
                    Some(on_delete) => {
                        let on_delete_line = self.line(on_delete.span());
                        match on_delete.get_ref().as_str() {
                            "restrict" => OnDelete::Restrict,
                            "cascade" => OnDelete::Cascade,
                            "set_null" => {
                                if !definition.nullable {
                                    self.error(
                                        on_delete_line,
                                        &path,
                                        "on_delete = \"set_null\" needs a nullable field",
                                        Some("add `nullable = true` or use \"restrict\" or \"cascade\"".into()),
                                    );
                                }
                                OnDelete::SetNull
                            }
                            "no_action" => OnDelete::NoAction,
                            other => {
                                self.error(
                                    on_delete_line,
                                    &path,
                                    format!("unknown on_delete action '{other}'"),
                                    Some("use \"restrict\", \"cascade\", \"set_null\" or \"no_action\"".into()),
                                );
                                OnDelete::Restrict
                            }
                        }
                    }
                };
                pending.push(PendingReference {
                    resource: resource.to_owned(),
                    field_name: name.to_owned(),
                    target,
                    on_delete,
                    reverse: definition.reverse,
                    line,
                });
                None
            }
        };
        valid.then(|| Field {
            name: name.to_owned(),
            field_type,
            description: definition.description,
            primary_key: false,
            nullable: definition.nullable,
            default,
            unique: definition.unique,
            min,
            max,
            min_length: definition.min_length,
            max_length: definition.max_length,
            pattern,
            pattern_regex,
            reference,
            auto,
            read_only: false,
        })
    }

    fn bound(
        &mut self,
        value: &Option<Spanned<toml::Value>>,
        key: &str,
        field_type: &FieldType,
        path: &str,
    ) -> Option<f64> {
        let value = value.as_ref()?;
        let line = self.line(value.span());
        if !field_type.is_numeric() {
            self.error(
                line,
                path,
                format!("`{key}` applies to number fields, not {}", field_type.name()),
                Some("use min_length/max_length for text".into()),
            );
            return None;
        }
        match value.get_ref() {
            toml::Value::Integer(number) => Some(*number as f64),
            toml::Value::Float(number) if matches!(field_type, FieldType::Float | FieldType::Decimal) => Some(*number),
            other => {
                self.error(
                    line,
                    path,
                    format!("`{key}` must be a number of the field's type, found {}", other.type_str()),
                    None,
                );
                None
            }
        }
    }

    fn default_value(
        &mut self,
        default: &Spanned<toml::Value>,
        field_type: &FieldType,
        nullable: bool,
        path: &str,
    ) -> Option<DefaultValue> {
        let line = self.line(default.span());
        if matches!(default.get_ref(), toml::Value::String(text) if text == "now") {
            if matches!(field_type, FieldType::Date | FieldType::Timestamp) {
                return Some(DefaultValue::Now);
            }
            if !field_type.is_textual() {
                self.error(
                    line,
                    path,
                    format!("default \"now\" needs a date or timestamp field, not {}", field_type.name()),
                    None,
                );
                return None;
            }
        }
        match literal_for_type(default.get_ref(), field_type) {
            Ok(Literal::Null) if !nullable => {
                self.error(line, path, "a null default needs a nullable field", None);
                None
            }
            Ok(literal) => Some(DefaultValue::Literal(literal)),
            Err(message) => {
                self.error(line, path, format!("invalid default: {message}"), None);
                None
            }
        }
    }

    fn index(
        &mut self,
        resource: &str,
        table: &str,
        fields: &[Field],
        definition: IndexDef,
        line: usize,
    ) -> Option<Index> {
        let path = format!("resources.{resource}.indexes");
        if definition.columns.is_empty() {
            self.error(line, &path, "an index needs at least one column", None);
            return None;
        }
        let mut valid = true;
        for column in &definition.columns {
            if !fields.iter().any(|field| field.name == *column.get_ref()) {
                let column_line = self.line(column.span());
                self.error(
                    column_line,
                    &path,
                    format!("index on unknown column '{}'", column.get_ref()),
                    Some(did_you_mean(column.get_ref(), fields.iter().map(|field| field.name.as_str()), "fields")),
                );
                valid = false;
            }
        }
        let predicate = match &definition.predicate {
            None => None,
            Some(text) => {
                let predicate = self.predicate(
                    text,
                    fields,
                    &path,
                    "partial-index predicate",
                    "write e.g. where = \"status <> 'done' and priority >= 2\"",
                    false,
                );
                valid &= predicate.is_some();
                predicate
            }
        };
        let columns: Vec<String> = definition.columns.iter().map(|column| column.get_ref().clone()).collect();
        let name = match definition.name {
            Some(name) => {
                if !self.identifier(&name, "index", line, &path) {
                    valid = false;
                }
                name
            }
            None => values::database_name(format!(
                "{table}_{}_{}",
                columns.join("_"),
                if definition.unique { "key" } else { "idx" }
            )),
        };
        valid.then_some(Index { name, columns, unique: definition.unique, predicate })
    }

    fn resolve_references(
        &mut self,
        resources: &mut IndexMap<String, Resource>,
        pending: Vec<PendingReference>,
        resource_names: &[String],
    ) {
        for reference in pending {
            let path = format!("resources.{}.fields.{}", reference.resource, reference.field_name);
            let target_line = self.line(reference.target.span());
            let text = reference.target.get_ref();
            let (target_resource, target_field) = match text.split_once('.') {
                Some((resource, field)) => (resource.to_owned(), field.to_owned()),
                None => (text.clone(), "id".to_owned()),
            };
            let Some(target) = resources.get(&target_resource) else {
                self.error(
                    target_line,
                    &path,
                    format!("references unknown resource '{target_resource}'"),
                    Some(did_you_mean(&target_resource, resource_names.iter().map(String::as_str), "resources")),
                );
                continue;
            };
            let Some(target_key) = target.field(&target_field) else {
                self.error(
                    target_line,
                    &path,
                    format!("references unknown field '{target_field}' of resource '{target_resource}'"),
                    Some(did_you_mean(&target_field, target.fields.iter().map(|field| field.name.as_str()), "fields")),
                );
                continue;
            };
            if !target_key.unique {
                self.error(
                    target_line,
                    &path,
                    format!("references '{target_resource}.{target_field}', which is not unique"),
                    Some("reference the primary key or a field with unique = true".into()),
                );
                continue;
            }
            let target_type = target_key.field_type.clone();
            let reverse_name = match &reference.reverse {
                Some(reverse) => {
                    let reverse_line = self.line(reverse.span());
                    self.identifier(reverse.get_ref(), "relation", reverse_line, &path);
                    reverse.get_ref().clone()
                }
                None => reference.resource.clone(),
            };
            let Some(field) = resources
                .get_mut(&reference.resource)
                .and_then(|resource| resource.fields.iter_mut().find(|field| field.name == reference.field_name))
            else {
                continue;
            };
            let compatible = field.field_type == target_type
                || (matches!(field.field_type, FieldType::Integer | FieldType::Bigint)
                    && matches!(target_type, FieldType::Integer | FieldType::Bigint));
            if !compatible {
                let field_type_name = field.field_type.name();
                self.error(
                    reference.line,
                    &path,
                    format!(
                        "is {field_type_name} but references '{target_resource}.{target_field}' of type {}",
                        target_type.name()
                    ),
                    Some(format!("declare it as type = \"{}\"", target_type.name())),
                );
                continue;
            }
            field.reference = Some(Reference {
                resource: target_resource,
                field: target_field,
                on_delete: reference.on_delete,
                reverse_name,
            });
        }
        self.check_relation_names(resources);
    }

    /// Embedding names must be unambiguous from each resource: no relation may share a
    /// field's name, and two one-to-many relations may not share a name.
    fn check_relation_names(&mut self, resources: &IndexMap<String, Resource>) {
        for resource in resources.values() {
            let mut reverse_names: Vec<(String, String)> = Vec::new();
            for other in resources.values() {
                for field in &other.fields {
                    let Some(reference) = &field.reference else {
                        continue;
                    };
                    if reference.resource != resource.name {
                        continue;
                    }
                    let line = self.field_line(&other.name, &field.name);
                    let path = format!("resources.{}.fields.{}", other.name, field.name);
                    if resource.field(&reference.reverse_name).is_some() {
                        self.error(
                            line,
                            &path,
                            format!(
                                "relation name '{}' clashes with a field of '{}'",
                                reference.reverse_name, resource.name
                            ),
                            Some("set `reverse` to another name".into()),
                        );
                    }
                    if let Some((_, first)) = reverse_names.iter().find(|(name, _)| *name == reference.reverse_name) {
                        self.error(
                            line,
                            &path,
                            format!(
                                "'{}' already has a relation named '{}' (from {first})",
                                resource.name, reference.reverse_name
                            ),
                            Some("set `reverse` on one of the two references to tell them apart".into()),
                        );
                    }
                    reverse_names.push((reference.reverse_name.clone(), format!("{}.{}", other.name, field.name)));
                }
            }
        }
    }

    /// Best-effort line of a field declaration, for errors found after spans are gone.
    fn field_line(&self, resource: &str, field: &str) -> usize {
        let mut in_resource = false;
        for (index, line) in self.source.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_resource = trimmed.starts_with(&format!("[resources.{resource}"));
            }
            let key = trimmed.split('=').next().unwrap_or_default().trim();
            if in_resource && (key == field || key == format!("fields.{field}")) {
                return index + 1;
            }
        }
        1
    }

    fn check_index_names(&mut self, resources: &IndexMap<String, Resource>) {
        let mut seen: IndexMap<&str, &str> = IndexMap::new();
        for resource in resources.values() {
            for index in &resource.indexes {
                if let Some(first) = seen.insert(&index.name, &resource.name) {
                    let line = self.field_line(&resource.name, "indexes");
                    self.error(
                        line,
                        format!("resources.{}.indexes", resource.name),
                        format!("index name '{}' is used twice (also on '{first}')", index.name),
                        Some("give one of them another `name`".into()),
                    );
                }
            }
        }
    }

    /// Parses `text` as a predicate over `fields`, with its literals in canonical form;
    /// `None` (and errors recorded) when it does not parse or names what is not there.
    /// `what` names it in messages; `$user…` values are allowed only with `caller_values`.
    fn predicate(
        &mut self,
        text: &Spanned<String>,
        fields: &[Field],
        path: &str,
        what: &str,
        example: &str,
        caller_values: bool,
    ) -> Option<Predicate> {
        let line = self.line(text.span());
        let mut predicate = match Predicate::parse(text.get_ref()) {
            Ok(predicate) => predicate,
            Err(error) => {
                self.error(line, path, format!("bad {what} '{}': {error}", text.get_ref()), Some(example.to_owned()));
                return None;
            }
        };
        let mut problems = Vec::new();
        if !caller_values && !predicate.user_values().is_empty() {
            problems.push((
                format!("a {what} cannot read the caller's values ($user…)"),
                Some("$user belongs in role rules".to_owned()),
            ));
        }
        predicate.for_each_operand_mut(&mut |column, literal| {
            let Some(field) = fields.iter().find(|field| field.name == column) else {
                problems.push((
                    format!("{what} names unknown column '{column}'"),
                    Some(did_you_mean(column, fields.iter().map(|field| field.name.as_str()), "fields")),
                ));
                return;
            };
            if let Some(literal) = literal {
                match check_literal(literal, &field.field_type) {
                    Ok(canonical) => *literal = canonical,
                    Err(message) => {
                        problems.push((format!("{what} compares '{column}' with a wrong value: {message}"), None))
                    }
                }
            }
        });
        let valid = problems.is_empty();
        for (message, hint) in problems {
            self.error(line, path, message, hint);
        }
        valid.then_some(predicate)
    }

    fn role(&mut self, name: &str, definition: RoleDef, line: usize, resources: &IndexMap<String, Resource>) -> Role {
        let path = format!("roles.{name}");
        self.identifier(name, "role", line, &path);
        let permissions = definition
            .permissions
            .into_iter()
            .map(|permission| {
                let permission_line = self.line(permission.span());
                self.permission(permission.into_inner(), permission_line, &path, resources)
            })
            .collect();
        Role { name: name.to_owned(), description: definition.description, permissions }
    }

    fn permission(
        &mut self,
        definition: PermissionDef,
        line: usize,
        path: &str,
        resources: &IndexMap<String, Resource>,
    ) -> Permission {
        let resource_name = definition.resource.get_ref().clone();
        let resource = if resource_name == "*" {
            None
        } else {
            if !resources.contains_key(&resource_name) {
                self.error(
                    line,
                    path,
                    format!("permission for unknown resource '{resource_name}'"),
                    Some(did_you_mean(&resource_name, resources.keys().map(String::as_str), "resources")),
                );
            }
            Some(resource_name.clone())
        };
        let mut actions = Vec::new();
        for action in &definition.actions {
            match action.get_ref().as_str() {
                "read" => actions.push(Action::Read),
                "create" => actions.push(Action::Create),
                "update" => actions.push(Action::Update),
                "delete" => actions.push(Action::Delete),
                "*" => actions.extend([Action::Read, Action::Create, Action::Update, Action::Delete]),
                other => self.error(
                    line,
                    path,
                    format!("unknown action '{other}'"),
                    Some("use read, create, update, delete or *".into()),
                ),
            }
        }
        let target = resources.get(&resource_name);
        let named = |this: &mut Self, list: Vec<Spanned<String>>, what: &str| -> Vec<String> {
            list.into_iter()
                .map(|field| {
                    let field_line = this.line(field.span());
                    let field = field.into_inner();
                    match target {
                        None if resource.is_none() => this.error(
                            field_line,
                            path,
                            format!("{what} '{field}' on every resource ('*')"),
                            Some("name the resource whose field it is".into()),
                        ),
                        Some(target) if target.field(&field).is_none() => this.error(
                            field_line,
                            path,
                            format!("{what} names unknown field '{field}' of '{resource_name}'"),
                            Some(did_you_mean(&field, target.fields.iter().map(|field| field.name.as_str()), "fields")),
                        ),
                        _ => {}
                    }
                    field
                })
                .collect()
        };
        let fields = definition.fields.map(|fields| named(self, fields, "visible field"));
        let hidden = named(self, definition.hidden, "hidden field");
        let read_only = named(self, definition.read_only, "read-only field");
        let key = target.map(|target| target.primary_key().name.clone());
        if let Some(key) = &key
            && hidden.contains(key)
        {
            self.error(
                line,
                path,
                format!("the key '{key}' cannot be hidden"),
                Some("hide the resource by granting no read".into()),
            );
        }
        let rule = |this: &mut Self, text: Option<Spanned<String>>, what: &str| -> Option<Predicate> {
            let text = text?;
            if text.get_ref().trim().is_empty() {
                this.error(line, path, format!("an empty {what}"), Some("remove it to apply to every row".to_owned()));
                return None;
            }
            match target {
                Some(target) => this.predicate(
                    &text,
                    &target.fields,
                    path,
                    what,
                    "write e.g. filter = \"owner_id = $user.id or status = 'public'\"",
                    true,
                ),
                None => {
                    if resource.is_none() {
                        this.error(
                            line,
                            path,
                            format!("a {what} on every resource ('*')"),
                            Some("rules name fields: give the resource".into()),
                        );
                    }
                    None
                }
            }
        };
        let filter = rule(self, definition.filter, "row filter");
        let check = rule(self, definition.check, "check rule");
        let mut presets = Vec::new();
        for (field_name, value) in definition.preset {
            let value_line = self.line(value.span());
            let value = value.into_inner();
            let Some(target) = target else {
                if resource.is_none() {
                    self.error(
                        value_line,
                        path,
                        format!("a preset of '{field_name}' on every resource ('*')"),
                        Some("name the resource".into()),
                    );
                }
                continue;
            };
            let Some(field) = target.field(&field_name) else {
                self.error(
                    value_line,
                    path,
                    format!("preset of unknown field '{field_name}' of '{resource_name}'"),
                    Some(did_you_mean(&field_name, target.fields.iter().map(|field| field.name.as_str()), "fields")),
                );
                continue;
            };
            let preset = match &value {
                toml::Value::String(text) if text.starts_with('$') => match UserValue::parse(text) {
                    Some(user) => Some(PresetValue::User(user)),
                    None => {
                        self.error(
                            value_line,
                            path,
                            format!("unknown caller value '{text}' in the preset of '{field_name}'"),
                            Some("use $user.id, $user.role or $user.claims.NAME".into()),
                        );
                        None
                    }
                },
                other => match literal_for_type(other, &field.field_type) {
                    Ok(literal) => Some(PresetValue::Literal(literal)),
                    Err(message) => {
                        self.error(value_line, path, format!("preset of '{field_name}': {message}"), None);
                        None
                    }
                },
            };
            if let Some(value) = preset {
                presets.push(Preset { field: field_name, value });
            }
        }
        // A create that cannot give a required field a value would fail in the database,
        // with an error naming the field the role may not see.
        if let Some(target) = target
            && actions.contains(&Action::Create)
        {
            for field in target.fields.iter().filter(|field| field.required_on_create()) {
                let shown =
                    fields.as_ref().is_none_or(|fields| fields.contains(&field.name)) && !hidden.contains(&field.name);
                let preset = presets.iter().any(|preset| preset.field == field.name);
                if !shown && !preset {
                    self.error(
                        line,
                        path,
                        format!(
                            "the role may create {} rows but does not see their required field '{}', so no create could succeed",
                            target.name, field.name
                        ),
                        Some("show it, preset it, or give the field a default".into()),
                    );
                }
            }
        }
        Permission { resource, actions, filter, fields, hidden, read_only, presets, check }
    }
}

/// Adds a unique index per unique field and an index per foreign key that no declared index
/// already starts with.
fn add_automatic_indexes(resource: &mut Resource) {
    let mut automatic = Vec::new();
    for field in resource.fields.iter().skip(1) {
        // A unique field needs a unique index on exactly that column; a foreign key is served
        // by any full index that starts with it.
        let covered = |indexes: &[Index]| {
            indexes.iter().any(|index| {
                index.predicate.is_none()
                    && if field.unique {
                        index.unique && index.columns == [field.name.clone()]
                    } else {
                        index.columns.first() == Some(&field.name)
                    }
            })
        };
        let automatic_index = |suffix: &str, unique: bool| Index {
            name: values::database_name(format!("{}_{}_{suffix}", resource.table, field.name)),
            columns: vec![field.name.clone()],
            unique,
            predicate: None,
        };
        if covered(&resource.indexes) || covered(&automatic) {
            continue;
        }
        if field.unique {
            automatic.push(automatic_index("key", true));
        } else if field.reference.is_some() {
            automatic.push(automatic_index("idx", false));
        }
    }
    resource.indexes.extend(automatic);
}

/// A TOML value as a literal of `field_type`, or why it cannot be one.
fn literal_for_type(value: &toml::Value, field_type: &FieldType) -> Result<Literal, String> {
    let literal = match value {
        toml::Value::String(text) => Literal::Text(text.clone()),
        toml::Value::Integer(number) => Literal::Integer(*number),
        toml::Value::Float(number) => Literal::Float(*number),
        toml::Value::Boolean(flag) => Literal::Boolean(*flag),
        toml::Value::Datetime(datetime) => Literal::Text(datetime.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) if *field_type == FieldType::Json => {
            Literal::Text(serde_json::to_string(value).map_err(|error| error.to_string())?)
        }
        other => {
            return Err(format!("a {} cannot be a {} value", other.type_str(), field_type.name()));
        }
    };
    check_literal(&literal, field_type)
}

/// A literal in its canonical form for `field_type` (dates, timestamps, uuids), or why it
/// does not fit the type.
fn check_literal(literal: &Literal, field_type: &FieldType) -> Result<Literal, String> {
    match (literal, field_type) {
        (Literal::Null, _) => Ok(Literal::Null),
        (Literal::Integer(_), FieldType::Integer | FieldType::Bigint | FieldType::Float | FieldType::Decimal)
        | (Literal::Float(_), FieldType::Float | FieldType::Decimal)
        | (Literal::Boolean(_), FieldType::Boolean)
        | (Literal::Text(_), FieldType::Text | FieldType::Json) => Ok(literal.clone()),
        (Literal::Text(text), FieldType::Enum(values)) => {
            if values.contains(text) {
                Ok(literal.clone())
            } else {
                Err(format!("'{text}' is not one of {}", values.join(", ")))
            }
        }
        (Literal::Text(text), FieldType::Date) => values::canonical_date(text).map(Literal::Text),
        (Literal::Text(text), FieldType::Timestamp) => values::canonical_timestamp(text).map(Literal::Text),
        (Literal::Text(text), FieldType::Uuid) if values::is_uuid(text) => Ok(Literal::Text(text.to_ascii_lowercase())),
        _ => Err(format!("{literal:?} is not a valid {} value", field_type.name())),
    }
}

/// "did you mean 'x'?" from the closest candidate, else the list of candidates.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>, kind: &str) -> String {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let closest = candidates
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(wrong, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min();
    match closest {
        Some((_, candidate)) => format!("did you mean '{candidate}'?"),
        None if candidates.is_empty() => format!("there are no {kind} to choose from"),
        None => format!("known {kind}: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
