//! Refresh tokens: issued in families, rotated on use, and a family revoked whole when a
//! rotated token comes back (someone holds a copy). Everything is in the database, so a
//! revocation holds on every instance at once.

use crate::StoreError;
use crate::auth::connection::{AuthConnection, Param, in_transaction};

/// A refresh token to store: its digest, never the token.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub digest: String,
    /// The account's key, as text.
    pub user_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// What presenting a refresh token came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was current: it is used now, and the new one is stored in its family.
    Rotated { user_id: String, family: String },
    /// No such token.
    Unknown,
    /// Its family was revoked (logout, password change, or a reuse before).
    Revoked,
    /// Past its expiry.
    Expired,
    /// It had been rotated already: its whole family is revoked now.
    Reused,
}

const INSERT: &str = "INSERT INTO \"_oxbase_refresh_tokens\" (\"id\", \"family\", \"user_id\", \"token_hash\", \"issued_at\", \"expires_at\") VALUES ($1, $2, $3, $4, $5, $6)";

fn insert(connection: &mut dyn AuthConnection, family: &str, token: &NewRefreshToken) -> Result<(), StoreError> {
    connection.execute(
        INSERT,
        &[
            Param::Text(uuid::Uuid::new_v4().to_string()),
            Param::Text(family.to_owned()),
            Param::Text(token.user_id.clone()),
            Param::Text(token.digest.clone()),
            Param::Int(token.issued_at),
            Param::Int(token.expires_at),
        ],
    )?;
    Ok(())
}

/// Stores the first token of a new family (a login).
pub(crate) fn issue(connection: &mut dyn AuthConnection, token: &NewRefreshToken) -> Result<(), StoreError> {
    insert(connection, &uuid::Uuid::new_v4().to_string(), token)
}

/// Presents the token whose digest is `digest` at `now`; when it is current, the token
/// whose digest is `next_digest` (expiring at `next_expires_at`) joins its family in the
/// same transaction.
pub(crate) fn rotate(
    connection: &mut dyn AuthConnection,
    digest: &str,
    now: i64,
    next_digest: &str,
    next_expires_at: i64,
) -> Result<Rotation, StoreError> {
    in_transaction(connection, |connection| {
        let select = format!(
            "SELECT \"id\", \"family\", \"user_id\", \"expires_at\", \"used_at\", \"revoked_at\" FROM \"_oxbase_refresh_tokens\" WHERE \"token_hash\" = $1{}",
            connection.for_update()
        );
        let rows = connection.query(&select, &[Param::Text(digest.to_owned())])?;
        let Some(row) = rows.first() else { return Ok(Rotation::Unknown) };
        let (id, family, user_id) =
            (row[0].text().unwrap_or_default(), row[1].text().unwrap_or_default(), row[2].text().unwrap_or_default());
        if row[5].int().is_some() {
            return Ok(Rotation::Revoked);
        }
        if row[4].int().is_some() {
            revoke_family_in(connection, &family, now)?;
            return Ok(Rotation::Reused);
        }
        if row[3].int().unwrap_or(0) <= now {
            return Ok(Rotation::Expired);
        }
        connection.execute(
            "UPDATE \"_oxbase_refresh_tokens\" SET \"used_at\" = $1 WHERE \"id\" = $2",
            &[Param::Int(now), Param::Text(id)],
        )?;
        let next = NewRefreshToken {
            digest: next_digest.to_owned(),
            user_id: user_id.clone(),
            issued_at: now,
            expires_at: next_expires_at,
        };
        insert(connection, &family, &next)?;
        Ok(Rotation::Rotated { user_id, family })
    })
}

fn revoke_family_in(connection: &mut dyn AuthConnection, family: &str, now: i64) -> Result<u64, StoreError> {
    connection.execute(
        "UPDATE \"_oxbase_refresh_tokens\" SET \"revoked_at\" = $1 WHERE \"family\" = $2 AND \"revoked_at\" IS NULL",
        &[Param::Int(now), Param::Text(family.to_owned())],
    )
}

/// Revokes the family of the token whose digest is `digest` (a logout): the account's id
/// when there was such a token.
pub(crate) fn revoke_family_of(
    connection: &mut dyn AuthConnection,
    digest: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    in_transaction(connection, |connection| {
        let rows = connection.query(
            "SELECT \"family\", \"user_id\" FROM \"_oxbase_refresh_tokens\" WHERE \"token_hash\" = $1",
            &[Param::Text(digest.to_owned())],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        revoke_family_in(connection, &row[0].text().unwrap_or_default(), now)?;
        Ok(row[1].text())
    })
}

/// Revokes every refresh token of an account (a password change); how many were live.
pub(crate) fn revoke_user(connection: &mut dyn AuthConnection, user_id: &str, now: i64) -> Result<u64, StoreError> {
    connection.execute(
        "UPDATE \"_oxbase_refresh_tokens\" SET \"revoked_at\" = $1 WHERE \"user_id\" = $2 AND \"revoked_at\" IS NULL",
        &[Param::Int(now), Param::Text(user_id.to_owned())],
    )
}
