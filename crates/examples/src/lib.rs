//! oxbase's example schemas and their deterministic data generators.
//!
//! # Layout
//!
//! - [`pearl`]: the clinical-study reporting tracker (the flagship example).
//!
//! A generator produces rows, not SQL: it hands batches to a [`RowSink`], which the store
//! implements per engine (multi-row inserts on SQLite, COPY on PostgreSQL). The same seed
//! and scale always produce the same rows.

pub mod pearl;

use oxbase_schema::model::Literal;

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// About 1,000 trackers: for tests.
    Small,
    /// 100,000 trackers: the benchmark scale.
    Default,
    /// 1,000,000 trackers.
    Large,
}

impl Scale {
    /// Parses `small`, `default` or `large`.
    pub fn parse(text: &str) -> Option<Scale> {
        match text {
            "small" => Some(Scale::Small),
            "default" => Some(Scale::Default),
            "large" => Some(Scale::Large),
            _ => None,
        }
    }
}

/// Where generated rows go.
pub trait RowSink {
    /// The sink's error.
    type Error;
    /// Receives one batch of rows for `resource`; each row has one value per column.
    fn rows(&mut self, resource: &str, columns: &[&str], rows: &[Vec<Literal>]) -> Result<(), Self::Error>;
}

/// The names of the examples shipped with oxbase.
pub const EXAMPLES: &[&str] = &["pearl"];

/// The schema file of an example.
pub fn schema_source(example: &str) -> Option<&'static str> {
    match example {
        "pearl" => Some(include_str!("../../../examples/pearl/schema.toml")),
        _ => None,
    }
}

/// An example's schema file without its `[accounts]` and `[roles.…]` (which the examples
/// declare last): served, it lets every request do everything. For measuring the API
/// with access control off, and for tests of everything but access.
pub fn schema_source_without_access(example: &str) -> Option<&'static str> {
    let source = schema_source(example)?;
    let end = ["\n[accounts]", "\n[roles."].iter().filter_map(|marker| source.find(marker)).min();
    Some(&source[..end.map_or(source.len(), |end| end + 1)])
}
