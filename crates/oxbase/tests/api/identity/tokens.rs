//! Bearer tokens refused with their codes, and another identity provider's tokens read by
//! their claim paths.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oxbase_access::identity::token::unix_now;
use oxbase_access::identity::{ClaimPath, TokenSettings, Tokens};
use serde_json::{Value, json};

use super::{PASSWORD, SECRET, account, assert_unauthorized, get_as, login, spawn};
use crate::on_both_engines;
use crate::support::Engine;

on_both_engines!(bad_tokens_are_refused_with_their_codes, another_providers_token_names_role_and_user_by_path);

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn bad_tokens_are_refused_with_their_codes(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (admin, admin_id) = account(&app, "admin").await;
    let good = login(&app, &admin, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get_as(&app, "/admin/counters", &good).await.status(), 200);
    let claims = |changes: Value| {
        let mut claims = json!({
            "sub": admin_id.to_string(), "role": "admin", "iss": "oxbase", "aud": "oxbase",
            "iat": unix_now(), "exp": unix_now() + 300,
        });
        claims.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        claims
    };
    assert_eq!(get_as(&app, "/admin/counters", &sign(&claims(json!({})), SECRET)).await.status(), 200);
    let expired = sign(&claims(json!({ "iat": unix_now() - 4000, "exp": unix_now() - 3600 })), SECRET);
    let other_secret = Tokens::new(b"some other secret that is long enough to sign", TokenSettings::default(), None)
        .unwrap()
        .issue(&json!(admin_id), Some("admin"))
        .unwrap();
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let alg_none = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims(json!({})).to_string()));
    let cases = [
        (expired, "token_expired", None),
        (other_secret.token.expose().to_owned(), "token_invalid", Some("signature")),
        (sign(&claims(json!({ "aud": "another-api" })), SECRET), "token_invalid", Some("audience")),
        (sign(&claims(json!({ "iss": "https://elsewhere.example" })), SECRET), "token_invalid", Some("issuer")),
        (alg_none, "token_invalid", Some("algorithm")),
        ("not-a-token".to_owned(), "token_invalid", Some("malformed")),
        (format!("{good}x"), "token_invalid", Some("signature")),
    ];
    for (token, code, reason) in cases {
        for path in ["/admin/counters", "/api/v1/trackers?limit=1", "/health/live"] {
            let response = get_as(&app, path, &token).await;
            let body = assert_unauthorized(response, code).await;
            if let Some(reason) = reason {
                assert_eq!(body["details"]["reason"], reason, "{body}");
            }
            assert!(!body.to_string().contains(&token), "the token is not echoed: {body}");
        }
    }
    // Another scheme than Bearer is refused, not ignored.
    let response = app.client.get(app.url("/api/v1/trackers?limit=1")).basic_auth("a", Some("b")).send().await.unwrap();
    let body = assert_unauthorized(response, "token_invalid").await;
    assert_eq!(body["details"]["reason"], "scheme");
}

async fn another_providers_token_names_role_and_user_by_path(engine: Engine) {
    let app = spawn(engine, |config| {
        config.auth.tokens.external_issuer = Some("https://id.example".into());
        config.auth.tokens.role_claim = ClaimPath::parse("app_metadata.role").unwrap();
        config.auth.tokens.user_id_claim = ClaimPath::parse("app_metadata.user_id").unwrap();
    })
    .await;
    let token = |role: &str| {
        sign(
            &json!({
                "iss": "https://id.example", "aud": "oxbase", "sub": "idp|123", "exp": unix_now() + 300,
                "app_metadata": { "role": role, "user_id": 42 },
            }),
            SECRET,
        )
    };
    let caller = oxbase_server::service::identity::authenticate(&app.app, &token("editor")).await.unwrap();
    assert_eq!((caller.role.as_deref(), caller.user_id.clone()), (Some("editor"), Some(json!(42))));
    assert_eq!(caller.claims["sub"], "idp|123");
    assert_eq!(get_as(&app, "/admin/counters", &token("admin")).await.status(), 200);
    assert_eq!(get_as(&app, "/admin/counters", &token("viewer")).await.status(), 403);
    // The same claims from an issuer not configured are refused.
    let stranger = sign(
        &json!({ "iss": "https://other.example", "aud": "oxbase", "exp": unix_now() + 300, "app_metadata": { "role": "admin" } }),
        SECRET,
    );
    let body = assert_unauthorized(get_as(&app, "/admin/counters", &stranger).await, "token_invalid").await;
    assert_eq!(body["details"]["reason"], "issuer");
}
