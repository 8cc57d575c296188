//! `?columns=a,b` on a write, as PostgREST documents it: only the named keys of each
//! object are taken and the rest of the payload is ignored; on a create, a named key an
//! object leaves out is null, or its default with `Prefer: missing=default`.
//! postgrest-js and postgrest-py send it (quoted names) on every bulk insert and upsert.

use oxbase_schema::Schema;
use oxbase_schema::model::Resource;
use serde_json::{Map, Value};

use crate::error::{QueryError, QueryErrorKind, did_you_mean};

/// What a key the create leaves out becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Null (PostgREST's default).
    Null,
    /// The field's default, as if the key were not named (`Prefer: missing=default`).
    Default,
}

/// The names `columns` lists: comma-separated, each optionally in double quotes, every one
/// a field of `resource` or one of its nested relations.
pub fn parse_columns(schema: &Schema, resource: &Resource, text: &str) -> Result<Vec<String>, QueryError> {
    let nested: Vec<&str> = schema
        .resources
        .values()
        .flat_map(|other| other.fields.iter())
        .filter_map(|field| field.reference.as_ref())
        .filter(|reference| reference.resource == resource.name)
        .map(|reference| reference.reverse_name.as_str())
        .collect();
    let mut columns = Vec::new();
    for part in text.split(',') {
        let name = part.trim();
        let name = name.strip_prefix('"').and_then(|name| name.strip_suffix('"')).unwrap_or(name);
        if name.is_empty() {
            return Err(QueryError::new(QueryErrorKind::Grammar, "columns lists an empty name")
                .parameter("columns")
                .hint("write columns=name,priority or columns=\"name\",\"priority\""));
        }
        if resource.field(name).is_none() && !nested.contains(&name) {
            let known = resource.fields.iter().map(|field| field.name.as_str()).chain(nested.iter().copied());
            return Err(QueryError::new(
                QueryErrorKind::UnknownColumn,
                format!("'{}' has no column '{name}'", resource.name),
            )
            .parameter("columns")
            .token(name)
            .hint(did_you_mean(name, known, "columns")));
        }
        if !columns.iter().any(|column| column == name) {
            columns.push(name.to_owned());
        }
    }
    Ok(columns)
}

/// `body` with each object holding only `columns`; with `missing` (a create), a named field
/// an object leaves out is filled in as null or left to its default. Anything but objects
/// is passed on unchanged, for the planner to refuse with its usual message.
pub fn take_columns(resource: &Resource, body: &Value, columns: &[String], missing: Option<Missing>) -> Value {
    let shape = |object: &Map<String, Value>| -> Value {
        let mut taken = Map::new();
        for column in columns {
            match object.get(column) {
                Some(value) => {
                    taken.insert(column.clone(), value.clone());
                }
                None if missing == Some(Missing::Null) && resource.field(column).is_some() => {
                    taken.insert(column.clone(), Value::Null);
                }
                None => {}
            }
        }
        Value::Object(taken)
    };
    match body {
        Value::Object(object) => shape(object),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(object) => shape(object),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        oxbase_schema::parse_schema(
            r#"
[resources.tags.fields]
name = { type = "text" }
color = { type = "text", default = "grey" }
"#,
            "tags.toml",
        )
        .expect("a valid schema")
    }

    #[test]
    fn names_may_be_quoted_and_must_be_fields() {
        let schema = schema();
        let tags = schema.resource("tags").unwrap();
        assert_eq!(parse_columns(&schema, tags, "\"name\",\"color\"").unwrap(), ["name", "color"]);
        assert_eq!(parse_columns(&schema, tags, "name, name").unwrap(), ["name"]);
        let error = parse_columns(&schema, tags, "name,colour").unwrap_err();
        assert_eq!((error.kind, error.parameter.as_deref()), (QueryErrorKind::UnknownColumn, Some("columns")));
        assert!(parse_columns(&schema, tags, "name,,color").is_err());
    }

    #[test]
    fn only_named_keys_are_taken_and_missing_ones_are_null_or_default() {
        let schema = schema();
        let tags = schema.resource("tags").unwrap();
        let body = json!([{ "name": "a", "extra": 1 }, { "name": "b", "color": "red" }]);
        let columns = vec!["name".to_owned(), "color".to_owned()];
        assert_eq!(
            take_columns(tags, &body, &columns, Some(Missing::Null)),
            json!([{ "name": "a", "color": null }, { "name": "b", "color": "red" }])
        );
        assert_eq!(
            take_columns(tags, &body, &columns, Some(Missing::Default)),
            json!([{ "name": "a" }, { "name": "b", "color": "red" }])
        );
        assert_eq!(take_columns(tags, &json!({ "name": "a", "extra": 1 }), &columns, None), json!({ "name": "a" }));
    }
}
