//! The header-read and keep-alive timeouts of one connection.
//!
//! hyper has a `header_read_timeout`, but its clock runs from the end of one response to
//! the end of the next request's headers: it closes idle keep-alive connections too, so a
//! 10 s header timeout would make a 60 s keep-alive impossible. This clock separates the
//! two, as Go's `ReadHeaderTimeout` and `IdleTimeout` do:
//!
//! - from the connection's opening, and from the first byte of each later request, the
//!   client has the header-read timeout to finish sending the request's headers;
//! - after a response, a connection with no request in flight and no byte of a next one
//!   is closed after the keep-alive timeout;
//! - while a request is in flight (from its headers until its response body has been
//!   handed to the socket), neither applies: the request timeout bounds the handler.
//!
//! The socket ([`ClockedStream`]) reports bytes arriving, the service reports a request
//! starting ([`ConnectionClock::request_started`]) and the response body ([`ClockedBody`])
//! reports it finishing when dropped. Over HTTP/2 any frame (a PING too) counts as the
//! start of a request, so a connection that only pings is closed after the header-read
//! timeout.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The two timeouts; `None` turns one off.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Time to send a request's headers, from the connection's opening or the request's
    /// first byte.
    pub header_read: Option<Duration>,
    /// Time a connection may sit with no request in flight and none arriving.
    pub keep_alive: Option<Duration>,
}

/// Why a connection is due to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdue {
    /// The request's headers did not arrive in time.
    HeaderRead,
    /// The connection sat idle too long.
    KeepAlive,
}

impl Overdue {
    /// For the log.
    pub fn name(self) -> &'static str {
        match self {
            Overdue::HeaderRead => "header_read_timeout",
            Overdue::KeepAlive => "keep_alive_timeout",
        }
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request's headers, since the connection opened or the
    /// request's first byte arrived.
    ReadingHeaders { since: Instant },
    /// This many requests have their headers in and their response not yet sent (more
    /// than one only over HTTP/2).
    Busy { requests: usize },
    /// No request in flight and no byte of a next one, since the last response was sent.
    Idle { since: Instant },
}

/// One connection's phase, shared by its socket, its service and its task.
pub struct ConnectionClock {
    timeouts: Timeouts,
    phase: Mutex<Phase>,
    /// Wakes the connection's task when its deadline may have moved earlier.
    changed: Notify,
}

impl ConnectionClock {
    /// A clock for a connection opened now: its first request's headers are due.
    pub fn start(timeouts: Timeouts) -> Arc<ConnectionClock> {
        Arc::new(ConnectionClock {
            timeouts,
            phase: Mutex::new(Phase::ReadingHeaders { since: Instant::now() }),
            changed: Notify::new(),
        })
    }

    /// When the connection is due to be closed, and why; `None` while a request is in
    /// flight or when the timeout of the phase is off.
    pub fn deadline(&self) -> Option<(Instant, Overdue)> {
        match *self.lock() {
            Phase::ReadingHeaders { since } => {
                self.timeouts.header_read.map(|timeout| (since + timeout, Overdue::HeaderRead))
            }
            Phase::Idle { since } => self.timeouts.keep_alive.map(|timeout| (since + timeout, Overdue::KeepAlive)),
            Phase::Busy { .. } => None,
        }
    }

    /// Completes when the deadline may have changed (a notification made before the call
    /// is not lost).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The service received a request's headers; the returned guard ends the request when
    /// dropped (it travels in the response body).
    pub fn request_started(self: &Arc<Self>) -> RequestInFlight {
        let mut phase = self.lock();
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy { requests: requests + 1 },
            Phase::ReadingHeaders { .. } | Phase::Idle { .. } => Phase::Busy { requests: 1 },
        };
        RequestInFlight { clock: self.clone() }
    }

    fn bytes_received(&self) {
        let mut phase = self.lock();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::ReadingHeaders { since: Instant::now() };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_finished(&self) {
        let mut phase = self.lock();
        if let Phase::Busy { requests } = *phase {
            *phase = match requests {
                0 | 1 => Phase::Idle { since: Instant::now() },
                more => Phase::Busy { requests: more - 1 },
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A phase is a plain value: a panic while it was held cannot leave it half-written.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request in flight on a connection; dropping it ends the request on the clock.
pub struct RequestInFlight {
    clock: Arc<ConnectionClock>,
}

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.clock.request_finished();
    }
}

/// The connection's socket, telling the clock when bytes arrive.
pub struct ClockedStream {
    stream: TcpStream,
    clock: Arc<ConnectionClock>,
}

impl ClockedStream {
    /// Wraps an accepted socket.
    pub fn new(stream: TcpStream, clock: Arc<ConnectionClock>) -> ClockedStream {
        ClockedStream { stream, clock }
    }
}

impl AsyncRead for ClockedStream {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buffer.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(context, buffer);
        if matches!(result, Poll::Ready(Ok(()))) && buffer.filled().len() > before {
            this.clock.bytes_received();
        }
        result
    }
}

impl AsyncWrite for ClockedStream {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(context, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}

/// A response body that ends its request on the clock when hyper drops it (after its last
/// frame, or when the connection goes away).
pub struct ClockedBody {
    body: Body,
    _in_flight: RequestInFlight,
}

impl ClockedBody {
    /// Carries `in_flight` with `body`.
    pub fn new(body: Body, in_flight: RequestInFlight) -> ClockedBody {
        ClockedBody { body, _in_flight: in_flight }
    }
}

impl hyper::body::Body for ClockedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts =
        Timeouts { header_read: Some(Duration::from_secs(10)), keep_alive: Some(Duration::from_secs(60)) };

    fn overdue(clock: &ConnectionClock) -> Option<Overdue> {
        clock.deadline().map(|(_, overdue)| overdue)
    }

    #[test]
    fn a_connection_moves_from_headers_to_busy_to_idle_and_back() {
        let opened = Instant::now();
        let clock = ConnectionClock::start(TIMEOUTS);
        let (due, _) = clock.deadline().unwrap();
        assert!(due >= opened + Duration::from_secs(10) && due <= Instant::now() + Duration::from_secs(10));
        assert_eq!(overdue(&clock), Some(Overdue::HeaderRead));

        let first = clock.request_started();
        let second = clock.request_started();
        assert_eq!(clock.deadline(), None, "no deadline while requests are in flight");
        drop(first);
        assert_eq!(clock.deadline(), None, "one request is still in flight");
        drop(second);
        assert_eq!(overdue(&clock), Some(Overdue::KeepAlive));

        clock.bytes_received();
        let (started, _) = clock.deadline().unwrap();
        assert_eq!(overdue(&clock), Some(Overdue::HeaderRead));
        clock.bytes_received();
        assert_eq!(clock.deadline().unwrap().0, started, "more bytes of the same headers do not extend the deadline");
    }

    #[tokio::test]
    async fn the_first_byte_after_idling_wakes_the_connection_task() {
        let clock = ConnectionClock::start(TIMEOUTS);
        drop(clock.request_started());
        clock.changed().await; // the notification of the request's end
        clock.bytes_received();
        tokio::time::timeout(Duration::from_secs(1), clock.changed()).await.expect("a wake-up for the new deadline");
    }

    #[test]
    fn a_timeout_turned_off_gives_no_deadline() {
        let clock = ConnectionClock::start(Timeouts { header_read: None, keep_alive: None });
        assert_eq!(clock.deadline(), None);
        drop(clock.request_started());
        assert_eq!(clock.deadline(), None);
    }
}
