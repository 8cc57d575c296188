//! What identity keeps in the database: accounts' password hashes (in the schema's
//! `[accounts]` resource), refresh tokens, API keys and generated secrets (in oxbase's
//! system tables, [`schema`]). Hashes and digests only: no token, key or password is
//! ever stored. The statements are written once for both engines ([`connection`]).

mod accounts;
pub(crate) mod connection;
mod keys;
mod refresh;
pub mod schema;

pub use accounts::{AccountColumns, StoredAccount};
pub use keys::{ApiKeyRecord, LAST_USED_RESOLUTION_SECONDS};
pub use refresh::{NewRefreshToken, Rotation};

use serde_json::Value;

use crate::auth::connection::{AuthConnection, PostgresAuth, SqliteAuth};
use crate::{Store, StoreError};

impl Store {
    /// Runs `work` where it may read (an SQLite reader, a pooled PostgreSQL connection).
    pub(crate) async fn auth_read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn AuthConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self {
            Store::Sqlite(store) => store.with_reader(move |connection, _| work(&mut SqliteAuth(connection))).await,
            Store::Postgres(store) => {
                store.with_connection(move |client, prepared, _| work(&mut PostgresAuth { client, prepared })).await
            }
        }
    }

    /// Runs `work` where it may write (SQLite's one writer).
    pub(crate) async fn auth_write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn AuthConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self {
            Store::Sqlite(store) => store.with_writer(move |connection| work(&mut SqliteAuth(connection))).await,
            Store::Postgres(_) => self.auth_read(work).await,
        }
    }

    /// The account with this username.
    pub async fn account_by_username(
        &self,
        columns: &AccountColumns,
        username: &str,
    ) -> Result<Option<StoredAccount>, StoreError> {
        let (columns, username) = (columns.clone(), username.to_owned());
        self.auth_read(move |connection| accounts::by_username(connection, &columns, &username)).await
    }

    /// The account with this key.
    pub async fn account_by_id(
        &self,
        columns: &AccountColumns,
        id: &Value,
    ) -> Result<Option<StoredAccount>, StoreError> {
        let (columns, id) = (columns.clone(), id.clone());
        self.auth_read(move |connection| accounts::by_id(connection, &columns, &id)).await
    }

    /// Stores a new password hash for an account; whether the account exists.
    pub async fn set_password_hash(
        &self,
        columns: &AccountColumns,
        id: &Value,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let (columns, id, hash) = (columns.clone(), id.clone(), hash.to_owned());
        self.auth_write(move |connection| accounts::set_password(connection, &columns, &id, &hash)).await
    }

    /// Stores the first refresh token of a new family.
    pub async fn issue_refresh_token(&self, token: NewRefreshToken) -> Result<(), StoreError> {
        self.auth_write(move |connection| refresh::issue(connection, &token)).await
    }

    /// Presents a refresh token (by digest): rotated into `next_digest` when it is current,
    /// and its family revoked when it had been rotated before.
    pub async fn rotate_refresh_token(
        &self,
        digest: &str,
        now: i64,
        next_digest: &str,
        next_expires_at: i64,
    ) -> Result<Rotation, StoreError> {
        let (digest, next_digest) = (digest.to_owned(), next_digest.to_owned());
        self.auth_write(move |connection| refresh::rotate(connection, &digest, now, &next_digest, next_expires_at))
            .await
    }

    /// Revokes the family of a refresh token (by digest): its account, when there was one.
    pub async fn revoke_refresh_family(&self, digest: &str, now: i64) -> Result<Option<String>, StoreError> {
        let digest = digest.to_owned();
        self.auth_write(move |connection| refresh::revoke_family_of(connection, &digest, now)).await
    }

    /// Revokes every refresh token of an account (its id as text).
    pub async fn revoke_account_refresh_tokens(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
        let user_id = user_id.to_owned();
        self.auth_write(move |connection| refresh::revoke_user(connection, &user_id, now)).await
    }

    /// Stores a new API key.
    pub async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.auth_write(move |connection| keys::create(connection, &key)).await
    }

    /// Every API key, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.auth_read(|connection| keys::list(connection)).await
    }

    /// The API key with this id.
    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let id = id.to_owned();
        self.auth_read(move |connection| keys::find(connection, &id)).await
    }

    /// Revokes an API key; whether it existed unrevoked.
    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.auth_write(move |connection| keys::revoke(connection, &id, now)).await
    }

    /// Records a use of an API key (at most once per [`LAST_USED_RESOLUTION_SECONDS`]).
    pub async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.auth_write(move |connection| keys::touch(connection, &id, now)).await
    }

    /// The secret named `name`, storing `generated` when there is none yet, so every
    /// instance and every restart gets the same one.
    pub async fn shared_secret(&self, name: &str, generated: &str, now: i64) -> Result<String, StoreError> {
        let (name, generated) = (name.to_owned(), generated.to_owned());
        self.auth_write(move |connection| keys::shared_secret(connection, &name, &generated, now)).await
    }
}
