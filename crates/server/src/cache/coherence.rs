//! Where the current resource versions come from, and whether cache hits may be served.
//!
//! | mode | versions come from | exact across instances |
//! |---|---|---|
//! | `local` | this process's own writes (SQLite: oxbase is the only writer) | one instance only |
//! | `notify` | own writes + PostgreSQL NOTIFY from other instances and triggers | after the notification arrives |
//! | `redis` | a Redis hash every writer raises before answering; one `HMGET` per hit | yes, for API writes |
//!
//! With the response cache disabled the mode is reported as `off`: versions are still
//! tracked (and shared over Redis, whose events other instances need), but nothing reads them.
//!
//! A mode that depends on a connection (the LISTEN connection, Redis) serves no hits while
//! that connection is down — *safe mode*: reads go to the database, writes still succeed.
//! When it returns, versions are caught up from the database's `_oxbase_versions` before
//! hits resume. Versions only ever rise here; a lower number from a late message is ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::bus::{Bus, LocalBus};
use crate::config::{DatabaseUrl, ServerConfig};
use crate::redis_client::{NotPropagated, RedisVersions};
use oxbase_store::change::ChangeEvent;
use oxbase_store::postgres::notify::{self, Barrier, ChangeNotice, Listener, ListenerEvent};

/// How versions are shared with other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Local,
    Notify,
    Redis,
}

/// The current resource versions as this instance knows them.
pub struct Coherence {
    mode: Mode,
    /// Versions learnt from own writes, notifications and Redis messages (raise only).
    versions: RwLock<HashMap<String, i64>>,
    redis: Option<Arc<RedisVersions>>,
    /// Whether the LISTEN connection is up and caught up.
    listening: AtomicBool,
    /// Whether a LISTEN connection is part of this mode.
    uses_listener: bool,
    notices: AtomicU64,
    external_notices: AtomicU64,
    /// With `[cache] external_writes = "exact"`: confirms, before a hit, that every
    /// notification committed earlier has arrived.
    barrier: Option<Barrier>,
    confirmations: AtomicU64,
    /// Why Redis could not be used at all (its URL was refused at start): safe mode for good.
    redis_refused: Option<String>,
    /// Whether this instance has a response cache; without one the mode is reported `off`.
    cache_enabled: bool,
}

impl Coherence {
    /// Versions known only from this process's writes.
    pub fn local() -> Coherence {
        Coherence::new(Mode::Local, None, false, None)
    }

    fn new(mode: Mode, redis: Option<Arc<RedisVersions>>, uses_listener: bool, barrier: Option<Barrier>) -> Coherence {
        Coherence {
            mode,
            versions: RwLock::default(),
            redis,
            listening: AtomicBool::new(false),
            uses_listener,
            notices: AtomicU64::new(0),
            external_notices: AtomicU64::new(0),
            barrier,
            confirmations: AtomicU64::new(0),
            redis_refused: None,
            cache_enabled: true,
        }
    }

    /// The mode as `/admin/cache`, `/health/ready` and the `listening` log line show it:
    /// `off` when the instance has no response cache, `safe` while hits cannot be checked.
    pub fn mode_name(&self) -> &'static str {
        if !self.cache_enabled {
            return "off";
        }
        if !self.serving_hits() {
            return "safe";
        }
        match self.mode {
            Mode::Local => "local",
            Mode::Notify => "notify",
            Mode::Redis => "redis",
        }
    }

    /// The shared version hash, in redis mode.
    pub fn redis(&self) -> Option<&Arc<RedisVersions>> {
        self.redis.as_ref()
    }

    /// Whether a cache hit can be checked right now.
    pub fn serving_hits(&self) -> bool {
        (!self.uses_listener || self.listening.load(Ordering::SeqCst))
            && self.redis_refused.is_none()
            && self.redis.as_ref().is_none_or(|redis| redis.healthy())
    }

    /// In redis mode, why Redis cannot be used right now (`None` while it can; always
    /// `None` in the other modes), without credentials.
    pub fn redis_failure(&self) -> Option<String> {
        if let Some(reason) = &self.redis_refused {
            return Some(reason.clone());
        }
        self.redis.as_ref().and_then(|redis| redis.failure())
    }

    /// Whether this instance was configured with Redis.
    pub fn uses_redis(&self) -> bool {
        self.mode == Mode::Redis
    }

    /// Raises the known versions to at least these.
    pub fn note<'a>(&self, versions: impl IntoIterator<Item = (&'a str, i64)>) {
        let mut known = self.versions.write().expect("the version map is never poisoned");
        for (resource, version) in versions {
            match known.get_mut(resource) {
                Some(current) => *current = (*current).max(version),
                None => {
                    known.insert(resource.to_owned(), version);
                }
            }
        }
    }

    /// [`Coherence::note`] for a list of (resource, version) pairs.
    pub fn note_all(&self, versions: &[(String, i64)]) {
        self.note(versions.iter().map(|(resource, version)| (resource.as_str(), *version)));
    }

    /// The versions of `resources` as this process knows them.
    pub fn known(&self, resources: &[String]) -> Vec<(String, i64)> {
        let known = self.versions.read().expect("the version map is never poisoned");
        resources.iter().map(|resource| (resource.clone(), known.get(resource).copied().unwrap_or(0))).collect()
    }

    /// Before a hit is served: with `[cache] external_writes = "exact"`, waits until every
    /// change committed before this call (writes outside oxbase included) has arrived —
    /// one shared barrier round trip on PostgreSQL. Always true in the other modes.
    pub async fn confirm(&self) -> bool {
        match &self.barrier {
            Some(barrier) => {
                self.confirmations.fetch_add(1, Ordering::Relaxed);
                barrier.confirm().await
            }
            None => true,
        }
    }

    /// The current versions of `resources`: Redis's in redis mode (one round trip), else the
    /// known ones. `None` when they cannot be known now (safe mode).
    pub async fn current(&self, resources: &[String]) -> Option<Vec<(String, i64)>> {
        if !self.serving_hits() {
            return None;
        }
        match &self.redis {
            Some(redis) => {
                let values = redis.current(resources).await?;
                Some(resources.iter().cloned().zip(values).collect())
            }
            None => Some(self.known(resources)),
        }
    }

    /// The versions to stamp a new entry with, taken before its read runs: never newer
    /// than what the read will see.
    pub async fn stamp(&self, resources: &[String]) -> Vec<(String, i64)> {
        match self.current(resources).await {
            Some(versions) => versions,
            None => self.known(resources),
        }
    }

    /// Makes a committed write's versions current, before the write answers. In redis
    /// mode, an error means Redis did not confirm them in time: other instances may still
    /// trust older versions, so the write must not be answered as done.
    pub async fn committed(&self, versions: &[(String, i64)]) -> Result<(), NotPropagated> {
        self.note_all(versions);
        if let Some(reason) = &self.redis_refused {
            return Err(NotPropagated { reason: reason.clone() });
        }
        match &self.redis {
            Some(redis) => redis.raise(versions).await,
            None => Ok(()),
        }
    }

    /// Statistics for `/admin/cache`.
    pub fn statistics(&self) -> serde_json::Value {
        let mut statistics = serde_json::json!({ "mode": self.mode_name() });
        if !self.serving_hits() {
            statistics["safe_reason"] = if let Some(reason) = self.redis_failure() {
                format!("redis unavailable or not yet re-seeded: {reason}").into()
            } else {
                "the PostgreSQL LISTEN connection is down or catching up".into()
            };
        }
        if self.uses_listener {
            statistics["listener"] = serde_json::json!({
                "connected": self.listening.load(Ordering::SeqCst),
                "notifications": self.notices.load(Ordering::Relaxed),
                "external_writes": self.external_notices.load(Ordering::Relaxed),
                "external_writes_exact": self.barrier.is_some(),
                "confirmations": self.confirmations.load(Ordering::Relaxed),
            });
        }
        if let Some(redis) = &self.redis {
            statistics["redis"] = redis.statistics();
        }
        statistics
    }
}

/// Background work keeping versions current; dropping it stops the work.
#[derive(Default)]
pub struct Background {
    tasks: Vec<AbortHandle>,
    listener: Option<Listener>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.listener.take();
    }
}

/// How long `start` waits for the first LISTEN connection or Redis seed.
const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// Sets up versions and the bus for `config`: the mode, the LISTEN connection, the Redis
/// hash and bus. Waits (a bounded time) until hits can be served, so a fresh instance
/// starts exact rather than in safe mode.
/// The bus is made by `make_bus` (the app assembles it), given the Redis client when there
/// is one and the coherence it should note remote versions in.
pub async fn start(
    config: &ServerConfig,
    instance: &str,
    cache_enabled: bool,
    make_bus: impl FnOnce(Option<Arc<RedisVersions>>, Arc<Coherence>) -> (Arc<dyn Bus>, Vec<AbortHandle>),
) -> (Arc<Coherence>, Arc<dyn Bus>, Background) {
    let postgres_url = match &config.database {
        DatabaseUrl::Postgres(url) => Some(url.clone()),
        DatabaseUrl::Sqlite(_) => None,
    };
    let mut background = Background::default();
    let redis = match &config.redis_url {
        Some(url) => match open_redis(url.expose(), &config.database).await {
            Ok(redis) => Some(Arc::new(redis)),
            Err(error) => {
                // Safe mode for good, so no hit is served unchecked. The URL is not logged:
                // it may hold a password.
                tracing::error!(%error, "cannot use redis: no cache hits will be served");
                let mut coherence = Coherence::new(Mode::Redis, None, true, None);
                coherence.redis_refused = Some(format!("the redis url was refused: {error}"));
                coherence.cache_enabled = cache_enabled;
                return (Arc::new(coherence), Arc::new(LocalBus::new()), background);
            }
        },
        None => None,
    };
    let uses_listener = postgres_url.is_some() && (cache_enabled || redis.is_some());
    let mode = match (&redis, postgres_url.is_some()) {
        (Some(_), _) => Mode::Redis,
        (None, true) => Mode::Notify,
        (None, false) => Mode::Local,
    };
    let barrier_channel =
        (uses_listener && config.cache_exact_external_writes).then(|| notify::barrier_channel(instance));
    let barrier = match (&barrier_channel, &postgres_url) {
        (Some(channel), Some(url)) => Some(Barrier::start(url.clone(), channel.clone())),
        _ => None,
    };
    let mut coherence = Coherence::new(mode, redis.clone(), uses_listener, barrier);
    coherence.cache_enabled = cache_enabled;
    let coherence = Arc::new(coherence);
    let (bus, tasks) = make_bus(redis.clone(), coherence.clone());
    background.tasks.extend(tasks);
    if let Some(redis) = &redis {
        let supervisor = tokio::spawn(supervise_redis(redis.clone(), coherence.clone(), config.database.clone()));
        background.tasks.push(supervisor.abort_handle());
    }
    if let (true, Some(url)) = (uses_listener, postgres_url) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        background.listener = Some(notify::listen(url, barrier_channel, sender));
        let consumer = tokio::spawn(consume_notices(receiver, coherence.clone(), bus.clone(), instance.to_owned()));
        background.tasks.push(consumer.abort_handle());
    }
    let waited = tokio::time::Instant::now();
    while !coherence.serving_hits() && waited.elapsed() < STARTUP_WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !coherence.serving_hits() {
        let reason =
            coherence.redis_failure().unwrap_or_else(|| "the PostgreSQL LISTEN connection is not caught up".to_owned());
        tracing::warn!(reason, "starting in safe mode: no cache hits until versions can be checked");
    }
    (coherence, bus, background)
}

/// The Redis hash for the database in `database`.
async fn open_redis(url: &str, database: &DatabaseUrl) -> Result<RedisVersions, String> {
    let identity = match database {
        DatabaseUrl::Postgres(url) => {
            let url = url.clone();
            let identity = tokio::task::spawn_blocking(move || notify::database_identity(&url))
                .await
                .map_err(|error| error.to_string())??;
            let (name, system) = identity.split_once(':').unwrap_or((&identity, ""));
            format!("{name}:{:016x}", xxhash_rust::xxh3::xxh3_64(system.as_bytes()))
        }
        DatabaseUrl::Sqlite(path) => {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("sqlite:{:016x}", xxhash_rust::xxh3::xxh3_64(path.to_string_lossy().as_bytes()))
        }
    };
    RedisVersions::new(url, &identity).map_err(|error| error.to_string())
}

/// Every version in the database's `_oxbase_versions`.
pub async fn database_versions(database: &DatabaseUrl) -> Result<Vec<(String, i64)>, String> {
    let database = database.clone();
    tokio::task::spawn_blocking(move || match database {
        DatabaseUrl::Postgres(url) => {
            let mut client = oxbase_store::postgres::connect(&url).map_err(|error| error.to_string())?;
            notify::read_versions(&mut client)
        }
        DatabaseUrl::Sqlite(path) => {
            let connection = oxbase_store::sqlite::open_connection(&path, Duration::from_secs(5))
                .map_err(|error| error.to_string())?;
            let mut statement = connection
                .prepare("SELECT \"resource\", \"version\" FROM \"_oxbase_versions\"")
                .map_err(|error| error.to_string())?;
            let rows = statement
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))
                .map_err(|error| error.to_string())?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|error| error.to_string())
        }
    })
    .await
    .map_err(|error| error.to_string())?
}

/// Seeds Redis when it is (again) reachable, and watches it while healthy.
async fn supervise_redis(redis: Arc<RedisVersions>, coherence: Arc<Coherence>, database: DatabaseUrl) {
    loop {
        if redis.healthy() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Err(reason) = redis.check().await {
                redis.fail(&reason);
            }
            continue;
        }
        // Only once Redis answers is it worth reading the database's versions (a fresh
        // PostgreSQL connection each time) to seed it. The order of the steps is what makes
        // hits exact afterwards: see the `redis_client` module doc.
        let failures_before = redis.failures();
        let epoch = match redis.ping().await {
            Ok(()) => redis.adopt_epoch().await,
            Err(error) => Err(error),
        };
        let epoch = match epoch {
            Ok(epoch) => epoch,
            Err(error) => {
                redis.still_failing(&error.to_string());
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let seeded = match database_versions(&database).await {
            Ok(versions) => {
                coherence.note_all(&versions);
                redis.seed(&epoch, &versions, failures_before).await.map_err(|error| error.to_string())
            }
            Err(error) => Err(format!("cannot read the versions from the database: {error}")),
        };
        match seeded {
            Ok(true) => continue,
            Ok(false) => tracing::debug!("redis changed while it was seeded; seeding again"),
            Err(error) => redis.still_failing(&error),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Applies what the LISTEN connection reports: versions into the known map (and Redis),
/// events of other writers to local subscribers.
async fn consume_notices(
    mut events: tokio::sync::mpsc::UnboundedReceiver<ListenerEvent>,
    coherence: Arc<Coherence>,
    bus: Arc<dyn Bus>,
    instance: String,
) {
    while let Some(event) = events.recv().await {
        match event {
            ListenerEvent::Connected(versions) => {
                coherence.note_all(&versions);
                if let Some(redis) = &coherence.redis {
                    redis.raise_once(&versions).await;
                }
                if !coherence.listening.swap(true, Ordering::SeqCst) {
                    tracing::info!("listening for PostgreSQL change notifications");
                }
            }
            ListenerEvent::Lost(reason) => {
                if coherence.listening.swap(false, Ordering::SeqCst) {
                    tracing::warn!(
                        reason,
                        "lost the PostgreSQL LISTEN connection: cache hits are off until it returns"
                    );
                }
            }
            ListenerEvent::Barrier(token) => {
                // Every earlier notice has been applied above (events are handled in order).
                if let Some(barrier) = &coherence.barrier {
                    barrier.arrived(token);
                }
            }
            ListenerEvent::Notice(notice) => {
                coherence.notices.fetch_add(1, Ordering::Relaxed);
                if notice.origin.as_deref() == Some(instance.as_str()) {
                    continue;
                }
                let external = notice.origin.is_none();
                if external {
                    coherence.external_notices.fetch_add(1, Ordering::Relaxed);
                }
                coherence.note(notice.versions.iter().map(|(resource, version)| (resource.as_str(), *version)));
                if let Some(redis) = &coherence.redis {
                    // Every instance raises: idempotent, and it covers writes made outside
                    // oxbase and a writer that could not reach Redis (it answered an error).
                    redis
                        .raise_once(
                            &notice.versions.iter().map(|(name, version)| (name.clone(), *version)).collect::<Vec<_>>(),
                        )
                        .await;
                    if !external {
                        // Events of oxbase writes reach this instance over Redis pub/sub.
                        continue;
                    }
                }
                bus.deliver(notice_event(notice));
            }
        }
    }
}

/// A notification as a change event (without per-field changes).
fn notice_event(notice: ChangeNotice) -> ChangeEvent {
    ChangeEvent {
        version: notice.versions.get(&notice.resource).copied().unwrap_or(0),
        resource: notice.resource,
        op: notice.op,
        ids: notice.ids,
        changes: Vec::new(),
        versions: notice.versions,
        request_id: String::new(),
    }
}
