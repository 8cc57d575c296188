//! The identity system tables, per engine. Times are Unix seconds (`BIGINT`), so the
//! statements that use them are the same on both engines.

/// Refresh tokens: one row per token issued; a rotation marks the old row used and adds
/// one to the same family; revoking a family marks every row of it.
pub const SQLITE_REFRESH_TOKENS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_refresh_tokens\" (\n  \"id\" TEXT PRIMARY KEY,\n  \"family\" TEXT NOT NULL,\n  \"user_id\" TEXT NOT NULL,\n  \"token_hash\" TEXT NOT NULL UNIQUE,\n  \"issued_at\" INTEGER NOT NULL,\n  \"expires_at\" INTEGER NOT NULL,\n  \"used_at\" INTEGER,\n  \"revoked_at\" INTEGER\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_refresh_tokens_family_idx\" ON \"_oxbase_refresh_tokens\" (\"family\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_refresh_tokens_user_id_idx\" ON \"_oxbase_refresh_tokens\" (\"user_id\")",
];

/// API keys: the key's digest, never the key; `resources` and `actions` are JSON arrays
/// (NULL: no limit beyond the role).
pub const SQLITE_API_KEYS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_api_keys\" (\n  \"id\" TEXT PRIMARY KEY,\n  \"name\" TEXT NOT NULL,\n  \"role\" TEXT NOT NULL,\n  \"resources\" TEXT,\n  \"actions\" TEXT,\n  \"key_hash\" TEXT NOT NULL,\n  \"created_at\" INTEGER NOT NULL,\n  \"expires_at\" INTEGER,\n  \"revoked_at\" INTEGER,\n  \"last_used_at\" INTEGER\n)",
];

/// Secrets oxbase generated itself (the JWT secret when none is configured), shared by
/// every instance through the database.
pub const SQLITE_SECRETS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_secrets\" (\n  \"name\" TEXT PRIMARY KEY,\n  \"value\" TEXT NOT NULL,\n  \"created_at\" INTEGER NOT NULL\n)",
];

/// [`SQLITE_REFRESH_TOKENS`] on PostgreSQL.
pub const POSTGRES_REFRESH_TOKENS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_refresh_tokens\" (\n  \"id\" TEXT PRIMARY KEY,\n  \"family\" TEXT NOT NULL,\n  \"user_id\" TEXT NOT NULL,\n  \"token_hash\" TEXT NOT NULL UNIQUE,\n  \"issued_at\" BIGINT NOT NULL,\n  \"expires_at\" BIGINT NOT NULL,\n  \"used_at\" BIGINT,\n  \"revoked_at\" BIGINT\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_refresh_tokens_family_idx\" ON \"_oxbase_refresh_tokens\" (\"family\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_refresh_tokens_user_id_idx\" ON \"_oxbase_refresh_tokens\" (\"user_id\")",
];

/// [`SQLITE_API_KEYS`] on PostgreSQL.
pub const POSTGRES_API_KEYS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_api_keys\" (\n  \"id\" TEXT PRIMARY KEY,\n  \"name\" TEXT NOT NULL,\n  \"role\" TEXT NOT NULL,\n  \"resources\" TEXT,\n  \"actions\" TEXT,\n  \"key_hash\" TEXT NOT NULL,\n  \"created_at\" BIGINT NOT NULL,\n  \"expires_at\" BIGINT,\n  \"revoked_at\" BIGINT,\n  \"last_used_at\" BIGINT\n)",
];

/// [`SQLITE_SECRETS`] on PostgreSQL.
pub const POSTGRES_SECRETS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_secrets\" (\n  \"name\" TEXT PRIMARY KEY,\n  \"value\" TEXT NOT NULL,\n  \"created_at\" BIGINT NOT NULL\n)",
];
