//! Logging in and out, the lockout, refresh rotation and reuse, password changes.

use std::time::Duration;

use serde_json::{Value, json};

use super::{PASSWORD, account, assert_unauthorized, get_as, login, post, spawn};
use crate::on_both_engines;
use crate::support::{Engine, assert_error};

on_both_engines!(
    login_gives_tokens_that_name_the_account_and_its_role,
    a_wrong_password_and_an_unknown_user_get_the_same_answer,
    repeated_failures_lock_out_then_recover,
    refresh_rotates_and_a_reused_token_revokes_its_family,
    logout_revokes_the_family,
    a_password_change_needs_the_current_one_and_ends_other_sessions,
    the_password_hash_is_never_answered,
);

async fn login_gives_tokens_that_name_the_account_and_its_role(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (admin, admin_id) = account(&app, "admin").await;
    let tokens = login(&app, &admin, PASSWORD).await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("oxr_"), "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let caller = app.app.identity.tokens.verify(access).unwrap();
    assert_eq!((caller.role.as_deref(), caller.user_id), (Some("admin"), Some(json!(admin_id))));
    // The admin endpoints take the admin's token, refuse a viewer's (403) and nobody's (401).
    assert_eq!(get_as(&app, "/admin/counters", access).await.status(), 200);
    let (viewer, _) = account(&app, "viewer").await;
    let viewer_token = login(&app, &viewer, PASSWORD).await;
    let response = get_as(&app, "/admin/counters", viewer_token["access_token"].as_str().unwrap()).await;
    assert_error(response, 403, "forbidden", "admin").await;
    assert_unauthorized(super::anonymous(&app, "/admin/counters").await, "authentication_required").await;
    // The username is matched exactly as stored.
    let response = post(&app, "/api/v1/auth/login", json!({ "username": admin.to_uppercase(), "password": PASSWORD }));
    assert_unauthorized(response.await, "credentials_invalid").await;
}

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (viewer, _) = account(&app, "viewer").await;
    let wrong = post(&app, "/api/v1/auth/login", json!({ "username": viewer, "password": "not the password" })).await;
    let wrong = assert_unauthorized(wrong, "credentials_invalid").await;
    let unknown = post(&app, "/api/v1/auth/login", json!({ "username": "nobody_at_all", "password": "x" })).await;
    let unknown = assert_unauthorized(unknown, "credentials_invalid").await;
    assert_eq!(wrong, unknown, "nothing tells an unknown user from a wrong password");
    assert!(!wrong.to_string().contains(&viewer), "{wrong}");
    // An account without a password cannot log in either, and looks the same.
    let without: String = app
        .scalar("SELECT username FROM users WHERE password_hash IS NULL ORDER BY id LIMIT 1")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let response = post(&app, "/api/v1/auth/login", json!({ "username": without, "password": "" })).await;
    assert_error(response, 422, "validation_failed", "'password' is empty").await;
    let response = post(&app, "/api/v1/auth/login", json!({ "username": without, "password": PASSWORD })).await;
    assert_eq!(assert_unauthorized(response, "credentials_invalid").await, wrong);
    // Bad bodies are 4xx naming what is wrong.
    let response = post(&app, "/api/v1/auth/login", json!({ "username": viewer })).await;
    assert_error(response, 422, "validation_failed", "'password' is required").await;
    let response = post(&app, "/api/v1/auth/login", json!({ "username": 7, "password": "x" })).await;
    assert_error(response, 422, "validation_failed", "'username' must be a string").await;
    let response = app.client.post(app.url("/api/v1/auth/login")).body("username=a").send().await.unwrap();
    assert_error(response, 415, "unsupported_media_type", "JSON").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_json", "not valid JSON").await;
}

async fn repeated_failures_lock_out_then_recover(engine: Engine) {
    let app = spawn(engine, |config| {
        config.auth.login_account_failures = 3;
        config.auth.login_lockout = Duration::from_secs(1);
    })
    .await;
    let (editor, _) = account(&app, "editor").await;
    for username in [editor.as_str(), "nobody_at_all"] {
        for _ in 0..3 {
            let response = post(&app, "/api/v1/auth/login", json!({ "username": username, "password": "wrong" })).await;
            assert_unauthorized(response, "credentials_invalid").await;
        }
        // Locked: even the right password is refused until the lockout ends.
        let response = post(&app, "/api/v1/auth/login", json!({ "username": username, "password": PASSWORD })).await;
        assert_eq!(response.headers()["retry-after"], "1", "{username}");
        let body = assert_error(response, 429, "login_locked_out", "too many failed logins").await;
        assert_eq!(body["details"]["retry_after_seconds"], 1);
    }
    // Another account is not locked by these.
    let (viewer, _) = account(&app, "viewer").await;
    login(&app, &viewer, PASSWORD).await;
    // Failing again after the lockout locks out twice as long.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        post(&app, "/api/v1/auth/login", json!({ "username": editor, "password": "wrong" })).await;
    }
    let response = post(&app, "/api/v1/auth/login", json!({ "username": editor, "password": PASSWORD })).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    // Once it ends, the right password works, and forgets the failures.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    login(&app, &editor, PASSWORD).await;
    let response = post(&app, "/api/v1/auth/login", json!({ "username": editor, "password": "wrong" })).await;
    assert_unauthorized(response, "credentials_invalid").await;
    login(&app, &editor, PASSWORD).await;
}

async fn refresh(app: &crate::support::TestApp, token: &Value) -> reqwest::Response {
    post(app, "/api/v1/auth/refresh", json!({ "refresh_token": token })).await
}

async fn refresh_rotates_and_a_reused_token_revokes_its_family(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (editor, editor_id) = account(&app, "editor").await;
    let first = login(&app, &editor, PASSWORD).await;
    let response = refresh(&app, &first["refresh_token"]).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let caller = app.app.identity.tokens.verify(second["access_token"].as_str().unwrap()).unwrap();
    assert_eq!((caller.role.as_deref(), caller.user_id), (Some("editor"), Some(json!(editor_id))));
    // The first token again: someone holds a copy. Refused, and the whole family with it.
    let body = assert_unauthorized(refresh(&app, &first["refresh_token"]).await, "refresh_token_invalid").await;
    assert_eq!(body["details"]["reason"], "reused");
    let body = assert_unauthorized(refresh(&app, &second["refresh_token"]).await, "refresh_token_invalid").await;
    assert_eq!(body["details"]["reason"], "revoked");
    let live = app.count("SELECT count(*) FROM _oxbase_refresh_tokens WHERE revoked_at IS NULL").await;
    assert_eq!(live, 0, "the family is revoked in the database, for every instance");
    // Tokens are stored as digests only.
    let stored = format!(
        "SELECT count(*) FROM _oxbase_refresh_tokens WHERE token_hash = '{}'",
        second["refresh_token"].as_str().unwrap()
    );
    assert_eq!(app.count(&stored).await, 0);
    // A new login starts a new family; the refresh picks up a changed role.
    let third = login(&app, &editor, PASSWORD).await;
    app.rows(&format!("UPDATE users SET role = 'viewer' WHERE id = {editor_id}")).await;
    let fourth: Value = refresh(&app, &third["refresh_token"]).await.json().await.unwrap();
    let caller = app.app.identity.tokens.verify(fourth["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(caller.role.as_deref(), Some("viewer"));
    for junk in [json!("oxr_notatoken"), json!("")] {
        let response = refresh(&app, &junk).await;
        assert!([401, 422].contains(&response.status().as_u16()), "{junk}");
    }
    let body = assert_unauthorized(refresh(&app, &json!("oxr_notatoken")).await, "refresh_token_invalid").await;
    assert_eq!(body["details"]["reason"], "unknown");
}

async fn logout_revokes_the_family(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (viewer, _) = account(&app, "viewer").await;
    let tokens = login(&app, &viewer, PASSWORD).await;
    let other = login(&app, &viewer, PASSWORD).await;
    let response = post(&app, "/api/v1/auth/logout", json!({ "refresh_token": tokens["refresh_token"] })).await;
    assert_eq!(response.status(), 204);
    let body = assert_unauthorized(refresh(&app, &tokens["refresh_token"]).await, "refresh_token_invalid").await;
    assert_eq!(body["details"]["reason"], "revoked");
    // Another session of the same account goes on.
    assert_eq!(refresh(&app, &other["refresh_token"]).await.status(), 200);
    // Logging out twice, or with a stale Authorization header, is fine.
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth("expired.or.junk")
        .json(&json!({ "refresh_token": tokens["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

async fn a_password_change_needs_the_current_one_and_ends_other_sessions(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (viewer, _) = account(&app, "viewer").await;
    let tokens = login(&app, &viewer, PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/v1/auth/password"))
            .bearer_auth(access)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    assert_unauthorized(change("not it", "a new long password").await.unwrap(), "credentials_invalid").await;
    let response = change(PASSWORD, "short").await.unwrap();
    assert_error(response, 422, "validation_failed", "8 to 1024").await;
    assert_eq!(change(PASSWORD, "a new long password").await.unwrap().status(), 204);
    let body = assert_unauthorized(refresh(&app, &tokens["refresh_token"]).await, "refresh_token_invalid").await;
    assert_eq!(body["details"]["reason"], "revoked");
    let response = post(&app, "/api/v1/auth/login", json!({ "username": viewer, "password": PASSWORD })).await;
    assert_unauthorized(response, "credentials_invalid").await;
    login(&app, &viewer, "a new long password").await;
    // Without credentials, or with an API key, there is no account to change.
    let response = post(&app, "/api/v1/auth/password", json!({ "current_password": "x", "new_password": "y" })).await;
    assert_unauthorized(response, "authentication_required").await;
}

async fn the_password_hash_is_never_answered(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (admin, admin_id) = account(&app, "admin").await;
    let hash = app.scalar(&format!("SELECT password_hash FROM users WHERE id = {admin_id}")).await;
    let hash = hash.as_str().unwrap().to_owned();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    let salt_and_digest = hash.rsplit('$').take(2).collect::<Vec<_>>().join("$");
    let tokens = login(&app, &admin, PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let mut bodies = vec![tokens.to_string()];
    for path in [
        format!("/api/v1/users/{admin_id}"),
        "/api/v1/users?select=*".to_owned(),
        "/api/v1/users?select=password_hash".to_owned(),
        "/admin/keys".to_owned(),
        "/admin/counters".to_owned(),
    ] {
        bodies.push(get_as(&app, &path, &access).await.text().await.unwrap());
    }
    let wrong = post(&app, "/api/v1/auth/login", json!({ "username": admin, "password": "wrong" })).await;
    bodies.push(wrong.text().await.unwrap());
    for body in bodies {
        for part in hash.split('$').filter(|part| part.len() > 16) {
            assert!(!body.contains(part), "a response holds part of the hash: {body}");
        }
        assert!(!body.contains(&salt_and_digest) && !body.contains(PASSWORD), "{body}");
    }
}
