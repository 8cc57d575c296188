//! The oxbase schema: what a schema file declares and what the database must look like.
//!
//! # Layout
//!
//! - [`file`]: the TOML file as written, deserialised with spans so errors name lines.
//! - [`model`]: the validated model every other layer works from (resources, fields,
//!   relations, indexes, roles, and the `[realtime]` and `[rate_limits]` sections).
//! - [`validate`]: turns a [`file::SchemaFile`] into a [`model::Schema`], collecting every
//!   error with its line, the offending name and a hint ([`CheckError`]).
//! - [`predicate`]: the small SQL-like language of partial-index `where` clauses.
//! - [`dialect`]: identifier quoting and literal rendering for SQLite and PostgreSQL.
//! - [`physical`]: the tables, columns and indexes a schema needs in one dialect.
//! - [`migration`]: the difference between two physical schemas as DDL statements,
//!   each marked additive or destructive.
//!
//! This crate does no I/O beyond reading the schema file; executing DDL is the store's job.

pub mod dialect;
pub mod file;
pub mod migration;
pub mod model;
pub mod physical;
pub mod predicate;
pub mod validate;
pub mod values;

pub use model::Schema;
pub use validate::{CheckError, CheckErrors, load_schema_file, parse_schema, read_schema_file};
