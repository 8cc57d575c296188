//! Path parts of a request: the resource and a primary key.

use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Resource};
use oxbase_schema::values;

use crate::error::{QueryError, QueryErrorKind, did_you_mean};

/// How many resource names an unknown-resource hint lists when none is close.
const LISTED_RESOURCES: usize = 8;

/// The resource named in a path, or an error naming the closest resource.
pub fn resource<'a>(schema: &'a Schema, name: &str) -> Result<&'a Resource, QueryError> {
    schema.resource(name).ok_or_else(|| {
        let mut error =
            QueryError::new(QueryErrorKind::UnknownResource, format!("unknown resource '{name}'")).token(name);
        let hint = did_you_mean(name, schema.resources.keys().map(String::as_str), "resources");
        // No close name: list a few rather than point at a catalogue route (none exists).
        error.hint = Some(if hint.starts_with("did you mean") || schema.resources.len() <= LISTED_RESOURCES {
            hint
        } else {
            let listed: Vec<&str> = schema.resources.keys().take(LISTED_RESOURCES).map(String::as_str).collect();
            format!("known resources: {}, and {} more", listed.join(", "), schema.resources.len() - LISTED_RESOURCES)
        });
        error
    })
}

/// The filter parameter selecting the row `/api/v1/{resource}/{id}` names, after checking
/// the id has the key's type.
pub fn id_filter(schema: &Schema, resource_name: &str, id: &str) -> Result<(String, String), QueryError> {
    let resource = resource(schema, resource_name)?;
    let key = resource.primary_key();
    let canonical = match key.field_type {
        FieldType::Uuid if values::is_uuid(id) => id.to_ascii_lowercase(),
        FieldType::Uuid => {
            return Err(
                QueryError::new(QueryErrorKind::InvalidId, format!("invalid id '{id}': expected a uuid")).token(id)
            );
        }
        _ => match id.parse::<i64>() {
            Ok(number) if key.field_type != FieldType::Integer || i32::try_from(number).is_ok() => number.to_string(),
            Ok(_) => {
                return Err(QueryError::new(
                    QueryErrorKind::InvalidId,
                    format!("invalid id '{id}': expected an integer from {} to {}", i32::MIN, i32::MAX),
                )
                .token(id)
                .hint(format!("the key of '{resource_name}' is a 32-bit integer")));
            }
            Err(_) => {
                return Err(QueryError::new(
                    QueryErrorKind::InvalidId,
                    format!("invalid id '{id}': expected an integer"),
                )
                .token(id));
            }
        },
    };
    Ok((key.name.clone(), format!("eq.{canonical}")))
}
