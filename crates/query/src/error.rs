//! What can be wrong with a query, in the query's own terms.

/// A query the schema or the grammar does not allow. It names what was wrong and where
/// (the parameter and the offending token), so the HTTP layer can answer without guessing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub kind: QueryErrorKind,
    /// What is wrong, in a sentence that names the offending token.
    pub message: String,
    /// The query parameter (or header) at fault.
    pub parameter: Option<String>,
    /// The offending token.
    pub token: Option<String>,
    /// How to fix it, when there is an obvious fix.
    pub hint: Option<String>,
}

/// The kinds of query errors; each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The resource in the path does not exist (the only "not found" kind).
    UnknownResource,
    UnknownColumn,
    UnknownRelation,
    /// Two relations match an embedding; a `!hint` is needed.
    AmbiguousRelation,
    /// Malformed `select`, filter, logic or `order` syntax.
    Grammar,
    /// A value that does not fit its column or parameter.
    InvalidValue,
    /// A primary key that is not of the key's type.
    InvalidId,
    /// A query parameter oxbase does not know.
    UnsupportedParameter,
    /// A known construct used where it is not supported.
    Unsupported,
    /// A configured limit was exceeded (page size, depth, filter terms, `in` list, URL).
    LimitExceeded,
    /// A keyset cursor that was tampered with or belongs to another query.
    InvalidCursor,
}

impl QueryErrorKind {
    /// A stable snake_case code for clients.
    pub fn code(self) -> &'static str {
        match self {
            QueryErrorKind::UnknownResource => "unknown_resource",
            QueryErrorKind::UnknownColumn => "unknown_column",
            QueryErrorKind::UnknownRelation => "unknown_relation",
            QueryErrorKind::AmbiguousRelation => "ambiguous_relation",
            QueryErrorKind::Grammar => "invalid_grammar",
            QueryErrorKind::InvalidValue => "invalid_parameter",
            QueryErrorKind::InvalidId => "invalid_id",
            QueryErrorKind::UnsupportedParameter => "unsupported_parameter",
            QueryErrorKind::Unsupported => "unsupported",
            QueryErrorKind::LimitExceeded => "limit_exceeded",
            QueryErrorKind::InvalidCursor => "invalid_cursor",
        }
    }
}

impl QueryError {
    /// An error of `kind` with a message.
    pub fn new(kind: QueryErrorKind, message: impl Into<String>) -> QueryError {
        QueryError { kind, message: message.into(), parameter: None, token: None, hint: None }
    }

    /// Names the parameter at fault.
    pub fn parameter(mut self, parameter: impl Into<String>) -> QueryError {
        self.parameter = Some(parameter.into());
        self
    }

    /// Names the offending token.
    pub fn token(mut self, token: impl Into<String>) -> QueryError {
        self.token = Some(token.into());
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> QueryError {
        self.hint = Some(hint.into());
        self
    }

    /// A stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The parameter and token at fault, for an error body's `details`.
    pub fn details(&self) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        if let Some(parameter) = &self.parameter {
            details.insert("parameter".into(), parameter.clone().into());
        }
        if let Some(token) = &self.token {
            details.insert("token".into(), token.clone().into());
        }
        serde_json::Value::Object(details)
    }
}

pub use oxbase_schema::validate::did_you_mean;
