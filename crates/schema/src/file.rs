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
    /// `[server]`, `[database]`, `[cache]`, `[auth]` and `[audit]`: the server's settings, declared, checked
    /// (unknown keys too) and documented with the server's configuration
    /// (`oxbase_server::config`), which reads them from the same file. Accepted here as
    /// they are.
    #[serde(default)]
    pub server: toml::Table,
    #[serde(default)]
    pub database: toml::Table,
    #[serde(default)]
    pub cache: toml::Table,
    #[serde(default)]
    pub auth: toml::Table,
    #[serde(default)]
    pub audit: toml::Table,
    /// Real-time (WebSocket) settings.
    #[serde(default)]
    pub realtime: RealtimeSection,
    /// Request rate limits.
    #[serde(default)]
    pub rate_limits: RateLimitSection,
    /// Which resource holds the accounts people log in with.
    pub accounts: Option<Spanned<AccountsDef>>,
    /// Roles and what each may do, by role name.
    #[serde(default)]
    pub roles: IndexMap<String, Spanned<RoleDef>>,
    /// Resources by their API name.
    #[serde(default)]
    pub resources: IndexMap<String, Spanned<ResourceDef>>,
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

/// `[accounts]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsDef {
    /// The resource whose rows are the accounts.
    pub resource: Spanned<String>,
    /// The unique field a login names (default `username`).
    pub username_field: Option<Spanned<String>>,
    /// The field holding the account's role (default `role`).
    pub role_field: Option<Spanned<String>>,
    /// The text field holding the password hash (default `password_hash`).
    pub password_field: Option<Spanned<String>>,
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
    /// The rows the actions apply to, in the predicate language, over the row and the
    /// caller (`$user.id`, `$user.role`, `$user.claims.…`); every row when absent.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
    /// Visible fields; all when absent.
    #[serde(default)]
    pub fields: Option<Vec<Spanned<String>>>,
    /// Fields the role never sees (nor filters, orders or writes by).
    #[serde(default)]
    pub hidden: Vec<Spanned<String>>,
    /// Fields the role sees but may not write.
    #[serde(default)]
    pub read_only: Vec<Spanned<String>>,
    /// Values the server writes into every row the role creates (the client may not send
    /// them): a literal, or a caller's value such as `"$user.id"`.
    #[serde(default)]
    pub preset: IndexMap<String, Spanned<toml::Value>>,
    /// A rule every row the role writes must satisfy after the write.
    #[serde(default)]
    pub check: Option<Spanned<String>>,
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
    /// Whether writes are recorded in the audit trail (default true).
    pub audit: Option<bool>,
    /// Fields whose values the audit trail never records.
    #[serde(default)]
    pub audit_exclude: Vec<Spanned<String>>,
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
