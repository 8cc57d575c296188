//! The schema file as written: plain serde structures with spans, no meaning attached yet.
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored
//! setting. [`crate::validate`] gives these structures their meaning.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

/// The whole schema file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// HTTP server settings.
    #[serde(default)]
    pub server: ServerSection,
    /// Which database to serve and how to connect to it.
    #[serde(default)]
    pub database: DatabaseSection,
    /// Response cache settings.
    #[serde(default)]
    pub cache: CacheSection,
    /// Real-time (WebSocket) settings.
    #[serde(default)]
    pub realtime: RealtimeSection,
    /// Request rate limits.
    #[serde(default)]
    pub rate_limits: RateLimitSection,
    /// Roles and what each may do, by role name.
    #[serde(default)]
    pub roles: IndexMap<String, Spanned<RoleDef>>,
    /// Resources by their API name.
    #[serde(default)]
    pub resources: IndexMap<String, Spanned<ResourceDef>>,
}

/// `[server]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub default_page_size: Option<u32>,
    pub max_page_size: Option<u32>,
    /// Most rows one embedded array of a response may hold.
    pub max_embed_rows: Option<u32>,
    /// Most rows (root and embedded, each time they appear) one response may hold.
    pub max_response_rows: Option<u64>,
    /// Largest encoded read response, in bytes before compression.
    pub max_response_bytes: Option<u64>,
    pub max_body_bytes: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    /// Seconds a client has to send a request's headers; `0` waits forever.
    pub header_read_timeout_seconds: Option<u64>,
    /// Seconds an idle keep-alive connection stays open; `0` keeps it open.
    pub keep_alive_timeout_seconds: Option<u64>,
    /// Most connections open at once.
    pub max_connections: Option<usize>,
    /// Most bytes all request headers together may hold.
    pub max_header_bytes: Option<usize>,
    /// Serve `/admin/*` (pool statistics, EXPLAIN); off unless set.
    pub admin: Option<bool>,
    /// Responses smaller than this many bytes are sent uncompressed.
    pub compression_min_bytes: Option<u64>,
    /// Compression level (0–11, held to each coding's range); balanced defaults if unset.
    pub compression_level: Option<u32>,
    /// File holding the secret that signs keyset cursors (relative paths from the schema
    /// file's directory). The secret itself is never written in the schema file.
    pub cursor_secret_file: Option<String>,
    /// File holding the previous cursor secret during a rotation: its cursors still verify.
    pub cursor_secret_previous_file: Option<String>,
}

/// `[database]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: Option<String>,
    pub readers: Option<u32>,
    pub busy_timeout_ms: Option<u64>,
    pub pool_size: Option<u32>,
    /// PostgreSQL connections kept open while idle.
    pub min_idle: Option<u32>,
    /// PostgreSQL connections idle longer than this are closed, down to `min_idle`; `0`
    /// keeps them all.
    pub idle_timeout_seconds: Option<u64>,
    pub acquire_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    pub max_lifetime_seconds: Option<u64>,
    pub test_before_acquire: Option<bool>,
    pub application_name: Option<String>,
    pub slow_query_ms: Option<u64>,
    pub log_slow_query_parameters: Option<bool>,
}

/// `[cache]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    pub enabled: Option<bool>,
    pub max_bytes: Option<u64>,
    pub ttl_seconds: Option<u64>,
    pub redis_url: Option<String>,
    pub external_writes: Option<ExternalWrites>,
    /// Also keep entries in Redis (L2), shared by every instance.
    pub redis_l2: Option<bool>,
}

/// `[cache] external_writes`: how writes made outside oxbase reach the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalWrites {
    /// When their PostgreSQL notification arrives (milliseconds; no cost per hit).
    Notified,
    /// Before the next hit: every hit confirms that earlier notifications have arrived.
    Exact,
}

/// `[realtime]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeSection {
    pub enabled: Option<bool>,
    pub max_connections_per_user: Option<u32>,
    pub send_queue: Option<u32>,
    pub heartbeat_seconds: Option<u64>,
}

/// `[rate_limits]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    pub requests_per_second: Option<u32>,
    pub burst: Option<u32>,
}

/// `[roles.NAME]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<Spanned<PermissionDef>>,
}

/// One entry of `permissions` in a role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionDef {
    /// A resource name, or `*` for every resource.
    pub resource: Spanned<String>,
    /// `read`, `create`, `update`, `delete`, or `*`.
    pub actions: Vec<Spanned<String>>,
    /// A row filter in the partial-index predicate language; `$user` is the caller's id.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
    /// Visible fields; all when absent.
    #[serde(default)]
    pub fields: Option<Vec<Spanned<String>>>,
}

/// `[resources.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDef {
    pub table: Option<Spanned<String>>,
    pub description: Option<String>,
    /// `integer` (identity, the default) or `uuid`.
    pub primary_key: Option<Spanned<String>>,
    #[serde(default)]
    pub fields: IndexMap<String, Spanned<FieldDef>>,
    #[serde(default)]
    pub indexes: Vec<Spanned<IndexDef>>,
    /// Whether PATCH and DELETE without a filter are allowed.
    #[serde(default)]
    pub allow_unfiltered_writes: bool,
    pub cache: Option<ResourceCacheDef>,
    pub realtime: Option<bool>,
}

/// `cache = { enabled, ttl_seconds }` on a resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceCacheDef {
    pub enabled: Option<bool>,
    pub ttl_seconds: Option<u64>,
}

/// One field of a resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    #[serde(rename = "type")]
    pub field_type: Spanned<String>,
    pub description: Option<String>,
    /// The allowed values of an `enum` field.
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub nullable: bool,
    pub default: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub unique: bool,
    pub min: Option<Spanned<toml::Value>>,
    pub max: Option<Spanned<toml::Value>>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub pattern: Option<Spanned<String>>,
    /// `resource` or `resource.field`.
    pub references: Option<Spanned<String>>,
    pub on_delete: Option<Spanned<String>>,
    /// Name of the one-to-many relation seen from the referenced resource.
    pub reverse: Option<Spanned<String>>,
    /// `created` or `updated`: a timestamp oxbase sets itself.
    pub auto: Option<Spanned<String>>,
}

/// One entry of `indexes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDef {
    pub name: Option<String>,
    pub columns: Vec<Spanned<String>>,
    #[serde(default)]
    pub unique: bool,
    #[serde(rename = "where")]
    pub predicate: Option<Spanned<String>>,
}
