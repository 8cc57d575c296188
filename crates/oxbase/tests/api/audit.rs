//! The audit trail: one batch per committed write request, its records' before and after
//! values compared with the rows themselves, nothing for a write that did not commit.

use reqwest::Method;
use serde_json::{Value, json};

use oxbase_schema::model::Action;
use oxbase_server::config::CursorSecret;

use crate::identity::{PASSWORD, SECRET, account, login};
use crate::on_both_engines;
use crate::support::{Engine, TestApp};

/// The pearl server with its roles and accounts, admin endpoints on, `adjust_schema`
/// applied.
async fn with_roles(engine: Engine, adjust_schema: impl FnOnce(&mut oxbase_schema::Schema)) -> TestApp {
    TestApp::spawn_with_roles(
        engine,
        |config| {
            config.admin_enabled = true;
            config.auth.jwt_secret = Some(CursorSecret::new(SECRET).unwrap());
        },
        adjust_schema,
    )
    .await
}

/// Logs in as the first account of `role`: its access token and user id.
async fn token_of(app: &TestApp, role: &str) -> (String, i64) {
    let (username, id) = account(app, role).await;
    (login(app, &username, PASSWORD).await["access_token"].as_str().unwrap().to_owned(), id)
}

/// Every batch row as JSON: id, actor, role, action, resource, row count.
async fn batches(app: &TestApp) -> Vec<Vec<Value>> {
    app.rows(
        "SELECT id, actor_id, role, action, resource, row_count, request_id FROM _oxbase_audit_batches ORDER BY id",
    )
    .await
}

/// Every record of a batch: resource, record id, action, changes (parsed).
async fn records(app: &TestApp, batch: i64) -> Vec<(String, String, String, Value)> {
    app.rows(&format!(
        "SELECT resource, record_id, action, changes FROM _oxbase_audit_records WHERE batch_id = {batch} ORDER BY position"
    ))
    .await
    .into_iter()
    .map(|row| {
        (
            row[0].as_str().unwrap().to_owned(),
            row[1].as_str().unwrap().to_owned(),
            row[2].as_str().unwrap().to_owned(),
            serde_json::from_str(row[3].as_str().unwrap()).unwrap(),
        )
    })
    .collect()
}

async fn audit_rows(app: &TestApp) -> (i64, i64) {
    (
        app.count("SELECT count(*) FROM _oxbase_audit_batches").await,
        app.count("SELECT count(*) FROM _oxbase_audit_records").await,
    )
}

/// A create, an update and a delete each leave one batch whose record holds the values as
/// the row had them: after for the insert, changed fields before and after for the
/// update, every field before for the delete.
async fn audit_records_before_and_after_values_of_each_write(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    assert_eq!(audit_rows(&app).await, (0, 0), "seeding is not audited");
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .header("prefer", "return=representation")
        .header("user-agent", "audit-test/1")
        .header("x-request-id", "req-create-1")
        .json(&json!({"tracker_id": 1, "user_id": 2, "body": "first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created[0]["id"].as_i64().unwrap();
    let batch = batches(&app).await;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0][3], "insert");
    assert_eq!(batch[0][4], "tracker_comments");
    assert_eq!(batch[0][5], 1);
    assert_eq!(batch[0][6], "req-create-1");
    let agent = app.scalar("SELECT user_agent FROM _oxbase_audit_batches").await;
    assert_eq!(agent, "audit-test/1");
    let ip = app.scalar("SELECT client_ip FROM _oxbase_audit_batches").await;
    assert_eq!(ip, "127.0.0.1");
    let inserted = records(&app, batch[0][0].as_i64().unwrap()).await;
    assert_eq!(inserted.len(), 1);
    assert_eq!(
        (inserted[0].0.as_str(), inserted[0].1.clone(), inserted[0].2.as_str()),
        ("tracker_comments", id.to_string(), "insert")
    );
    assert_eq!(inserted[0].3["body"], json!([null, "first"]));
    assert_eq!(inserted[0].3["tracker_id"], json!([null, 1]));
    assert_eq!(inserted[0].3["user_id"], json!([null, 2]));

    // An update records only what changed, before and after.
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/tracker_comments/{id}"),
            &json!({"body": "second", "user_id": 2, "is_resolved": true}),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    let batch = batches(&app).await;
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[1][3], "update");
    let updated = records(&app, batch[1][0].as_i64().unwrap()).await;
    assert_eq!(updated.len(), 1);
    let changes = updated[0].3.as_object().unwrap();
    assert_eq!(changes.get("body"), Some(&json!(["first", "second"])));
    assert_eq!(changes.get("is_resolved"), Some(&json!([false, true])));
    assert!(!changes.contains_key("user_id"), "unchanged fields are not recorded: {changes:?}");

    // A delete records the row as it was.
    let row = app.get_json(&format!("/api/v1/tracker_comments/{id}"), 200).await;
    let response = app.send_json(Method::DELETE, &format!("/api/v1/tracker_comments/{id}"), &Value::Null, None).await;
    assert_eq!(response.status(), 204);
    let batch = batches(&app).await;
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[2][3], "delete");
    let deleted = records(&app, batch[2][0].as_i64().unwrap()).await;
    assert_eq!(deleted.len(), 1);
    for (field, value) in row.as_object().unwrap() {
        if field == "id" {
            continue;
        }
        assert_eq!(deleted[0].3[field], json!([value, null]), "{field}: {:?}", deleted[0].3);
    }
}

/// A bulk create is one batch whose records are the rows in order; a bulk update by keys
/// is one batch too.
async fn audit_a_bulk_write_is_one_batch(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows: Vec<Value> =
        (0..250).map(|index| json!({"tracker_id": 1, "user_id": 1, "body": format!("bulk {index}")})).collect();
    let response = app
        .send_json(Method::POST, "/api/v1/tracker_comments", &Value::Array(rows), Some("return=representation"))
        .await;
    assert_eq!(response.status(), 201);
    let created: Vec<Value> = response.json().await.unwrap();
    let batch = batches(&app).await;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0][5], 250);
    let inserted = records(&app, batch[0][0].as_i64().unwrap()).await;
    assert_eq!(inserted.len(), 250);
    for (record, row) in inserted.iter().zip(&created) {
        assert_eq!(record.1, row["id"].as_i64().unwrap().to_string());
        assert_eq!(record.3["body"][1], row["body"]);
    }
    let updates: Vec<Value> = created
        .iter()
        .take(30)
        .map(|row| json!({"id": row["id"], "body": format!("{} edited", row["body"].as_str().unwrap())}))
        .collect();
    let response = app.send_json(Method::PATCH, "/api/v1/tracker_comments", &Value::Array(updates), None).await;
    assert_eq!(response.status(), 204);
    let batch = batches(&app).await;
    assert_eq!(batch.len(), 2);
    let updated = records(&app, batch[1][0].as_i64().unwrap()).await;
    assert_eq!(updated.len(), 30);
    assert_eq!(
        updated[0].3["body"],
        json!([created[0]["body"], format!("{} edited", created[0]["body"].as_str().unwrap())])
    );
}

/// Audit rows exist only for writes that committed: a bulk write failing on its last row,
/// a write rolled back on purpose (`Prefer: tx=rollback`) and a refused write leave none.
async fn audit_rows_exist_only_for_committed_writes(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut rows: Vec<Value> =
        (0..40).map(|index| json!({"tracker_id": 1, "user_id": 1, "body": format!("doomed {index}")})).collect();
    rows.push(json!({"tracker_id": 999_999, "user_id": 1, "body": "no such tracker"}));
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &Value::Array(rows), None).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(audit_rows(&app).await, (0, 0));
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!({"tracker_id": 1, "user_id": 1, "body": "tried"}),
            Some("tx=rollback, return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(audit_rows(&app).await, (0, 0));
    // A write that changes nothing records nothing.
    let response =
        app.send_json(Method::PATCH, "/api/v1/tracker_comments?id=eq.999999", &json!({"body": "x"}), None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(audit_rows(&app).await, (0, 0));
    // And a write that commits, does.
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!({"tracker_id": 1, "user_id": 1, "body": "kept"}),
            None,
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(audit_rows(&app).await, (1, 1));
}

/// The writer's identity is recorded; a field the writer's role may not read is recorded
/// as changed without its values; an excluded field not at all; a resource with
/// `audit = false` leaves no batch.
async fn audit_records_the_actor_and_masks_and_excludes_fields(engine: Engine) {
    let app = with_roles(engine, |schema| {
        // Editors may not read a comment's type (they still write it, by its default).
        let editor = schema.roles.get_mut("editor").unwrap();
        for permission in &mut editor.permissions {
            if permission.resource.is_none() && permission.actions.contains(&Action::Read) {
                permission.hidden.push("comment_type".into());
            }
        }
        schema.resources.get_mut("tracker_comments").unwrap().audit_exclude.push("resolved_at".into());
        schema.resources.get_mut("text_elements").unwrap().audit = false;
    })
    .await;
    let (editor, editor_id) = token_of(&app, "editor").await;
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .bearer_auth(&editor)
        .json(&json!({"tracker_id": 1, "body": "by an editor", "resolved_at": "2026-01-02T03:04:05Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let batch = app.rows("SELECT id, actor_id, role, api_key FROM _oxbase_audit_batches").await;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0][1], editor_id.to_string());
    assert_eq!(batch[0][2], "editor");
    assert_eq!(batch[0][3], Value::Null);
    let recorded = records(&app, batch[0][0].as_i64().unwrap()).await;
    let changes = recorded[0].3.as_object().unwrap();
    assert_eq!(changes["body"], json!([null, "by an editor"]));
    assert_eq!(changes["user_id"], json!([null, editor_id]), "the preset is recorded as written");
    assert_eq!(changes.get("comment_type"), Some(&Value::Null), "masked: changed, no values: {changes:?}");
    assert!(!changes.contains_key("resolved_at"), "excluded: {changes:?}");

    // The admin's writes to users never record the password hash, even when set.
    let (admin, _) = token_of(&app, "admin").await;
    let response = app
        .client
        .patch(app.url("/api/v1/users/2"))
        .bearer_auth(&admin)
        .json(&json!({"email": "changed@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let text = app.rows("SELECT changes FROM _oxbase_audit_records WHERE resource = 'users'").await;
    assert_eq!(text.len(), 1);
    assert!(text[0][0].as_str().unwrap().contains("changed@example.com"));
    // A new account, its password set (outside the API), then deleted: its hash is
    // nowhere in the trail.
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .header("prefer", "return=representation")
        .json(&json!({"username": "leaving", "email": "leaving@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let leaving = response.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap();
    assert!(oxbase_server::service::identity::set_password(&app.app, "leaving", PASSWORD).await.unwrap());
    let response =
        app.client.delete(app.url(&format!("/api/v1/users/{leaving}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let deleted = app
        .rows(&format!("SELECT changes FROM _oxbase_audit_records WHERE resource = 'users' AND record_id = '{leaving}' AND action = 'delete'"))
        .await;
    let deleted: Value = serde_json::from_str(deleted[0][0].as_str().unwrap()).unwrap();
    assert_eq!(deleted["email"], json!(["leaving@example.com", null]));
    assert!(deleted.get("password_hash").is_none(), "{deleted}");
    let everything = app.rows("SELECT changes FROM _oxbase_audit_records").await;
    assert!(!format!("{everything:?}").contains("argon2"), "no hash anywhere: {everything:?}");

    // audit = false: nothing recorded.
    let before = app.count("SELECT count(*) FROM _oxbase_audit_batches").await;
    let response = app
        .client
        .post(app.url("/api/v1/text_elements"))
        .bearer_auth(&admin)
        .json(&json!({"type": "title", "label": "unaudited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM _oxbase_audit_batches").await, before);
}

on_both_engines!(
    audit_records_the_actor_and_masks_and_excludes_fields,
    audit_records_before_and_after_values_of_each_write,
    audit_a_bulk_write_is_one_batch,
    audit_rows_exist_only_for_committed_writes,
);
