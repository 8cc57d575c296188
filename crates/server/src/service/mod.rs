//! The one read path and the one write path below HTTP.
//!
//! # Layout
//!
//! - [`read`]: a planned read in an access scope → an encoded answer: the response cache,
//!   identical misses read once, versions stamped before the read, the store, the entry.
//! - [`identity`]: logging in, refresh tokens, password changes, bearer credentials into
//!   a caller, API keys.
//! - [`write`]: a create, update or delete in an access scope → a write outcome: planning
//!   and validation, one transaction in a task of its own, versions made current before
//!   the answer, one change event after the commit.
//!
//! Both know nothing of axum: the HTTP handlers (`http::records`) extract a request, call
//! one of these, and shape the response; real-time re-reads, jobs, import and export call
//! the same functions. Errors are [`ServiceError`]s in the service's own terms; the edge
//! maps them to a status and a code (`http::error`).

pub mod audit;
pub mod identity;
pub mod read;
pub mod write;

use std::time::Duration;

use oxbase_query::QueryError;
use oxbase_query::write::WriteError;

use crate::redis_client::NotPropagated;
use oxbase_store::StoreError;
use oxbase_store::write::WriteFailure;

/// Whose request this is, as far as the data goes: what it may see and change (the
/// caller's role with its values bound), and the access part of every cache key.
pub use oxbase_access::Scope;

/// Database work done for an answer, for the `Server-Timing` header.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseTiming {
    pub duration: Duration,
    pub statements: u32,
}

impl DatabaseTiming {
    /// No database work: an answer from the response cache.
    pub const NONE: DatabaseTiming = DatabaseTiming { duration: Duration::ZERO, statements: 0 };
}

/// Why a read or a write was not done (or, for [`ServiceError::NotPropagated`], not
/// confirmed), in the service's terms.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request's parameters do not fit the grammar or the schema.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A write's body does not fit the schema (every problem listed).
    #[error(transparent)]
    Invalid(#[from] WriteError),
    /// The write was rolled back by the database's rules or its state.
    #[error(transparent)]
    Write(#[from] WriteFailure),
    /// The database could not do it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller may not do it (or must say who they are first).
    #[error(transparent)]
    Denied(#[from] oxbase_access::Denied),
    /// `/{resource}/{id}`: no row has the id.
    #[error("no {resource} with id {id}")]
    NotFound { resource: String, id: String },
    /// The single-object media type was asked for and the read found another number of rows.
    #[error("expected exactly one row, found {rows}")]
    NotSingleObject { rows: usize },
    /// A PATCH or DELETE without a filter, on a resource that does not allow it.
    #[error("{method} without a filter would change every row of '{resource}'")]
    UnfilteredWrite { method: &'static str, resource: String },
    /// Redis is known to be unusable, so a write could not be confirmed to the other
    /// instances: refused before it ran, nothing written.
    #[error("redis is unavailable: {reason}")]
    RedisUnavailable { reason: String },
    /// The write committed, but Redis did not confirm its versions in time.
    #[error(transparent)]
    NotPropagated(#[from] NotPropagated),
}
