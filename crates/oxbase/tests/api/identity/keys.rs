//! API keys: created by an admin (endpoint and CLI), scoped, revoked, expired, last use
//! recorded.

use serde_json::{Value, json};

use super::{PASSWORD, account, assert_unauthorized, eventually, get_as, login, spawn};
use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(api_keys_are_created_used_listed_and_revoked, expired_and_forged_keys_are_refused);

async fn create_key(app: &TestApp, admin_token: &str, request: Value) -> reqwest::Response {
    app.client.post(app.url("/admin/keys")).bearer_auth(admin_token).json(&request).send().await.unwrap()
}

async fn api_keys_are_created_used_listed_and_revoked(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (admin, _) = account(&app, "admin").await;
    let admin_token = login(&app, &admin, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let response = create_key(&app, &admin_token, json!({ "role": "admin", "name": "ops" })).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let (id, key) = (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned());
    assert!(key.starts_with(&format!("oxk_{id}_")), "{created}");
    assert_eq!((created["name"].clone(), created["role"].clone()), (json!("ops"), json!("admin")));
    assert!(created.get("key_hash").is_none(), "{created}");
    // The key works as its role, and its use is recorded.
    assert_eq!(get_as(&app, "/admin/counters", &key).await.status(), 200);
    let last_used = format!("SELECT count(*) FROM _oxbase_api_keys WHERE id = '{id}' AND last_used_at IS NOT NULL");
    eventually(async || app.count(&last_used).await == 1).await;
    let caller = oxbase_server::service::identity::authenticate(&app.app, &key).await.unwrap();
    assert_eq!((caller.role.as_deref(), caller.user_id, caller.key.unwrap().id), (Some("admin"), None, id.clone()));
    // A scoped key carries its scope, and is not enough for the admin endpoints.
    let response = create_key(
        &app,
        &admin_token,
        json!({ "role": "viewer", "resources": ["trackers"], "actions": ["read"], "expires": "1h" }),
    )
    .await;
    let scoped: Value = response.json().await.unwrap();
    let scoped_key = scoped["key"].as_str().unwrap();
    let caller = oxbase_server::service::identity::authenticate(&app.app, scoped_key).await.unwrap();
    let scope = caller.key.unwrap();
    assert_eq!(scope.resources, Some(vec!["trackers".to_owned()]));
    assert_eq!(scope.actions, Some(vec![oxbase_schema::model::Action::Read]));
    assert_error(get_as(&app, "/admin/counters", scoped_key).await, 403, "forbidden", "admin").await;
    // Listed without the keys or their digests.
    let listed = get_as(&app, "/admin/keys", &admin_token).await.text().await.unwrap();
    assert!(listed.contains(&id) && !listed.contains(&key) && !listed.contains("key_hash"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|key| key["id"] == scoped["id"] && key["expires_at"].is_number()), "{listed:?}");
    // Bad requests name what is wrong.
    for (request, needle) in [
        (json!({ "role": "superuser" }), "no role 'superuser'"),
        (json!({ "role": "viewer", "resources": ["nothing"] }), "no resource 'nothing'"),
        (json!({ "role": "viewer", "actions": ["drop"] }), "'drop' is not an action"),
        (json!({ "role": "viewer", "expires": "soon" }), "'soon' is not a duration"),
        (json!({ "role": "viewer", "colour": "red" }), "unknown field"),
    ] {
        assert_error(create_key(&app, &admin_token, request).await, 422, "validation_failed", needle).await;
    }
    // Revoked: refused at once.
    let response = app.client.delete(app.url(&format!("/admin/keys/{id}"))).bearer_auth(&admin_token).send().await;
    assert_eq!(response.unwrap().status(), 204);
    assert_unauthorized(get_as(&app, "/admin/counters", &key).await, "key_revoked").await;
    let response = app.client.delete(app.url("/admin/keys/0000000000000000")).bearer_auth(&admin_token).send().await;
    assert_error(response.unwrap(), 404, "not_found", "no API key").await;
    // Only admins manage keys.
    let response = create_key(&app, scoped_key, json!({ "role": "admin" })).await;
    assert_eq!(response.status(), 403);
    assert_unauthorized(super::anonymous(&app, "/admin/keys").await, "authentication_required").await;
}

async fn expired_and_forged_keys_are_refused(engine: Engine) {
    let app = spawn(engine, |_| {}).await;
    let (admin, _) = account(&app, "admin").await;
    let admin_token = login(&app, &admin, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    // A key that lives three seconds works at once and is refused once they are over,
    // though this instance keeps it in memory.
    let created: Value =
        create_key(&app, &admin_token, json!({ "role": "admin", "expires": "3" })).await.json().await.unwrap();
    let (id, key) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    assert_eq!(get_as(&app, "/admin/counters", key).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let body = assert_unauthorized(get_as(&app, "/admin/counters", key).await, "key_expired").await;
    assert_eq!(body["details"]["id"], id);
    // Expired in the database (here by hand) is refused as soon as the key is read again.
    let created: Value = create_key(&app, &admin_token, json!({ "role": "admin" })).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    app.rows(&format!("UPDATE _oxbase_api_keys SET expires_at = 1 WHERE id = '{id}'")).await;
    let response = get_as(&app, "/admin/counters", created["key"].as_str().unwrap()).await;
    assert_unauthorized(response, "key_expired").await;
    // The right id with another secret, and a made-up id.
    let forged = format!("{}AAAAAAAAAA", &key[..key.len() - 10]);
    let body = assert_unauthorized(get_as(&app, "/admin/counters", &forged).await, "key_invalid").await;
    assert!(!body.to_string().contains(&forged[25..]), "{body}");
    let made_up = format!("oxk_0123456789abcdef_{}", "A".repeat(43));
    assert_unauthorized(get_as(&app, "/admin/counters", &made_up).await, "key_invalid").await;
    assert_unauthorized(get_as(&app, "/admin/counters", "oxk_short").await, "key_invalid").await;
}
