//! The running application's shared state: the schema, the store, the cache and where its
//! versions come from, the bus, the settings, identity's keys and lockout ([`identity`]).
//! Below the read and write paths; serving it over HTTP is the `serve` module.

pub mod identity;

use std::sync::Arc;

use oxbase_query::cursor::CursorKey;
use oxbase_query::plan::Limits;
use oxbase_schema::Schema;

use crate::bus::redis::RedisBus;
use crate::bus::{Bus, LocalBus};
use crate::cache::ResponseCache;
use crate::cache::coherence::{self, Background, Coherence};
use crate::config::{CursorSecret, ServerConfig};
use oxbase_access::Permissions;
use oxbase_store::change::ChangeEvent;
use oxbase_store::{Store, StoreError};

/// Everything a request may need, shared by all requests.
pub struct App {
    /// The validated schema being served.
    pub schema: Arc<Schema>,
    /// The schema's roles, compiled: what each caller may see and do.
    pub permissions: Permissions,
    /// The database.
    pub store: Store,
    /// The settings the server was started with.
    pub config: ServerConfig,
    /// Signs and checks keyset cursors.
    pub cursor_key: CursorKey,
    /// Carries a change event after every committed write (to other instances too, with
    /// Redis).
    pub bus: Arc<dyn Bus>,
    /// The current resource versions and whether cache hits can be checked (the mode:
    /// local, notify, redis, or safe).
    pub coherence: Arc<Coherence>,
    /// The exact response cache, when enabled.
    pub cache: Option<ResponseCache>,
    /// This process's name in change notifications, so it can skip its own.
    pub instance: String,
    /// Token keys, the password hasher, the accounts' columns and the login lockout.
    pub identity: identity::Identity,
    /// The LISTEN connection and the Redis tasks; stopped when the app is dropped.
    _background: Background,
}

/// The key that signs cursors with the configured secret (and verifies the previous one),
/// or with a random one, which is warned about: such cursors end with the process.
fn cursor_key(config: &ServerConfig) -> CursorKey {
    let current = match &config.cursor_secret {
        Some(secret) => secret.bytes().to_vec(),
        None => {
            tracing::warn!(
                "no cursor secret configured: keyset cursors are signed with a random secret of this process, so they will not survive a restart or work across instances (set OXBASE_CURSOR_SECRET or a cursor secret file)"
            );
            CursorSecret::random().bytes().to_vec()
        }
    };
    match &config.cursor_secret_previous {
        Some(previous) => CursorKey::new(current).with_previous(previous.bytes()),
        None => CursorKey::new(current),
    }
}

/// Why the app could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] identity::IdentityStartError),
}

/// Handle to the shared [`App`] that handlers receive.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl App {
    /// Opens the database and assembles the app.
    pub async fn open(config: ServerConfig, schema: Schema) -> Result<App, OpenError> {
        let schema = Arc::new(schema);
        let store = Store::open(&config.store_settings(), schema.clone()).await?;
        let identity = identity::Identity::open(&config.auth, &schema, &store).await?;
        let cursor_key = cursor_key(&config);
        // On PostgreSQL without Redis, other instances' writes reach this cache only when
        // their notification arrives, so caching there is a choice, not the default.
        let cache_enabled = config
            .cache_enabled
            .unwrap_or(matches!(config.database, crate::config::DatabaseUrl::Sqlite(_)) || config.redis_url.is_some());
        let cache = cache_enabled.then(|| {
            let cache = ResponseCache::new(config.cache_max_bytes, schema.resources.keys().map(String::as_str));
            match config.cache_redis_l2 && config.redis_url.is_some() {
                true => cache.with_l2(shared_cache_namespace(&schema), config.compression_level),
                false => cache,
            }
        });
        let instance = uuid::Uuid::new_v4().to_string();
        // The bus carries this instance's events to every other one over Redis, when there
        // is one; events arriving from the others raise the versions this instance knows.
        let bus_instance = instance.clone();
        let make_bus = move |redis: Option<Arc<_>>, coherence: Arc<Coherence>| -> (Arc<dyn Bus>, Vec<_>) {
            match redis {
                Some(redis) => {
                    let on_remote = Arc::new(move |event: &ChangeEvent| {
                        coherence.note(event.versions.iter().map(|(resource, version)| (resource.as_str(), *version)));
                    });
                    let (bus, tasks) = RedisBus::start(redis, on_remote, bus_instance);
                    (Arc::new(bus), tasks)
                }
                None => (Arc::new(LocalBus::new()), Vec::new()),
            }
        };
        let (coherence, bus, background) = coherence::start(&config, &instance, cache_enabled, make_bus).await;
        let permissions = Permissions::compile(&schema);
        Ok(App {
            schema,
            permissions,
            store,
            config,
            cursor_key,
            bus,
            coherence,
            cache,
            instance,
            identity,
            _background: background,
        })
    }

    /// Every counter the server keeps, in one place: the connection pool's (`pool`) and the
    /// response cache's with where its versions come from (`cache`). `/admin/counters`
    /// answers it whole; `/admin/pool` and `/admin/cache` answer its parts.
    pub fn counters(&self) -> serde_json::Value {
        serde_json::json!({ "pool": self.store.pool_statistics(), "cache": self.cache_statistics() })
    }

    /// The response cache's counters (or `enabled: false`), with the coherence mode and the
    /// state of the LISTEN connection and Redis.
    fn cache_statistics(&self) -> serde_json::Value {
        let mut statistics = match &self.cache {
            Some(cache) => cache.statistics(),
            None => serde_json::json!({ "enabled": false }),
        };
        if let (Some(statistics), serde_json::Value::Object(coherence)) =
            (statistics.as_object_mut(), self.coherence.statistics())
        {
            statistics.extend(coherence);
        }
        statistics
    }

    /// The limits every read plan is held to.
    pub fn limits(&self) -> Limits {
        Limits {
            default_page_size: self.config.default_page_size,
            max_page_size: self.config.max_page_size,
            max_embed_depth: self.config.max_embed_depth,
            max_filter_terms: self.config.max_filter_terms,
            max_in_list: self.config.max_in_list,
            bounds: self.config.response_bounds,
        }
    }
}

/// What instances sharing Redis entries (L2) must agree on for an entry to be theirs: the
/// physical schema they serve and oxbase's version (a rolling deploy that changes either
/// starts from fresh entries).
fn shared_cache_namespace(schema: &Schema) -> u64 {
    let physical = oxbase_schema::physical::PhysicalSchema::of(schema, oxbase_schema::dialect::Dialect::Postgres);
    let mut text = serde_json::to_string(&physical).unwrap_or_default();
    text.push_str(env!("CARGO_PKG_VERSION"));
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}
