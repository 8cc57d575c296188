//! oxbase queries: from request parameters to typed plans, and from plans to SQL.
//!
//! # Layout
//!
//! - [`grammar`]: the PostgREST query grammar → an untyped syntax tree (shape only).
//! - [`plan`]: the syntax tree resolved against the schema → a typed [`plan::ReadPlan`]:
//!   names exist, values are typed by their columns, limits hold. Nothing unvalidated
//!   leaves this module; errors name the parameter and the offending token
//!   ([`QueryError`]).
//! - [`parse`]: the path parts of a request (resource, primary key).
//! - [`cursor`]: opaque, HMAC-signed keyset cursors.
//! - [`write`]: request bodies validated against the schema → insert and update plans.
//! - [`sql`]: plans → (SQL text, bound parameters) for one dialect. Identifiers come only
//!   from the validated schema; values are always bound parameters.
//!
//! This crate knows no HTTP and no database driver.

pub mod cursor;
pub mod error;
pub mod grammar;
pub mod parse;
pub mod plan;
pub mod sql;
pub mod write;

pub use error::QueryError;
