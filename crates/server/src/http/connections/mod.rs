//! The accept loop `serve::serve` runs: connections with limits `axum::serve` lacks.
//!
//! `axum::serve` holds every socket for as long as the client likes: no limit on the time
//! to send headers, none on idling between requests, no cap on how many are open. 2,000
//! idle sockets and 500 slowloris sockets (a byte a second) were all held, and at a low
//! open-file limit `accept` failed with EMFILE, logged once a second while new requests
//! timed out. This loop serves each connection with hyper's auto builder, as axum did
//! (HTTP/1.1, and HTTP/2 with prior knowledge), and adds:
//!
//! - a header-read timeout and a keep-alive idle timeout per connection ([`timeouts`]);
//! - a cap on open connections: above it a connection is answered a short
//!   `503 too_many_connections` (`Retry-After`, `Connection: close`) and closed, so a
//!   client learns to back off instead of waiting in the backlog; one warning per
//!   [`WARNING_INTERVAL`] counts the refusals. The default cap stays under the process's
//!   open-file limit, so the cap is reached before `accept` runs out of descriptors;
//! - accept errors (EMFILE, ENFILE) pause accepting briefly and are logged once per burst;
//! - graceful shutdown: stop accepting, let each connection finish the request in flight
//!   (hyper closes idle ones at once), then return.
//!
//! hyper's read buffer is set above the URL and header limits, so that requests over them
//! reach the middleware that answers 414 and 431 as JSON (`http::middleware`); only
//! request heads beyond that buffer get hyper's own empty-bodied 431.

pub mod timeouts;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::config::connections::{FILES_BESIDES_CONNECTIONS, REFUSALS_AT_ONCE, open_file_limit};
use crate::http::error::ApiError;
use timeouts::{ClockedBody, ClockedStream, ConnectionClock, Timeouts};

/// How long answering a refused connection may take (writing the 503 and reading what the
/// client sent, so that closing does not reset the connection before the client has read
/// the answer).
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Repeated warnings (connections refused, accept failing) are logged at most this often.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Pause after an accept error other than a connection reset by its client: the listener
/// stays readable while descriptors are exhausted, so retrying at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// hyper's default read buffer; kept as the floor (a larger head gets hyper's bare 431).
const HYPER_DEFAULT_READ_BUFFER: usize = 8192 + 4096 * 100;

/// The connection settings of a server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Header-read and keep-alive timeouts.
    pub timeouts: Timeouts,
    /// Most connections open at once.
    pub max_connections: usize,
    /// hyper's largest read buffer, which bounds a request's head.
    pub read_buffer_bytes: usize,
}

impl ConnectionLimits {
    /// The limits `config` asks for.
    pub fn of(config: &ServerConfig) -> ConnectionLimits {
        // Twice the limits, so that a head over them is read whole and answered as JSON.
        let head_limits = config.max_url_length.saturating_add(config.max_header_bytes).saturating_mul(2);
        ConnectionLimits {
            timeouts: Timeouts { header_read: config.header_read_timeout, keep_alive: config.keep_alive_timeout },
            max_connections: config.max_connections.max(1),
            read_buffer_bytes: head_limits.max(HYPER_DEFAULT_READ_BUFFER),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    warn_if_over_open_file_limit(limits.max_connections);
    let mut builder = Builder::new(TokioExecutor::new());
    // Our own clock keeps the header-read timeout (see `timeouts` for why not hyper's).
    builder.http1().header_read_timeout(None::<Duration>).max_buf_size(limits.read_buffer_bytes);
    // As axum::serve: the CONNECT protocol, for WebSockets over HTTP/2. The header list
    // may be as large as an HTTP/1.1 head (h2's default is 16 KiB), so the 431 is ours.
    builder
        .http2()
        .enable_connect_protocol()
        .max_header_list_size(u32::try_from(limits.read_buffer_bytes).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let open_connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let refusal = Arc::new(refusal_response(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut refused = RepeatedWarning::default();
    let mut accept_failures = RepeatedWarning::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                if accept_failures.note() {
                    tracing::warn!(
                        %error,
                        failures = accept_failures.since_warning,
                        open_connections = limits.max_connections - open_connections.available_permits(),
                        "accepting connections fails; pausing briefly between tries (logged at most every 10 s)"
                    );
                    accept_failures.warned();
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        if let Some(failures) = accept_failures.end() {
            tracing::info!(failures, "accepting connections again");
        }
        match open_connections.clone().try_acquire_owned() {
            Ok(permit) => {
                if let Some(refused) = refused.end() {
                    tracing::info!(refused, "below the connection limit again");
                }
                let connection = serve_connection(stream, router.clone(), builder.clone(), limits, graceful.watcher());
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(_) => {
                if refused.note() {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        refused = refused.since_warning,
                        "connection limit reached: new connections are answered 503 too_many_connections (logged at most every 10 s)"
                    );
                    refused.warned();
                }
                refuse(stream, &refusals, refusal.clone());
            }
        }
    }
    drop(listener);
    tracing::debug!(connections = graceful.count(), "waiting for open connections to finish");
    graceful.shutdown().await;
}

/// Serves one connection until it ends, a timeout closes it, or shutdown has let it finish.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    builder: Arc<Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    watcher: Watcher,
) {
    let clock = ConnectionClock::start(limits.timeouts);
    let peer = stream.peer_addr().ok();
    let io = TokioIo::new(ClockedStream::new(stream, clock.clone()));
    let service = hyper::service::service_fn({
        let clock = clock.clone();
        move |mut request: Request<Incoming>| {
            let in_flight = clock.request_started();
            if let Some(peer) = peer {
                request.extensions_mut().insert(crate::http::auth::ClientAddress(peer));
            }
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| ClockedBody::new(body, in_flight)))
            }
        }
    });
    let mut connection = pin!(watcher.watch(builder.serve_connection_with_upgrades(io, service)));
    loop {
        let deadline = clock.deadline();
        tokio::select! {
            ended = &mut connection => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline.map(|(at, _)| at)) => {
                // Dropping the connection closes the socket; no request is in flight.
                if let Some((at, overdue)) = clock.deadline() && at <= Instant::now() {
                    tracing::debug!(reason = overdue.name(), "closing connection");
                    return;
                }
            }
            () = clock.changed() => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Answers a connection over the cap with the 503 and closes it, or closes it at once
/// when [`REFUSALS_AT_ONCE`] are being answered already.
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>, response: Arc<Vec<u8>>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            stream.write_all(&response).await?;
            stream.shutdown().await?;
            let mut ignored = [0; 4096];
            while stream.read(&mut ignored).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
        drop(permit);
    });
}

/// The whole HTTP/1.1 response a refused connection gets.
fn refusal_response(max_connections: usize) -> Vec<u8> {
    let error = ApiError::too_many_connections(max_connections);
    let body = error.body().to_string();
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: {}\r\nconnection: close\r\n\r\n",
        body.len(),
        error.retry_after.unwrap_or(1),
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

/// Errors about one connection (its client gave up before we accepted it), not about the
/// listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Warns when `max_connections` leaves too few of the process's open files for the rest.
fn warn_if_over_open_file_limit(max_connections: usize) {
    if let Some(limit) = open_file_limit()
        && max_connections.saturating_add(FILES_BESIDES_CONNECTIONS + REFUSALS_AT_ONCE) > limit
    {
        tracing::warn!(
            max_connections,
            open_file_limit = limit,
            "max_connections is close to the open-file limit: accepts may fail with 'too many open files' before the cap is reached; raise the limit (ulimit -n) or lower max_connections"
        );
    }
}

/// A warning repeated at most once per [`WARNING_INTERVAL`], counting the occurrences
/// since it was last logged.
#[derive(Debug, Default)]
struct RepeatedWarning {
    last_warning: Option<Instant>,
    since_warning: u64,
    total: u64,
}

impl RepeatedWarning {
    /// Counts one occurrence; true when the warning is due.
    fn note(&mut self) -> bool {
        self.since_warning += 1;
        self.total += 1;
        self.last_warning.is_none_or(|at| at.elapsed() >= WARNING_INTERVAL)
    }

    /// The occurrences are over: how many there were, if any, and a fresh start.
    fn end(&mut self) -> Option<u64> {
        let total = self.total;
        *self = RepeatedWarning::default();
        (total > 0).then_some(total)
    }

    /// The warning was logged.
    fn warned(&mut self) {
        self.last_warning = Some(Instant::now());
        self.since_warning = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_due_once_per_interval_and_counts_the_rest() {
        let mut warning = RepeatedWarning::default();
        assert!(warning.note());
        warning.warned();
        assert!(!warning.note());
        assert!(!warning.note());
        assert_eq!(warning.since_warning, 2);
        assert_eq!(warning.end(), Some(3));
        assert_eq!(warning.end(), None);
        assert!(warning.note(), "due again after the end");
    }

    #[test]
    fn the_refusal_is_a_complete_json_response() {
        let response = String::from_utf8(refusal_response(5)).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains("retry-after: 1") && head.contains("connection: close"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "too_many_connections");
        assert_eq!(body["details"]["limit"], 5);
    }
}
