//! Opaque secrets: refresh tokens and API keys, random from the operating system, stored
//! only as SHA-256 digests and compared in constant time.
//!
//! A refresh token is `oxr_<43 base64url characters>` (256 random bits), found by its
//! digest. An API key is `oxk_<id>_<secret>`: the id (16 hex digits) is public and names
//! the key in listings and logs; the secret is 256 random bits. A key is looked up by id,
//! then the digest of the whole key is compared in constant time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The refresh token prefix.
pub const REFRESH_TOKEN_PREFIX: &str = "oxr";
/// The API key prefix.
pub const API_KEY_PREFIX: &str = "oxk";

/// `<prefix>_` and 32 random bytes in unpadded base64url; an error when the operating
/// system gives no randomness.
pub fn random_token(prefix: &str) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// `count` random bytes.
pub fn random_bytes(count: usize) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(bytes)
}

/// The SHA-256 digest of a secret, as 64 lowercase hex digits: what is stored.
pub fn digest(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Whether `secret` is the one whose digest is `stored`, in time independent of where
/// they differ.
pub fn matches_digest(secret: &str, stored: &str) -> bool {
    digest(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

/// A secret shown once to whoever created it: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Revealed(String);

impl Revealed {
    /// Wraps a secret to hand out once.
    pub fn new(secret: String) -> Revealed {
        Revealed(secret)
    }

    /// The secret itself, to hand to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[secret]")
    }
}

/// A new refresh token: the token for the client, its digest for the store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token: Revealed,
    pub digest: String,
}

/// A fresh refresh token.
pub fn new_refresh_token() -> Result<NewRefreshToken, String> {
    let token = random_token(REFRESH_TOKEN_PREFIX)?;
    Ok(NewRefreshToken { digest: digest(&token), token: Revealed(token) })
}

/// A new API key: its public id, the whole key (shown once) and its digest.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub key: Revealed,
    pub digest: String,
}

/// A fresh API key.
pub fn new_api_key() -> Result<NewApiKey, String> {
    let id: String = random_bytes(8)?.iter().map(|byte| format!("{byte:02x}")).collect();
    let secret = random_token(&format!("{API_KEY_PREFIX}_{id}"))?;
    Ok(NewApiKey { id, digest: digest(&secret), key: Revealed(secret) })
}

/// A presented credential that has the shape of an API key: its id (the key is checked
/// against the stored digest by [`matches_digest`]).
pub fn api_key_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(API_KEY_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == 16
        && id.bytes().all(|byte| byte.is_ascii_hexdigit())
        && secret.len() == 43
        && secret.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    well_formed.then_some(id)
}

/// Whether a presented credential has the shape of a refresh token.
pub fn is_refresh_token(presented: &str) -> bool {
    presented
        .strip_prefix(REFRESH_TOKEN_PREFIX)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|secret| secret.len() == 43)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_their_id_and_match_only_their_digest() {
        let key = new_api_key().unwrap();
        assert!(key.key.expose().starts_with(&format!("oxk_{}_", key.id)), "{:?}", key.key.expose());
        assert_eq!(api_key_id(key.key.expose()), Some(key.id.as_str()));
        assert!(matches_digest(key.key.expose(), &key.digest));
        let mut altered = key.key.expose().to_owned();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!matches_digest(&altered, &key.digest));
        assert_eq!(format!("{key:?}").matches(key.key.expose()).count(), 0, "Debug hides the key");
        for junk in ["", "oxk_", "oxk_zz_abc", "oxr_abc", "Bearer x", "oxk_0123456789abcdef_short"] {
            assert_eq!(api_key_id(junk), None, "{junk}");
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_digests() {
        let (first, second) = (new_refresh_token().unwrap(), new_refresh_token().unwrap());
        assert_ne!(first.token, second.token);
        assert!(is_refresh_token(first.token.expose()));
        assert_eq!(first.digest.len(), 64);
        assert_eq!(digest(first.token.expose()), first.digest);
        assert!(!first.digest.contains(first.token.expose()));
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
