//! The audit trail's system tables, per engine. Times are Unix milliseconds (`BIGINT`), and
//! `changes` is kept as the exact text that was hashed (never `jsonb`, which would reorder
//! its keys and break the chain).

/// The chain's starting point: the `prev_hash` of the first batch ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row per committed write request that changed audited rows.
pub const SQLITE_BATCHES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_batches\" (\n  \"id\" INTEGER PRIMARY KEY,\n  \"at\" INTEGER NOT NULL,\n  \"actor_id\" TEXT,\n  \"role\" TEXT,\n  \"api_key\" TEXT,\n  \"request_id\" TEXT,\n  \"client_ip\" TEXT,\n  \"user_agent\" TEXT,\n  \"action\" TEXT NOT NULL,\n  \"resource\" TEXT NOT NULL,\n  \"row_count\" INTEGER NOT NULL,\n  \"prev_hash\" TEXT NOT NULL,\n  \"hash\" TEXT NOT NULL\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_at_idx\" ON \"_oxbase_audit_batches\" (\"at\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_actor_idx\" ON \"_oxbase_audit_batches\" (\"actor_id\", \"id\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_resource_idx\" ON \"_oxbase_audit_batches\" (\"resource\", \"id\")",
];

/// One row per row a batch wrote: `changes` is `{field: [before, after]}` as JSON text.
pub const SQLITE_RECORDS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_records\" (\n  \"batch_id\" INTEGER NOT NULL,\n  \"position\" INTEGER NOT NULL,\n  \"resource\" TEXT NOT NULL,\n  \"record_id\" TEXT NOT NULL,\n  \"action\" TEXT NOT NULL,\n  \"changes\" TEXT NOT NULL,\n  PRIMARY KEY (\"batch_id\", \"position\")\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_records_record_idx\" ON \"_oxbase_audit_records\" (\"resource\", \"record_id\", \"batch_id\")",
];

/// The chain's head, one row: the last batch written and its hash, and the last batch
/// retention deleted and its hash (where a verification of what remains starts).
pub const SQLITE_HEAD: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_head\" (\n  \"id\" INTEGER PRIMARY KEY,\n  \"last_id\" INTEGER NOT NULL,\n  \"last_hash\" TEXT NOT NULL,\n  \"pruned_through\" INTEGER NOT NULL,\n  \"pruned_hash\" TEXT NOT NULL\n)",
    "INSERT INTO \"_oxbase_audit_head\" (\"id\", \"last_id\", \"last_hash\", \"pruned_through\", \"pruned_hash\") VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT DO NOTHING",
];

/// [`SQLITE_BATCHES`] on PostgreSQL.
pub const POSTGRES_BATCHES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_batches\" (\n  \"id\" BIGINT PRIMARY KEY,\n  \"at\" BIGINT NOT NULL,\n  \"actor_id\" TEXT,\n  \"role\" TEXT,\n  \"api_key\" TEXT,\n  \"request_id\" TEXT,\n  \"client_ip\" TEXT,\n  \"user_agent\" TEXT,\n  \"action\" TEXT NOT NULL,\n  \"resource\" TEXT NOT NULL,\n  \"row_count\" BIGINT NOT NULL,\n  \"prev_hash\" TEXT NOT NULL,\n  \"hash\" TEXT NOT NULL\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_at_idx\" ON \"_oxbase_audit_batches\" (\"at\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_actor_idx\" ON \"_oxbase_audit_batches\" (\"actor_id\", \"id\")",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_batches_resource_idx\" ON \"_oxbase_audit_batches\" (\"resource\", \"id\")",
];

/// [`SQLITE_RECORDS`] on PostgreSQL.
pub const POSTGRES_RECORDS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_records\" (\n  \"batch_id\" BIGINT NOT NULL,\n  \"position\" INTEGER NOT NULL,\n  \"resource\" TEXT NOT NULL,\n  \"record_id\" TEXT NOT NULL,\n  \"action\" TEXT NOT NULL,\n  \"changes\" TEXT NOT NULL,\n  PRIMARY KEY (\"batch_id\", \"position\")\n)",
    "CREATE INDEX IF NOT EXISTS \"_oxbase_audit_records_record_idx\" ON \"_oxbase_audit_records\" (\"resource\", \"record_id\", \"batch_id\")",
];

/// [`SQLITE_HEAD`] on PostgreSQL.
pub const POSTGRES_HEAD: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_audit_head\" (\n  \"id\" INTEGER PRIMARY KEY,\n  \"last_id\" BIGINT NOT NULL,\n  \"last_hash\" TEXT NOT NULL,\n  \"pruned_through\" BIGINT NOT NULL,\n  \"pruned_hash\" TEXT NOT NULL\n)",
    "INSERT INTO \"_oxbase_audit_head\" (\"id\", \"last_id\", \"last_hash\", \"pruned_through\", \"pruned_hash\") VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT DO NOTHING",
];
