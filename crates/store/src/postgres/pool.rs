//! The connection pool's size over time: `min_idle` connections opened at start, more
//! opened on demand up to `max_size`, and those idle longer than `idle_timeout` closed
//! again, down to `min_idle`.
//!
//! deadpool's unmanaged pool holds the connections and queues the waiters; this module
//! decides when a connection is added to it or taken out of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use deadpool::unmanaged::{Object, Pool};

use crate::StoreError;
use crate::settings::PoolSettings;

/// A pooled connection with the statements prepared on it.
///
/// The synchronous client runs a small runtime of its own and must not be dropped inside
/// an async task (it would panic at shutdown): its drop is moved to a plain thread.
pub(super) struct Connection {
    /// `None` after a failed reconnect; the next use tries again.
    pub(super) client: Option<postgres::Client>,
    pub(super) prepared: HashMap<String, postgres::Statement>,
    pub(super) opened: Instant,
    /// When a request last gave it back (or when it was opened).
    pub(super) last_used: Instant,
}

impl Connection {
    pub(super) fn new(client: postgres::Client) -> Connection {
        let now = Instant::now();
        Connection { client: Some(client), prepared: HashMap::new(), opened: now, last_used: now }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = std::thread::Builder::new().name("oxbase-pg-close".into()).spawn(move || drop(client));
        }
    }
}

/// Connections being opened right now to grow the pool, counted so that concurrent
/// requests never open more than `max_size` in all.
#[derive(Default)]
pub(super) struct Growth {
    opening: AtomicUsize,
}

/// A slot reserved for a connection being opened; released when dropped, which must be
/// after the connection is in the pool (so the pool's size already counts it).
pub(super) struct Reservation<'a> {
    growth: &'a Growth,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.growth.opening.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Growth {
    /// Reserves room for one more connection, if the pool and the connections being opened
    /// leave any.
    pub(super) fn reserve(&self, pool: &Pool<Connection>) -> Option<Reservation<'_>> {
        let mut opening = self.opening.load(Ordering::Acquire);
        loop {
            let status = pool.status();
            if status.size + opening >= status.max_size {
                return None;
            }
            match self.opening.compare_exchange(opening, opening + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Reservation { growth: self }),
                Err(actual) => opening = actual,
            }
        }
    }
}

/// Opens `count` connections (on a blocking thread) and adds them to the pool.
pub(super) async fn fill(
    pool: &Pool<Connection>,
    url: &str,
    settings: &PoolSettings,
    count: usize,
) -> Result<(), StoreError> {
    let (url, settings) = (url.to_owned(), settings.clone());
    let clients = tokio::task::spawn_blocking(move || {
        (0..count).map(|_| super::connect_with(&url, &settings)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|error| StoreError::Internal(error.to_string()))??;
    for client in clients {
        pool.try_add(Connection::new(client))
            .map_err(|(_, error)| StoreError::Internal(format!("cannot pool a connection: {error}")))?;
    }
    Ok(())
}

/// How often the pool looks for idle connections: often enough that a connection is
/// closed soon after its idle timeout, rarely enough to cost nothing.
fn reap_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(30))
}

/// Closes connections idle longer than `idle_timeout`, least recently used first, as long
/// as more than `min_idle` are open. Runs until the task is aborted.
pub(super) async fn close_idle_connections(
    pool: Pool<Connection>,
    min_idle: usize,
    idle_timeout: Duration,
    closed: Arc<AtomicU64>,
) {
    let mut ticks = tokio::time::interval(reap_interval(idle_timeout));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut excess = pool.status().size.saturating_sub(min_idle);
        if excess == 0 {
            continue;
        }
        // The pool hands out its most recently returned connection first, so the idle ones
        // are at the bottom: take every idle connection for a moment to see them all.
        let mut idle: Vec<Object<Connection>> = std::iter::from_fn(|| pool.try_get().ok()).collect();
        idle.sort_by_key(|connection| connection.last_used);
        for connection in idle {
            if excess > 0 && connection.last_used.elapsed() >= idle_timeout {
                excess -= 1;
                closed.fetch_add(1, Ordering::Relaxed);
                drop(Object::take(connection));
            }
            // Any other connection goes back to the pool as it is dropped here.
        }
    }
}
