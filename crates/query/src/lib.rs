//! oxbase queries: from request parameters to typed plans, and from plans to SQL.
//!
//! # Layout
//!
//! - [`parse`]: query-string parameters → a typed [`read::ReadPlan`], validated against
//!   the schema. Nothing unvalidated leaves this module; errors name the parameter and
//!   the offending token ([`QueryError`]).
//! - [`read`]: the typed read plan.
//! - [`sql`]: a plan → (SQL text, bound parameters) for one dialect. Identifiers come only
//!   from the validated schema; values are always bound parameters.
//!
//! This crate knows no HTTP and no database driver.

pub mod error;
pub mod parse;
pub mod read;
pub mod sql;

pub use error::QueryError;
