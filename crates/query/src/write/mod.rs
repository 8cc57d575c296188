//! Write plans: request bodies validated against the schema, every row before any SQL.
//!
//! # Layout
//!
//! - [`columns`]: `?columns=` on a write: which keys of the body are taken.
//! - [`values`]: one JSON value checked against one field (type, null, range, length,
//!   pattern) and turned into the literal that is stored.
//! - [`insert`]: `POST` bodies (one object, an array, nested children) → [`InsertPlan`].
//! - [`update`]: `PATCH` bodies → [`UpdatePlan`] (same values for every filtered row) or
//!   [`BulkUpdatePlan`] (an array of objects, each with its key and its own values).
//!
//! Every problem of every row is collected into one [`ValidationFailure`], whose paths name
//! the row and field (`[3].tracker.priority`), so a client fixes them all at once.

pub mod columns;
pub mod insert;
pub mod update;
pub mod values;

pub use insert::{Conflict, InsertPlan, InsertRow, InsertTarget, NestedTarget, plan_insert};
pub use update::{BulkUpdatePlan, UpdatePlan, plan_bulk_update, plan_update};

use oxbase_schema::model::Literal;

use crate::error::QueryError;

/// One problem with a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `[3].priority`, `tracker.qc_status`, `[0]`.
    pub path: String,
    /// What is wrong with the value there.
    pub message: String,
}

/// Every problem found in a request body; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{total} invalid value{} in the request body", if *.total == 1 { "" } else { "s" })]
pub struct ValidationFailure {
    /// The problems listed (at most [`MAX_PROBLEMS`], then one entry counting the rest).
    pub problems: Vec<Problem>,
    /// How many problems there are in all.
    pub total: usize,
}

/// Why a write cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// The request itself is malformed (parameters, headers, body shape): 400.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The rows break the schema's rules: 422.
    #[error(transparent)]
    Invalid(#[from] ValidationFailure),
}

/// A value the server writes into a field of every row a request creates (a role's
/// preset, such as the caller's id as the row's author).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerValue {
    pub resource: String,
    pub field: String,
    pub value: Literal,
}

/// The problem a read-only field (in the caller's view) reports when a body writes it.
pub(crate) const READ_ONLY: &str = "may not be written by your role";

/// Most problems listed in one response; the rest are counted.
pub const MAX_PROBLEMS: usize = 100;

/// Collects problems up to [`MAX_PROBLEMS`], counting the rest.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) problems: Vec<Problem>,
    pub(crate) omitted: usize,
}

impl Problems {
    pub(crate) fn add(&mut self, path: String, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { path, message: message.into() });
        } else {
            self.omitted += 1;
        }
    }

    pub(crate) fn into_result(self) -> Result<(), ValidationFailure> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let total = self.problems.len() + self.omitted;
        let mut problems = self.problems;
        if self.omitted > 0 {
            problems.push(Problem { path: String::new(), message: format!("… and {} more problems", self.omitted) });
        }
        Err(ValidationFailure { problems, total })
    }
}

/// `path` extended by a field name.
pub(crate) fn field_path(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}
