//! Serving the app over HTTP: the router ([`build_app`], what tests call too), binding a
//! port, and [`serve`] with connection limits and graceful shutdown. The top of the
//! crate: it assembles [`crate::app`] and [`crate::http`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::app::{App, AppState};
use crate::http::connections::{self, ConnectionLimits};
use crate::http::router::router;
use oxbase_store::StoreError;

/// The router serving `app`: what `serve` runs and what tests call.
pub fn build_app(app: Arc<App>) -> Router {
    router(AppState(app))
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "refusing to serve a schema without roles on {address}: anyone who can reach it could read, write and delete everything. Declare [roles] (and an `anonymous` role for what needs no credentials), listen on 127.0.0.1, or pass --open (server.open = true) if the API is meant to be public"
    )]
    Exposed { address: SocketAddr },
}

/// How exposed the API is, from its schema and where it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// The schema declares roles: every request gets what its credentials allow.
    Guarded,
    /// No roles, on loopback: anyone on this machine may do everything.
    OpenLocally,
    /// No roles, on another address, as `open` deliberately allows.
    Public,
}

/// Whether `schema` may be served on `address`: a schema without roles only on loopback,
/// unless `open` says the API is deliberately public. Security is on by default.
pub fn exposure(schema: &oxbase_schema::Schema, address: SocketAddr, open: bool) -> Result<Exposure, ServeError> {
    match (schema.roles.is_empty(), address.ip().is_loopback(), open) {
        (false, _, _) => Ok(Exposure::Guarded),
        (true, true, _) => Ok(Exposure::OpenLocally),
        (true, false, true) => Ok(Exposure::Public),
        (true, false, false) => Err(ServeError::Exposed { address }),
    }
}

/// Binds the listener (so the caller learns the port before serving).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address).await.map_err(|source| ServeError::Bind { address, source })
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests finish,
/// holding connections to the settings' limits (`http::connections`).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let limits = ConnectionLimits::of(&app.config);
    let retention = app.config.audit_retention.map(|_| tokio::spawn(crate::service::audit::retain(app.clone())));
    connections::serve(listener, build_app(app), limits, shutdown).await;
    if let Some(task) = retention {
        task.abort();
    }
    Ok(())
}
