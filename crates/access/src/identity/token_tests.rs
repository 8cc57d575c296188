//! Tokens issued and verified: ours, another provider's by secret and by JWKS, and every
//! way a token is refused.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::jwks::JwksFile;
use super::token::{ClaimPath, InvalidToken, TokenError, TokenSettings, Tokens, unix_now};

const SECRET: &[u8] = b"a test secret that is at least thirty-two bytes long";
const RSA: &[u8] = include_bytes!("test_keys/rsa.pem");
const EC: &[u8] = include_bytes!("test_keys/ec.pem");
const ED25519: &[u8] = include_bytes!("test_keys/ed25519.pem");

fn tokens() -> Tokens {
    Tokens::new(SECRET, TokenSettings::default(), None).unwrap()
}

fn external_settings() -> TokenSettings {
    TokenSettings {
        external_issuer: Some("https://id.example".to_owned()),
        role_claim: ClaimPath::parse("app_metadata.role").unwrap(),
        user_id_claim: ClaimPath::parse("app_metadata.user.id").unwrap(),
        ..TokenSettings::default()
    }
}

fn external_claims() -> Value {
    json!({
        "iss": "https://id.example", "aud": "oxbase", "sub": "auth0|x", "exp": unix_now() + 300,
        "app_metadata": { "role": "editor", "user": { "id": 7 } },
    })
}

fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn invalid(result: Result<crate::Caller, TokenError>) -> &'static str {
    match result {
        Err(TokenError::Invalid(reason)) => reason.reason(),
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[test]
fn our_tokens_name_the_account_and_role() {
    let tokens = tokens();
    let issued = tokens.issue(&json!(42), Some("editor")).unwrap();
    assert_eq!(issued.expires_in, 900);
    let caller = tokens.verify(issued.token.expose()).unwrap();
    assert_eq!(caller.role.as_deref(), Some("editor"));
    assert_eq!(caller.user_id, Some(json!(42)));
    assert_eq!(caller.claims["iss"], "oxbase");
    assert!(caller.claims["jti"].as_str().is_some_and(|jti| jti.len() == 36));
    assert_eq!(caller.key, None);
    let text_id = tokens.issue(&json!("u-1"), None).unwrap();
    let caller = tokens.verify(text_id.token.expose()).unwrap();
    assert_eq!((caller.role, caller.user_id), (None, Some(json!("u-1"))));
}

#[test]
fn expired_tokens_are_refused_past_the_leeway() {
    let tokens = tokens();
    let old = tokens.issue_at(&json!(1), None, unix_now() - 900 - 31).unwrap();
    assert_eq!(tokens.verify(old.token.expose()).unwrap_err(), TokenError::Expired);
    let within_leeway = tokens.issue_at(&json!(1), None, unix_now() - 900 - 10).unwrap();
    assert!(tokens.verify(within_leeway.token.expose()).is_ok());
}

#[test]
fn a_token_verified_once_is_remembered_until_it_expires() {
    let tokens = tokens();
    let issued = tokens.issue(&json!(7), Some("viewer")).unwrap();
    let first = tokens.verify(issued.token.expose()).unwrap();
    assert_eq!(tokens.verify(issued.token.expose()).unwrap(), first, "the same caller from memory");
    let expires = first.claims["exp"].as_u64().unwrap();
    assert!(tokens.verify_at(issued.token.expose(), expires + 30).is_ok(), "within the leeway");
    assert_eq!(tokens.verify_at(issued.token.expose(), expires + 31).unwrap_err(), TokenError::Expired);
    // A token altered in any byte is another token, checked in full.
    let mut altered = issued.token.expose().to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(tokens.verify(&altered).is_err());
}

#[test]
fn a_wrong_signature_audience_or_issuer_is_refused() {
    let tokens = tokens();
    let other = Tokens::new(b"another secret, also thirty-two bytes or more", TokenSettings::default(), None).unwrap();
    let forged = other.issue(&json!(1), Some("admin")).unwrap();
    assert_eq!(invalid(tokens.verify(forged.token.expose())), "signature");
    let key = EncodingKey::from_secret(SECRET);
    let mut claims = json!({ "sub": "1", "iss": "oxbase", "aud": "someone-else", "exp": unix_now() + 60 });
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::HS256, &key, None, &claims))), "audience");
    claims["aud"] = "oxbase".into();
    claims["iss"] = "https://evil.example".into();
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::HS256, &key, None, &claims))), "issuer");
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::HS256, &key, None, &claims))), "issuer");
    claims["iss"] = "oxbase".into();
    claims["nbf"] = (unix_now() + 3600).into();
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::HS256, &key, None, &claims))), "not_yet_valid");
    // A tampered claim breaks the signature.
    let good = tokens.issue(&json!(1), Some("viewer")).unwrap();
    let parts: Vec<&str> = good.token.expose().split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    assert_eq!(invalid(tokens.verify(&tampered)), "signature");
}

#[test]
fn alg_none_and_unlisted_algorithms_are_refused() {
    let tokens = tokens();
    let claims = URL_SAFE_NO_PAD.encode(
        json!({ "sub": "1", "role": "admin", "iss": "oxbase", "aud": "oxbase", "exp": unix_now() + 60 }).to_string(),
    );
    for alg in ["none", "None", "HS384x", "RS1"] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
        for signature in ["", "c2ln"] {
            let token = format!("{header}.{claims}.{signature}");
            assert_eq!(tokens.verify(&token), Err(TokenError::Invalid(InvalidToken::Algorithm(alg.to_owned()))));
        }
    }
    // HS512 with the right secret is still refused: only HS256 is accepted.
    let hs512 = sign(Algorithm::HS512, &EncodingKey::from_secret(SECRET), None, &external_claims());
    assert_eq!(invalid(tokens.verify(&hs512)), "algorithm");
    // RS256 without a JWKS file has no key.
    let rs256 = sign(Algorithm::RS256, &EncodingKey::from_rsa_pem(RSA).unwrap(), None, &external_claims());
    assert_eq!(invalid(tokens.verify(&rs256)), "algorithm");
    for junk in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.sig"] {
        assert_eq!(invalid(tokens.verify(junk)), "malformed", "{junk}");
    }
    assert!(Tokens::new(b"short", TokenSettings::default(), None).is_err());
}

#[test]
fn another_providers_hs256_token_gives_role_and_user_by_path() {
    let tokens = Tokens::new(SECRET, external_settings(), None).unwrap();
    let token = sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET), None, &external_claims());
    let caller = tokens.verify(&token).unwrap();
    assert_eq!(caller.role.as_deref(), Some("editor"));
    assert_eq!(caller.user_id, Some(json!(7)));
    assert_eq!(caller.claims["sub"], "auth0|x");
    let mut claims = external_claims();
    claims["app_metadata"]["role"] = json!(["editor"]);
    let token = sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET), None, &claims);
    assert_eq!(invalid(tokens.verify(&token)), "claims");
    // Without the external issuer configured, the same token is refused.
    let token = sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET), None, &external_claims());
    assert_eq!(invalid(self::tokens().verify(&token)), "issuer");
    assert!(ClaimPath::parse("a..b").is_err() && ClaimPath::parse("").is_err());
}

fn write_jwks(path: &std::path::Path, keys: &[(Algorithm, &EncodingKey, &str)]) {
    let keys = keys
        .iter()
        .map(|(algorithm, key, kid)| {
            let mut jwk = Jwk::from_encoding_key(key, *algorithm).unwrap();
            jwk.common.key_id = Some((*kid).to_owned());
            jwk
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&JwkSet { keys }).unwrap()).unwrap();
}

#[test]
fn jwks_keys_verify_rs256_es256_and_eddsa_and_rotation_is_picked_up() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("jwks.json");
    let (rsa, ec, ed) = (
        EncodingKey::from_rsa_pem(RSA).unwrap(),
        EncodingKey::from_ec_pem(EC).unwrap(),
        EncodingKey::from_ed_pem(ED25519).unwrap(),
    );
    write_jwks(&path, &[(Algorithm::RS256, &rsa, "r1"), (Algorithm::ES256, &ec, "e1")]);
    let jwks = JwksFile::open(&path, Duration::ZERO).unwrap();
    let tokens = Tokens::new(SECRET, external_settings(), Some(jwks)).unwrap();
    let claims = external_claims();
    for (algorithm, key, kid) in
        [(Algorithm::RS256, &rsa, Some("r1")), (Algorithm::ES256, &ec, Some("e1")), (Algorithm::RS256, &rsa, None)]
    {
        let caller = tokens.verify(&sign(algorithm, key, kid, &claims)).unwrap();
        assert_eq!((caller.role.as_deref(), caller.user_id), (Some("editor"), Some(json!(7))), "{algorithm:?}");
    }
    // A key id the file does not hold, and a key of another type under a known id.
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::RS256, &rsa, Some("r9"), &claims))), "unknown_key");
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::EdDSA, &ed, Some("r1"), &claims))), "unknown_key");
    // An HS256 token signed with a public key's bytes is checked against the secret only.
    let rsa_public_as_secret = EncodingKey::from_secret(RSA);
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::HS256, &rsa_public_as_secret, None, &claims))), "signature");
    let eddsa = sign(Algorithm::EdDSA, &ed, Some("d1"), &claims);
    assert_eq!(invalid(tokens.verify(&eddsa)), "unknown_key");

    // Rotation: the file now holds only the Ed25519 key.
    write_jwks(&path, &[(Algorithm::EdDSA, &ed, "d1")]);
    assert_eq!(tokens.verify(&eddsa).unwrap().role.as_deref(), Some("editor"));
    assert_eq!(invalid(tokens.verify(&sign(Algorithm::RS256, &rsa, Some("r1"), &claims))), "unknown_key");

    // A broken file keeps the keys before it, and says why.
    std::fs::write(&path, b"{ not json").unwrap();
    assert!(tokens.verify(&eddsa).is_ok());
}

#[test]
fn jwks_files_are_checked_at_most_once_per_interval_and_refused_when_unusable() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("jwks.json");
    let (rsa, ed) = (EncodingKey::from_rsa_pem(RSA).unwrap(), EncodingKey::from_ed_pem(ED25519).unwrap());
    write_jwks(&path, &[(Algorithm::RS256, &rsa, "r1")]);
    let jwks = JwksFile::open(&path, Duration::from_secs(3600)).unwrap();
    assert_eq!(jwks.keys().len(), 1);
    write_jwks(&path, &[(Algorithm::RS256, &rsa, "r1"), (Algorithm::EdDSA, &ed, "d1")]);
    assert_eq!(jwks.keys().len(), 1, "not read again within the interval");
    let secret_key = json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0", "alg": "HS256" }] });
    std::fs::write(&path, secret_key.to_string()).unwrap();
    let error = JwksFile::open(&path, Duration::ZERO).unwrap_err();
    assert!(error.to_string().contains("no signature-verification key"), "{error}");
    std::fs::write(&path, b"[]").unwrap();
    assert!(JwksFile::open(&path, Duration::ZERO).unwrap_err().to_string().contains("not a JSON Web Key Set"));
    let reloading = JwksFile::open(directory.path().join("missing.json").as_path(), Duration::ZERO);
    assert!(reloading.unwrap_err().to_string().contains("cannot read the JWKS file"));
}
