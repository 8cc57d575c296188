//! Access control on the pearl example with its roles: what each caller sees and may
//! change, on every read and write path, compared with what the rules allow as computed
//! independently here in SQL.

mod leaks;

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

async fn pearl_with_roles(engine: Engine) -> TestApp {
    TestApp::spawn_with_roles(engine, |_| {}, |_| {}).await
}

/// Callers without credentials act in the `anonymous` role: trackers, items, comments and
/// usernames, nothing else, nothing written.
async fn anonymous_callers_read_what_the_anonymous_role_allows(engine: Engine) {
    let app = pearl_with_roles(engine).await;
    let trackers = app.get_json("/api/v1/trackers?limit=2", 200).await;
    assert_eq!(trackers.as_array().unwrap().len(), 2, "the README's first request works without credentials");
    // Users: the key and the username, never the email, role or password hash.
    let users = app.get_json("/api/v1/users?limit=3", 200).await;
    for user in users.as_array().unwrap() {
        let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "username"], "{user}");
    }
    // A hidden field looks exactly like one that does not exist: same code, and no hint
    // names it.
    let hidden = assert_error(app.get("/api/v1/users?select=email").await, 400, "unknown_column", "email").await;
    let unknown = assert_error(app.get("/api/v1/users?select=emial").await, 400, "unknown_column", "emial").await;
    assert_eq!(hidden.to_string().replace("email", "emial"), unknown.to_string());
    assert_eq!(hidden["hint"], "known columns: id, username", "{hidden}");
    assert_error(app.get("/api/v1/users?email=like.*example*").await, 400, "unknown_column", "email").await;
    assert_error(app.get("/api/v1/users?order=email").await, 400, "unknown_column", "email").await;
    // Embedding a user from a tracker shows the same two fields.
    let embedded =
        app.get_json("/api/v1/trackers?select=id,owner:users!production_programmer_id(*)&limit=1", 200).await;
    assert_eq!(embedded[0]["owner"].as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "username"]);
    // What the role does not grant needs credentials, whether it exists or not: nobody
    // learns which resources there are.
    let studies = assert_error(app.get("/api/v1/studies").await, 401, "authentication_required", "credentials").await;
    let missing = assert_error(app.get("/api/v1/nothing").await, 401, "authentication_required", "credentials").await;
    assert_eq!(studies, missing);
    // Nothing is writable, and nothing was written.
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!({"tracker_id": 1, "user_id": 1, "body": "hi"}),
            None,
        )
        .await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_error(response, 401, "authentication_required", "credentials").await;
    let response = app.send_json(Method::PATCH, "/api/v1/users?role=eq.admin", &json!({"role": "viewer"}), None).await;
    assert_error(response, 401, "authentication_required", "credentials").await;
    assert_error(
        app.send_json(Method::DELETE, "/api/v1/trackers/1", &Value::Null, None).await,
        401,
        "authentication_required",
        "",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before);
    assert!(app.count("SELECT count(*) FROM users WHERE role = 'admin'").await > 0);
    assert_eq!(app.count("SELECT count(*) FROM trackers WHERE id = 1").await, 1);
}

/// The password hash is never served, not even to the admin role or with roles off.
async fn the_password_hash_is_never_served(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    assert_error(app.get("/api/v1/users?select=password_hash").await, 400, "unknown_column", "password_hash").await;
    let user = app.get_json("/api/v1/users/1", 200).await;
    assert!(user.get("password_hash").is_none(), "{user}");
    let response =
        app.send_json(Method::PATCH, "/api/v1/users/1", &json!({"password_hash": "$argon2id$forged"}), None).await;
    assert_eq!(response.status(), 422, "an unknown field to every client");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE password_hash IS NOT NULL").await, 0);
}

on_both_engines!(anonymous_callers_read_what_the_anonymous_role_allows, the_password_hash_is_never_served);
