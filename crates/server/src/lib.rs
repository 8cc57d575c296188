//! The oxbase server: everything between a socket and the database.
//!
//! # Layout
//!
//! Modules follow the request path (docs/ARCHITECTURE.md):
//!
//! - [`config`]: every setting declared once (flag, `OXBASE_…` variable, schema-file key),
//!   layered into the settings a server runs with; secrets; database URLs.
//! - [`store`]: connections, statement execution, migrations and bulk loading per engine;
//!   rows are encoded to JSON bytes right where they are read.
//! - [`cache`]: the exact response cache, checked against resource versions, and where the
//!   current versions come from (this process, PostgreSQL NOTIFY, or a Redis hash).
//! - [`bus`]: change events after each committed write, and the bus that carries them (in
//!   process, or across instances over Redis pub/sub).
//! - [`seed`]: loads an example's generated data into a store.
//! - [`http`]: the route table, handlers, middleware and the one error type at the edge.
//! - [`app`]: the shared [`app::App`], [`app::build_app`] (what tests call too) and
//!   [`app::serve`] with graceful shutdown.
//!
//! Parsing and planning live in `oxbase-query`, the schema in `oxbase-schema`; neither knows
//! this crate.

pub mod app;
pub mod bus;
pub mod cache;
pub mod config;
pub mod http;
pub mod seed;
pub mod store;
