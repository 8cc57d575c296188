//! The configuration: every setting declared once ([`settings`]), layered from flags,
//! `OXBASE_…` variables, the schema file and defaults ([`Config`]), and turned into the
//! [`ServerConfig`] the server runs with.
//!
//! # Layout
//!
//! - [`settings`]: the declarations, one per setting, sections as in the schema file.
//! - [`declare`]: the `settings!` macro that turns them into serde, clap and metadata.
//! - [`resolve`]: [`Config`], the layering (flag > environment > file > default), the
//!   checks `serve` makes at start, and the cursor secrets.
//! - [`render`]: the effective configuration as TOML with sources, and the docs table.
//! - [`secret`]: [`Secret`], [`SecretUrl`] and [`CursorSecret`], which never print.
//! - [`auth`]: the `[auth]` settings as [`AuthConfig`]: tokens, passwords, login lockout.

pub mod auth;
pub mod connections;
pub mod declare;
pub mod render;
pub mod resolve;
pub mod secret;
pub mod settings;

use std::net::SocketAddr;
use std::time::Duration;

use oxbase_query::plan::ResponseBounds;

// Where the data lives and how its connections are pooled belong to the store; the
// settings fill them in.
pub use auth::AuthConfig;
pub use oxbase_store::settings::{DatabaseUrl, DatabaseUrlError, PoolSettings, StoreSettings};
pub use resolve::{Config, ConfigError};
pub use secret::{CursorSecret, CursorSecretTooShort, Secret, SecretUrl};
pub use settings::{ExternalWrites, FileSettings, SettingFlags, Settings};

/// Everything `serve` needs besides the schema.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// A schema without roles may be served on a non-loopback address (a deliberately
    /// public API).
    pub open: bool,
    /// The database to serve.
    pub database: DatabaseUrl,
    /// Rows returned when a request names no limit.
    pub default_page_size: u32,
    /// The largest page a request may ask for.
    pub max_page_size: u32,
    /// SQLite reader connections (reads run in parallel; writes go through one writer).
    pub readers: u32,
    /// How long SQLite waits on a lock before giving up.
    pub busy_timeout: Duration,
    /// Requests taking longer are answered 503.
    pub request_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: u64,
    /// Deepest embedding nesting a read may ask for.
    pub max_embed_depth: usize,
    /// Most comparisons the filters of one request may hold.
    pub max_filter_terms: usize,
    /// Most values in one `in.(…)` list.
    pub max_in_list: usize,
    /// How large one read response may grow (rows per embedded array, rows in all, bytes);
    /// exceeding a bound is a 400 naming it.
    pub response_bounds: ResponseBounds,
    /// Longest accepted request URL (path and query), in bytes; longer ones get 414.
    pub max_url_length: usize,
    /// Most bytes all request headers together may hold (names, values and separators);
    /// more get 431.
    pub max_header_bytes: usize,
    /// Time a client has to send a request's headers: from the connection's opening, or
    /// from the first byte of a later request on it; `None` waits forever.
    pub header_read_timeout: Option<Duration>,
    /// A connection with no request in flight and no byte of a next one for this long is
    /// closed; `None` keeps idle connections open.
    pub keep_alive_timeout: Option<Duration>,
    /// Most connections open at once; above it a new connection is answered 503
    /// `too_many_connections` and closed.
    pub max_connections: usize,
    /// PostgreSQL connection pool settings.
    pub pool: PoolSettings,
    /// Statements slower than this are logged with their SQL (never with parameter values
    /// unless `log_slow_query_parameters`); `None` turns the log off.
    pub slow_query: Option<Duration>,
    /// Whether the slow-query log includes parameter values (they may be personal data).
    pub log_slow_query_parameters: bool,
    /// Whether read responses are cached: `None` means on for SQLite (oxbase is the only
    /// writer) and on PostgreSQL with Redis (versions are shared exactly); off on
    /// PostgreSQL without Redis (other instances' writes arrive by NOTIFY, with a lag).
    pub cache_enabled: Option<bool>,
    /// Redis holding the resource versions and carrying change events between instances
    /// (`redis://host:port/db`); `None` keeps both in this process (and PostgreSQL NOTIFY).
    pub redis_url: Option<SecretUrl>,
    /// Whether writes made outside oxbase (psql, other programs; seen through triggers and
    /// NOTIFY) invalidate exactly: each cache hit first confirms with PostgreSQL that every
    /// earlier commit's notification has arrived (one small statement shared by concurrent
    /// hits). Off: such writes invalidate when their notification arrives (milliseconds).
    pub cache_exact_external_writes: bool,
    /// With Redis: also keep cache entries in Redis (L2), so an instance can answer a read
    /// another instance cached. Entries are checked against the versions like local ones.
    pub cache_redis_l2: bool,
    /// Memory the response cache may hold.
    pub cache_max_bytes: u64,
    /// Longest life of a cache entry (a memory bound; exactness comes from versions).
    pub cache_ttl: Duration,
    /// Responses smaller than this are sent uncompressed (compression costs more than it
    /// saves on small bodies).
    pub compression_min_bytes: u64,
    /// Compression level for every coding, held to each one's range (brotli 0–11, zstd
    /// 1–22, gzip 0–9); `None`: balanced defaults (brotli 4, zstd 3, gzip 6).
    pub compression_level: Option<u32>,
    /// Whether `/admin/*` is served (pool statistics, EXPLAIN). Off by default until
    /// access control protects it.
    pub admin_enabled: bool,
    /// Secret that signs keyset cursors; instances behind one load balancer need the same
    /// one. `None`: a random secret per process, warned about at start (cursors then end
    /// with the process and work on no other instance).
    pub cursor_secret: Option<CursorSecret>,
    /// The secret before `cursor_secret`, during a rotation: cursors it signed still
    /// verify; new cursors are signed with `cursor_secret` only.
    pub cursor_secret_previous: Option<CursorSecret>,
    /// Logging in, access tokens, external identity and password hashing.
    pub auth: AuthConfig,
    /// How long audit batches are kept; `None`: for ever.
    pub audit_retention: Option<Duration>,
    /// Time between two retention passes.
    pub audit_retention_interval: Duration,
}

impl ServerConfig {
    /// Defaults for everything but the database.
    pub fn with_database(database: DatabaseUrl) -> ServerConfig {
        let listen = Settings::default().server.listen.parse().expect("the default listen address parses");
        ServerConfig::from_settings(&Settings::default(), database, listen)
    }

    /// The settings in the server's terms: durations, `None` for a 0 that turns something
    /// off, the limits held to their ranges. [`Config::server_config`] checks them first.
    pub fn from_settings(settings: &Settings, database: DatabaseUrl, listen: SocketAddr) -> ServerConfig {
        let (server, cache) = (&settings.server, &settings.cache);
        // 0 turns a timeout off.
        let seconds = |value: u64| (value > 0).then(|| Duration::from_secs(value));
        ServerConfig {
            listen,
            database,
            default_page_size: server.default_page_size,
            max_page_size: server.max_page_size,
            readers: settings.database.readers,
            busy_timeout: Duration::from_millis(settings.database.busy_timeout_ms),
            request_timeout: Duration::from_secs(server.request_timeout_seconds),
            max_body_bytes: server.max_body_bytes,
            max_embed_depth: 4,
            max_filter_terms: 50,
            max_in_list: 1000,
            max_url_length: 8192,
            response_bounds: ResponseBounds {
                max_embed_rows: server.max_embed_rows,
                max_rows: server.max_response_rows,
                max_bytes: server.max_response_bytes,
            },
            max_header_bytes: server.max_header_bytes,
            header_read_timeout: seconds(server.header_read_timeout_seconds),
            keep_alive_timeout: seconds(server.keep_alive_timeout_seconds),
            max_connections: server.max_connections,
            cursor_secret: None,
            cursor_secret_previous: None,
            pool: pool_settings(&settings.database),
            slow_query: (settings.database.slow_query_ms > 0)
                .then(|| Duration::from_millis(settings.database.slow_query_ms)),
            log_slow_query_parameters: settings.database.log_slow_query_parameters,
            admin_enabled: server.admin,
            open: server.open,
            compression_min_bytes: server.compression_min_bytes,
            compression_level: server.compression_level,
            cache_enabled: cache.enabled,
            redis_url: cache.redis_url.clone(),
            cache_exact_external_writes: cache.external_writes == ExternalWrites::Exact,
            cache_redis_l2: cache.redis_l2,
            cache_max_bytes: cache.max_bytes,
            cache_ttl: Duration::from_secs(cache.ttl_seconds),
            auth: AuthConfig::from_settings(&settings.auth),
            audit_retention: settings.audit.retention_days.map(|days| Duration::from_secs(days.saturating_mul(86_400))),
            audit_retention_interval: Duration::from_secs(settings.audit.retention_interval_seconds.max(1)),
        }
    }
}

/// The `[database]` settings in the pool's terms.
pub fn pool_settings(database: &settings::DatabaseSettings) -> PoolSettings {
    let max_size = database.pool_size.max(1);
    PoolSettings {
        max_size,
        // More idle connections than the pool may hold would only be a misreading.
        min_idle: database.min_idle.min(max_size),
        idle_timeout: (database.idle_timeout_seconds > 0).then(|| Duration::from_secs(database.idle_timeout_seconds)),
        acquire_timeout: Duration::from_millis(database.acquire_timeout_ms),
        statement_timeout: Duration::from_millis(database.statement_timeout_ms),
        max_lifetime: Duration::from_secs(database.max_lifetime_seconds),
        test_before_acquire: database.test_before_acquire,
        application_name: database.application_name.clone(),
    }
}

impl ServerConfig {
    /// What the store is opened with.
    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            database: self.database.clone(),
            readers: self.readers,
            busy_timeout: self.busy_timeout,
            pool: self.pool.clone(),
            slow_query: self.slow_query,
            log_slow_query_parameters: self.log_slow_query_parameters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/app.db").unwrap(), DatabaseUrl::Sqlite("data/app.db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/app.db").unwrap(), DatabaseUrl::Sqlite("/tmp/app.db".into()));
        assert!(matches!(DatabaseUrl::parse("postgres://u@h:5432/db").unwrap(), DatabaseUrl::Postgres(_)));
        assert!(DatabaseUrl::parse("mysql://x").unwrap_err().reason.contains("sqlite:// or postgres://"));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        let shown = DatabaseUrl::parse("postgres://user:secret@db:5432/app").unwrap().to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn cursor_secrets_are_at_least_32_bytes_and_never_shown() {
        assert_eq!(CursorSecret::new(vec![b'x'; 31]).unwrap_err(), CursorSecretTooShort { length: 31 });
        let secret = CursorSecret::new(b"correct horse battery staple, 32+".to_vec()).unwrap();
        let mut config = ServerConfig::with_database(DatabaseUrl::Sqlite("app.db".into()));
        config.cursor_secret = Some(secret);
        let shown = format!("{config:?}");
        assert!(shown.contains("cursor_secret: Some([redacted])") && !shown.contains("horse"), "{shown}");
    }
}

#[cfg(test)]
mod resolve_tests;
