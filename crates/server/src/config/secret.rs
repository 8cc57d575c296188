//! Values that must never reach a log: [`Secret`] prints `[redacted]` through `Debug`,
//! `Display` and `Serialize`, [`SecretUrl`] hides only a URL's password, and
//! [`CursorSecret`] is the secret that signs keyset cursors.

use std::fmt;

pub use oxbase_store::settings::redact_url_password;

/// What a secret prints as.
pub const REDACTED: &str = "[redacted]";

/// A value whose `Debug`, `Display` and `Serialize` print `[redacted]`: only
/// [`Secret::expose`] gives it out, so a config holding it can be logged or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// A URL that may carry a password (`postgres://user:password@host/db`,
/// `redis://:password@host/0`): `Debug`, `Display` and `Serialize` show it with the
/// password replaced by `[redacted]`; [`SecretUrl::expose`] gives the whole URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret<String>);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(Secret::new(url.into()))
    }

    /// The whole URL, password included.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with its password (if any) replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        redact_url_password(self.expose())
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> SecretUrl {
        SecretUrl::new(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> SecretUrl {
        SecretUrl::new(url)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl serde::Serialize for SecretUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> serde::Deserialize<'de> for SecretUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SecretUrl, D::Error> {
        String::deserialize(deserializer).map(SecretUrl::new)
    }
}

/// A secret that signs keyset cursors: at least [`CursorSecret::MIN_BYTES`] bytes, a
/// [`Secret`], so it never reaches a log through the config.
#[derive(Clone)]
pub struct CursorSecret(Secret<Vec<u8>>);

impl fmt::Debug for CursorSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

/// A cursor secret shorter than [`CursorSecret::MIN_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor secret is {length} bytes; at least {} are needed", CursorSecret::MIN_BYTES)]
pub struct CursorSecretTooShort {
    pub length: usize,
}

impl CursorSecret {
    /// The shortest accepted secret: the 256 bits of the HMAC-SHA256 key it becomes.
    pub const MIN_BYTES: usize = 32;

    /// A secret from bytes, refused when shorter than [`CursorSecret::MIN_BYTES`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<CursorSecret, CursorSecretTooShort> {
        let bytes = bytes.into();
        if bytes.len() < CursorSecret::MIN_BYTES {
            return Err(CursorSecretTooShort { length: bytes.len() });
        }
        Ok(CursorSecret(Secret::new(bytes)))
    }

    /// 32 random bytes, for a process that was given no secret.
    pub fn random() -> CursorSecret {
        let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        CursorSecret(Secret::new(secret))
    }

    /// The secret's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted_everywhere() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn urls_hide_only_their_password() {
        let url = SecretUrl::new("postgres://oxbase:hunter2@db.internal:5432/app?sslmode=disable");
        assert_eq!(url.to_string(), "postgres://oxbase:[redacted]@db.internal:5432/app?sslmode=disable");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&url).unwrap().contains("hunter2"));
        assert_eq!(redact_url_password("redis://:hunter2@127.0.0.1:6379/0"), "redis://:[redacted]@127.0.0.1:6379/0");
        for plain in ["redis://127.0.0.1:6379/0", "postgres://postgres@127.0.0.1:5432/db", "sqlite://data/app.db"] {
            assert_eq!(redact_url_password(plain), plain);
        }
        // An `@` in the path is not user information.
        assert_eq!(redact_url_password("sqlite://data/a:b@c.db"), "sqlite://data/a:b@c.db");
    }
}
