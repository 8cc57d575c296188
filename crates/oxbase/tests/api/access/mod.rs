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

/// Gives the account a password and logs in with it: the access token.
pub(crate) async fn log_in(app: &TestApp, username: &str) -> String {
    let password = "the access suite's password";
    assert!(oxbase_server::service::identity::set_password(&app.app, username, password).await.unwrap());
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login of {username}");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
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

/// A scoped API key reads only what its lists and its role both allow; a create the role
/// does not grant is refused; an upsert merging rows the role may not update fails whole.
async fn keys_nested_rows_and_upserts_are_held_to_every_rule(engine: Engine) {
    let app = TestApp::spawn_with_roles(engine, |config| config.admin_enabled = true, |_| {}).await;
    let admin_token = log_in(&app, "admin").await;
    // A key of the admin role limited to reading trackers.
    let created: Value = app
        .client
        .post(app.url("/admin/keys"))
        .bearer_auth(&admin_token)
        .json(&json!({ "role": "admin", "resources": ["trackers"], "actions": ["read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let as_key = |method: Method, path: &str, body: Value| {
        app.client.request(method, app.url(path)).bearer_auth(&key).json(&body).send()
    };
    assert_eq!(as_key(Method::GET, "/api/v1/trackers?limit=1", Value::Null).await.unwrap().status(), 200);
    assert_error(
        as_key(Method::GET, "/api/v1/users?limit=1", Value::Null).await.unwrap(),
        403,
        "forbidden",
        "read users",
    )
    .await;
    let response = as_key(Method::PATCH, "/api/v1/trackers/1", json!({"priority": 1})).await.unwrap();
    assert_error(response, 403, "forbidden", "update trackers").await;
    // Embedded rows of a resource the key may not read are left out, not leaked.
    let embedded: Value = as_key(Method::GET, "/api/v1/trackers?select=id,tracker_comments(id)&limit=5", Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(embedded.as_array().unwrap().iter().all(|tracker| tracker["tracker_comments"] == json!([])), "{embedded}");

    // The editor role may create comments but not items, and update only its own comments:
    // an upsert merging another's comment fails whole.
    let editor = log_in(&app, "editor1").await;
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let response = app
        .client
        .post(app.url("/api/v1/reporting_effort_items"))
        .bearer_auth(&editor)
        .json(&json!({"reporting_effort_id": 1, "item_type": "TLF", "item_code": "X-1", "title": "t"}))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden", "create reporting_effort_items").await;
    // Someone else's comment, merged by key: the editor may update only their own.
    let foreign = app.integers("SELECT id FROM tracker_comments WHERE user_id <> 2 ORDER BY id LIMIT 1").await[0];
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .bearer_auth(&editor)
        .header("prefer", "resolution=merge-duplicates")
        .json(&json!([{"id": foreign, "tracker_id": 1, "body": "taken over"}]))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "row_forbidden", "").await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments WHERE body = 'taken over'").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before);
}

on_both_engines!(
    anonymous_callers_read_what_the_anonymous_role_allows,
    the_password_hash_is_never_served,
    keys_nested_rows_and_upserts_are_held_to_every_rule,
);
