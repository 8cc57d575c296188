//! PostgreSQL LISTEN/NOTIFY: how writes tell every instance what changed.
//!
//! oxbase's own connections mark themselves (`oxbase.writer = on`, so the triggers
//! of [`super::triggers`] stay quiet) and send one notification on [`CHANNEL`] carrying
//! the resource, the operation, the written ids and the new versions; PostgreSQL delivers
//! it at commit, in commit order. Writes made outside oxbase are announced by the
//! triggers. Each instance keeps one listening connection ([`listen`]) on a thread of its
//! own, reconnecting when it is lost; after every (re)connection it reads the whole
//! `_oxbase_versions` table, so notifications missed while disconnected are caught up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxbase_query::sql::Statement;
use oxbase_schema::model::Literal;
use postgres::fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::change::ChangeOperation;

/// The notification channel.
pub const CHANNEL: &str = "oxbase_changes";

/// PostgreSQL refuses payloads of 8000 bytes or more; ids are left out above this.
const MAX_PAYLOAD: usize = 7900;

/// What one notification says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChangeNotice {
    /// The oxbase instance that wrote; absent for a write made outside oxbase (a trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub resource: String,
    pub op: ChangeOperation,
    /// The written rows' keys (left out when they would not fit in a notification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<serde_json::Value>,
    /// Every resource whose version moved, with its new version.
    pub versions: BTreeMap<String, i64>,
}

impl ChangeNotice {
    /// The notice as a payload PostgreSQL accepts.
    pub fn payload(&self) -> String {
        let payload = serde_json::to_string(self).unwrap_or_default();
        if payload.len() <= MAX_PAYLOAD {
            return payload;
        }
        serde_json::to_string(&ChangeNotice { ids: Vec::new(), ..self.clone() }).unwrap_or_default()
    }
}

/// The connection option that marks a session as oxbase's own, so the external-write
/// triggers skip its writes (set once when a pooled connection opens: no statement per write).
pub const WRITER_OPTION: &str = "-c oxbase.writer=on";

/// Sends `notice` at commit.
pub fn notify_statement(notice: &ChangeNotice) -> Statement {
    Statement {
        sql: "SELECT count(*) FROM (SELECT pg_notify($1, $2)) AS \"notified\"".to_owned(),
        parameters: vec![Literal::Text(CHANNEL.to_owned()), Literal::Text(notice.payload())],
        key_list: None,
    }
}

/// What the listening thread reports.
#[derive(Debug)]
pub enum ListenerEvent {
    /// Listening (again), with every resource version as of just after `LISTEN`.
    Connected(Vec<(String, i64)>),
    /// The listening connection failed; notifications may be missed until `Connected`.
    Lost(String),
    /// A notification arrived.
    Notice(ChangeNotice),
    /// This instance's own barrier notification `token` arrived: every notification of a
    /// transaction that committed before it was sent has been reported before this event.
    Barrier(u64),
}

/// The listening thread; dropping it stops the thread.
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Listens on [`CHANNEL`] of the database at `url` on a thread of its own, sending what
/// happens to `events` until the listener is dropped or `events` is closed.
/// With `barrier_channel`, also listens on that channel for [`Barrier`] tokens.
pub fn listen(url: String, barrier_channel: Option<String>, events: UnboundedSender<ListenerEvent>) -> Listener {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let reporter = events.clone();
    let spawned = std::thread::Builder::new().name("oxbase-listen".into()).spawn(move || {
        while !stopped.load(Ordering::SeqCst) && !events.is_closed() {
            if let Err(reason) = session(&url, barrier_channel.as_deref(), &events, &stopped) {
                if events.send(ListenerEvent::Lost(reason)).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    });
    if let Err(error) = spawned {
        let _ = reporter.send(ListenerEvent::Lost(format!("cannot start the listening thread: {error}")));
    }
    Listener { stop }
}

/// One listening connection, until it fails or the listener stops.
fn session(
    url: &str,
    barrier_channel: Option<&str>,
    events: &UnboundedSender<ListenerEvent>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut client = super::connect(url).map_err(|error| error.to_string())?;
    client.batch_execute(&format!("LISTEN \"{CHANNEL}\"")).map_err(|error| error.to_string())?;
    if let Some(channel) = barrier_channel {
        client.batch_execute(&format!("LISTEN \"{channel}\"")).map_err(|error| error.to_string())?;
    }
    let versions = read_versions(&mut client)?;
    if events.send(ListenerEvent::Connected(versions)).is_err() {
        return Ok(());
    }
    let mut last_check = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(Duration::from_millis(200));
            while let Some(notification) = waiting.next().map_err(|error| error.to_string())? {
                if Some(notification.channel()) == barrier_channel {
                    if let Ok(token) = notification.payload().parse()
                        && events.send(ListenerEvent::Barrier(token)).is_err()
                    {
                        return Ok(());
                    }
                    continue;
                }
                match serde_json::from_str::<ChangeNotice>(notification.payload()) {
                    Ok(notice) => {
                        if events.send(ListenerEvent::Notice(notice)).is_err() {
                            return Ok(());
                        }
                    }
                    Err(error) => tracing::warn!(%error, "ignoring a malformed change notification"),
                }
            }
        }
        // A connection that died quietly shows itself only when used.
        if last_check.elapsed() > Duration::from_secs(1) {
            client.simple_query("").map_err(|error| error.to_string())?;
            last_check = Instant::now();
        }
        if client.is_closed() {
            return Err("the listening connection closed".to_owned());
        }
    }
    Ok(())
}

/// Every row of `_oxbase_versions` (none before the first migration).
pub fn read_versions(client: &mut postgres::Client) -> Result<Vec<(String, i64)>, String> {
    let exists: bool = client
        .query_one("SELECT to_regclass('\"_oxbase_versions\"') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| error.to_string())?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query("SELECT \"resource\", \"version\" FROM \"_oxbase_versions\"", &[])
        .map_err(|error| error.to_string())?;
    rows.iter()
        .map(|row| {
            Ok((row.try_get(0).map_err(|error| error.to_string())?, row.try_get(1).map_err(|error| error.to_string())?))
        })
        .collect()
}

/// A name for the database that is the same from every instance, however they reach it:
/// the cluster's system identifier and the database name (the URL's host and database
/// when the identifier cannot be read).
pub fn database_identity(url: &str) -> Result<String, String> {
    let mut client = super::connect(url).map_err(|error| error.to_string())?;
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| error.to_string())?;
    let system = client
        .query_one("SELECT system_identifier::text FROM pg_control_system()", &[])
        .and_then(|row| row.try_get::<_, String>(0))
        .unwrap_or_else(|_| url.rsplit('@').next().unwrap_or(url).split('/').next().unwrap_or_default().to_owned());
    Ok(format!("{name}:{system}"))
}

/// The channel on which the instance `instance` sends barrier tokens to itself.
pub fn barrier_channel(instance: &str) -> String {
    let digest = xxhash_rust::xxh3::xxh3_64(instance.as_bytes());
    format!("oxbase_barrier_{digest:016x}")
}

/// Confirms that every change committed before a call has been reported by the listener.
///
/// PostgreSQL delivers notifications to a listening session in commit order. A barrier
/// sends a token on this instance's own barrier channel (from a connection of its own) and
/// waits until the listener reports it back ([`ListenerEvent::Barrier`]): by then every
/// notification of a transaction that committed earlier — an API write on another
/// instance, or a trigger of a write made with psql — has been reported and applied.
/// Callers that arrive while a token is in flight share the next one, so concurrent cache
/// hits cost one tiny statement per round trip, not one each.
pub struct Barrier {
    requests: std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<bool>>,
    arrivals: std::sync::mpsc::Sender<u64>,
}

/// How long a barrier waits for its token before the caller is told "not confirmed".
const BARRIER_WAIT: Duration = Duration::from_secs(2);

impl Barrier {
    /// Starts the thread that sends tokens on `channel` of the database at `url`.
    pub fn start(url: String, channel: String) -> Barrier {
        let (requests, waiting) = std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<bool>>();
        let (arrivals, arrived) = std::sync::mpsc::channel::<u64>();
        let spawned = std::thread::Builder::new().name("oxbase-barrier".into()).spawn(move || {
            let mut client: Option<postgres::Client> = None;
            let mut token: u64 = 0;
            // Ends when the barrier is dropped (every request sender gone).
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                batch.extend(waiting.try_iter());
                token += 1;
                let confirmed = send_token(&mut client, &url, &channel, token) && await_token(&arrived, token);
                for waiter in batch {
                    let _ = waiter.send(confirmed);
                }
            }
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the barrier thread: cache hits will not be confirmed");
        }
        Barrier { requests, arrivals }
    }

    /// Whether every change committed before this call has reached this instance.
    pub async fn confirm(&self) -> bool {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        if self.requests.send(sender).is_err() {
            return false;
        }
        receiver.await.unwrap_or(false)
    }

    /// The listener reported token `token` (called in the order events are applied).
    pub fn arrived(&self, token: u64) {
        let _ = self.arrivals.send(token);
    }
}

/// Sends `token` at once (autocommit); a failed connection is dropped and reopened next time.
fn send_token(client: &mut Option<postgres::Client>, url: &str, channel: &str, token: u64) -> bool {
    if client.as_ref().is_none_or(postgres::Client::is_closed) {
        *client = super::connect(url).ok();
    }
    let Some(connection) = client.as_mut() else {
        return false;
    };
    match connection.execute("SELECT pg_notify($1, $2)", &[&channel, &token.to_string()]) {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, "cannot send a cache barrier token");
            *client = None;
            false
        }
    }
}

/// Waits until the listener reports `token` (older tokens, from timed-out rounds, are skipped).
fn await_token(arrived: &std::sync::mpsc::Receiver<u64>, token: u64) -> bool {
    let deadline = Instant::now() + BARRIER_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match arrived.recv_timeout(left) {
            Ok(seen) if seen >= token => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}
