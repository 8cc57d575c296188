//! HTTP: the route table, handlers and middleware.
//!
//! # Layout
//!
//! - [`connections`]: the accept loop: connection cap, header-read and keep-alive
//!   timeouts, graceful shutdown.
//! - [`router`]: the one explicit route table.
//! - [`records`]: `/api/v1/{resource}` handlers, one file per action.
//! - [`health`]: liveness and readiness.
//! - [`admin`]: pool statistics and EXPLAIN, when enabled.
//! - [`auth`]: bearer credentials into a caller, the admin guard, login and API keys.
//! - [`middleware`]: request id, request log, `Server-Timing`, URL and header limits,
//!   timeouts, panics.
//! - [`error`]: [`error::ApiError`], the only error type handlers return.
//! - [`media_type`]: `Content-Type` and `Accept` media types, matched whole and in any case.
//! - [`strict_json`]: request bodies as JSON values, refusing a key named twice.
//! - [`encoding`]: `Accept-Encoding` negotiation and compressing cached bodies once.

pub mod access;
pub mod admin;
pub mod auth;
pub mod connections;
pub mod encoding;
pub mod error;
pub mod health;
pub mod media_type;
pub mod middleware;
pub mod records;
pub mod router;
pub mod strict_json;
