//! The oxbase server: everything between a socket and the database.
//!
//! # Layout
//!
//! Modules follow the request path (docs/ARCHITECTURE.md):
//!
//! - [`config`]: every setting declared once (flag, `OXBASE_…` variable, schema-file key),
//!   layered into the settings a server runs with; secrets; database URLs.
//! - [`store`]: connections, statement execution, migrations and bulk loading per engine;
//!   rows are encoded to JSON bytes right where they are read; the change event of a write.
//! - [`encoding`]: content types and content codings of read responses.
//! - [`cache`]: the exact response cache, checked against resource versions, and where the
//!   current versions come from (this process, PostgreSQL NOTIFY, or a Redis hash).
//! - [`bus`]: the bus that carries change events after each committed write (in process,
//!   or across instances over Redis pub/sub).
//! - [`redis_client`]: the one Redis client: the shared version hash and its epoch, the
//!   change channel, shared cache entries.
//! - [`seed`]: loads an example's generated data into a store.
//! - [`service`]: the one read path and the one write path below HTTP, in an access scope.
//! - [`http`]: the route table, handlers, middleware and the one error type at the edge.
//! - [`app`]: the shared [`app::App`] the paths below HTTP run on.
//! - [`serve`]: [`serve::build_app`] (what tests call too), binding, and [`serve::serve`]
//!   with connection limits and graceful shutdown.
//!
//! Parsing and planning live in `oxbase-query`, the schema in `oxbase-schema`; neither knows
//! this crate.

pub mod app;
pub mod bus;
pub mod cache;
pub mod config;
pub mod encoding;
pub mod http;
pub mod redis_client;
pub mod seed;
pub mod serve;
pub mod service;
pub mod store;

#[cfg(test)]
mod layering;
