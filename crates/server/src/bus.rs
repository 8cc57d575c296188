//! Change events and the bus that carries them.
//!
//! After a write commits, exactly one [`ChangeEvent`] is published for the request (a bulk
//! write is one event listing its rows). Subscribers — cache invalidation, real-time
//! fan-out, jobs, metrics — receive every event in commit order. This release has the
//! in-process [`LocalBus`]; the Redis and PostgreSQL NOTIFY buses implement the same trait.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio::sync::broadcast;

/// What a write did to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOperation {
    Insert,
    Update,
    Delete,
}

/// One committed write request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    /// The resource the request wrote.
    pub resource: String,
    pub op: ChangeOperation,
    /// Primary keys of the rows written, in request order where there is one.
    pub ids: Vec<serde_json::Value>,
    /// For updates: per row, only the fields whose value changed (new values).
    pub changes: Vec<RowChange>,
    /// The resource's version after the write.
    pub version: i64,
    /// Every resource whose version the write bumped (nested children, cascades), with
    /// its new version.
    pub versions: BTreeMap<String, i64>,
    /// The `X-Request-Id` of the request.
    pub request_id: String,
}

/// The fields one row's update changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowChange {
    pub id: serde_json::Value,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Carries change events from writers to subscribers.
pub trait Bus: Send + Sync {
    /// Publishes an event to every current subscriber.
    fn publish(&self, event: ChangeEvent);
    /// A receiver of every event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent>;
}

/// Subscribers that fall further behind than this many events lose the oldest ones (and
/// are told so by the receiver), so a slow subscriber never holds memory without bound.
const LOCAL_CAPACITY: usize = 4096;

/// The in-process bus: a broadcast channel.
pub struct LocalBus {
    sender: broadcast::Sender<ChangeEvent>,
}

impl LocalBus {
    /// A bus with no subscribers yet.
    pub fn new() -> LocalBus {
        LocalBus { sender: broadcast::channel(LOCAL_CAPACITY).0 }
    }
}

impl Default for LocalBus {
    fn default() -> LocalBus {
        LocalBus::new()
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: ChangeEvent) {
        // No subscribers is not an error: nobody needs to hear of it.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.sender.subscribe()
    }
}
