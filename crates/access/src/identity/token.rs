//! Access tokens: issuing short-lived HS256 tokens for logged-in accounts, and verifying
//! bearer tokens (ours, or another identity provider's: HS256 with the shared secret,
//! RS256/ES256/EdDSA with keys from a JWKS file) into a [`Caller`].
//!
//! The algorithm decides the key, never the other way round: HS256 is checked only
//! against the secret and the asymmetric algorithms only against JWKS keys of their own
//! type, so a public key can never be used as an HMAC secret. `alg: none` and every
//! algorithm not listed are refused before any signature is looked at.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::caller::Caller;
use crate::identity::jwks::JwksFile;
use crate::identity::secret::Revealed;

/// A dotted path to a claim, e.g. `app_metadata.role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses `a.b.c`; every segment must be non-empty.
    pub fn parse(path: &str) -> Result<ClaimPath, String> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!("'{path}' is not a claim path: use names joined by dots, e.g. app_metadata.role"));
        }
        Ok(ClaimPath(segments))
    }

    /// The value at the path in `claims`, if there is one.
    pub fn find<'a>(&self, claims: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(claims, |value, segment| value.get(segment)).filter(|value| !value.is_null())
    }
}

impl std::fmt::Display for ClaimPath {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0.join("."))
    }
}

/// How tokens are issued and checked.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` of tokens oxbase issues; tokens carrying it are read as oxbase's own
    /// (`sub` is the user id, `role` the role).
    pub issuer: String,
    /// The `iss` of another identity provider's tokens, accepted besides `issuer`; their
    /// role and user id are found at the claim paths.
    pub external_issuer: Option<String>,
    /// The `aud` every token must carry (oxbase's own carry it).
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Life of an access token oxbase issues.
    pub access_ttl: Duration,
    /// Where another provider's tokens keep the role.
    pub role_claim: ClaimPath,
    /// Where another provider's tokens keep the user id.
    pub user_id_claim: ClaimPath,
}

impl Default for TokenSettings {
    fn default() -> TokenSettings {
        TokenSettings {
            issuer: "oxbase".to_owned(),
            external_issuer: None,
            audience: "oxbase".to_owned(),
            leeway: Duration::from_secs(30),
            access_ttl: Duration::from_secs(15 * 60),
            role_claim: ClaimPath(vec!["role".to_owned()]),
            user_id_claim: ClaimPath(vec!["sub".to_owned()]),
        }
    }
}

/// Why a token was refused. No variant carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Past its `exp` (and the leeway).
    #[error("the access token has expired")]
    Expired,
    /// Not a token this server accepts; the reason says which check failed.
    #[error("the access token is not valid: {}", .0.describe())]
    Invalid(InvalidToken),
    /// The token could not be signed (a fault, not the client's).
    #[error("the access token could not be signed: {0}")]
    Signing(String),
}

/// Which check a refused token failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not three base64url parts with a JSON header and claims.
    Malformed,
    /// The `Authorization` header uses another scheme than `Bearer`.
    Scheme,
    /// `alg: none`, an algorithm oxbase does not accept, or one no configured key is for.
    Algorithm(String),
    /// The signature does not verify.
    Signature,
    /// `aud` missing or not the configured audience.
    Audience,
    /// `iss` missing or not an accepted issuer.
    Issuer,
    /// `nbf` in the future.
    NotYetValid,
    /// No JWKS key has the token's `kid` (or fits its algorithm).
    UnknownKey,
    /// A claim is missing or has the wrong type.
    Claims(String),
}

impl InvalidToken {
    /// A stable snake_case name, for error details.
    pub fn reason(&self) -> &'static str {
        match self {
            InvalidToken::Malformed => "malformed",
            InvalidToken::Scheme => "scheme",
            InvalidToken::Algorithm(_) => "algorithm",
            InvalidToken::Signature => "signature",
            InvalidToken::Audience => "audience",
            InvalidToken::Issuer => "issuer",
            InvalidToken::NotYetValid => "not_yet_valid",
            InvalidToken::UnknownKey => "unknown_key",
            InvalidToken::Claims(_) => "claims",
        }
    }

    fn describe(&self) -> String {
        match self {
            InvalidToken::Malformed => "it is not a JWT (three base64url parts: header, claims, signature)".to_owned(),
            InvalidToken::Scheme => "the Authorization header must use the Bearer scheme".to_owned(),
            InvalidToken::Algorithm(algorithm) => format!("the algorithm '{algorithm}' is not accepted"),
            InvalidToken::Signature => "the signature does not verify".to_owned(),
            InvalidToken::Audience => "its audience (aud) is not this server's".to_owned(),
            InvalidToken::Issuer => "its issuer (iss) is not accepted".to_owned(),
            InvalidToken::NotYetValid => "it is not valid yet (nbf)".to_owned(),
            InvalidToken::UnknownKey => "no configured key matches its key id (kid)".to_owned(),
            InvalidToken::Claims(reason) => reason.clone(),
        }
    }
}

/// An access token just issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: Revealed,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Issues and verifies access tokens.
pub struct Tokens {
    settings: TokenSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Option<JwksFile>,
    /// HS256 tokens already verified, with the callers they name, until they expire: a
    /// client sends the same token with every request, and checking its signature and
    /// decoding its claims each time cost more than the rest of a point read. (Keys from
    /// a JWKS file can be withdrawn, so tokens they signed are checked every time.)
    verified: quick_cache::sync::Cache<String, VerifiedToken>,
}

/// A verified token's caller and the last second it is accepted (its `exp` plus leeway).
#[derive(Debug, Clone)]
struct VerifiedToken {
    caller: Caller,
    accepted_until: u64,
}

/// Verified tokens remembered at most.
const VERIFIED_TOKENS: usize = 10_000;

/// Longer tokens are verified every time rather than remembered.
const MAX_REMEMBERED_TOKEN_BYTES: usize = 4096;

impl std::fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Tokens").field("settings", &self.settings).field("jwks", &self.jwks).finish()
    }
}

/// The shortest HS256 secret accepted: the hash's 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

impl Tokens {
    /// Tokens signed and checked with `secret` (at least [`MIN_SECRET_BYTES`]), and
    /// another provider's checked with the JWKS file's keys too, when there is one.
    pub fn new(secret: &[u8], settings: TokenSettings, jwks: Option<JwksFile>) -> Result<Tokens, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!("the JWT secret is {} bytes; at least {MIN_SECRET_BYTES} are needed", secret.len()));
        }
        Ok(Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            settings,
            jwks,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        })
    }

    /// The settings tokens are issued and checked with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// An access token for an account, valid for the access TTL from now.
    pub fn issue(&self, user_id: &Value, role: Option<&str>) -> Result<IssuedToken, TokenError> {
        self.issue_at(user_id, role, unix_now())
    }

    /// An access token issued at `now` (seconds since the epoch): for tests of expiry.
    pub fn issue_at(&self, user_id: &Value, role: Option<&str>, now: u64) -> Result<IssuedToken, TokenError> {
        let subject = match user_id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let ttl = self.settings.access_ttl.as_secs();
        let mut claims = json!({
            "sub": subject,
            "iat": now,
            "exp": now + ttl,
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(role) = role {
            claims["role"] = role.into();
        }
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| TokenError::Signing(error.to_string()))?;
        Ok(IssuedToken { token: Revealed::new(token), expires_in: ttl })
    }

    /// The caller a bearer token names, when every check passes.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        self.verify_at(token, unix_now())
    }

    /// [`Tokens::verify`] at `now` (seconds since the epoch) for a token verified before;
    /// a new token is checked against the clock in full.
    pub fn verify_at(&self, token: &str, now: u64) -> Result<Caller, TokenError> {
        if let Some(known) = self.verified.get(token) {
            if now > known.accepted_until {
                self.verified.remove(token);
                return Err(TokenError::Expired);
            }
            return Ok(known.caller);
        }
        let (caller, algorithm) = self.verify_in_full(token)?;
        let expires = caller.claims.get("exp").and_then(Value::as_u64);
        if let Some(expires) = expires
            && algorithm == Algorithm::HS256
            && token.len() <= MAX_REMEMBERED_TOKEN_BYTES
        {
            let accepted_until = expires.saturating_add(self.settings.leeway.as_secs());
            self.verified.insert(token.to_owned(), VerifiedToken { caller: caller.clone(), accepted_until });
        }
        Ok(caller)
    }

    fn verify_in_full(&self, token: &str) -> Result<(Caller, Algorithm), TokenError> {
        let algorithm = header_algorithm(token)?;
        let jwks_keys;
        let key = match algorithm {
            Algorithm::HS256 => &self.decoding,
            Algorithm::HS384 | Algorithm::HS512 => {
                return Err(TokenError::Invalid(InvalidToken::Algorithm(format!("{algorithm:?}"))));
            }
            _ => {
                let Some(jwks) = &self.jwks else {
                    return Err(TokenError::Invalid(InvalidToken::Algorithm(format!("{algorithm:?}"))));
                };
                jwks_keys = jwks.keys();
                let kid = jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid);
                let found = jwks_keys
                    .iter()
                    .filter(|key| key.algorithms.contains(&algorithm))
                    .find(|key| kid.is_none() || key.id == kid)
                    .ok_or(TokenError::Invalid(InvalidToken::UnknownKey))?;
                &found.key
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&[&self.settings.audience]);
        let mut issuers = vec![self.settings.issuer.clone()];
        issuers.extend(self.settings.external_issuer.clone());
        validation.set_issuer(&issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(token, key, &validation).map_err(refusal)?.claims;
        let ours = algorithm == Algorithm::HS256 && claims["iss"] == self.settings.issuer.as_str();
        let (role, user_id) = if ours {
            (claims.get("role").cloned(), claims.get("sub").map(subject_id))
        } else {
            (self.settings.role_claim.find(&claims).cloned(), self.settings.user_id_claim.find(&claims).cloned())
        };
        let role = match role {
            None | Some(Value::Null) => None,
            Some(Value::String(role)) => Some(role),
            Some(_) => {
                let path = if ours { "role".to_owned() } else { self.settings.role_claim.to_string() };
                return Err(TokenError::Invalid(InvalidToken::Claims(format!(
                    "the role claim '{path}' is not a string"
                ))));
            }
        };
        if let Some(id) = &user_id
            && !(id.is_string() || id.is_number())
        {
            let path = if ours { "sub".to_owned() } else { self.settings.user_id_claim.to_string() };
            return Err(TokenError::Invalid(InvalidToken::Claims(format!(
                "the user id claim '{path}' is not a string or a number"
            ))));
        }
        Ok((Caller { role, user_id, claims, key: None }, algorithm))
    }
}

/// Our `sub` back to the account's id: digits are the integer they spell.
fn subject_id(subject: &Value) -> Value {
    match subject {
        Value::String(text) => text.parse::<i64>().map_or_else(|_| subject.clone(), Value::from),
        other => other.clone(),
    }
}

/// The algorithm the header names, refusing `none` and everything else not supported,
/// before anything else about the token is trusted.
fn header_algorithm(token: &str) -> Result<Algorithm, TokenError> {
    let malformed = || TokenError::Invalid(InvalidToken::Malformed);
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).map_err(|_| malformed())?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let Some(name) = header.get("alg").and_then(Value::as_str) else { return Err(malformed()) };
    let accepted = [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    accepted
        .into_iter()
        .find(|algorithm| format!("{algorithm:?}") == name)
        .ok_or_else(|| TokenError::Invalid(InvalidToken::Algorithm(name.chars().take(32).collect())))
}

fn refusal(error: jsonwebtoken::errors::Error) -> TokenError {
    TokenError::Invalid(match error.kind() {
        ErrorKind::ExpiredSignature => return TokenError::Expired,
        ErrorKind::InvalidSignature => InvalidToken::Signature,
        ErrorKind::InvalidAudience => InvalidToken::Audience,
        ErrorKind::InvalidIssuer => InvalidToken::Issuer,
        ErrorKind::ImmatureSignature => InvalidToken::NotYetValid,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            InvalidToken::Algorithm("does not fit the key".to_owned())
        }
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => InvalidToken::Audience,
            "iss" => InvalidToken::Issuer,
            other => InvalidToken::Claims(format!("the required claim '{other}' is missing")),
        },
        ErrorKind::InvalidClaimFormat(claim) => InvalidToken::Claims(format!("the claim '{claim}' has the wrong type")),
        _ => InvalidToken::Malformed,
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
