//! `PATCH` bodies → update plans.
//!
//! With filters, one object gives the new values of every matching row ([`UpdatePlan`]).
//! Without filters, an array of objects that each carry their primary key updates each
//! row with its own values ([`BulkUpdatePlan`]), in one statement per chunk.

use oxbase_schema::Schema;
use oxbase_schema::model::{AutoTimestamp, Literal, Resource};
use serde_json::{Map, Value};

use crate::error::{QueryError, QueryErrorKind, did_you_mean};
use crate::parse::resource as find_resource;
use crate::plan::Condition;
use crate::write::values::check_value;
use crate::write::{Problems, READ_ONLY, WriteError, field_path};

/// The same new values for every row a filter selects.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub resource: String,
    pub table: String,
    pub key: String,
    /// Columns and their new values (including `auto = "updated"` timestamps).
    pub set: Vec<(String, Literal)>,
    /// Which rows; `None` only where the resource allows unfiltered writes.
    pub condition: Option<Condition>,
}

/// Each row's own new values, found by key.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkUpdatePlan {
    pub resource: String,
    pub table: String,
    pub key: String,
    /// Rows grouped by the set of columns they change (one statement shape per group).
    pub groups: Vec<BulkGroup>,
}

/// Rows that change the same columns.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkGroup {
    pub columns: Vec<String>,
    pub rows: Vec<BulkRow>,
}

/// One row of a bulk update.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRow {
    /// Where the row is in the body (`[12]`).
    pub path: String,
    pub key: Literal,
    /// One value per group column.
    pub values: Vec<Literal>,
}

/// Plans a `PATCH` of one object's values onto the rows `condition` selects.
pub fn plan_update(
    schema: &Schema,
    resource_name: &str,
    body: &Value,
    condition: Option<Condition>,
    now: &str,
) -> Result<UpdatePlan, WriteError> {
    let resource = find_resource(schema, resource_name)?;
    let Value::Object(object) = body else {
        return Err(QueryError::new(QueryErrorKind::InvalidValue, "the body must be a JSON object with the new values, or an array of objects that each carry their primary key")
            .parameter("body")
            .into());
    };
    let mut problems = Problems::default();
    let set = changed_values(resource, object, "", false, now, &mut problems);
    problems.into_result()?;
    if set.iter().all(|(column, _)| resource.field(column).is_some_and(|field| field.auto.is_some())) {
        return Err(QueryError::new(QueryErrorKind::InvalidValue, "the body names no field to change")
            .parameter("body")
            .into());
    }
    Ok(UpdatePlan {
        resource: resource.name.clone(),
        table: resource.table.clone(),
        key: resource.primary_key().name.clone(),
        set,
        condition,
    })
}

/// Plans a `PATCH` whose body is an array of objects, each with its key and new values.
pub fn plan_bulk_update(
    schema: &Schema,
    resource_name: &str,
    body: &[Value],
    now: &str,
) -> Result<BulkUpdatePlan, WriteError> {
    let resource = find_resource(schema, resource_name)?;
    let key = resource.primary_key();
    let mut problems = Problems::default();
    let mut groups: Vec<BulkGroup> = Vec::new();
    let mut seen_keys: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, item) in body.iter().enumerate() {
        let path = format!("[{index}]");
        let Value::Object(object) = item else {
            problems.add(path, "expected an object");
            continue;
        };
        let key_value = match object.get(&key.name) {
            None => {
                problems.add(field_path(&path, &key.name), "is required to say which row to update");
                continue;
            }
            Some(value) => match check_value(key, value) {
                Ok(literal) => literal,
                Err(message) => {
                    problems.add(field_path(&path, &key.name), message);
                    continue;
                }
            },
        };
        if let Some(first) = seen_keys.insert(format!("{key_value:?}"), index) {
            problems.add(field_path(&path, &key.name), format!("names the same row as [{first}]"));
        }
        let set = changed_values(resource, object, &path, true, now, &mut problems);
        if set.iter().all(|(column, _)| resource.field(column).is_some_and(|field| field.auto.is_some())) {
            problems.add(path.clone(), "names no field to change");
            continue;
        }
        let columns: Vec<String> = set.iter().map(|(column, _)| column.clone()).collect();
        let row = BulkRow { path, key: key_value, values: set.into_iter().map(|(_, value)| value).collect() };
        match groups.iter_mut().find(|group| group.columns == columns) {
            Some(group) => group.rows.push(row),
            None => groups.push(BulkGroup { columns, rows: vec![row] }),
        }
    }
    problems.into_result()?;
    Ok(BulkUpdatePlan { resource: resource.name.clone(), table: resource.table.clone(), key: key.name.clone(), groups })
}

/// The columns an object changes, in schema order, plus `auto = "updated"` timestamps.
fn changed_values(
    resource: &Resource,
    object: &Map<String, Value>,
    path: &str,
    key_expected: bool,
    now: &str,
    problems: &mut Problems,
) -> Vec<(String, Literal)> {
    for key in object.keys() {
        if resource.field(key).is_none() {
            problems.add(
                field_path(path, key),
                format!(
                    "unknown field ({})",
                    did_you_mean(key, resource.fields.iter().map(|field| field.name.as_str()), "fields")
                ),
            );
        }
    }
    let mut set = Vec::new();
    for field in &resource.fields {
        if field.auto == Some(AutoTimestamp::Updated) {
            if object.contains_key(&field.name) {
                problems.add(field_path(path, &field.name), "is set by oxbase and cannot be written");
            }
            set.push((field.name.clone(), Literal::Text(now.to_owned())));
            continue;
        }
        let Some(value) = object.get(&field.name) else { continue };
        if field.primary_key {
            if !key_expected {
                problems.add(field_path(path, &field.name), "the primary key cannot be changed");
            }
            continue;
        }
        if field.auto.is_some() {
            problems.add(field_path(path, &field.name), "is set by oxbase and cannot be written");
            continue;
        }
        if field.read_only {
            problems.add(field_path(path, &field.name), READ_ONLY);
            continue;
        }
        match check_value(field, value) {
            Ok(literal) => set.push((field.name.clone(), literal)),
            Err(message) => problems.add(field_path(path, &field.name), message),
        }
    }
    set
}
