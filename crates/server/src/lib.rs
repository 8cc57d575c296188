//! The oxbase server: everything between a socket and the database.
//!
//! # Layout
//!
//! Modules follow the request path (docs/ARCHITECTURE.md):
//!
//! - [`config`]: every setting declared once (flag, `OXBASE_…` variable, schema-file key),
//!   layered into the settings a server runs with; secrets; database URLs.
//! - [`encoding`]: content types and content codings of read responses.
//! - [`cache`]: the exact response cache, checked against resource versions, and where the
//!   current versions come from (this process, PostgreSQL NOTIFY, or a Redis hash).
//! - [`bus`]: the bus that carries change events after each committed write (in process,
//!   or across instances over Redis pub/sub).
//! - [`redis_client`]: the one Redis client: the shared version hash and its epoch, the
//!   change channel, shared cache entries.
//! - [`service`]: the one read path and the one write path below HTTP, in an access scope.
//! - [`http`]: the route table, handlers, middleware and the one error type at the edge.
//! - [`app`]: the shared [`app::App`] the paths below HTTP run on.
//! - [`serve`]: [`serve::build_app`] (what tests call too), binding, and [`serve::serve`]
//!   with connection limits and graceful shutdown.
//!
//! The store (engines, the write transaction, read assembly, change events) is the crate
//! `oxbase-store`, parsing and planning `oxbase-query`, the schema `oxbase-schema`; none of
//! them knows this crate, and the store knows no HTTP.

pub mod app;
pub mod bus;
pub mod cache;
pub mod config;
pub mod encoding;
pub mod http;
pub mod redis_client;
pub mod serve;
pub mod service;

#[cfg(test)]
mod layering;
