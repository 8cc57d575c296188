//! Where the data lives: an SQLite file or a PostgreSQL connection string.

use std::path::PathBuf;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

/// A database URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL '{url}': {reason}")]
pub struct DatabaseUrlError {
    pub url: String,
    pub reason: String,
}

impl DatabaseUrl {
    /// Parses `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or
    /// `postgres://user@host:port/db` (also `postgresql://`).
    pub fn parse(url: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let error = |reason: &str| DatabaseUrlError { url: url.to_owned(), reason: reason.to_owned() };
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(error("no file path; write sqlite://data/app.db or sqlite:///var/lib/app.db"));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(error("expected a URL starting with sqlite:// or postgres://"))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(formatter, "sqlite://{}", path.display()),
            // Only the host part: the URL may carry a password.
            DatabaseUrl::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                write!(
                    formatter,
                    "postgres://…@{}",
                    host.trim_start_matches("postgres://").trim_start_matches("postgresql://")
                )
            }
        }
    }
}

/// The password of a PostgreSQL URL never shows.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => formatter.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => formatter.debug_tuple("Postgres").field(&redact_url_password(url)).finish(),
        }
    }
}

/// `scheme://user:password@host…` with the password replaced by `[redacted]`; URLs
/// without a password come back unchanged.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    // The authority ends at the first `/`, `?` or `#`; the user information at its last `@`.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_information, host)) = authority.rsplit_once('@') else { return url.to_owned() };
    match user_information.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}{path}"),
        None => url.to_owned(),
    }
}
