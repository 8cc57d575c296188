//! API keys: created with a role and optional limits, found by id, revoked, and their last
//! use recorded no more than once a minute.

use crate::StoreError;
use crate::auth::connection::{AuthConnection, Cell, Param};

/// An API key as stored: everything but the key itself (its digest, for checking).
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Resources it may touch; `None`: all its role may.
    pub resources: Option<Vec<String>>,
    /// Actions it may take (`read`, `create`, `update`, `delete`); `None`: all its role may.
    pub actions: Option<Vec<String>>,
    /// The SHA-256 digest of the whole key; never serialised.
    #[serde(skip)]
    pub key_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("resources", &self.resources)
            .field("actions", &self.actions)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// Last use is written at most this often per key (and instance): a key used on every
/// request costs one write a minute, not one per request.
pub const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

const COLUMNS: &str = "\"id\", \"name\", \"role\", \"resources\", \"actions\", \"key_hash\", \"created_at\", \"expires_at\", \"revoked_at\", \"last_used_at\"";

fn list_param(list: &Option<Vec<String>>) -> Param {
    match list {
        Some(items) => Param::Text(serde_json::to_string(items).unwrap_or_default()),
        None => Param::NullText,
    }
}

fn optional_int(value: Option<i64>) -> Param {
    value.map_or(Param::NullInt, Param::Int)
}

fn record(row: &[Cell]) -> ApiKeyRecord {
    let list = |cell: &Cell| cell.text().and_then(|text| serde_json::from_str(&text).ok());
    ApiKeyRecord {
        id: row[0].text().unwrap_or_default(),
        name: row[1].text().unwrap_or_default(),
        role: row[2].text().unwrap_or_default(),
        resources: list(&row[3]),
        actions: list(&row[4]),
        key_hash: row[5].text().unwrap_or_default(),
        created_at: row[6].int().unwrap_or(0),
        expires_at: row[7].int(),
        revoked_at: row[8].int(),
        last_used_at: row[9].int(),
    }
}

/// Stores a new key.
pub(crate) fn create(connection: &mut dyn AuthConnection, key: &ApiKeyRecord) -> Result<(), StoreError> {
    connection.execute(
        &format!("INSERT INTO \"_oxbase_api_keys\" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
        &[
            Param::Text(key.id.clone()),
            Param::Text(key.name.clone()),
            Param::Text(key.role.clone()),
            list_param(&key.resources),
            list_param(&key.actions),
            Param::Text(key.key_hash.clone()),
            Param::Int(key.created_at),
            optional_int(key.expires_at),
            optional_int(key.revoked_at),
            optional_int(key.last_used_at),
        ],
    )?;
    Ok(())
}

/// Every key, oldest first.
pub(crate) fn list(connection: &mut dyn AuthConnection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let rows = connection
        .query(&format!("SELECT {COLUMNS} FROM \"_oxbase_api_keys\" ORDER BY \"created_at\", \"id\""), &[])?;
    Ok(rows.iter().map(|row| record(row)).collect())
}

/// The key with this id.
pub(crate) fn find(connection: &mut dyn AuthConnection, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let rows = connection.query(
        &format!("SELECT {COLUMNS} FROM \"_oxbase_api_keys\" WHERE \"id\" = $1"),
        &[Param::Text(id.to_owned())],
    )?;
    Ok(rows.first().map(|row| record(row)))
}

/// Revokes a key; whether it existed and was not revoked already.
pub(crate) fn revoke(connection: &mut dyn AuthConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let changed = connection.execute(
        "UPDATE \"_oxbase_api_keys\" SET \"revoked_at\" = $1 WHERE \"id\" = $2 AND \"revoked_at\" IS NULL",
        &[Param::Int(now), Param::Text(id.to_owned())],
    )?;
    Ok(changed > 0)
}

/// Records a use at `now`, unless one within the resolution is recorded already.
pub(crate) fn touch(connection: &mut dyn AuthConnection, id: &str, now: i64) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE \"_oxbase_api_keys\" SET \"last_used_at\" = $1 WHERE \"id\" = $2 AND (\"last_used_at\" IS NULL OR \"last_used_at\" <= $3)",
        &[Param::Int(now), Param::Text(id.to_owned()), Param::Int(now - LAST_USED_RESOLUTION_SECONDS)],
    )?;
    Ok(())
}

/// The secret named `name`, storing `generated` first when there is none yet: every
/// instance that asks gets the one stored first.
pub(crate) fn shared_secret(
    connection: &mut dyn AuthConnection,
    name: &str,
    generated: &str,
    now: i64,
) -> Result<String, StoreError> {
    connection.execute(
        "INSERT INTO \"_oxbase_secrets\" (\"name\", \"value\", \"created_at\") VALUES ($1, $2, $3) ON CONFLICT (\"name\") DO NOTHING",
        &[Param::Text(name.to_owned()), Param::Text(generated.to_owned()), Param::Int(now)],
    )?;
    let rows = connection
        .query("SELECT \"value\" FROM \"_oxbase_secrets\" WHERE \"name\" = $1", &[Param::Text(name.to_owned())])?;
    rows.first()
        .and_then(|row| row[0].text())
        .ok_or_else(|| StoreError::Internal(format!("the secret {name} was stored but cannot be read back")))
}
