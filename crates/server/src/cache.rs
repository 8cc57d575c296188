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
pub mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use crate::cache::coherence::Coherence;
use crate::http::encoding::Encoding;

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

impl Weighter<u64, Arc<CachedRead>> for BodyWeight {
    fn weight(&self, _key: &u64, entry: &Arc<CachedRead>) -> u64 {
        // A weight must never change while an entry is stored, and compressed variants
        // arrive later: the body plus half of it again for them (JSON compresses to well
        // under a sixth in each coding), plus headers and bookkeeping.
        (entry.body.len() + entry.body.len() / 2) as u64 + 256
    }
}

/// Counts entries pushed out to make room.
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<u64, Arc<CachedRead>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut Self::RequestState, _key: u64, _entry: Arc<CachedRead>) {
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
}

/// Hits and misses of reads rooted at one resource.
#[derive(Default)]
struct ResourceCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The response cache.
pub struct ResponseCache {
    entries: Cache<u64, Arc<CachedRead>, BodyWeight, DefaultHashBuilder, CountEvictions>,
    evictions: CountEvictions,
    counters: Counters,
    /// Per root resource; the set of resources is fixed by the schema.
    per_resource: HashMap<String, ResourceCounters>,
    max_bytes: u64,
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
        }
    }

    /// The entry for `key` (a read rooted at `resource`) if it is still exact: every
    /// version it was read at is current, as `coherence` knows them, and it has not expired.
    pub async fn lookup(&self, coherence: &Coherence, resource: &str, key: u64) -> Option<Arc<CachedRead>> {
        let found = self.find(coherence, key).await;
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

    async fn find(&self, coherence: &Coherence, key: u64) -> Option<Arc<CachedRead>> {
        let entry = self.entries.get(&key)?;
        if !coherence.serving_hits() {
            self.counters.unverified.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if entry.expires <= Instant::now() {
            self.entries.remove(&key);
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
            Some(entry)
        } else {
            self.entries.remove(&key);
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Counts a response sent compressed: `compressed` when it had to be compressed now.
    pub fn count_variant(&self, compressed: bool) {
        let counter = if compressed { &self.counters.compressions } else { &self.counters.precompressed_hits };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores an entry.
    pub fn insert(&self, key: u64, entry: CachedRead) {
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        self.entries.insert(key, Arc::new(entry));
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
            "entries": self.entries.len(),
            "bytes": self.entries.weight(),
            "max_bytes": self.max_bytes,
            "resources": resources,
        })
    }
}

/// Default entry lifetime (a memory bound only; exactness comes from the versions).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
