//! What can be wrong with a query, in the query's own terms.

/// A query the schema or the grammar does not allow. Every variant names what was wrong
/// and where, so the HTTP layer can answer 400 without guessing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The resource does not exist.
    #[error("unknown resource '{resource}'")]
    UnknownResource {
        resource: String,
        hint: Option<String>,
    },
    /// A query parameter this release does not understand.
    #[error("unsupported query parameter '{parameter}'")]
    UnsupportedParameter {
        parameter: String,
        hint: Option<String>,
    },
    /// A parameter whose value is malformed or out of range.
    #[error("invalid value '{value}' for '{parameter}': {reason}")]
    InvalidValue {
        parameter: String,
        value: String,
        reason: String,
        hint: Option<String>,
    },
    /// A primary key that is not of the key's type.
    #[error("invalid id '{value}': {reason}")]
    InvalidId { value: String, reason: String },
}

impl QueryError {
    /// How to fix it, when there is an obvious fix.
    pub fn hint(&self) -> Option<&str> {
        match self {
            QueryError::UnknownResource { hint, .. }
            | QueryError::UnsupportedParameter { hint, .. }
            | QueryError::InvalidValue { hint, .. } => hint.as_deref(),
            QueryError::InvalidId { .. } => None,
        }
    }

    /// A stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::UnknownResource { .. } => "unknown_resource",
            QueryError::UnsupportedParameter { .. } => "unsupported_parameter",
            QueryError::InvalidValue { .. } => "invalid_parameter",
            QueryError::InvalidId { .. } => "invalid_id",
        }
    }

    /// The parameter or token at fault, for the error's `details`.
    pub fn details(&self) -> serde_json::Value {
        match self {
            QueryError::UnknownResource { resource, .. } => {
                serde_json::json!({ "resource": resource })
            }
            QueryError::UnsupportedParameter { parameter, .. } => {
                serde_json::json!({ "parameter": parameter })
            }
            QueryError::InvalidValue {
                parameter, value, ..
            } => {
                serde_json::json!({ "parameter": parameter, "value": value })
            }
            QueryError::InvalidId { value, .. } => serde_json::json!({ "id": value }),
        }
    }
}
