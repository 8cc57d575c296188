//! The exact response cache (in-process, L1).
//!
//! An entry holds an encoded read response and the versions of every resource the read
//! touched (root, embedded resources, junctions). It is served only while all of those
//! versions are unchanged, so a hit is never stale: a write bumps its resources' versions
//! in its own transaction, and the writing request notes the new versions here before it
//! answers. The TTL only bounds memory. The key includes the access scope (a single public
//! scope until access control arrives).
//!
//! Versions are known from this process's own writes, so the cache is exact when this
//! process is the only writer: the default on SQLite. On PostgreSQL it stays off unless
//! `[cache] enabled = true`, until versions travel between instances (Redis or NOTIFY).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

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
}

#[derive(Clone)]
struct BodyWeight;

impl Weighter<u64, Arc<CachedRead>> for BodyWeight {
    fn weight(&self, _key: &u64, entry: &Arc<CachedRead>) -> u64 {
        // The body plus a rough allowance for headers and bookkeeping.
        entry.body.len() as u64 + 256
    }
}

/// Counters for `/admin/cache`.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    inserts: AtomicU64,
}

/// The response cache and the resource versions it checks entries against.
pub struct ResponseCache {
    entries: Cache<u64, Arc<CachedRead>, BodyWeight>,
    versions: RwLock<HashMap<String, i64>>,
    counters: Counters,
    max_bytes: u64,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of responses.
    pub fn new(max_bytes: u64) -> ResponseCache {
        let estimated_items = usize::try_from(max_bytes / 4096).unwrap_or(usize::MAX).max(16);
        ResponseCache {
            entries: Cache::with_weighter(estimated_items, max_bytes.max(1), BodyWeight),
            versions: RwLock::default(),
            counters: Counters::default(),
            max_bytes,
        }
    }

    /// The entry for `key` if it is still exact (every version unchanged, not expired).
    pub fn lookup(&self, key: u64) -> Option<Arc<CachedRead>> {
        let Some(entry) = self.entries.get(&key) else {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let current = self.versions.read().expect("the version map is never poisoned");
        let fresh = entry.expires > Instant::now()
            && entry.versions.iter().all(|(resource, version)| current.get(resource).copied().unwrap_or(0) == *version);
        drop(current);
        if fresh {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            Some(entry)
        } else {
            self.entries.remove(&key);
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// The current versions of `resources`, taken before a read runs (so a write that
    /// commits during the read makes the entry stale rather than wrong).
    pub fn versions_of(&self, resources: &[String]) -> Vec<(String, i64)> {
        let current = self.versions.read().expect("the version map is never poisoned");
        resources.iter().map(|resource| (resource.clone(), current.get(resource).copied().unwrap_or(0))).collect()
    }

    /// Stores an entry.
    pub fn insert(&self, key: u64, entry: CachedRead) {
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        self.entries.insert(key, Arc::new(entry));
    }

    /// Records versions a committed write produced; entries that read those resources
    /// stop matching at once.
    pub fn note_versions(&self, versions: &[(String, i64)]) {
        let mut current = self.versions.write().expect("the version map is never poisoned");
        for (resource, version) in versions {
            let known = current.entry(resource.clone()).or_insert(0);
            // Another resource version source (a later release) may be ahead or behind;
            // any change must invalidate, so a different number is what counts.
            if *known != *version {
                *known = *version;
            }
        }
    }

    /// Hits, misses, entries and bytes, for `/admin/cache`.
    pub fn statistics(&self) -> serde_json::Value {
        let hits = self.counters.hits.load(Ordering::Relaxed);
        let misses = self.counters.misses.load(Ordering::Relaxed);
        serde_json::json!({
            "hits": hits,
            "misses": misses,
            "hit_rate": if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            "stale": self.counters.stale.load(Ordering::Relaxed),
            "inserts": self.counters.inserts.load(Ordering::Relaxed),
            "entries": self.entries.len(),
            "bytes": self.entries.weight(),
            "max_bytes": self.max_bytes,
        })
    }
}

/// Default entry lifetime (a memory bound only; exactness comes from the versions).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
