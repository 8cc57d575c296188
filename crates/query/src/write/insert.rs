//! `POST` bodies → insert plans: one object or an array, optionally with nested children.
//!
//! A nested child is a row of a resource that references the parent (a one-to-one or
//! one-to-many relation seen from the parent, named as in embedding: `tracker`,
//! `tracker_comments`). It is inserted after its parent, with the reference set to the
//! parent's new key, in the same transaction.

use oxbase_schema::Schema;
use oxbase_schema::model::{AutoTimestamp, DefaultValue, FieldType, Literal, Resource};
use serde_json::{Map, Value};

use crate::error::{QueryError, QueryErrorKind, did_you_mean};
use crate::parse::resource as find_resource;
use crate::write::values::check_value;
use crate::write::{Problems, READ_ONLY, ServerValue, WriteError, field_path};

/// What happens when a row collides with an existing one on the conflict columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The request fails with a conflict.
    Fail,
    /// `Prefer: resolution=merge-duplicates`: the existing row takes the given values.
    Merge,
    /// `Prefer: resolution=ignore-duplicates`: the existing row is kept as it is.
    Ignore,
}

/// Where rows go: a resource, the columns inserted, and the children that may nest.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertTarget {
    pub resource: String,
    pub table: String,
    /// The primary-key field.
    pub key: String,
    /// Inserted columns, in order: every field but an identity key.
    pub columns: Vec<String>,
    /// Position in `columns` of a uuid key that oxbase generates when a row has none.
    pub generated_key: Option<usize>,
    pub nested: Vec<NestedTarget>,
}

/// A relation whose rows may be created inside a parent's object.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedTarget {
    /// The property naming the children in the parent object.
    pub property: String,
    /// The parent's field the children reference (its key, usually).
    pub parent_field: String,
    /// Position in the child target's `columns` of the reference to the parent.
    pub link_column: usize,
    /// An array of children (true) or one child object.
    pub many: bool,
    pub target: InsertTarget,
}

/// One row to insert, with its children per nested target.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertRow {
    /// Where the row is in the body (`[3]`, `[3].tracker`), for errors found later.
    pub path: String,
    /// One value per target column (the link column and a generated key are filled in when
    /// the row is written).
    pub values: Vec<Literal>,
    /// Children per nested target, in the target's order.
    pub children: Vec<Vec<InsertRow>>,
}

/// A validated `POST`.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertPlan {
    pub target: InsertTarget,
    pub rows: Vec<InsertRow>,
    pub conflict: Conflict,
    /// Columns that identify a duplicate (the key unless `on_conflict` names others).
    pub conflict_columns: Vec<String>,
    /// Columns the client gave values for: what a merge overwrites.
    pub provided: Vec<String>,
    /// The body was one object (so a `Location` can name the new row).
    pub single_object: bool,
}

/// Plans a `POST` of `body` to `resource_name`; `now` is the canonical timestamp oxbase
/// stores for `auto` fields and `now` defaults.
pub fn plan_insert(
    schema: &Schema,
    resource_name: &str,
    body: &Value,
    conflict: Conflict,
    on_conflict: Option<&str>,
    now: &str,
    presets: &[ServerValue],
) -> Result<InsertPlan, WriteError> {
    let resource = find_resource(schema, resource_name)?;
    let upsert = conflict != Conflict::Fail;
    // An upsert may name existing rows by their key, so the key is then a column (a row
    // without one gets a new key from the database).
    let target = insert_target(schema, resource, upsert);
    let mut problems = Problems::default();
    let (objects, single_object) = match body {
        Value::Object(object) => (vec![(0, object)], true),
        Value::Array(items) => {
            let mut objects = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::Object(object) => objects.push((index, object)),
                    _ => problems.add(format!("[{index}]"), "expected an object"),
                }
            }
            (objects, false)
        }
        _ => {
            return Err(QueryError::new(
                QueryErrorKind::InvalidValue,
                "the body must be a JSON object or an array of objects",
            )
            .parameter("body")
            .into());
        }
    };
    let conflict_columns = conflict_columns(resource, on_conflict)?;
    let context = RowContext { schema, now, allow_key: upsert, presets };
    let mut rows = Vec::with_capacity(objects.len());
    for (index, object) in &objects {
        let path = if single_object { String::new() } else { format!("[{index}]") };
        rows.push(context.row(resource, &target, object, &path, None, &mut problems));
    }
    let provided = provided_columns(resource, &target, &objects);
    if upsert {
        if rows.iter().any(|row| row.children.iter().any(|children| !children.is_empty())) {
            return Err(QueryError::new(QueryErrorKind::Unsupported, "nested rows cannot be upserted")
                .parameter("Prefer")
                .hint("upsert the parents and the children in separate requests")
                .into());
        }
        if conflict == Conflict::Merge {
            repeated_conflict_keys(&target, &conflict_columns, &rows, &mut problems);
            for (index, object) in &objects {
                let given: Vec<&String> = object.keys().filter(|key| target.columns.contains(key)).collect();
                let expected = provided
                    .iter()
                    .filter(|column| resource.field(column).is_some_and(|field| field.auto.is_none()))
                    .count();
                if given.len() != expected {
                    problems.add(
                        format!("[{index}]"),
                        format!("every row of a merge must give the same fields: {}", provided.join(", ")),
                    );
                }
            }
        }
    }
    problems.into_result()?;
    Ok(InsertPlan { target, rows, conflict, conflict_columns, provided, single_object })
}

/// A merge updates each existing row once: two rows of one request with the same conflict
/// key would make PostgreSQL fail the statement, and SQLite apply both in turn, so neither
/// engine takes them. A key with a null part never conflicts (a new row each).
fn repeated_conflict_keys(
    target: &InsertTarget,
    conflict_columns: &[String],
    rows: &[InsertRow],
    problems: &mut Problems,
) {
    let positions: Vec<usize> = conflict_columns
        .iter()
        .filter_map(|column| target.columns.iter().position(|candidate| candidate == column))
        .collect();
    if positions.len() != conflict_columns.len() {
        return;
    }
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for row in rows {
        let key: Vec<&Literal> = positions.iter().map(|&position| &row.values[position]).collect();
        if key.iter().any(|value| **value == Literal::Null) {
            continue;
        }
        if let Some(first) = seen.get(format!("{key:?}").as_str()).copied() {
            problems.add(
                field_path(&row.path, &conflict_columns.join(",")),
                format!(
                    "repeats the {} of row {first}; a merge can write each row once per request",
                    conflict_columns.join(", ")
                ),
            );
        } else {
            seen.insert(format!("{key:?}"), &row.path);
        }
    }
}

/// The insert target for `resource` with its nested children.
fn insert_target(schema: &Schema, resource: &Resource, include_identity_key: bool) -> InsertTarget {
    let mut target = insert_target_shallow(resource);
    if include_identity_key && target.generated_key.is_none() {
        target.columns.insert(0, target.key.clone());
    }
    let mut nested = Vec::new();
    for child in schema.resources.values() {
        for field in &child.fields {
            let Some(reference) = &field.reference else { continue };
            // A self-reference (a reply's parent comment) is not nested from the parent
            // side of the same request; it would recurse forever.
            if reference.resource != resource.name || child.name == resource.name {
                continue;
            }
            let target = insert_target_shallow(child);
            let link_column =
                target.columns.iter().position(|column| *column == field.name).expect("references are columns");
            nested.push(NestedTarget {
                property: reference.reverse_name.clone(),
                parent_field: reference.field.clone(),
                link_column,
                many: !field.unique,
                target,
            });
        }
    }
    target.nested = nested;
    target
}

/// A child target: its own children are not nested further (one level of nesting).
fn insert_target_shallow(resource: &Resource) -> InsertTarget {
    let key = resource.primary_key();
    let identity = key.field_type != FieldType::Uuid;
    let columns: Vec<String> = resource
        .fields
        .iter()
        .filter(|field| !(field.primary_key && identity))
        .map(|field| field.name.clone())
        .collect();
    let generated_key = (!identity).then(|| columns.iter().position(|column| *column == key.name)).flatten();
    InsertTarget {
        resource: resource.name.clone(),
        table: resource.table.clone(),
        key: key.name.clone(),
        columns,
        generated_key,
        nested: Vec::new(),
    }
}

fn conflict_columns(resource: &Resource, on_conflict: Option<&str>) -> Result<Vec<String>, QueryError> {
    let Some(text) = on_conflict else { return Ok(vec![resource.primary_key().name.clone()]) };
    let columns: Vec<String> = text.split(',').map(|column| column.trim().to_owned()).collect();
    for column in &columns {
        if resource.field(column).is_none() {
            return Err(QueryError::new(
                QueryErrorKind::UnknownColumn,
                format!("'{}' has no column '{column}'", resource.name),
            )
            .parameter("on_conflict")
            .token(column.as_str())
            .hint(did_you_mean(column, resource.fields.iter().map(|field| field.name.as_str()), "columns")));
        }
    }
    let single_unique = columns.len() == 1 && resource.field(&columns[0]).is_some_and(|field| field.unique);
    let unique_index = resource.indexes.iter().any(|index| {
        index.unique
            && index.predicate.is_none()
            && index.columns.len() == columns.len()
            && columns.iter().all(|column| index.columns.contains(column))
    });
    if !single_unique && !unique_index {
        return Err(QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("on_conflict=({text}) is not a unique key of '{}'", resource.name),
        )
        .parameter("on_conflict")
        .token(text)
        .hint("name the primary key, a unique field, or the columns of a unique index"));
    }
    Ok(columns)
}

/// The columns a merge overwrites: those the client gave, plus `auto = "updated"`
/// timestamps, which every update refreshes.
fn provided_columns(
    resource: &Resource,
    target: &InsertTarget,
    objects: &[(usize, &Map<String, Value>)],
) -> Vec<String> {
    target
        .columns
        .iter()
        .filter(|column| {
            objects.iter().any(|(_, object)| object.contains_key(column.as_str()))
                || resource.field(column).is_some_and(|field| field.auto == Some(AutoTimestamp::Updated))
        })
        .cloned()
        .collect()
}

struct RowContext<'a> {
    schema: &'a Schema,
    now: &'a str,
    /// Whether the client may give the primary key (upserts).
    allow_key: bool,
    /// Values the caller's role has the server write.
    presets: &'a [ServerValue],
}

impl RowContext<'_> {
    fn row(
        &self,
        resource: &Resource,
        target: &InsertTarget,
        object: &Map<String, Value>,
        path: &str,
        link: Option<&str>,
        problems: &mut Problems,
    ) -> InsertRow {
        let mut values: Vec<Option<Literal>> = vec![None; target.columns.len()];
        let mut children: Vec<Vec<InsertRow>> = vec![Vec::new(); target.nested.len()];
        for (key, value) in object {
            let key_path = field_path(path, key);
            if let Some(field) = resource.field(key) {
                if field.auto.is_some() {
                    problems.add(key_path, "is set by oxbase and cannot be written");
                    continue;
                }
                if field.read_only {
                    problems.add(key_path, READ_ONLY);
                    continue;
                }
                if link == Some(key.as_str()) {
                    problems.add(key_path, "is set from the parent row");
                    continue;
                }
                if field.primary_key && !(self.allow_key || field.field_type == FieldType::Uuid) {
                    problems.add(key_path, "is assigned by the database; leave it out (or upsert with Prefer: resolution=merge-duplicates)");
                    continue;
                }
                let Some(column) = target.columns.iter().position(|column| column == key) else {
                    // An identity key given in an upsert: carried as a value so it can conflict.
                    problems.add(key_path, "cannot be written here");
                    continue;
                };
                match check_value(field, value) {
                    Ok(literal) => values[column] = Some(literal),
                    Err(message) => problems.add(key_path, message),
                }
            } else if let Some(position) = target.nested.iter().position(|nested| nested.property == *key) {
                let nested = &target.nested[position];
                let child_resource =
                    self.schema.resource(&nested.target.resource).expect("nested targets are resources");
                let link_field = nested.target.columns[nested.link_column].clone();
                let child_objects: Vec<(String, &Map<String, Value>)> = match (nested.many, value) {
                    (true, Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .filter_map(|(index, item)| match item {
                            Value::Object(child) => Some((format!("{key_path}[{index}]"), child)),
                            _ => {
                                problems.add(format!("{key_path}[{index}]"), "expected an object");
                                None
                            }
                        })
                        .collect(),
                    (false, Value::Object(child)) => vec![(key_path.clone(), child)],
                    (true, _) => {
                        problems.add(key_path, "expected an array of objects");
                        continue;
                    }
                    (false, _) => {
                        problems.add(key_path, "expected an object");
                        continue;
                    }
                };
                for (child_path, child) in child_objects {
                    let row = self.row(child_resource, &nested.target, child, &child_path, Some(&link_field), problems);
                    children[position].push(row);
                }
            } else {
                let names = resource
                    .fields
                    .iter()
                    .map(|field| field.name.as_str())
                    .chain(target.nested.iter().map(|nested| nested.property.as_str()));
                problems.add(key_path, format!("unknown field ({})", did_you_mean(key, names, "fields")));
            }
        }
        let values = target
            .columns
            .iter()
            .zip(values)
            .enumerate()
            .map(|(position, (column, value))| match value {
                Some(value) => value,
                None => {
                    let field = resource.field(column).expect("columns are fields");
                    if let Some(preset) =
                        self.presets.iter().find(|preset| preset.resource == resource.name && preset.field == *column)
                    {
                        return preset.value.clone();
                    }
                    let is_link = link == Some(column.as_str());
                    let is_generated = target.generated_key == Some(position);
                    match (&field.auto, &field.default) {
                        _ if is_link || is_generated || field.primary_key => Literal::Null,
                        (Some(AutoTimestamp::Created | AutoTimestamp::Updated), _) => {
                            Literal::Text(self.now.to_owned())
                        }
                        (None, Some(DefaultValue::Literal(literal))) => literal.clone(),
                        (None, Some(DefaultValue::Now)) if field.field_type == FieldType::Date => {
                            Literal::Text(self.now[..10].to_owned())
                        }
                        (None, Some(DefaultValue::Now)) => Literal::Text(self.now.to_owned()),
                        (None, None) if field.nullable => Literal::Null,
                        // A value was given but refused: its problem is already listed.
                        (None, None) if object.contains_key(column.as_str()) => Literal::Null,
                        (None, None) => {
                            problems.add(field_path(path, column), "is required");
                            Literal::Null
                        }
                    }
                }
            })
            .collect();
        InsertRow { path: path.to_owned(), values, children }
    }
}
