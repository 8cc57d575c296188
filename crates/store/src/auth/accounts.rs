//! The accounts people log in with: rows of the schema's `[accounts]` resource, read and
//! given new password hashes by the names the schema gives its table and fields.

use serde_json::Value;

use crate::StoreError;
use crate::auth::connection::{AuthConnection, Cell, Param};

/// Where the accounts live: the table and the columns that matter to logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountColumns {
    pub table: String,
    /// The primary key column.
    pub id: String,
    /// Whether the key is an integer (else text).
    pub integer_id: bool,
    pub username: String,
    pub role: String,
    pub password: String,
}

/// An account as logging in needs it. `Debug` leaves the hash out.
#[derive(Clone, PartialEq)]
pub struct StoredAccount {
    /// The key: a JSON number or string.
    pub id: Value,
    pub username: String,
    pub role: Option<String>,
    /// The PHC string, if a password was ever set.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for StoredAccount {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StoredAccount")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[password hash]"))
            .finish()
    }
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl AccountColumns {
    fn select(&self, condition: &str) -> String {
        format!(
            "SELECT {}, {}, {}, {} FROM {} WHERE {}",
            quoted(&self.id),
            quoted(&self.username),
            quoted(&self.role),
            quoted(&self.password),
            quoted(&self.table),
            condition
        )
    }

    /// The key as a bound value, or `None` when it cannot be one of this table's keys.
    pub(crate) fn id_param(&self, id: &Value) -> Option<Param> {
        match (self.integer_id, id) {
            (true, Value::Number(number)) => number.as_i64().map(Param::Int),
            (true, Value::String(text)) => text.parse().ok().map(Param::Int),
            (false, Value::String(text)) => Some(Param::Text(text.clone())),
            (false, Value::Number(number)) => Some(Param::Text(number.to_string())),
            _ => None,
        }
    }

    /// How an id is written in other tables' text columns (the refresh tokens' `user_id`).
    pub fn id_text(id: &Value) -> String {
        match id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// `id = $1`, the parameter a BIGINT on an integer key (PostgreSQL compares an
    /// INTEGER column with it through the index).
    fn id_where(&self) -> String {
        match self.integer_id {
            true => format!("{} = CAST($1 AS BIGINT)", quoted(&self.id)),
            false => format!("{} = $1", quoted(&self.id)),
        }
    }

    fn account(&self, row: &[Cell]) -> StoredAccount {
        let id = match &row[0] {
            Cell::Int(value) => Value::from(*value),
            other => Value::from(other.text().unwrap_or_default()),
        };
        StoredAccount {
            id,
            username: row[1].text().unwrap_or_default(),
            role: row[2].text(),
            password_hash: row[3].text(),
        }
    }
}

/// The account with this username.
pub(crate) fn by_username(
    connection: &mut dyn AuthConnection,
    columns: &AccountColumns,
    username: &str,
) -> Result<Option<StoredAccount>, StoreError> {
    let sql = columns.select(&format!("{} = $1", quoted(&columns.username)));
    let rows = connection.query(&sql, &[Param::Text(username.to_owned())])?;
    Ok(rows.first().map(|row| columns.account(row)))
}

/// The account with this key.
pub(crate) fn by_id(
    connection: &mut dyn AuthConnection,
    columns: &AccountColumns,
    id: &Value,
) -> Result<Option<StoredAccount>, StoreError> {
    let Some(param) = columns.id_param(id) else { return Ok(None) };
    let sql = columns.select(&columns.id_where());
    let rows = connection.query(&sql, &[param])?;
    Ok(rows.first().map(|row| columns.account(row)))
}

/// Stores a new hash for the account with this key; whether there was one.
pub(crate) fn set_password(
    connection: &mut dyn AuthConnection,
    columns: &AccountColumns,
    id: &Value,
    hash: &str,
) -> Result<bool, StoreError> {
    let Some(param) = columns.id_param(id) else { return Ok(false) };
    let condition = columns.id_where().replace("$1", "$2");
    let sql = format!("UPDATE {} SET {} = $1 WHERE {condition}", quoted(&columns.table), quoted(&columns.password));
    Ok(connection.execute(&sql, &[Param::Text(hash.to_owned()), param])? > 0)
}
