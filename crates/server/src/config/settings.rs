//! Every setting, declared once: its key in the schema file's section, its type and
//! default, its doc comment (the `--help` text and the docs table), its flag and its
//! `OXBASE_…` variable. Values are in the file's units (seconds, milliseconds, bytes);
//! [`super::Config::server_config`] turns them into the [`super::ServerConfig`] the server
//! runs with.

use std::path::PathBuf;

use oxbase_query::plan::ResponseBounds;

use super::declare::settings;
use super::secret::SecretUrl;

/// `[cache] external_writes`: how writes made outside oxbase reach the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExternalWrites {
    /// When their PostgreSQL notification arrives (milliseconds; no cost per hit).
    #[default]
    Notified,
    /// Before the next hit: every hit confirms that earlier notifications have arrived.
    Exact,
}

/// `--cache on|off` and `OXBASE_CACHE`: the file writes `enabled = true`.
fn on_or_off() -> impl clap::builder::TypedValueParser<Value = bool> {
    clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(["on", "off"]), |value: String| {
        value == "on"
    })
}

settings! {
    /// HTTP server settings.
    [server] ServerSettings, ServerFile, ServerFlags, "[server] settings" {
        /// Address and port to listen on; port 0 picks a free one.
        listen: String = "127.0.0.1:8080".to_owned(), flag "listen", env "OXBASE_LISTEN", arg(value_name = "ADDR");
        /// Serve a schema that declares no roles on an address other than loopback: the
        /// API is then deliberately public (anyone may read, write and delete everything).
        /// Without it `serve` refuses such an address. Switched on like `admin`.
        open: bool = false, flag "open", env "OXBASE_OPEN",
            arg(num_args = 0..=1, require_equals = true, default_missing_value = "true");
        /// Rows a read returns when it sets no `limit`.
        default_page_size: u32 = 50, flag "default-page-size", env "OXBASE_SERVER_DEFAULT_PAGE_SIZE", arg(value_name = "ROWS");
        /// Largest `limit` accepted; `serve` refuses to start if `default_page_size` is larger.
        max_page_size: u32 = 1000, flag "max-page-size", env "OXBASE_SERVER_MAX_PAGE_SIZE", arg(value_name = "ROWS");
        /// Most rows one embedded array of a read may hold; an explicit `rel.limit` may not
        /// ask for more. Past it: 400 `limit_exceeded`.
        max_embed_rows: u32 = ResponseBounds::default().max_embed_rows, flag "max-embed-rows", env "OXBASE_SERVER_MAX_EMBED_ROWS", arg(value_name = "ROWS");
        /// Most rows one read response may hold, root and embedded, counted each time they
        /// appear.
        max_response_rows: u64 = ResponseBounds::default().max_rows, flag "max-response-rows", env "OXBASE_SERVER_MAX_RESPONSE_ROWS", arg(value_name = "ROWS");
        /// Largest encoded read body, in bytes before compression.
        max_response_bytes: u64 = ResponseBounds::default().max_bytes, flag "max-response-bytes", env "OXBASE_SERVER_MAX_RESPONSE_BYTES", arg(value_name = "BYTES");
        /// Largest request body, in bytes; larger ones get 413.
        max_body_bytes: u64 = 10 * 1024 * 1024, flag "max-body-bytes", env "OXBASE_SERVER_MAX_BODY_BYTES", arg(value_name = "BYTES");
        /// Seconds a request may run; then it gets 503 `timeout`.
        request_timeout_seconds: u64 = 30, flag "request-timeout-seconds", env "OXBASE_SERVER_REQUEST_TIMEOUT_SECONDS", arg(value_name = "SECONDS");
        /// Seconds a client has to send a request's headers, from the connection's opening
        /// or the request's first byte; then the connection is closed. 0 waits forever.
        header_read_timeout_seconds: u64 = 10, flag "header-read-timeout", env "OXBASE_HEADER_READ_TIMEOUT", arg(value_name = "SECONDS");
        /// Seconds a connection with no request in flight and none arriving stays open;
        /// 0 keeps it open.
        keep_alive_timeout_seconds: u64 = 60, flag "keep-alive-timeout", env "OXBASE_KEEP_ALIVE_TIMEOUT", arg(value_name = "SECONDS");
        /// Most client connections open at once; more get 503 `too_many_connections`.
        /// 0 is refused at start.
        max_connections: usize = crate::config::connections::default_max_connections(),
            flag "max-connections", env "OXBASE_MAX_CONNECTIONS",
            shown "10000, at most the open-file limit less 192", arg(value_name = "N");
        /// Most bytes all request headers may hold together; more get 431
        /// `headers_too_large`.
        max_header_bytes: usize = 32 * 1024, flag "max-header-bytes", env "OXBASE_SERVER_MAX_HEADER_BYTES", arg(value_name = "BYTES");
        /// Serve `/admin/*` (counters, pool, cache, EXPLAIN, API keys): to the admin role
        /// when the schema declares roles, to anyone who reaches the port when it declares
        /// none. Switched on by the flag, the variable or the file: `OXBASE_ADMIN=false`
        /// does not switch off `admin = true`.
        admin: bool = false, flag "admin", env "OXBASE_ADMIN",
            arg(num_args = 0..=1, require_equals = true, default_missing_value = "true");
        /// Responses smaller than this many bytes are sent uncompressed (br, zstd or gzip
        /// above it, by `Accept-Encoding`).
        compression_min_bytes: u64 = 1024, flag "compression-min-bytes", env "OXBASE_SERVER_COMPRESSION_MIN_BYTES", arg(value_name = "BYTES");
        /// Compression level, 0 (fastest) to 11 (smallest), held to each coding's range
        /// (gzip stops at 9, zstd starts at 1); unset: brotli 4, zstd 3, gzip 6.
        compression_level: Option<u32> = None, flag "compression-level", env "OXBASE_SERVER_COMPRESSION_LEVEL", arg(value_name = "LEVEL");
        /// File holding the secret (at least 32 bytes) that signs keyset cursors; in the
        /// schema file relative to its directory. The secret itself may instead come from
        /// `OXBASE_CURSOR_SECRET`, never from a flag or the schema file. Unset: a random
        /// secret per process, with a warning.
        cursor_secret_file: Option<PathBuf> = None, flag "cursor-secret-file", env "OXBASE_CURSOR_SECRET_FILE", arg(value_name = "FILE");
        /// File holding the previous cursor secret during a rotation (or the secret itself
        /// in `OXBASE_CURSOR_SECRET_PREVIOUS`): cursors it signed still verify.
        cursor_secret_previous_file: Option<PathBuf> = None, flag "cursor-secret-previous-file", env "OXBASE_CURSOR_SECRET_PREVIOUS_FILE", arg(value_name = "FILE");
    }

    /// Which database to serve and how to connect to it.
    [database] DatabaseSettings, DatabaseFile, DatabaseFlags, "[database] settings" {
        /// Database URL: `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or
        /// `postgres://user:password@host:port/db` (`postgresql://` works too). A missing
        /// SQLite file is created. Required.
        url: Option<SecretUrl> = None, flag "database", env "OXBASE_DATABASE", arg(value_name = "URL");
        /// SQLite: reader connections. Writes go through one writer connection.
        readers: u32 = 4, flag "readers", env "OXBASE_READERS", arg(value_name = "N");
        /// SQLite: milliseconds SQLite waits for a lock.
        busy_timeout_ms: u64 = 5000, flag "busy-timeout-ms", env "OXBASE_DATABASE_BUSY_TIMEOUT_MS", arg(value_name = "MS");
        /// PostgreSQL: most connections the pool opens. 0 counts as 1.
        pool_size: u32 = 16, flag "pool-size", env "OXBASE_DATABASE_POOL_SIZE", arg(value_name = "N");
        /// PostgreSQL: connections kept open even when idle, opened at start; more are
        /// opened on demand, up to `pool_size`. Larger than `pool_size` counts as `pool_size`.
        min_idle: u32 = 2, flag "min-idle", env "OXBASE_DATABASE_MIN_IDLE", arg(value_name = "N");
        /// PostgreSQL: seconds after which an idle connection is closed, as long as more
        /// than `min_idle` are open. 0 keeps every connection once opened.
        idle_timeout_seconds: u64 = 300, flag "idle-timeout-seconds", env "OXBASE_DATABASE_IDLE_TIMEOUT_SECONDS", arg(value_name = "SECONDS");
        /// PostgreSQL: milliseconds a request waits for a free connection before it gets
        /// 503; also bounds how long opening a connection may take.
        acquire_timeout_ms: u64 = 5000, flag "acquire-timeout-ms", env "OXBASE_DATABASE_ACQUIRE_TIMEOUT_MS", arg(value_name = "MS");
        /// PostgreSQL: `statement_timeout` of every pooled connection, in milliseconds.
        /// 0 turns it off.
        statement_timeout_ms: u64 = 30_000, flag "statement-timeout-ms", env "OXBASE_DATABASE_STATEMENT_TIMEOUT_MS", arg(value_name = "MS");
        /// PostgreSQL: seconds after which a connection is closed and opened again the next
        /// time a request takes it.
        max_lifetime_seconds: u64 = 30 * 60, flag "max-lifetime-seconds", env "OXBASE_DATABASE_MAX_LIFETIME_SECONDS", arg(value_name = "SECONDS");
        /// PostgreSQL: run `SELECT 1` on a connection before handing it to a request, and
        /// reconnect if that fails.
        test_before_acquire: bool = false, flag "test-before-acquire", env "OXBASE_DATABASE_TEST_BEFORE_ACQUIRE",
            arg(num_args = 0..=1, require_equals = true, default_missing_value = "true");
        /// PostgreSQL: shown in `pg_stat_activity.application_name`.
        application_name: String = "oxbase".to_owned(), flag "application-name", env "OXBASE_DATABASE_APPLICATION_NAME", arg(value_name = "NAME");
        /// Statements at least this many milliseconds slow are logged. 0 turns the log off.
        slow_query_ms: u64 = 500, flag "slow-query-ms", env "OXBASE_DATABASE_SLOW_QUERY_MS", arg(value_name = "MS");
        /// Include parameter values in the slow-query log (they may be personal data).
        log_slow_query_parameters: bool = false, flag "log-slow-query-parameters", env "OXBASE_DATABASE_LOG_SLOW_QUERY_PARAMETERS",
            arg(num_args = 0..=1, require_equals = true, default_missing_value = "true");
    }

    /// Response cache settings.
    [cache] CacheSettings, CacheFile, CacheFlags, "[cache] settings" {
        /// Cache read responses (`--cache on|off`). Unset: on for SQLite and for PostgreSQL
        /// with Redis; off for PostgreSQL without Redis, where other instances' writes
        /// reach the cache by NOTIFY, a few ms late.
        enabled: Option<bool> = None, flag "cache", env "OXBASE_CACHE",
            shown "on for SQLite, and for PostgreSQL with Redis", arg(value_name = "on|off", value_parser = on_or_off());
        /// Memory the response cache may hold, in bytes.
        max_bytes: u64 = 64 * 1024 * 1024, flag "cache-max-bytes", env "OXBASE_CACHE_MAX_BYTES", arg(value_name = "BYTES");
        /// Longest life of a cache entry in seconds (a memory bound; exactness comes from
        /// versions). A resource can set a shorter one.
        ttl_seconds: u64 = 300, flag "cache-ttl-seconds", env "OXBASE_CACHE_TTL_SECONDS", arg(value_name = "SECONDS");
        /// Redis shared by every instance for cache versions and change events
        /// (`redis://host:port/db`); unset keeps both in this process.
        redis_url: Option<SecretUrl> = None, flag "redis", env "OXBASE_REDIS", arg(value_name = "URL");
        /// PostgreSQL: how writes made outside oxbase reach the cache: `notified` when
        /// their notification arrives (a few ms), `exact` before any later hit (each hit
        /// first confirms with one shared barrier round trip).
        external_writes: ExternalWrites = ExternalWrites::Notified, flag "cache-external-writes", env "OXBASE_CACHE_EXTERNAL_WRITES";
        /// With Redis: also keep cache entries in Redis (L2), so one instance's cached read
        /// answers the others'.
        redis_l2: bool = false, flag "cache-redis-l2", env "OXBASE_CACHE_REDIS_L2",
            arg(num_args = 0..=1, require_equals = true, default_missing_value = "true");
    }

    /// The audit trail (docs/audit.md).
    [audit] AuditSettings, AuditFile, AuditFlags, "[audit] settings" {
        /// Days an audit batch is kept; older ones are deleted by a background task, a few
        /// hundred at a time, oldest first. Unset: kept for ever.
        retention_days: Option<u64> = None, flag "audit-retention-days", env "OXBASE_AUDIT_RETENTION_DAYS",
            shown "kept for ever", arg(value_name = "DAYS");
        /// Seconds between two retention passes.
        retention_interval_seconds: u64 = 3600, flag "audit-retention-interval-seconds", env "OXBASE_AUDIT_RETENTION_INTERVAL_SECONDS",
            arg(value_name = "SECONDS");
    }

    /// Logging in, access tokens, external identity providers and password hashing.
    [auth] AuthSettings, AuthFile, AuthFlags, "[auth] settings" {
        /// File holding the secret (at least 32 bytes) that signs access tokens and checks
        /// HS256 tokens from another identity provider; in the schema file relative to its
        /// directory. The secret itself may instead come from `OXBASE_JWT_SECRET`, never
        /// from a flag or the schema file. Unset: a random secret generated once and kept
        /// in the database, shared by every instance.
        jwt_secret_file: Option<PathBuf> = None, flag "jwt-secret-file", env "OXBASE_JWT_SECRET_FILE", arg(value_name = "FILE");
        /// The `iss` of the access tokens oxbase issues (and accepts as its own).
        issuer: String = "oxbase".to_owned(), flag "jwt-issuer", env "OXBASE_JWT_ISSUER", arg(value_name = "ISSUER");
        /// The `iss` of another identity provider's tokens, accepted besides `issuer`;
        /// their role and user id are read at `role_claim` and `user_id_claim`.
        external_issuer: Option<String> = None, flag "jwt-external-issuer", env "OXBASE_JWT_EXTERNAL_ISSUER", arg(value_name = "ISSUER");
        /// The `aud` every accepted token must carry; oxbase's own tokens carry it.
        audience: String = "oxbase".to_owned(), flag "jwt-audience", env "OXBASE_JWT_AUDIENCE", arg(value_name = "AUDIENCE");
        /// Seconds of clock skew allowed on a token's `exp` and `nbf`.
        leeway_seconds: u64 = 30, flag "jwt-leeway-seconds", env "OXBASE_JWT_LEEWAY_SECONDS", arg(value_name = "SECONDS");
        /// Life of an access token issued at login or refresh, in seconds.
        access_ttl_seconds: u64 = 900, flag "access-ttl-seconds", env "OXBASE_ACCESS_TTL_SECONDS", arg(value_name = "SECONDS");
        /// Life of a refresh token, in seconds; each refresh issues a new one.
        refresh_ttl_seconds: u64 = 30 * 24 * 3600, flag "refresh-ttl-seconds", env "OXBASE_REFRESH_TTL_SECONDS", arg(value_name = "SECONDS");
        /// A JWKS file of another identity provider's public keys (RS256, ES256, EdDSA);
        /// read again when it changes (checked at most once a second); in the schema file
        /// relative to its directory.
        jwks_file: Option<PathBuf> = None, flag "jwks-file", env "OXBASE_JWKS_FILE", arg(value_name = "FILE");
        /// Dotted path of the role claim in another provider's tokens, e.g.
        /// `app_metadata.role`.
        role_claim: String = "role".to_owned(), flag "jwt-role-claim", env "OXBASE_JWT_ROLE_CLAIM", arg(value_name = "PATH");
        /// Dotted path of the user id claim in another provider's tokens.
        user_id_claim: String = "sub".to_owned(), flag "jwt-user-id-claim", env "OXBASE_JWT_USER_ID_CLAIM", arg(value_name = "PATH");
        /// Argon2id memory per password hash, in KiB; at least 19456 (OWASP's minimum).
        argon2_memory_kib: u32 = 19_456, flag "argon2-memory-kib", env "OXBASE_ARGON2_MEMORY_KIB", arg(value_name = "KIB");
        /// Argon2id iterations; at least 2.
        argon2_iterations: u32 = 2, flag "argon2-iterations", env "OXBASE_ARGON2_ITERATIONS", arg(value_name = "N");
        /// Argon2id lanes; at least 1.
        argon2_parallelism: u32 = 1, flag "argon2-parallelism", env "OXBASE_ARGON2_PARALLELISM", arg(value_name = "N");
        /// Failed logins for one username before it is locked out for a while.
        login_account_failures: u32 = 5, flag "login-account-failures", env "OXBASE_LOGIN_ACCOUNT_FAILURES", arg(value_name = "N");
        /// Failed logins from one client address before it is locked out for a while.
        login_client_failures: u32 = 20, flag "login-client-failures", env "OXBASE_LOGIN_CLIENT_FAILURES", arg(value_name = "N");
        /// Seconds of the first lockout; each further lockout doubles it, up to an hour.
        login_lockout_seconds: u64 = 60, flag "login-lockout-seconds", env "OXBASE_LOGIN_LOCKOUT_SECONDS", arg(value_name = "SECONDS");
    }
}
