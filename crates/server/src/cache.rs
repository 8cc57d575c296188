//! The exact response cache (in-process, L1).
//!
//! An entry holds an encoded read response and the versions of every resource the read
//! touched (root, embedded resources, junctions), taken before the read ran. It is served
//! only while all of those versions are still current, so a hit is never older than the
//! last write that was answered: a write bumps its resources' versions in its own
//! transaction, and the versions are made known ([`coherence::Coherence`]) before the
//! write answers. The TTL only bounds memory. The key includes the access scope (a single
//! public scope until access control arrives).
//!
//! Where the current versions come from is the [`coherence`] mode: this process's own
//! writes (SQLite), PostgreSQL notifications (several instances, no Redis), or a hash in
//! Redis shared by every instance ([`redis`]).

pub mod coherence;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use crate::cache::coherence::Coherence;
use crate::encoding::{self, Encoding};

/// What a cached response answers, kept in full and compared on every hit (in process and
/// in Redis), so two requests whose 64-bit hashes collide can never get each other's
/// answer: the request as sent (path, query and the headers that shape the answer) and the
/// access scope, as a field of its own so no request text can pass for another scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub request: String,
    pub scope: String,
}

impl CacheKey {
    /// The key of a request in an access scope.
    pub fn new(request: String, scope: impl Into<String>) -> CacheKey {
        CacheKey { request, scope: scope.into() }
    }

    /// A 64-bit digest: names the entry in Redis and picks a fill lock; never trusted alone.
    pub fn digest(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(self.scope.as_bytes());
        hasher.update(&[0]);
        hasher.update(self.request.as_bytes());
        hasher.digest()
    }
}

/// A cached read response.
#[derive(Debug)]
pub struct CachedRead {
    pub body: Bytes,
    pub content_type: &'static str,
    pub etag: String,
    pub content_range: Option<String>,
    pub link: Option<String>,
    /// The version of every resource the read touched, when it was read.
    pub versions: Vec<(String, i64)>,
    pub expires: Instant,
    /// The body compressed in each coding ([`Encoding::index`]), made the first time a
    /// client asks for that coding and kept with the entry, so hits never compress again.
    pub variants: [OnceLock<Bytes>; 3],
}

impl CachedRead {
    /// The entry as stored in Redis (L2): a small JSON header (tag, type, range, link,
    /// versions, lifetime) and the body compressed with zstd.
    pub fn to_shared_bytes(&self, key: &CacheKey, level: Option<u32>) -> Vec<u8> {
        let header = serde_json::json!({
            "request": key.request,
            "scope": key.scope,
            "etag": self.etag,
            "content_type": self.content_type,
            "content_range": self.content_range,
            "link": self.link,
            "versions": self.versions,
            "ttl_ms": self.expires.saturating_duration_since(Instant::now()).as_millis() as u64,
        })
        .to_string();
        let body =
            self.variants[Encoding::Zstd.index()].get_or_init(|| Encoding::Zstd.compress(&self.body, level)).clone();
        let mut bytes = Vec::with_capacity(4 + header.len() + body.len());
        bytes.extend_from_slice(&u32::try_from(header.len()).unwrap_or(u32::MAX).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&body);
        bytes
    }

    /// An entry read back from Redis, if it answers `key`; `None` for bytes this version
    /// cannot read (another release wrote them, or they are damaged) or that answer another
    /// key under the same digest: a miss, never an error.
    pub fn from_shared_bytes(bytes: &[u8], key: &CacheKey) -> Option<CachedRead> {
        let length = usize::try_from(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
        let header: serde_json::Value = serde_json::from_slice(bytes.get(4..4 + length)?).ok()?;
        if header["request"].as_str()? != key.request || header["scope"].as_str()? != key.scope {
            return None;
        }
        let compressed = bytes.get(4 + length..)?;
        let body = zstd::decode_all(compressed).ok()?;
        let content_type =
            [encoding::JSON, encoding::OBJECT_JSON].into_iter().find(|known| header["content_type"] == *known)?;
        let text = |field: &str| header[field].as_str().map(str::to_owned);
        let versions = header["versions"]
            .as_array()?
            .iter()
            .map(|pair| Some((pair.get(0)?.as_str()?.to_owned(), pair.get(1)?.as_i64()?)))
            .collect::<Option<Vec<_>>>()?;
        let entry = CachedRead {
            body: Bytes::from(body),
            content_type,
            etag: text("etag")?,
            content_range: text("content_range"),
            link: text("link"),
            versions,
            expires: Instant::now() + Duration::from_millis(header["ttl_ms"].as_u64()?),
            variants: Default::default(),
        };
        let _ = entry.variants[Encoding::Zstd.index()].set(Bytes::copy_from_slice(compressed));
        Some(entry)
    }

    /// Whether the body in `encoding` has been made already.
    pub fn has_variant(&self, encoding: Encoding) -> bool {
        self.variants[encoding.index()].get().is_some()
    }

    /// The body in `encoding` at `level`, compressed now only if no earlier request asked
    /// for it; whether this call compressed.
    pub fn variant(&self, encoding: Encoding, level: Option<u32>) -> (Bytes, bool) {
        let mut compressed = false;
        let bytes = self.variants[encoding.index()].get_or_init(|| {
            compressed = true;
            encoding.compress(&self.body, level)
        });
        (bytes.clone(), compressed)
    }
}

#[derive(Clone)]
struct BodyWeight;

impl Weighter<CacheKey, Arc<CachedRead>> for BodyWeight {
    fn weight(&self, key: &CacheKey, entry: &Arc<CachedRead>) -> u64 {
        // A weight must never change while an entry is stored, and compressed variants
        // arrive later: the body plus half of it again for them (JSON compresses to well
        // under a sixth in each coding), plus the key, headers and bookkeeping.
        (entry.body.len() + entry.body.len() / 2 + key.request.len() + key.scope.len()) as u64 + 256
    }
}

/// Counts entries pushed out to make room.
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<CacheKey, Arc<CachedRead>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut Self::RequestState, _key: CacheKey, _entry: Arc<CachedRead>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters for `/admin/cache`.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    inserts: AtomicU64,
    /// Misses because hits were off (safe mode).
    unverified: AtomicU64,
    /// Bodies compressed for an entry (each entry once per coding at most).
    compressions: AtomicU64,
    /// Responses sent from an already compressed variant.
    precompressed_hits: AtomicU64,
    /// Entries found in the shared Redis cache (L2) and current, missing there, stored there.
    l2_hits: AtomicU64,
    l2_misses: AtomicU64,
    l2_stores: AtomicU64,
    /// Hits served to a request that waited for an identical one to fill the entry.
    coalesced: AtomicU64,
}

/// Locks that let one of several identical concurrent misses read the database while the
/// others wait for its entry (striped by key: no map to clean up; two different keys on
/// one stripe only wait for each other's read).
const FILL_STRIPES: usize = 1024;

/// Hits and misses of reads rooted at one resource.
#[derive(Default)]
struct ResourceCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The response cache.
pub struct ResponseCache {
    entries: Cache<CacheKey, Arc<CachedRead>, BodyWeight, DefaultHashBuilder, CountEvictions>,
    evictions: CountEvictions,
    counters: Counters,
    /// Per root resource; the set of resources is fixed by the schema.
    per_resource: HashMap<String, ResourceCounters>,
    max_bytes: u64,
    /// With `[cache] redis_l2`: entries are also kept in Redis, named after the query, the
    /// scope and this namespace (the schema served and oxbase's version, so instances that
    /// serve different shapes never share entries).
    l2_namespace: Option<u64>,
    /// The compression level of the zstd body stored in Redis (also served as a variant).
    l2_level: Option<u32>,
    fills: Box<[tokio::sync::Mutex<()>]>,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of responses to reads of `resources`.
    pub fn new<'a>(max_bytes: u64, resources: impl IntoIterator<Item = &'a str>) -> ResponseCache {
        let estimated_items = usize::try_from(max_bytes / 4096).unwrap_or(usize::MAX).max(16);
        let evictions = CountEvictions::default();
        ResponseCache {
            entries: Cache::with(
                estimated_items,
                max_bytes.max(1),
                BodyWeight,
                DefaultHashBuilder::default(),
                evictions.clone(),
            ),
            evictions,
            counters: Counters::default(),
            per_resource: resources.into_iter().map(|name| (name.to_owned(), ResourceCounters::default())).collect(),
            max_bytes,
            l2_namespace: None,
            l2_level: None,
            fills: (0..FILL_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Also keeps entries in Redis (L2) under `namespace`, shared by every instance that
    /// serves the same schema with the same oxbase version.
    pub fn with_l2(mut self, namespace: u64, level: Option<u32>) -> ResponseCache {
        self.l2_namespace = Some(namespace);
        self.l2_level = level;
        self
    }

    fn l2_name(&self, key: &CacheKey) -> Option<String> {
        self.l2_namespace.map(|namespace| format!("{namespace:016x}:{:016x}", key.digest()))
    }

    /// The entry for `key` (a read rooted at `resource`) if it is still exact: every
    /// version it was read at is current, as `coherence` knows them, and it has not expired.
    pub async fn lookup(&self, coherence: &Coherence, resource: &str, key: &CacheKey) -> Option<Arc<CachedRead>> {
        let found = self.find(coherence, key, true).await;
        let (total, per_resource) = match found {
            Some(_) => (&self.counters.hits, self.per_resource.get(resource).map(|counters| &counters.hits)),
            None => (&self.counters.misses, self.per_resource.get(resource).map(|counters| &counters.misses)),
        };
        total.fetch_add(1, Ordering::Relaxed);
        if let Some(counter) = per_resource {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Waits until no identical miss is filling `key`; hold the guard while reading the
    /// database and storing the entry, so the requests that waited find it
    /// ([`ResponseCache::recheck`]) instead of running the same statements again.
    pub async fn fill_guard(&self, key: &CacheKey) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = usize::try_from(key.digest() % FILL_STRIPES as u64).unwrap_or(0);
        self.fills[stripe].lock().await
    }

    /// After [`ResponseCache::fill_guard`]: the entry an identical request just stored, if
    /// it is exact (counted as a hit; a miss was counted already). Only this instance's
    /// entries: the shared (L2) one was asked for by the lookup just before.
    pub async fn recheck(&self, coherence: &Coherence, resource: &str, key: &CacheKey) -> Option<Arc<CachedRead>> {
        let found = self.find(coherence, key, false).await?;
        self.counters.coalesced.fetch_add(1, Ordering::Relaxed);
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
        self.counters.misses.fetch_sub(1, Ordering::Relaxed);
        if let Some(counters) = self.per_resource.get(resource) {
            counters.hits.fetch_add(1, Ordering::Relaxed);
            counters.misses.fetch_sub(1, Ordering::Relaxed);
        }
        Some(found)
    }

    /// The exact entry for `key`: this instance's, else with `look_shared` the one in Redis
    /// (L2, when enabled).
    async fn find(&self, coherence: &Coherence, key: &CacheKey, look_shared: bool) -> Option<Arc<CachedRead>> {
        let (entry, shared) = match self.entries.get(key) {
            Some(entry) => (entry, false),
            None if look_shared => (self.load_shared(coherence, key).await?, true),
            None => return None,
        };
        if !coherence.serving_hits() {
            self.counters.unverified.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if entry.expires <= Instant::now() {
            self.entries.remove(key);
            return None;
        }
        if !coherence.confirm().await {
            self.counters.unverified.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let resources: Vec<String> = entry.versions.iter().map(|(resource, _)| resource.clone()).collect();
        let Some(current) = coherence.current(&resources).await else {
            self.counters.unverified.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if current == entry.versions {
            if shared {
                self.counters.l2_hits.fetch_add(1, Ordering::Relaxed);
                self.entries.insert(key.clone(), entry.clone());
            }
            Some(entry)
        } else {
            self.entries.remove(key);
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Stores an entry (already shared with the response being sent), and with L2 also in
    /// Redis, in the background.
    pub fn insert(&self, coherence: &Coherence, key: CacheKey, entry: Arc<CachedRead>) {
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        if let (Some(name), Some(redis)) = (self.l2_name(&key), coherence.redis())
            && redis.healthy()
        {
            self.counters.l2_stores.fetch_add(1, Ordering::Relaxed);
            let (redis, entry, level, shared_key) = (redis.clone(), entry.clone(), self.l2_level, key.clone());
            tokio::spawn(async move {
                let ttl = entry.expires.saturating_duration_since(Instant::now());
                redis.store_entry(&name, entry.to_shared_bytes(&shared_key, level), ttl).await;
            });
        }
        self.entries.insert(key, entry);
    }

    /// The entry for `key` from Redis (L2), if enabled and there; checked like any other.
    async fn load_shared(&self, coherence: &Coherence, key: &CacheKey) -> Option<Arc<CachedRead>> {
        let name = self.l2_name(key)?;
        let redis = coherence.redis()?;
        let loaded = redis.entry(&name).await.and_then(|bytes| CachedRead::from_shared_bytes(&bytes, key));
        if loaded.is_none() {
            self.counters.l2_misses.fetch_add(1, Ordering::Relaxed);
        }
        loaded.map(Arc::new)
    }

    /// Counts a response sent compressed: `compressed` when it had to be compressed now.
    pub fn count_variant(&self, compressed: bool) {
        let counter = if compressed { &self.counters.compressions } else { &self.counters.precompressed_hits };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Hits, misses (overall and per resource), evictions, entries and bytes.
    pub fn statistics(&self) -> serde_json::Value {
        let hits = self.counters.hits.load(Ordering::Relaxed);
        let misses = self.counters.misses.load(Ordering::Relaxed);
        let mut resources = serde_json::Map::new();
        let mut names: Vec<&String> = self.per_resource.keys().collect();
        names.sort();
        for name in names {
            let counters = &self.per_resource[name];
            let (hits, misses) = (counters.hits.load(Ordering::Relaxed), counters.misses.load(Ordering::Relaxed));
            if hits + misses > 0 {
                resources.insert(name.clone(), serde_json::json!({ "hits": hits, "misses": misses }));
            }
        }
        serde_json::json!({
            "hits": hits,
            "misses": misses,
            "hit_rate": if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            "stale": self.counters.stale.load(Ordering::Relaxed),
            "unverified": self.counters.unverified.load(Ordering::Relaxed),
            "inserts": self.counters.inserts.load(Ordering::Relaxed),
            "evictions": self.evictions.0.load(Ordering::Relaxed),
            "compressions": self.counters.compressions.load(Ordering::Relaxed),
            "precompressed_hits": self.counters.precompressed_hits.load(Ordering::Relaxed),
            "coalesced": self.counters.coalesced.load(Ordering::Relaxed),
            "l2": self.l2_namespace.map(|_| serde_json::json!({
                "hits": self.counters.l2_hits.load(Ordering::Relaxed),
                "misses": self.counters.l2_misses.load(Ordering::Relaxed),
                "stores": self.counters.l2_stores.load(Ordering::Relaxed),
            })),
            "entries": self.entries.len(),
            "bytes": self.entries.weight(),
            "max_bytes": self.max_bytes,
            "resources": resources,
        })
    }
}

/// Default entry lifetime (a memory bound only; exactness comes from the versions).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CachedRead {
        CachedRead {
            body: Bytes::from(br#"[{"id":1,"priority":3}]"#.repeat(100)),
            content_type: "application/json; charset=utf-8",
            etag: "\"00000000000000ab\"".to_owned(),
            content_range: Some("0-99/*".to_owned()),
            link: None,
            versions: vec![("trackers".to_owned(), 7), ("users".to_owned(), 2)],
            expires: Instant::now() + Duration::from_secs(60),
            variants: Default::default(),
        }
    }

    fn key() -> CacheKey {
        CacheKey::new("/api/v1/trackers?limit=100\n\n\n".to_owned(), "public")
    }

    #[test]
    fn shared_entries_read_back_as_written() {
        let original = entry();
        let bytes = original.to_shared_bytes(&key(), None);
        assert!(bytes.len() < original.body.len() / 4, "the body travels compressed: {} bytes", bytes.len());
        let read = CachedRead::from_shared_bytes(&bytes, &key()).expect("readable");
        assert_eq!(read.body, original.body);
        assert_eq!((read.etag.as_str(), read.content_type), (original.etag.as_str(), original.content_type));
        assert_eq!((&read.content_range, &read.link), (&original.content_range, &original.link));
        assert_eq!(read.versions, original.versions);
        assert!(read.expires > Instant::now() + Duration::from_secs(50));
        assert!(read.has_variant(Encoding::Zstd), "the stored zstd body serves zstd clients as it is");
    }

    #[test]
    fn unreadable_shared_entries_are_misses() {
        let bytes = entry().to_shared_bytes(&key(), None);
        assert!(CachedRead::from_shared_bytes(&[], &key()).is_none());
        assert!(CachedRead::from_shared_bytes(&bytes[..10], &key()).is_none());
        assert!(CachedRead::from_shared_bytes(&bytes[..bytes.len() - 5], &key()).is_none(), "a cut zstd frame");
        let other_request = CacheKey::new("/api/v1/users".to_owned(), "public");
        assert!(CachedRead::from_shared_bytes(&bytes, &other_request).is_none(), "another request, same digest slot");
        let other_scope = CacheKey::new(key().request, "role:viewer");
        assert!(CachedRead::from_shared_bytes(&bytes, &other_scope).is_none(), "another scope");
        let mut other_type = bytes.clone();
        let header_end = 4 + usize::try_from(u32::from_le_bytes(bytes[..4].try_into().unwrap())).unwrap();
        let header =
            String::from_utf8(bytes[4..header_end].to_vec()).unwrap().replace("application/json", "text/html ");
        other_type.splice(4..header_end, header.into_bytes());
        assert!(CachedRead::from_shared_bytes(&other_type, &key()).is_none(), "an unknown content type");
    }
}
