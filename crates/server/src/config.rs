//! The settings a running server uses, resolved from defaults, the schema file, the
//! environment and flags (the binary does the resolving), and database URLs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use oxbase_query::plan::ResponseBounds;

/// Everything `serve` needs besides the schema.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
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
    /// `too_many_connections` and closed. `None`: 10,000, or fewer to fit the process's
    /// open-file limit (decided where connections are accepted).
    pub max_connections: Option<usize>,
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
    pub redis_url: Option<String>,
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
}

/// A secret that signs keyset cursors: at least [`CursorSecret::MIN_BYTES`] bytes. Its
/// `Debug` prints `[redacted]`, so it never reaches a log through the config.
#[derive(Clone)]
pub struct CursorSecret(Vec<u8>);

/// A cursor secret shorter than [`CursorSecret::MIN_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor secret is {length} bytes; at least {} are needed", CursorSecret::MIN_BYTES)]
pub struct CursorSecretTooShort {
    pub length: usize,
}

impl CursorSecret {
    /// The shortest accepted secret: the 256 bits of the HMAC-SHA256 key it becomes.
    pub const MIN_BYTES: usize = 32;

    /// A secret from bytes, refused when shorter than [`CursorSecret::MIN_BYTES`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<CursorSecret, CursorSecretTooShort> {
        let bytes = bytes.into();
        if bytes.len() < CursorSecret::MIN_BYTES {
            return Err(CursorSecretTooShort { length: bytes.len() });
        }
        Ok(CursorSecret(bytes))
    }

    /// 32 random bytes, for a process that was given no secret.
    pub fn random() -> CursorSecret {
        let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        CursorSecret(secret)
    }

    /// The secret's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CursorSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl ServerConfig {
    /// Defaults for everything but the database.
    pub fn with_database(database: DatabaseUrl) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database,
            default_page_size: 50,
            max_page_size: 1000,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_embed_depth: 4,
            max_filter_terms: 50,
            max_in_list: 1000,
            max_url_length: 8192,
            response_bounds: ResponseBounds::default(),
            max_header_bytes: 32 * 1024,
            header_read_timeout: Some(Duration::from_secs(10)),
            keep_alive_timeout: Some(Duration::from_secs(60)),
            max_connections: None,
            cursor_secret: None,
            cursor_secret_previous: None,
            pool: PoolSettings::default(),
            slow_query: Some(Duration::from_millis(500)),
            log_slow_query_parameters: false,
            admin_enabled: false,
            compression_min_bytes: 1024,
            compression_level: None,
            cache_enabled: None,
            redis_url: None,
            cache_exact_external_writes: false,
            cache_redis_l2: false,
            cache_max_bytes: 64 * 1024 * 1024,
            cache_ttl: Duration::from_secs(300),
        }
    }
}

/// How oxbase pools PostgreSQL connections. The defaults suit this 2-core machine: a
/// PostgreSQL backend per core kept open, room to grow for requests that hold their
/// connection across several round trips (16 carried 25 % more embedded reads than 8 in
/// the benchmark), and the extra connections closed again once a burst is over.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once (lost ones are reopened on next use).
    pub max_size: u32,
    /// Connections kept open even when idle: opened at start (at least one, so that start
    /// fails when the database does not answer); more are opened on demand up to `max_size`.
    pub min_idle: u32,
    /// Connections idle longer than this are closed, down to `min_idle`; `None` keeps
    /// every opened connection.
    pub idle_timeout: Option<Duration>,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every statement oxbase runs.
    pub statement_timeout: Duration,
    /// Connections older than this are closed and reopened on next use.
    pub max_lifetime: Duration,
    /// Run `SELECT 1` before handing out a connection (off: a lost connection is noticed
    /// by its first failing statement and reopened for the next request).
    pub test_before_acquire: bool,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        PoolSettings {
            max_size: 16,
            min_idle: 2,
            idle_timeout: Some(Duration::from_secs(300)),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(30 * 60),
            test_before_acquire: false,
            application_name: "oxbase".to_owned(),
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

/// A database URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL '{url}': {reason}")]
pub struct DatabaseUrlError {
    pub url: String,
    pub reason: String,
}

impl DatabaseUrl {
    /// Parses `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or
    /// `postgres://user@host:port/db` (also `postgresql://`).
    pub fn parse(url: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let error = |reason: &str| DatabaseUrlError { url: url.to_owned(), reason: reason.to_owned() };
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(error("no file path; write sqlite://data/app.db or sqlite:///var/lib/app.db"));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(error("expected a URL starting with sqlite:// or postgres://"))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(formatter, "sqlite://{}", path.display()),
            // Only the host part: the URL may carry a password.
            DatabaseUrl::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                write!(
                    formatter,
                    "postgres://…@{}",
                    host.trim_start_matches("postgres://").trim_start_matches("postgresql://")
                )
            }
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
