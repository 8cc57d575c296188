//! The bus across instances: events go to local subscribers at once and to every other
//! instance over Redis pub/sub.
//!
//! Pub/sub is at-most-once: an instance that is disconnected misses events. Cache
//! exactness does not rest on it (the version hash does), only real-time delivery and the
//! freshness of the locally known versions.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;

use crate::bus::{Bus, LocalBus};
use crate::redis_client::RedisVersions;
use oxbase_store::change::ChangeEvent;

/// Called with each event that arrives from another instance, before local subscribers
/// get it (the cache notes the versions it carries).
pub type OnRemoteEvent = Arc<dyn Fn(&ChangeEvent) + Send + Sync>;

/// A message on the channel.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing instance, which ignores its own messages.
    origin: String,
    event: ChangeEvent,
}

/// Local delivery plus Redis pub/sub.
pub struct RedisBus {
    local: LocalBus,
    outgoing: mpsc::UnboundedSender<ChangeEvent>,
}

impl RedisBus {
    /// Starts the publishing and subscribing tasks; events from other instances go to
    /// `on_remote`, then to local subscribers.
    pub fn start(
        redis: Arc<RedisVersions>,
        on_remote: OnRemoteEvent,
        instance: String,
    ) -> (RedisBus, Vec<AbortHandle>) {
        let local = LocalBus::new();
        let (outgoing, mut pending) = mpsc::unbounded_channel::<ChangeEvent>();
        let publisher = {
            let (redis, instance) = (redis.clone(), instance.clone());
            tokio::spawn(async move {
                // One task, so events leave in the order they were published.
                while let Some(event) = pending.recv().await {
                    let envelope = Envelope { origin: instance.clone(), event };
                    let payload = serde_json::to_string(&envelope).unwrap_or_default();
                    if let Err(error) = redis.publish(payload).await {
                        tracing::debug!(%error, "a change event was not published to redis");
                    }
                }
            })
        };
        let subscriber = {
            let sender = local.sender();
            tokio::spawn(async move {
                loop {
                    if let Err(error) = subscribe(&redis, &on_remote, &sender, &instance).await {
                        tracing::debug!(%error, "redis subscription lost; retrying");
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        };
        (RedisBus { local, outgoing }, vec![publisher.abort_handle(), subscriber.abort_handle()])
    }
}

/// Receives the channel until the subscription breaks.
async fn subscribe(
    redis: &RedisVersions,
    on_remote: &OnRemoteEvent,
    local: &broadcast::Sender<ChangeEvent>,
    instance: &str,
) -> Result<(), redis::RedisError> {
    let mut subscription = redis.client().get_async_pubsub().await?;
    subscription.subscribe(&redis.channel).await?;
    let mut messages = subscription.into_on_message();
    while let Some(message) = messages.next().await {
        let Ok(envelope) = serde_json::from_slice::<Envelope>(message.get_payload_bytes()) else {
            tracing::warn!("ignoring a malformed change event from redis");
            continue;
        };
        if envelope.origin == instance {
            continue;
        }
        on_remote(&envelope.event);
        let _ = local.send(envelope.event);
    }
    Ok(())
}

impl Bus for RedisBus {
    fn publish(&self, event: ChangeEvent) {
        self.local.publish(event.clone());
        let _ = self.outgoing.send(event);
    }

    fn deliver(&self, event: ChangeEvent) {
        self.local.deliver(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.local.subscribe()
    }
}
