//! The typed read plan: what to read, already validated against the schema.

use oxbase_schema::model::Literal;

/// One read request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPlan {
    /// The resource's API name.
    pub resource: String,
    /// Root rows must match every filter.
    pub filters: Vec<Filter>,
    /// Rows to return at most.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// `column = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    pub value: Literal,
}
