//! Change events and the bus that carries them.
//!
//! After a write commits, exactly one [`ChangeEvent`] (made by the store that wrote) is
//! published for the request (a bulk write is one event listing its rows). Subscribers —
//! cache invalidation, real-time fan-out, jobs, metrics — receive every event in commit
//! order. [`LocalBus`] carries
//! events inside one process; [`redis::RedisBus`] also carries them to every other instance
//! over Redis pub/sub. Without Redis on PostgreSQL, events of other instances arrive through
//! LISTEN/NOTIFY (`store::postgres::notify`) and are [`Bus::deliver`]ed locally.

pub mod redis;

use tokio::sync::broadcast;

use oxbase_store::change::ChangeEvent;

/// Carries change events from writers to subscribers.
pub trait Bus: Send + Sync {
    /// Publishes an event of this instance's own write to every current subscriber (on
    /// every instance, when the bus spans instances).
    fn publish(&self, event: ChangeEvent);
    /// Hands an event that arrived from elsewhere (another instance, a trigger's NOTIFY) to
    /// this instance's subscribers only.
    fn deliver(&self, event: ChangeEvent);
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

    /// The channel's sender, for tasks that deliver events arriving from elsewhere.
    pub(crate) fn sender(&self) -> broadcast::Sender<ChangeEvent> {
        self.sender.clone()
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

    fn deliver(&self, event: ChangeEvent) {
        let _ = self.sender.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.sender.subscribe()
    }
}
