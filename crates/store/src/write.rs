//! Writes, in storage terms: what to write and what came of it.

use std::time::Duration;

use oxbase_query::plan::{Condition, ReadPlan};
use oxbase_query::write::{BulkUpdatePlan, InsertPlan, Problem, UpdatePlan};
use oxbase_schema::model::Literal;

use crate::ReadOutput;
use crate::change::{ChangeOperation, RowChange};

/// One write request, validated.
#[derive(Debug, Clone)]
pub enum WriteRequest {
    Insert(InsertPlan),
    Update(UpdatePlan),
    BulkUpdate(BulkUpdatePlan),
    Delete { resource: String, table: String, key: String, condition: Option<Condition> },
}

impl WriteRequest {
    /// The resource written.
    pub fn resource(&self) -> &str {
        match self {
            WriteRequest::Insert(plan) => &plan.target.resource,
            WriteRequest::Update(plan) => &plan.resource,
            WriteRequest::BulkUpdate(plan) => &plan.resource,
            WriteRequest::Delete { resource, .. } => resource,
        }
    }
}

/// What a committed write did.
#[derive(Debug)]
pub struct WriteOutcome {
    pub op: ChangeOperation,
    /// Keys of the rows written.
    pub keys: Vec<Literal>,
    /// For updates: the fields each row's update changed.
    pub changes: Vec<RowChange>,
    /// Every resource whose version was bumped, with its new version (the written
    /// resource first).
    pub versions: Vec<(String, i64)>,
    /// The written rows as the representation plan selects them, read inside the
    /// transaction.
    pub representation: Option<ReadOutput>,
    pub statements: u32,
    pub database_time: Duration,
}

/// How a write is to be carried out besides what it writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Read the written rows back (inside the transaction) with this plan.
    pub representation: Option<ReadPlan>,
    /// The client asked for exactly one row back: anything else rolls the write back.
    pub single_row: bool,
    /// Past this instant the write is rolled back instead of committed, so a request
    /// answered "timeout" has written nothing.
    pub deadline: Option<std::time::Instant>,
    /// The instance writing, named in the change notification PostgreSQL sends at commit
    /// (so it can skip its own).
    pub instance: Option<String>,
    /// Run every statement, read the representation, then roll back instead of committing
    /// (`Prefer: tx=rollback`): the answer is what the write would do, and nothing stays.
    pub rollback: bool,
    /// Fail the write when it would change more rows than this (`Prefer: max-affected=N`
    /// with `handling=strict`); nothing is written then.
    pub max_affected: Option<usize>,
    /// The caller's rules every row the write touches must pass.
    pub guard: WriteGuard,
    /// Who writes, for the audit trail: with it, the rows of audited resources the write
    /// changes are recorded in the same transaction (none when it rolls back); without it
    /// nothing is recorded.
    pub audit: Option<crate::audit::AuditContext>,
}

/// The caller's rules a write's rows must pass, checked inside its transaction (a row
/// failing one rolls back all of it). A filtered update or delete carries the rows the
/// caller may see in its own condition already.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteGuard {
    /// Rows a bulk update names by key that the caller may not see: reported as missing.
    pub visible: Option<Condition>,
    /// Rows about to be updated or deleted must pass this as they are before the write.
    pub before: Option<Condition>,
    /// Rows created or changed, per resource, must pass its condition after the write.
    pub after: Vec<(String, Condition)>,
}

impl WriteGuard {
    /// The post-write rule for `resource`, if any.
    pub fn after(&self, resource: &str) -> Option<&Condition> {
        self.after.iter().find(|(name, _)| name == resource).map(|(_, condition)| condition)
    }
}

/// A representation to read back: a read plan whose root condition (the caller's read
/// rule, if any) the store narrows to the written keys.
pub type RepresentationPlan = ReadPlan;

/// Why a write was rolled back, in storage terms.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// A statement broke a database rule: a unique key already holds the values, a
    /// reference or constraint failed without saying which row, or a new key would not fit
    /// the key's type (e.g. after an explicit id at the top of a 32-bit key).
    #[error(transparent)]
    Refused(#[from] crate::exec::Refusal),
    /// Rows break rules only the database can check (references to missing rows,
    /// constraints): every problem found.
    #[error("{} rows break the database's rules", .problems.len())]
    Rejected { problems: Vec<Problem> },
    /// The client asked for exactly one row and the write touched another number.
    #[error("the write touched {rows} rows, not exactly one")]
    NotSingleRow { rows: usize },
    /// The write ran past its deadline and was rolled back.
    #[error("the write took longer than the request timeout and was rolled back")]
    DeadlinePassed,
    /// The write would change more rows than the client allowed (`max-affected`).
    #[error("the write would change {rows} rows, more than the {max} allowed")]
    TooManyRows { rows: usize, max: usize },
    /// Keys named by a bulk update or a single-row write that do not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// A row is outside what the caller's role may write (named by its place in the body
    /// or its key); nothing was written.
    #[error("{message}")]
    Forbidden { message: String },
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl From<crate::exec::StatementError> for WriteFailure {
    fn from(error: crate::exec::StatementError) -> WriteFailure {
        match error {
            crate::exec::StatementError::Store(error) => WriteFailure::Store(error),
            crate::exec::StatementError::Refused(refusal) => WriteFailure::Refused(refusal),
        }
    }
}
