//! Identity's operations below HTTP: logging in, refreshing and revoking tokens, changing
//! a password, telling who a bearer credential names, and managing API keys. Errors are
//! [`IdentityError`]s; none carries a password, a hash, a token or a key.
//!
//! A login for a username with no account verifies the password against a decoy hash of
//! the same cost and fails exactly as a wrong password does (same code, same message, a
//! failure counted against the username), so neither the answer nor its timing tells
//! whether an account exists.

use std::net::IpAddr;
use std::time::Duration;

use oxbase_access::identity::secret::{self, Revealed};
use oxbase_access::identity::token::unix_now;
use oxbase_access::identity::{PasswordError, PasswordHash, TokenError};
use oxbase_access::{Caller, KeyScope};
use oxbase_schema::model::Action;
use oxbase_store::StoreError;
use oxbase_store::auth::{AccountColumns, ApiKeyRecord, NewRefreshToken, Rotation, StoredAccount};
use serde_json::Value;

use crate::app::App;
use crate::app::identity::LockoutKey;

/// Why an identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The schema declares no `[accounts]`, so there is nothing to log in to.
    #[error("this schema declares no [accounts], so nobody can log in")]
    NoAccounts,
    /// Wrong username or password (never saying which).
    #[error("the username or password is wrong")]
    CredentialsInvalid,
    /// Too many failed logins for the username or from the address.
    #[error("too many failed logins; try again in {} s", .retry_after.as_secs().max(1))]
    LockedOut { retry_after: Duration },
    /// A refresh token that cannot be used; `reason` says why (`unknown`, `expired`,
    /// `revoked`, `reused`, `account_gone`).
    #[error("the refresh token cannot be used ({reason})")]
    RefreshInvalid { reason: &'static str },
    /// A bearer access token that was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// An API key that is not one oxbase issued (unknown id, or the secret does not match).
    #[error("the API key is not valid")]
    KeyInvalid,
    /// A revoked API key.
    #[error("the API key {id} has been revoked")]
    KeyRevoked { id: String },
    /// An expired API key.
    #[error("the API key {id} has expired")]
    KeyExpired { id: String },
    /// The operation needs an account's own access token and the caller has none.
    #[error("{0}")]
    NotAnAccount(&'static str),
    /// A new password outside the accepted lengths.
    #[error(transparent)]
    Password(PasswordError),
    /// A request value that is wrong: `field` names it.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    /// No API key has this id.
    #[error("no API key has the id {0}")]
    KeyNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A fault (logged, never detailed to the client).
    #[error("{0}")]
    Internal(String),
}

/// The tokens a login or a refresh answers with.
#[derive(Debug)]
pub struct SessionTokens {
    pub access_token: Revealed,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub refresh_token: Revealed,
}

fn now() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

fn accounts(app: &App) -> Result<&AccountColumns, IdentityError> {
    app.identity.accounts.as_ref().ok_or(IdentityError::NoAccounts)
}

/// Verifies `password` against `hash` (or against the decoy when there is none) on a
/// blocking thread, a few at a time: `Some(needs_rehash)` when it matches.
async fn verify_password(app: &App, password: &str, hash: Option<String>) -> Result<Option<bool>, IdentityError> {
    let password = password.to_owned();
    with_hasher(app, move |passwords| {
        let Some(hash) = hash else {
            passwords.verify_nothing(&password);
            return Ok(None);
        };
        match passwords.verify(&password, &PasswordHash::from_phc(hash)) {
            Ok(verified) => Ok(verified.map(|verified| verified.needs_rehash)),
            // A hash set outside oxbase that argon2 cannot read: a failed login, logged.
            Err(PasswordError::UnreadableHash) => {
                tracing::warn!("an account's stored password hash is not an argon2 PHC string; its logins fail");
                Ok(None)
            }
            Err(error) => Err(IdentityError::Internal(error.to_string())),
        }
    })
    .await?
}

/// Runs `work` with the password hasher on a blocking thread, a few at a time (each
/// argon2 call holds ~19 MiB and a core for tens of milliseconds).
async fn with_hasher<T: Send + 'static>(
    app: &App,
    work: impl FnOnce(&oxbase_access::identity::Passwords) -> T + Send + 'static,
) -> Result<T, IdentityError> {
    let permit = app
        .identity
        .hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(|error| IdentityError::Internal(error.to_string()))?;
    let passwords = app.identity.passwords.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&passwords)
    })
    .await
    .map_err(|error| IdentityError::Internal(error.to_string()))
}

/// A new password's hash, on a blocking thread.
pub async fn hash_new_password(app: &App, password: &str) -> Result<PasswordHash, IdentityError> {
    let password = password.to_owned();
    with_hasher(app, move |passwords| passwords.hash_new(&password)).await?.map_err(|error| match error {
        PasswordError::BadLength { .. } => IdentityError::Password(error),
        other => IdentityError::Internal(other.to_string()),
    })
}

fn lockout_keys(username: &str, client: Option<IpAddr>) -> Vec<LockoutKey> {
    let mut keys = vec![LockoutKey::Account(username.to_lowercase())];
    keys.extend(client.map(LockoutKey::Client));
    keys
}

/// An access token and the first refresh token of a new family for an account.
async fn start_session(app: &App, account: &StoredAccount) -> Result<SessionTokens, IdentityError> {
    let access = app.identity.tokens.issue(&account.id, account.role.as_deref())?;
    let refresh = secret::new_refresh_token().map_err(IdentityError::Internal)?;
    let issued_at = now();
    app.store
        .issue_refresh_token(NewRefreshToken {
            digest: refresh.digest,
            user_id: AccountColumns::id_text(&account.id),
            issued_at,
            expires_at: issued_at.saturating_add(app.identity.refresh_ttl.as_secs() as i64),
        })
        .await?;
    Ok(SessionTokens { access_token: access.token, expires_in: access.expires_in, refresh_token: refresh.token })
}

/// `POST /auth/login`: the account's tokens when the password matches.
pub async fn login(
    app: &App,
    username: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<SessionTokens, IdentityError> {
    let columns = accounts(app)?;
    let keys = lockout_keys(username, client);
    if let Some(retry_after) = app.identity.lockout.locked_for(&keys) {
        return Err(IdentityError::LockedOut { retry_after });
    }
    let account = app.store.account_by_username(columns, username).await?;
    let hash = account.as_ref().and_then(|account| account.password_hash.clone());
    let verified = verify_password(app, password, hash).await?;
    let (Some(account), Some(needs_rehash)) = (account, verified) else {
        app.identity.lockout.failed(&keys);
        return Err(IdentityError::CredentialsInvalid);
    };
    app.identity.lockout.succeeded(&keys);
    if needs_rehash {
        // Stored at the current cost while the password is at hand; a failure only
        // leaves the old hash, which still verifies.
        match hash_new_password(app, password).await {
            Ok(hash) => {
                if let Err(error) = app.store.set_password_hash(columns, &account.id, hash.as_phc()).await {
                    tracing::warn!(%error, "could not store a password hash at the current cost");
                }
            }
            Err(error) => tracing::warn!(%error, "could not rehash a password at the current cost"),
        }
    }
    start_session(app, &account).await
}

/// `POST /auth/refresh`: a new access token and the next refresh token of the family.
/// A token that was rotated already revokes its family.
pub async fn refresh(app: &App, refresh_token: &str) -> Result<SessionTokens, IdentityError> {
    let columns = accounts(app)?;
    if !secret::is_refresh_token(refresh_token) {
        return Err(IdentityError::RefreshInvalid { reason: "unknown" });
    }
    let next = secret::new_refresh_token().map_err(IdentityError::Internal)?;
    let now = now();
    let expires_at = now.saturating_add(app.identity.refresh_ttl.as_secs() as i64);
    let rotation =
        app.store.rotate_refresh_token(&secret::digest(refresh_token), now, &next.digest, expires_at).await?;
    let user_id = match rotation {
        Rotation::Rotated { user_id, .. } => user_id,
        Rotation::Unknown => return Err(IdentityError::RefreshInvalid { reason: "unknown" }),
        Rotation::Expired => return Err(IdentityError::RefreshInvalid { reason: "expired" }),
        Rotation::Revoked => return Err(IdentityError::RefreshInvalid { reason: "revoked" }),
        Rotation::Reused => {
            tracing::warn!("a rotated refresh token was used again: its family is revoked");
            return Err(IdentityError::RefreshInvalid { reason: "reused" });
        }
    };
    // The role is read again: a refresh picks up a changed role, and stops for a deleted
    // account.
    let Some(account) = app.store.account_by_id(columns, &Value::String(user_id.clone())).await? else {
        app.store.revoke_account_refresh_tokens(&user_id, now).await?;
        return Err(IdentityError::RefreshInvalid { reason: "account_gone" });
    };
    let access = app.identity.tokens.issue(&account.id, account.role.as_deref())?;
    Ok(SessionTokens { access_token: access.token, expires_in: access.expires_in, refresh_token: next.token })
}

/// `POST /auth/logout`: revokes the refresh token's family (nothing, for a token that is
/// not one: the answer is the same).
pub async fn logout(app: &App, refresh_token: &str) -> Result<(), IdentityError> {
    accounts(app)?;
    if secret::is_refresh_token(refresh_token) {
        app.store.revoke_refresh_family(&secret::digest(refresh_token), now()).await?;
    }
    Ok(())
}

/// `POST /auth/password`: the caller's own account gets a new password once the current
/// one is verified; every refresh token of the account is revoked.
pub async fn change_password(
    app: &App,
    caller: &Caller,
    current_password: &str,
    new_password: &str,
    client: Option<IpAddr>,
) -> Result<(), IdentityError> {
    let columns = accounts(app)?;
    let ours = caller.claims.get("iss").and_then(Value::as_str) == Some(app.identity.tokens.settings().issuer.as_str());
    let Some(user_id) = caller.user_id.as_ref().filter(|_| ours && caller.key.is_none()) else {
        return Err(IdentityError::NotAnAccount(
            "changing a password needs the account's own access token from /auth/login",
        ));
    };
    let Some(account) = app.store.account_by_id(columns, user_id).await? else {
        return Err(IdentityError::NotAnAccount("the access token's account no longer exists"));
    };
    let keys = lockout_keys(&account.username, client);
    if let Some(retry_after) = app.identity.lockout.locked_for(&keys) {
        return Err(IdentityError::LockedOut { retry_after });
    }
    if verify_password(app, current_password, account.password_hash.clone()).await?.is_none() {
        app.identity.lockout.failed(&keys);
        return Err(IdentityError::CredentialsInvalid);
    }
    let hash = hash_new_password(app, new_password).await?;
    app.store.set_password_hash(columns, &account.id, hash.as_phc()).await?;
    app.store.revoke_account_refresh_tokens(&AccountColumns::id_text(&account.id), now()).await?;
    Ok(())
}

/// Sets the password of the account `username` (the CLI's `users set-password`): whether
/// there is such an account. Its refresh tokens are revoked.
pub async fn set_password(app: &App, username: &str, new_password: &str) -> Result<bool, IdentityError> {
    let columns = accounts(app)?;
    let Some(account) = app.store.account_by_username(columns, username).await? else { return Ok(false) };
    let hash = hash_new_password(app, new_password).await?;
    app.store.set_password_hash(columns, &account.id, hash.as_phc()).await?;
    app.store.revoke_account_refresh_tokens(&AccountColumns::id_text(&account.id), now()).await?;
    Ok(true)
}

/// Who a bearer credential names: an API key (`oxk_…`) or an access token.
pub async fn authenticate(app: &App, credential: &str) -> Result<Caller, IdentityError> {
    if credential.starts_with(secret::API_KEY_PREFIX) && credential.as_bytes().get(3) == Some(&b'_') {
        return authenticate_key(app, credential).await;
    }
    Ok(app.identity.tokens.verify(credential)?)
}

async fn authenticate_key(app: &App, credential: &str) -> Result<Caller, IdentityError> {
    let id = secret::api_key_id(credential).ok_or(IdentityError::KeyInvalid)?;
    let key = match app.identity.recent_key(id) {
        Some(key) => key,
        None => {
            let key = app.store.find_api_key(id).await?.ok_or(IdentityError::KeyInvalid)?;
            app.identity.remember_key(&key);
            key
        }
    };
    if !secret::matches_digest(credential, &key.key_hash) {
        return Err(IdentityError::KeyInvalid);
    }
    let now = now();
    if key.revoked_at.is_some() {
        return Err(IdentityError::KeyRevoked { id: key.id });
    }
    if key.expires_at.is_some_and(|expires_at| expires_at <= now) {
        return Err(IdentityError::KeyExpired { id: key.id });
    }
    // At most one write a minute per key: the store's own condition bounds it across
    // instances, this instance's memory before it reaches the store.
    if app.identity.should_record_key_use(&key.id)
        && let Err(error) = app.store.touch_api_key(&key.id, now).await
    {
        tracing::warn!(key = %key.id, %error, "could not record an API key's use");
    }
    let actions =
        key.actions.as_ref().map(|actions| actions.iter().filter_map(|action| parse_action(action)).collect());
    Ok(Caller {
        role: Some(key.role.clone()),
        user_id: None,
        claims: Value::Object(Default::default()),
        key: Some(KeyScope { id: key.id, resources: key.resources, actions }),
    })
}

/// An action by its schema-file name.
pub fn parse_action(name: &str) -> Option<Action> {
    match name {
        "read" => Some(Action::Read),
        "create" => Some(Action::Create),
        "update" => Some(Action::Update),
        "delete" => Some(Action::Delete),
        _ => None,
    }
}

/// `30d`, `12h`, `90m`, `45s` or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, character)| !character.is_ascii_digit()) {
        Some((position, _)) => text.split_at(position),
        None => (text, "s"),
    };
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    number.checked_mul(seconds).filter(|seconds| *seconds > 0).map(Duration::from_secs)
}

/// What a new API key may do.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    pub role: String,
    pub name: Option<String>,
    pub resources: Option<Vec<String>>,
    pub actions: Option<Vec<String>>,
    /// `30d`, `12h`, …; unset: the key does not expire.
    pub expires: Option<String>,
}

/// Creates an API key: its record and the key itself, shown once.
pub async fn create_key(app: &App, request: KeyRequest) -> Result<(ApiKeyRecord, Revealed), IdentityError> {
    let schema = &app.schema;
    if request.role.trim().is_empty() {
        return Err(IdentityError::Invalid { field: "role", message: "an API key needs a role".into() });
    }
    if !schema.roles.is_empty() && !schema.roles.contains_key(&request.role) {
        let declared: Vec<&str> = schema.roles.keys().map(String::as_str).collect();
        return Err(IdentityError::Invalid {
            field: "role",
            message: format!("the schema declares no role '{}' (it declares {})", request.role, declared.join(", ")),
        });
    }
    if let Some(resources) = &request.resources
        && let Some(unknown) = resources.iter().find(|resource| schema.resource(resource).is_none())
    {
        return Err(IdentityError::Invalid {
            field: "resources",
            message: format!("the schema declares no resource '{unknown}'"),
        });
    }
    if let Some(actions) = &request.actions
        && let Some(unknown) = actions.iter().find(|action| parse_action(action).is_none())
    {
        return Err(IdentityError::Invalid {
            field: "actions",
            message: format!("'{unknown}' is not an action: use read, create, update or delete"),
        });
    }
    let now = now();
    let expires_at = match &request.expires {
        None => None,
        Some(text) => {
            let duration = parse_duration(text).ok_or_else(|| IdentityError::Invalid {
                field: "expires",
                message: format!("'{text}' is not a duration: use e.g. 30d, 12h, 90m or 3600"),
            })?;
            Some(now.saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)))
        }
    };
    let key = secret::new_api_key().map_err(IdentityError::Internal)?;
    let record = ApiKeyRecord {
        id: key.id.clone(),
        name: request.name.unwrap_or_else(|| format!("{} key", request.role)),
        role: request.role,
        resources: request.resources,
        actions: request.actions,
        key_hash: key.digest,
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    app.store.create_api_key(record.clone()).await?;
    Ok((record, key.key))
}

/// Every API key (never the keys themselves).
pub async fn list_keys(app: &App) -> Result<Vec<ApiKeyRecord>, IdentityError> {
    Ok(app.store.list_api_keys().await?)
}

/// Revokes an API key.
pub async fn revoke_key(app: &App, id: &str) -> Result<(), IdentityError> {
    app.identity.forget_key(id);
    if app.store.revoke_api_key(id, now()).await? {
        return Ok(());
    }
    match app.store.find_api_key(id).await? {
        Some(_) => Ok(()),
        None => Err(IdentityError::KeyNotFound(id.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("3600"), Some(Duration::from_secs(3600)));
        for bad in ["", "d", "0", "3x", "-1d", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
