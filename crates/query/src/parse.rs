//! Query-string parameters → typed plans.

use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Literal, Resource};
use oxbase_schema::values;

use crate::error::QueryError;
use crate::read::{Filter, ReadPlan};

/// Page-size limits that apply to every read.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// Rows returned when the request names no limit.
    pub default_page_size: u32,
    /// The largest limit a request may ask for.
    pub max_page_size: u32,
}

/// The resource named in a path, or an error naming the closest resource.
pub fn resource<'a>(schema: &'a Schema, name: &str) -> Result<&'a Resource, QueryError> {
    schema.resource(name).ok_or_else(|| {
        let closest = schema
            .resources
            .keys()
            .map(|candidate| (strsim_distance(name, candidate), candidate))
            .min()
            .filter(|(distance, _)| *distance <= 2);
        QueryError::UnknownResource {
            resource: name.to_owned(),
            hint: Some(match closest {
                Some((_, candidate)) => format!("did you mean '{candidate}'?"),
                None => "GET /api/v1/openapi.json lists the resources".to_owned(),
            }),
        }
    })
}

/// Plans a list read from query parameters (in request order).
pub fn list(
    schema: &Schema,
    resource_name: &str,
    parameters: &[(String, String)],
    limits: PageLimits,
) -> Result<ReadPlan, QueryError> {
    let resource = resource(schema, resource_name)?;
    let mut limit = None;
    let mut offset = None;
    for (name, value) in parameters {
        match name.as_str() {
            "limit" => limit = Some(parse_limit(value, limits)?),
            "offset" => {
                offset = Some(parse_number::<u64>(
                    "offset",
                    value,
                    "a whole number of rows to skip",
                )?)
            }
            other => {
                return Err(QueryError::UnsupportedParameter {
                    parameter: other.to_owned(),
                    hint: Some("this endpoint takes limit and offset".to_owned()),
                });
            }
        }
    }
    Ok(ReadPlan {
        resource: resource.name.clone(),
        filters: Vec::new(),
        limit: limit.unwrap_or(limits.default_page_size.min(limits.max_page_size)),
        offset: offset.unwrap_or(0),
    })
}

/// Plans a read of one row by primary key.
pub fn by_id(schema: &Schema, resource_name: &str, id: &str) -> Result<ReadPlan, QueryError> {
    let resource = resource(schema, resource_name)?;
    let key = resource.primary_key();
    let value = match key.field_type {
        FieldType::Uuid => {
            if !values::is_uuid(id) {
                return Err(QueryError::InvalidId {
                    value: id.to_owned(),
                    reason: "expected a uuid such as 3f0c1b2e-…".to_owned(),
                });
            }
            Literal::Text(id.to_ascii_lowercase())
        }
        _ => match id.parse::<i64>() {
            Ok(number) => Literal::Integer(number),
            Err(_) => {
                return Err(QueryError::InvalidId {
                    value: id.to_owned(),
                    reason: "expected an integer".to_owned(),
                });
            }
        },
    };
    Ok(ReadPlan {
        resource: resource.name.clone(),
        filters: vec![Filter {
            column: key.name.clone(),
            value,
        }],
        limit: 1,
        offset: 0,
    })
}

fn parse_limit(value: &str, limits: PageLimits) -> Result<u32, QueryError> {
    let limit = parse_number::<u32>("limit", value, "a whole number of rows")?;
    if limit > limits.max_page_size {
        return Err(QueryError::InvalidValue {
            parameter: "limit".to_owned(),
            value: value.to_owned(),
            reason: format!("the largest page is {} rows", limits.max_page_size),
            hint: Some("page with offset, or raise server.max_page_size".to_owned()),
        });
    }
    Ok(limit)
}

fn parse_number<T: std::str::FromStr>(
    parameter: &str,
    value: &str,
    expected: &str,
) -> Result<T, QueryError> {
    value.parse::<T>().map_err(|_| QueryError::InvalidValue {
        parameter: parameter.to_owned(),
        value: value.to_owned(),
        reason: format!("expected {expected}"),
        hint: None,
    })
}

/// Edit distance for "did you mean" hints.
fn strsim_distance(left: &str, right: &str) -> usize {
    strsim::damerau_levenshtein(left, right)
}
