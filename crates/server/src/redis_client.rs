//! Resource versions shared by every instance, in one Redis hash.
//!
//! `oxbase:<database identity>:versions` maps each resource to the version of its last
//! committed write. Writers raise it after commit and before they answer (a Lua script
//! that only ever raises, so late or repeated updates never move a version back); a cache
//! hit compares its entry's versions with the hash in one `HMGET`.
//!
//! # The epoch, and why a hit after a Redis gap is never stale
//!
//! The hash also holds an *epoch* field (`~epoch`, a random value). The first instance
//! that finds it missing writes one, and a Redis that restarts empty, is flushed or evicts
//! the hash loses it with the versions: they live in one key, so they are lost together.
//! Each instance remembers the epoch it last synchronised with, and every hit reads the
//! epoch in the same `HMGET` as the versions. A hit is served only when that epoch is the
//! remembered one; a different or missing epoch, a failed command or a timed-out one
//! (500 ms) turns hits off on this instance at once (*unhealthy*). Hits come back only
//! after the instance synchronises again:
//!
//! 1. read the epoch, writing a new one if there is none (one script);
//! 2. read every version from the database's `_oxbase_versions` — *after* step 1;
//! 3. raise the hash to those versions, only if the epoch is still the one from step 1
//!    (one script), and remember that epoch, unless a command failed meanwhile.
//!
//! A writer answers only after its raise has been applied by Redis: it retries for up to
//! [`RAISE_DEADLINE`], and if Redis never confirms it answers an error (the change is
//! committed, but not acknowledged as done; see [`NotPropagated`]).
//!
//! Why that is enough: take a write W, committed at version `v`, answered before a hit H
//! on instance B starts; H's `HMGET` found epoch `E`, the one B synchronised with, so the
//! hash it read is the one holding `E` (an epoch value is never written twice). W's raise
//! was applied by Redis before W answered, so before H's `HMGET`:
//!
//! - if it was applied to the hash holding `E`, the hash has held `≥ v` ever since
//!   (versions only rise, and the hash with `E` was never lost, or `E` would be gone);
//! - otherwise it was applied before `E` was written (a hash lost later cannot hold `E`
//!   again). W committed before its raise, so before `E` existed, so before B's step 2
//!   read the database (step 2 follows B's seeing `E`): B's step 3 raised the hash holding
//!   `E` to `≥ v` before B served any hit with `E`.
//!
//! Either way H reads `≥ v`, and an entry stamped before W (with a lower version) is not
//! served. Re-seeded versions come from the database and are therefore `≥` everything
//! committed, and so everything acknowledged, before the read. No step depends on timing:
//! a stalled Redis (SIGSTOP, a long fork) only delays W's answer, or turns it into an error.
//!
//! Writes made outside oxbase are not part of this argument: their versions reach the hash
//! with their PostgreSQL notification (see `coherence`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The field holding the epoch (resource names are identifiers, so it cannot clash with one).
const EPOCH: &str = "~epoch";

/// How long a writer keeps trying to raise its versions before it answers an error.
pub const RAISE_DEADLINE: Duration = Duration::from_secs(2);

/// The pause between two attempts at a raise.
const RAISE_RETRY: Duration = Duration::from_millis(50);

/// Raises each `ARGV[2k], ARGV[2k+1]` (resource, version) pair to at least that version.
/// With a non-empty `ARGV[1]`, only if the epoch is still `ARGV[1]` (a seed); returns
/// whether it raised.
const RAISE: &str = r"
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], KEYS[2]) ~= ARGV[1] then
  return 0
end
for i = 2, #ARGV, 2 do
  local proposed = tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if proposed > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
";

/// The epoch of the hash, written as `ARGV[1]` first if there is none.
const ADOPT_EPOCH: &str = r"
local epoch = redis.call('HGET', KEYS[1], KEYS[2])
if not epoch then
  redis.call('HSET', KEYS[1], KEYS[2], ARGV[1])
  return ARGV[1]
end
return epoch
";

/// A committed write whose versions Redis did not confirm within [`RAISE_DEADLINE`]: other
/// instances may still trust older versions, so the write must not be answered as done.
#[derive(Debug, thiserror::Error)]
#[error("the committed change's versions could not be raised in redis: {reason}")]
pub struct NotPropagated {
    /// The last failure, without credentials.
    pub reason: String,
}

/// The shared version hash and this instance's view of whether Redis can be trusted.
pub struct RedisVersions {
    client: redis::Client,
    connection: ConnectionManager,
    hash: String,
    /// `oxbase:<database identity>:`, the start of every key of this database.
    prefix: String,
    /// The pub/sub channel change events travel on.
    pub channel: String,
    raise: redis::Script,
    adopt_epoch: redis::Script,
    /// The password in the URL, kept only to blank it out of failure reasons.
    password: Option<String>,
    healthy: AtomicBool,
    /// The epoch this instance last synchronised with; hits are served only while the hash
    /// holds it.
    synchronised_epoch: Mutex<Option<String>>,
    /// Why Redis was last found unusable (for readiness and `/admin/cache`); `None` once
    /// synchronised.
    last_failure: Mutex<Option<String>>,
    /// The last cause logged at warn, so a cause repeated by every retry is logged once.
    logged_failure: Mutex<Option<String>>,
    /// Counts every failure, so a synchronisation that raced with one does not declare
    /// Redis healthy.
    failures: AtomicU64,
    round_trips: AtomicU64,
}

impl RedisVersions {
    /// A handle on the hash for the database named by `identity`; connects lazily, and
    /// starts unhealthy until the first synchronisation.
    pub fn new(url: &str, identity: &str) -> Result<RedisVersions, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let password = client.get_connection_info().redis_settings().password().map(str::to_owned);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(RedisVersions {
            client,
            connection,
            hash: format!("oxbase:{identity}:versions"),
            prefix: format!("oxbase:{identity}:"),
            channel: format!("oxbase:{identity}:changes"),
            raise: redis::Script::new(RAISE),
            adopt_epoch: redis::Script::new(ADOPT_EPOCH),
            password: password.filter(|password| !password.is_empty()),
            healthy: AtomicBool::new(false),
            synchronised_epoch: Mutex::new(None),
            last_failure: Mutex::new(Some("not synchronised yet".to_owned())),
            logged_failure: Mutex::new(None),
            failures: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
        })
    }

    /// The client, for the pub/sub connection.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Whether versions in Redis can be trusted right now.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Why Redis cannot be trusted right now; `None` while healthy.
    pub fn failure(&self) -> Option<String> {
        if self.healthy() {
            return None;
        }
        self.last_failure.lock().expect("never poisoned").clone()
    }

    /// How many failures have been seen so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// `reason` with the URL's password blanked out.
    fn redact(&self, reason: &str) -> String {
        match &self.password {
            Some(password) => reason.replace(password.as_str(), "***"),
            None => reason.to_owned(),
        }
    }

    /// Stops trusting Redis until the next successful synchronisation.
    pub fn fail(&self, reason: &str) {
        let reason = self.redact(reason);
        self.failures.fetch_add(1, Ordering::SeqCst);
        *self.last_failure.lock().expect("never poisoned") = Some(reason.clone());
        if self.healthy.swap(false, Ordering::SeqCst) {
            *self.logged_failure.lock().expect("never poisoned") = Some(reason.clone());
            tracing::warn!(reason, "redis unavailable: cache hits are off until it returns and is re-seeded");
        }
    }

    /// Notes why Redis still cannot be used while unhealthy (a failed ping or
    /// synchronisation); logged at warn the first time each cause is seen.
    pub fn still_failing(&self, reason: &str) {
        let reason = self.redact(reason);
        *self.last_failure.lock().expect("never poisoned") = Some(reason.clone());
        let mut logged = self.logged_failure.lock().expect("never poisoned");
        if logged.as_deref() != Some(reason.as_str()) {
            tracing::warn!(reason, "redis cannot be used: no cache hits until it can");
            *logged = Some(reason);
        } else {
            tracing::debug!(reason, "redis still cannot be used");
        }
    }

    /// The versions of `resources` in Redis, in order; `None` when Redis is unhealthy,
    /// unreachable, or its epoch is not the one this instance synchronised with.
    pub async fn current(&self, resources: &[String]) -> Option<Vec<i64>> {
        let expected = self.trusted_epoch()?;
        let mut command = redis::cmd("HMGET");
        command.arg(&self.hash).arg(EPOCH);
        for resource in resources {
            command.arg(resource);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match command.query_async::<Vec<Option<String>>>(&mut self.connection.clone()).await {
            Ok(values) if values.first().is_some_and(|epoch| epoch.as_deref() == Some(expected.as_str())) => values
                [1..]
                .iter()
                .map(|value| value.as_deref().map_or(Some(0), |text| text.parse().ok()))
                .collect::<Option<Vec<i64>>>()
                .or_else(|| {
                    self.fail("the version hash holds a value that is not a number");
                    None
                }),
            Ok(_) => {
                self.fail("the version hash's epoch changed (redis restarted, was flushed or lost the hash)");
                None
            }
            Err(error) => {
                self.fail(&error.to_string());
                None
            }
        }
    }

    /// The epoch hits may be checked against: `None` while unhealthy.
    fn trusted_epoch(&self) -> Option<String> {
        if !self.healthy() {
            return None;
        }
        self.synchronised_epoch.lock().expect("never poisoned").clone()
    }

    /// Raises the versions a committed write produced, and returns only once Redis has
    /// applied the raise, retrying for up to [`RAISE_DEADLINE`]. A failed attempt turns
    /// hits off here at once; the write must not be answered as done on an error.
    pub async fn raise(&self, versions: &[(String, i64)]) -> Result<(), NotPropagated> {
        if versions.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + RAISE_DEADLINE;
        loop {
            let error = match self.run_raise(versions, None).await {
                Ok(_) => return Ok(()),
                Err(error) => self.redact(&error.to_string()),
            };
            self.fail(&error);
            if Instant::now() + RAISE_RETRY >= deadline {
                return Err(NotPropagated { reason: error });
            }
            tokio::time::sleep(RAISE_RETRY).await;
        }
    }

    /// One attempt at a raise that no answer waits for (versions a notification brought:
    /// their writer raised them too, or answered an error). While unhealthy it is only
    /// counted as a failure, so a synchronisation that read the database before this change
    /// committed is done again.
    pub async fn raise_once(&self, versions: &[(String, i64)]) {
        if versions.is_empty() {
            return;
        }
        if !self.healthy() {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if let Err(error) = self.run_raise(versions, None).await {
            self.fail(&error.to_string());
        }
    }

    /// Step 1 of a synchronisation: the hash's epoch, written first if there is none.
    pub async fn adopt_epoch(&self) -> Result<String, redis::RedisError> {
        let candidate = uuid::Uuid::new_v4().simple().to_string();
        let mut invocation = self.adopt_epoch.key(&self.hash);
        invocation.key(EPOCH).arg(candidate);
        invocation.invoke_async::<String>(&mut self.connection.clone()).await
    }

    /// Step 3 of a synchronisation: raises the hash to the database's `versions` (read
    /// after [`RedisVersions::adopt_epoch`] returned `epoch`), if it still holds `epoch`, and
    /// trusts Redis again — unless a failure happened since `failures_before`.
    pub async fn seed(
        &self,
        epoch: &str,
        versions: &[(String, i64)],
        failures_before: u64,
    ) -> Result<bool, redis::RedisError> {
        if !self.run_raise(versions, Some(epoch)).await? {
            return Ok(false);
        }
        if self.failures() != failures_before {
            return Ok(false);
        }
        *self.synchronised_epoch.lock().expect("never poisoned") = Some(epoch.to_owned());
        *self.last_failure.lock().expect("never poisoned") = None;
        self.logged_failure.lock().expect("never poisoned").take();
        if !self.healthy.swap(true, Ordering::SeqCst) {
            tracing::info!(hash = self.hash, epoch, "redis versions seeded: cache hits are on");
        }
        Ok(true)
    }

    /// Whether Redis answers at all.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query_async::<()>(&mut self.connection.clone()).await
    }

    /// Checks that Redis answers and the hash still holds the epoch synchronised with.
    pub async fn check(&self) -> Result<(), String> {
        let epoch = redis::cmd("HGET")
            .arg(&self.hash)
            .arg(EPOCH)
            .query_async::<Option<String>>(&mut self.connection.clone())
            .await
            .map_err(|error| error.to_string())?;
        if epoch.is_some() && epoch == *self.synchronised_epoch.lock().expect("never poisoned") {
            Ok(())
        } else {
            Err("the version hash's epoch changed (redis restarted, was flushed or lost the hash)".to_owned())
        }
    }

    /// A shared (L2) cache entry stored under `name` (which names the query, the access
    /// scope and the schema); `None` when there is none or Redis is unhealthy.
    pub async fn entry(&self, name: &str) -> Option<Vec<u8>> {
        if !self.healthy() {
            return None;
        }
        let key = format!("{}entry:{name}", self.prefix);
        match redis::cmd("GET").arg(&key).query_async::<Option<Vec<u8>>>(&mut self.connection.clone()).await {
            Ok(bytes) => bytes,
            Err(error) => {
                self.fail(&error.to_string());
                None
            }
        }
    }

    /// Stores a shared (L2) cache entry for `ttl` (at least a second).
    pub async fn store_entry(&self, name: &str, bytes: Vec<u8>, ttl: Duration) {
        if !self.healthy() {
            return;
        }
        let key = format!("{}entry:{name}", self.prefix);
        let seconds = ttl.as_secs().max(1);
        let stored = redis::cmd("SET")
            .arg(&key)
            .arg(bytes)
            .arg("EX")
            .arg(seconds)
            .query_async::<()>(&mut self.connection.clone())
            .await;
        if let Err(error) = stored {
            self.fail(&error.to_string());
        }
    }

    /// Publishes a message on the change channel. A failure turns hits off too: the next
    /// command may run on a new connection, to a Redis that restarted.
    pub async fn publish(&self, payload: String) -> Result<(), redis::RedisError> {
        let published = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut self.connection.clone())
            .await;
        if let Err(error) = &published {
            self.fail(&error.to_string());
        }
        published.map(|_| ())
    }

    /// Runs the raise script; with `epoch`, only if the hash still holds it (whether it did).
    async fn run_raise(&self, versions: &[(String, i64)], epoch: Option<&str>) -> Result<bool, redis::RedisError> {
        let mut invocation = self.raise.key(&self.hash);
        invocation.key(EPOCH).arg(epoch.unwrap_or_default());
        for (resource, version) in versions {
            invocation.arg(resource).arg(*version);
        }
        Ok(invocation.invoke_async::<i64>(&mut self.connection.clone()).await? == 1)
    }

    /// Statistics for `/admin/cache`.
    pub fn statistics(&self) -> serde_json::Value {
        serde_json::json!({
            "healthy": self.healthy(),
            "failure": self.failure(),
            "epoch": self.synchronised_epoch.lock().expect("never poisoned").clone(),
            "failures": self.failures(),
            "hash": self.hash,
            "channel": self.channel,
            "version_checks": self.round_trips.load(Ordering::Relaxed),
        })
    }
}
