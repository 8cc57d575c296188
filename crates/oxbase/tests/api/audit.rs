//! The audit trail: one batch per committed write request, its records' before and after
//! values compared with the rows themselves, nothing for a write that did not commit.

use reqwest::Method;
use serde_json::{Value, json};

use oxbase_schema::model::Action;
use oxbase_server::config::CursorSecret;

use crate::identity::{PASSWORD, SECRET, account, login};
use crate::on_both_engines;
use crate::support::{Engine, TestApp, oxbase_binary, pearl_schema_path};

/// Runs a statement on the app's database directly, as another program would.
async fn execute(app: &TestApp, sql: &str) {
    let sql = sql.to_owned();
    match app.postgres_url() {
        None => {
            let path = app.database_path.clone();
            tokio::task::spawn_blocking(move || rusqlite::Connection::open(path).unwrap().execute_batch(&sql).unwrap())
                .await
                .unwrap();
        }
        Some(url) => tokio::task::spawn_blocking(move || {
            let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap_or_else(|error| panic!("{sql}: {error:?}"));
        })
        .await
        .unwrap(),
    }
}

/// `oxbase audit verify` on the app's database: its exit code and output.
async fn verify_command(app: &TestApp) -> (i32, String) {
    let database = app.postgres_url().unwrap_or_else(|| format!("sqlite://{}", app.database_path.display()));
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(oxbase_binary())
            .args(["audit", "verify", "--schema", pearl_schema_path().to_str().unwrap(), "--database", &database])
            .env_remove("OXBASE_DATABASE")
            .env_remove("OXBASE_SCHEMA")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

/// Where the store's verification finds the first break: (batch, reason), if anywhere.
async fn first_break(app: &TestApp) -> Option<(i64, String)> {
    let verification = app.app.store.audit_verify().await.unwrap();
    verification.broken.map(|broken| (broken.batch, broken.reason))
}

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

/// Every batch is chained to the one before; editing a record or a batch, removing a
/// record, the newest batch or one in the middle is found by `verify`, naming the batch.
async fn audit_verify_finds_an_edited_or_deleted_audit_row(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let comment = |body: &str| json!({"tracker_id": 1, "user_id": 1, "body": body});
    for body in [json!(comment("one")), json!([comment("two a"), comment("two b"), comment("two c")]), comment("three")]
    {
        let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &body, None).await;
        assert_eq!(response.status(), 201);
    }
    let chain = app.rows("SELECT id, prev_hash, hash FROM _oxbase_audit_batches ORDER BY id").await;
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[1][1], chain[0][2], "each batch names the previous one's hash");
    assert_eq!(chain[2][1], chain[1][2]);
    assert_eq!(first_break(&app).await, None);
    let (code, output) = verify_command(&app).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("audit chain intact: batches 1 to 3 (3 batches, 5 records)"), "{output}");

    // An edited record.
    let original = app.scalar("SELECT changes FROM _oxbase_audit_records WHERE batch_id = 1").await;
    let forged = original.as_str().unwrap().replace("one", "forged");
    execute(&app, &format!("UPDATE _oxbase_audit_records SET changes = '{forged}' WHERE batch_id = 1")).await;
    let (batch, reason) = first_break(&app).await.expect("an edited record breaks the chain");
    assert_eq!(batch, 1);
    assert!(reason.contains("edited"), "{reason}");
    let (code, output) = verify_command(&app).await;
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("audit chain broken at batch 1"), "{output}");
    execute(
        &app,
        &format!("UPDATE _oxbase_audit_records SET changes = '{}' WHERE batch_id = 1", original.as_str().unwrap()),
    )
    .await;
    assert_eq!(first_break(&app).await, None);

    // An edited batch: another actor.
    execute(&app, "UPDATE _oxbase_audit_batches SET actor_id = '42' WHERE id = 2").await;
    assert_eq!(first_break(&app).await.map(|(batch, _)| batch), Some(2));
    execute(&app, "UPDATE _oxbase_audit_batches SET actor_id = NULL WHERE id = 2").await;
    assert_eq!(first_break(&app).await, None);

    // A record removed from a batch.
    let removed =
        app.rows("SELECT record_id, changes FROM _oxbase_audit_records WHERE batch_id = 2 AND position = 1").await;
    execute(&app, "DELETE FROM _oxbase_audit_records WHERE batch_id = 2 AND position = 1").await;
    let (batch, reason) = first_break(&app).await.expect("a removed record breaks the chain");
    assert_eq!(batch, 2, "{reason}");
    execute(
        &app,
        &format!(
            "INSERT INTO _oxbase_audit_records (batch_id, position, resource, record_id, action, changes) VALUES (2, 1, 'tracker_comments', '{}', 'insert', '{}')",
            removed[0][0].as_str().unwrap(),
            removed[0][1].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(first_break(&app).await, None);

    // The newest batch deleted: the chain's head still names it.
    execute(
        &app,
        "DELETE FROM _oxbase_audit_records WHERE batch_id = 3; DELETE FROM _oxbase_audit_batches WHERE id = 3",
    )
    .await;
    let (batch, reason) = first_break(&app).await.expect("a deleted newest batch shows");
    assert_eq!(batch, 3, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    let (code, _) = verify_command(&app).await;
    assert_eq!(code, 2);

    // Writing on: the next batch chains to the deleted one, so the hole stays visible.
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &comment("four"), None).await;
    assert_eq!(response.status(), 201);
    let (batch, reason) = first_break(&app).await.expect("a batch deleted in the middle shows");
    assert_eq!(batch, 4);
    assert_eq!(reason, "batches 3 to 3 are missing");
}

/// Concurrent writers each append their batch in turn: the chain has no gaps or forks.
async fn audit_concurrent_writes_chain_in_turn(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut writes = tokio::task::JoinSet::new();
    for index in 0..24 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/tracker_comments"));
        writes.spawn(async move {
            let body = json!({"tracker_id": 1 + index % 3, "user_id": 1, "body": format!("concurrent {index}")});
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let statuses = writes.join_all().await;
    assert!(statuses.iter().all(|status| *status == 201), "{statuses:?}");
    assert_eq!(app.integers("SELECT id FROM _oxbase_audit_batches ORDER BY id").await, (1..=24).collect::<Vec<i64>>());
    let verification = app.app.store.audit_verify().await.unwrap();
    assert_eq!((verification.batches, verification.records, verification.broken), (24, 24, None));
}

/// A token of the role `role` for user `user_id`, signed with the suite's secret.
fn token_for(role: &str, user_id: i64) -> String {
    use oxbase_access::identity::token::unix_now;
    let claims = json!({
        "sub": user_id.to_string(), "role": role, "iss": "oxbase", "aud": "oxbase",
        "iat": unix_now(), "exp": unix_now() + 300,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// Pearl's roles plus `commenter`: reads only its own comments, and never their body.
async fn with_commenters(engine: Engine) -> TestApp {
    with_roles(engine, |schema| {
        let mut own = schema.roles["viewer"].permissions[0].clone();
        own.resource = Some("tracker_comments".into());
        own.filter = Some(oxbase_schema::predicate::Predicate::parse("user_id = $user.id").unwrap());
        own.hidden = vec!["body".into()];
        schema.roles.insert(
            "commenter".into(),
            oxbase_schema::model::Role { name: "commenter".into(), description: None, permissions: vec![own] },
        );
    })
    .await
}

async fn get_as(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap()
}

/// A row's history goes to callers whose role may read the row, with the values of fields
/// it may not read withheld; to anyone else the row is not found.
async fn audit_history_is_for_callers_who_may_read_the_row(engine: Engine) {
    let app = with_commenters(engine).await;
    let (admin, _) = token_of(&app, "admin").await;
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .bearer_auth(&admin)
        .header("prefer", "return=representation")
        .json(&json!({"tracker_id": 1, "user_id": 2, "body": "secret words"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap();
    let response = app
        .client
        .patch(app.url(&format!("/api/v1/tracker_comments/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"body": "other words", "is_resolved": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let path = format!("/api/v1/tracker_comments/{id}/history");

    // The comment's author, as a commenter: the history, bodies withheld.
    let response = get_as(&app, &path, &token_for("commenter", 2)).await;
    assert_eq!(response.status(), 200);
    let history: Vec<Value> = response.json().await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["action"], "insert");
    assert_eq!(history[0]["changes"]["body"], Value::Null);
    assert_eq!(history[0]["changes"]["user_id"], json!([null, 2]));
    assert_eq!(history[1]["action"], "update");
    assert_eq!(history[1]["changes"], json!({"body": null, "is_resolved": [false, true]}));
    assert_eq!(history[1]["actor"]["role"], "admin");
    assert!(!format!("{history:?}").contains("words"), "{history:?}");

    // A viewer reads every comment and its body.
    let viewer: Vec<Value> = get_as(&app, &path, &token_for("viewer", 3)).await.json().await.unwrap();
    assert_eq!(viewer[1]["changes"]["body"], json!(["secret words", "other words"]));

    // Another commenter may not read the row: not found, like a row that does not exist.
    let hidden = get_as(&app, &path, &token_for("commenter", 3)).await;
    assert_eq!(hidden.status(), 404);
    let hidden: Value = hidden.json().await.unwrap();
    let missing = get_as(&app, "/api/v1/tracker_comments/99999999/history", &token_for("commenter", 3)).await;
    assert_eq!(missing.status(), 404);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(hidden["code"], missing["code"]);

    // Paging, and bad parameters are 400s.
    let first = get_as(&app, &format!("{path}?limit=1"), &token_for("viewer", 3)).await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let batch = first.json::<Vec<Value>>().await.unwrap()[0]["batch"].as_i64().unwrap();
    assert_eq!(link, format!("<{path}?limit=1&after={batch}>; rel=\"next\""));
    let rest: Vec<Value> =
        get_as(&app, &format!("{path}?limit=1&after={batch}"), &token_for("viewer", 3)).await.json().await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["action"], "update");
    assert_eq!(get_as(&app, &format!("{path}?select=id"), &admin).await.status(), 400);
    assert_eq!(get_as(&app, &format!("{path}?limit=0"), &admin).await.status(), 400);
    assert_eq!(get_as(&app, "/api/v1/tracker_comments/abc/history", &admin).await.status(), 400);
}

/// `/admin/audit`: the admin role's, filtered by actor, resource, record and time, in
/// keyset pages.
async fn audit_admin_endpoint_filters_and_pages(engine: Engine) {
    let app = with_commenters(engine).await;
    let (admin, admin_id) = token_of(&app, "admin").await;
    let (editor, editor_id) = token_of(&app, "editor").await;
    let started = oxbase_server::service::write::now();
    for (token, body) in [(&admin, "a1"), (&editor, "e1"), (&admin, "a2"), (&editor, "e2")] {
        // (An editor's comments are theirs by preset.)
        let mut row = json!({"tracker_id": 1, "body": body});
        if *token == admin {
            row["user_id"] = json!(editor_id);
        }
        let response =
            app.client.post(app.url("/api/v1/tracker_comments")).bearer_auth(token).json(&row).send().await.unwrap();
        assert_eq!(response.status(), 201);
    }
    let all: Vec<Value> = get_as(&app, "/admin/audit", &admin).await.json().await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0]["records"][0]["changes"]["body"], json!([null, "a1"]));
    assert_eq!(all[1]["actor"], json!({"user_id": editor_id.to_string(), "role": "editor", "api_key": null}));
    let by_admin: Vec<Value> =
        get_as(&app, &format!("/admin/audit?actor={admin_id}"), &admin).await.json().await.unwrap();
    assert_eq!(by_admin.iter().map(|batch| batch["id"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 3]);
    let record = all[2]["records"][0]["record_id"].as_str().unwrap().to_owned();
    let by_record: Vec<Value> =
        get_as(&app, &format!("/admin/audit?resource=tracker_comments&record_id={record}"), &admin)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(by_record.len(), 1);
    assert_eq!(by_record[0]["id"], 3);
    let none: Vec<Value> = get_as(&app, "/admin/audit?resource=users", &admin).await.json().await.unwrap();
    assert!(none.is_empty());
    let since: Vec<Value> = get_as(&app, &format!("/admin/audit?since={started}"), &admin).await.json().await.unwrap();
    assert_eq!(since.len(), 4);
    let until: Vec<Value> = get_as(&app, &format!("/admin/audit?until={started}"), &admin).await.json().await.unwrap();
    assert!(until.is_empty(), "{until:?}");
    // Keyset pages.
    let page = get_as(&app, "/admin/audit?limit=3", &admin).await;
    assert_eq!(page.headers()["link"], "</admin/audit?limit=3&after=3>; rel=\"next\"");
    let last: Vec<Value> = get_as(&app, "/admin/audit?limit=3&after=3", &admin).await.json().await.unwrap();
    assert_eq!(last.iter().map(|batch| batch["id"].as_i64().unwrap()).collect::<Vec<_>>(), [4]);
    // Bad filters are 400s; other roles may not read the trail.
    for bad in ["since=yesterday", "limit=5000", "after=-1", "colour=red"] {
        let response = get_as(&app, &format!("/admin/audit?{bad}"), &admin).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["code"].is_string() && body["hint"].is_string(), "{body}");
    }
    assert_eq!(get_as(&app, "/admin/audit", &editor).await.status(), 403);
    assert_eq!(app.client.get(app.url("/admin/audit")).send().await.unwrap().status(), 401);
}

/// Retention deletes the batches older than the cutoff and nothing newer, oldest first,
/// in chunks; what remains still verifies, and tampering with it still shows.
async fn audit_retention_deletes_only_what_is_due(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let write = async |body: &str| {
        let row = json!({"tracker_id": 1, "user_id": 1, "body": body});
        assert_eq!(app.send_json(Method::POST, "/api/v1/tracker_comments", &row, None).await.status(), 201);
    };
    write("old 1").await;
    write("old 2").await;
    write("old 3").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = oxbase_store::audit::now_millis();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    write("new 4").await;
    write("new 5").await;
    // One chunk of one batch: only the oldest goes.
    assert_eq!(app.app.store.audit_prune(cutoff, 1).await.unwrap(), 1);
    assert_eq!(app.integers("SELECT id FROM _oxbase_audit_batches ORDER BY id").await, [2, 3, 4, 5]);
    assert_eq!(app.count("SELECT count(*) FROM _oxbase_audit_records WHERE batch_id = 1").await, 0);
    // The rest of what is due, and nothing newer.
    assert_eq!(oxbase_server::service::audit::prune_before(&app.app, cutoff).await.unwrap(), 2);
    assert_eq!(app.integers("SELECT id FROM _oxbase_audit_batches ORDER BY id").await, [4, 5]);
    assert_eq!(app.integers("SELECT batch_id FROM _oxbase_audit_records ORDER BY batch_id").await, [4, 5]);
    assert_eq!(oxbase_server::service::audit::prune_before(&app.app, cutoff).await.unwrap(), 0);
    let verification = app.app.store.audit_verify().await.unwrap();
    assert_eq!((verification.first, verification.last, verification.broken), (Some(4), Some(5), None));
    let (code, output) = verify_command(&app).await;
    assert_eq!(code, 0, "{output}");
    // The oldest remaining batch deleted by hand is not mistaken for retention.
    execute(
        &app,
        "DELETE FROM _oxbase_audit_records WHERE batch_id = 4; DELETE FROM _oxbase_audit_batches WHERE id = 4",
    )
    .await;
    assert_eq!(first_break(&app).await.map(|(batch, _)| batch), Some(5));
}

/// `[audit] retention_days` runs in the background: batches past it go, a new one stays.
async fn audit_retention_runs_in_the_background(engine: Engine) {
    let app = TestApp::spawn_on_with(engine, |config| {
        config.audit_retention = Some(std::time::Duration::from_millis(1500));
        config.audit_retention_interval = std::time::Duration::from_millis(50);
    })
    .await;
    let row = json!({"tracker_id": 1, "user_id": 1, "body": "short-lived"});
    assert_eq!(app.send_json(Method::POST, "/api/v1/tracker_comments", &row, None).await.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM _oxbase_audit_batches").await, 1, "not due yet");
    let started = std::time::Instant::now();
    while app.count("SELECT count(*) FROM _oxbase_audit_batches").await > 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the retention task deleted nothing");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM _oxbase_audit_records").await, 0);
    assert_eq!(app.app.store.audit_verify().await.unwrap().broken, None);
}

on_both_engines!(
    audit_retention_deletes_only_what_is_due,
    audit_retention_runs_in_the_background,
    audit_history_is_for_callers_who_may_read_the_row,
    audit_admin_endpoint_filters_and_pages,
    audit_concurrent_writes_chain_in_turn,
    audit_verify_finds_an_edited_or_deleted_audit_row,
    audit_records_the_actor_and_masks_and_excludes_fields,
    audit_records_before_and_after_values_of_each_write,
    audit_a_bulk_write_is_one_batch,
    audit_rows_exist_only_for_committed_writes,
);

/// On PostgreSQL, writes made directly in the database are audited by oxbase's triggers
/// (actor `external`, the database role), chained with oxbase's own batches.
#[tokio::test]
async fn audit_external_writes_on_postgres_are_recorded_and_chained() {
    let app = TestApp::spawn_on(Engine::Postgres).await;
    let row = json!({"tracker_id": 1, "user_id": 1, "body": "through the API"});
    assert_eq!(app.send_json(Method::POST, "/api/v1/tracker_comments", &row, None).await.status(), 201);
    execute(
        &app,
        "SET application_name = 'psql-test'; INSERT INTO tracker_comments (tracker_id, user_id, body, created_at) VALUES (1, 1, 'by hand ''quoted'' \"x\"', now()), (2, 1, 'second', now())",
    )
    .await;
    let ids =
        app.integers("SELECT id FROM tracker_comments WHERE body = 'second' OR body LIKE 'by hand%' ORDER BY id").await;
    execute(
        &app,
        &format!("UPDATE tracker_comments SET body = 'edited by hand', is_resolved = true WHERE id = {}", ids[0]),
    )
    .await;
    execute(&app, &format!("DELETE FROM tracker_comments WHERE id = {}", ids[1])).await;
    execute(&app, "UPDATE tracker_comments SET body = 'nothing' WHERE id = -1").await;
    let batches =
        app.rows("SELECT id, actor_id, role, api_key, action, resource, row_count, user_agent FROM _oxbase_audit_batches ORDER BY id").await;
    assert_eq!(batches.len(), 4, "{batches:?}");
    assert_eq!(batches[1][3], "external");
    assert_eq!(batches[1][2], "postgres", "the database role");
    assert_eq!(batches[1][1], Value::Null);
    assert_eq!((batches[1][4].as_str(), batches[1][6].as_i64()), (Some("insert"), Some(2)));
    assert_eq!(batches[1][7], "psql-test");
    assert_eq!(batches[2][4], "update");
    assert_eq!(batches[3][4], "delete");
    let inserted = records(&app, 2).await;
    assert_eq!(inserted[0].1, ids[0].to_string());
    assert_eq!(inserted[0].3["body"], json!([null, "by hand 'quoted' \"x\""]));
    let updated = records(&app, 3).await;
    assert_eq!(updated[0].3["body"], json!(["by hand 'quoted' \"x\"", "edited by hand"]));
    assert_eq!(updated[0].3["is_resolved"], json!([false, true]));
    assert!(updated[0].3.get("user_id").is_none(), "{:?}", updated[0].3);
    let deleted = records(&app, 4).await;
    assert_eq!(deleted[0].3["body"], json!(["second", null]));
    // oxbase's own writes are not recorded twice, and the chain holds across both kinds.
    let row = json!({"tracker_id": 1, "user_id": 1, "body": "API again"});
    assert_eq!(app.send_json(Method::POST, "/api/v1/tracker_comments", &row, None).await.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM _oxbase_audit_batches").await, 5);
    let verification = app.app.store.audit_verify().await.unwrap();
    assert_eq!((verification.batches, verification.broken), (5, None));
    // An edited external batch is found like any other.
    execute(&app, "UPDATE _oxbase_audit_records SET changes = replace(changes, 'second', 'third') WHERE batch_id = 4")
        .await;
    assert_eq!(first_break(&app).await.map(|(batch, _)| batch), Some(4));
}
