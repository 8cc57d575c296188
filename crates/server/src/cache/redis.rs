//! Resource versions shared by every instance, in one Redis hash.
//!
//! `oxbase:<database identity>:versions` maps each resource to the version of its last
//! committed write. Writers raise it after commit and before they answer (a Lua script
//! that only ever raises, so late or repeated updates never move a version back); a cache
//! hit compares its entry's versions with the hash in one `HMGET`.
//!
//! The hash also holds a marker field, set when the hash is seeded from the database's
//! `_oxbase_versions`. A hash without it (Redis restarted empty, or was flushed) cannot be
//! trusted: the instance stops serving hits and seeds it again. Whenever Redis cannot be
//! reached the instance is *unhealthy*: no hits are served, writes still succeed, and a
//! supervisor re-seeds the hash from the database (raise only) before hits resume.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The field marking a hash seeded from the database (resource names are identifiers, so
/// it cannot clash with one).
const SEEDED: &str = "~seeded";

/// Raises each `ARGV[2k], ARGV[2k+1]` (resource, version) pair to at least that version;
/// with `ARGV[1] == "seed"` also marks the hash seeded.
const RAISE: &str = r"
for i = 2, #ARGV, 2 do
  local proposed = tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if proposed > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if ARGV[1] == 'seed' then
  redis.call('HSET', KEYS[1], KEYS[2], '1')
end
return 1
";

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
    healthy: AtomicBool,
    /// Counts every failure (and every write that skipped Redis while unhealthy), so a
    /// re-seed that raced with one does not declare Redis healthy.
    failures: AtomicU64,
    round_trips: AtomicU64,
}

impl RedisVersions {
    /// A handle on the hash for the database named by `identity`; connects lazily, and
    /// starts unhealthy until the first seed.
    pub fn new(url: &str, identity: &str) -> Result<RedisVersions, redis::RedisError> {
        let client = redis::Client::open(url)?;
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
            healthy: AtomicBool::new(false),
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

    /// How many failures have been seen so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// Stops trusting Redis until the next successful seed.
    pub fn fail(&self, reason: &str) {
        self.failures.fetch_add(1, Ordering::SeqCst);
        if self.healthy.swap(false, Ordering::SeqCst) {
            tracing::warn!(reason, "redis unavailable: cache hits are off until it returns and is re-seeded");
        }
    }

    /// The versions of `resources` in Redis, in order; `None` when Redis is unhealthy,
    /// unreachable, or lost its state (no seed marker).
    pub async fn current(&self, resources: &[String]) -> Option<Vec<i64>> {
        if !self.healthy() {
            return None;
        }
        let mut command = redis::cmd("HMGET");
        command.arg(&self.hash).arg(SEEDED);
        for resource in resources {
            command.arg(resource);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match command.query_async::<Vec<Option<i64>>>(&mut self.connection.clone()).await {
            Ok(values) if values.first().is_some_and(Option::is_some) => {
                Some(values[1..].iter().map(|value| value.unwrap_or(0)).collect())
            }
            Ok(_) => {
                self.fail("the version hash is not seeded (redis restarted or was flushed)");
                None
            }
            Err(error) => {
                self.fail(&error.to_string());
                None
            }
        }
    }

    /// Raises the versions a committed write (or a trigger) produced. While Redis is
    /// unhealthy the write is only counted: the next seed reads it from the database.
    pub async fn raise(&self, versions: &[(String, i64)]) {
        if versions.is_empty() {
            return;
        }
        if !self.healthy() {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if let Err(error) = self.run_raise(versions, false).await {
            self.fail(&error.to_string());
        }
    }

    /// Seeds the hash with the database's versions (raise only) and trusts Redis again,
    /// unless a failure happened since `failures_before` (a write may then be missing).
    pub async fn seed(&self, versions: &[(String, i64)], failures_before: u64) -> Result<bool, redis::RedisError> {
        self.run_raise(versions, true).await?;
        if self.failures() != failures_before {
            return Ok(false);
        }
        if !self.healthy.swap(true, Ordering::SeqCst) {
            tracing::info!(hash = self.hash, "redis versions seeded: cache hits are on");
        }
        Ok(true)
    }

    /// Whether Redis answers at all.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query_async::<()>(&mut self.connection.clone()).await
    }

    /// Checks that Redis answers and still holds the seeded hash.
    pub async fn check(&self) -> Result<(), String> {
        let seeded = redis::cmd("HEXISTS")
            .arg(&self.hash)
            .arg(SEEDED)
            .query_async::<bool>(&mut self.connection.clone())
            .await
            .map_err(|error| error.to_string())?;
        if seeded { Ok(()) } else { Err("the version hash is not seeded".to_owned()) }
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

    /// Publishes a message on the change channel.
    pub async fn publish(&self, payload: String) -> Result<(), redis::RedisError> {
        redis::cmd("PUBLISH").arg(&self.channel).arg(payload).query_async::<i64>(&mut self.connection.clone()).await?;
        Ok(())
    }

    async fn run_raise(&self, versions: &[(String, i64)], seed: bool) -> Result<(), redis::RedisError> {
        let mut invocation = self.raise.key(&self.hash);
        invocation.key(SEEDED).arg(if seed { "seed" } else { "raise" });
        for (resource, version) in versions {
            invocation.arg(resource).arg(*version);
        }
        invocation.invoke_async::<i64>(&mut self.connection.clone()).await?;
        Ok(())
    }

    /// Statistics for `/admin/cache`.
    pub fn statistics(&self) -> serde_json::Value {
        serde_json::json!({
            "healthy": self.healthy(),
            "failures": self.failures(),
            "hash": self.hash,
            "channel": self.channel,
            "version_checks": self.round_trips.load(Ordering::Relaxed),
        })
    }
}
