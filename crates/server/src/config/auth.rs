//! The `[auth]` settings in the server's terms: the token settings identity checks tokens
//! with, the password cost, the login lockout, and the JWT secret (from a file or
//! `OXBASE_JWT_SECRET`; never from a flag or the schema file).

use std::path::PathBuf;
use std::time::Duration;

use oxbase_access::identity::{ClaimPath, PasswordCost, TokenSettings};

use super::resolve::ConfigError;
use super::secret::CursorSecret;
use super::settings::AuthSettings;

/// How callers are identified and logged in.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Signs oxbase's access tokens and checks HS256 tokens (at least 32 bytes); `None`:
    /// one generated once and kept in the database.
    pub jwt_secret: Option<CursorSecret>,
    /// Issuer, audience, leeway, TTL and claim paths of access tokens.
    pub tokens: TokenSettings,
    /// Life of a refresh token.
    pub refresh_ttl: Duration,
    /// Another provider's public keys.
    pub jwks_file: Option<PathBuf>,
    /// Argon2id's cost for new hashes.
    pub password_cost: PasswordCost,
    /// Failed logins for one username before a lockout.
    pub login_account_failures: u32,
    /// Failed logins from one client address before a lockout.
    pub login_client_failures: u32,
    /// The first lockout; each further one doubles, up to an hour.
    pub login_lockout: Duration,
}

impl AuthConfig {
    /// The settings as they are, unchecked: what defaults and tests start from. `serve`
    /// uses [`AuthConfig::checked`].
    pub fn from_settings(auth: &AuthSettings) -> AuthConfig {
        AuthConfig::checked(auth).unwrap_or_else(|_| AuthConfig::checked(&AuthSettings::default()).expect("defaults"))
    }

    /// The settings, refusing claim paths that are not paths and a password cost below
    /// OWASP's minimum.
    pub fn checked(auth: &AuthSettings) -> Result<AuthConfig, ConfigError> {
        let claim = |key: &str, path: &str| {
            ClaimPath::parse(path).map_err(|reason| ConfigError(format!("auth.{key}: {reason}")))
        };
        let password_cost = PasswordCost::new(auth.argon2_memory_kib, auth.argon2_iterations, auth.argon2_parallelism)
            .map_err(|error| ConfigError(format!("auth.{error}")))?;
        if auth.access_ttl_seconds == 0 || auth.refresh_ttl_seconds == 0 {
            return Err(ConfigError("auth.access_ttl_seconds and auth.refresh_ttl_seconds must be at least 1".into()));
        }
        if auth.login_account_failures == 0 || auth.login_client_failures == 0 {
            return Err(ConfigError(
                "auth.login_account_failures and auth.login_client_failures must be at least 1".into(),
            ));
        }
        Ok(AuthConfig {
            jwt_secret: None,
            tokens: TokenSettings {
                issuer: auth.issuer.clone(),
                external_issuer: auth.external_issuer.clone(),
                audience: auth.audience.clone(),
                leeway: Duration::from_secs(auth.leeway_seconds),
                access_ttl: Duration::from_secs(auth.access_ttl_seconds),
                role_claim: claim("role_claim", &auth.role_claim)?,
                user_id_claim: claim("user_id_claim", &auth.user_id_claim)?,
            },
            refresh_ttl: Duration::from_secs(auth.refresh_ttl_seconds),
            jwks_file: auth.jwks_file.clone(),
            password_cost,
            login_account_failures: auth.login_account_failures,
            login_client_failures: auth.login_client_failures,
            login_lockout: Duration::from_secs(auth.login_lockout_seconds.max(1)),
        })
    }
}
