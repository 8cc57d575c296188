//! Writes: validation before anything is written, one transaction per request, conflicts
//! named by field, upserts, bulk and nested writes, and one change event per request.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(
    prefer_count_on_a_write_says_how_many_rows_it_changed,
    create_one_row_with_location_and_representation,
    a_bulk_insert_with_one_bad_row_writes_nothing,
    every_invalid_value_is_listed,
    unique_and_reference_violations_name_the_field,
    patch_with_filters_returns_the_representation_and_the_changes,
    unfiltered_patch_and_delete_are_refused,
    bulk_patch_gives_each_row_its_own_values_in_one_request,
    single_row_patch_and_delete_by_id,
    upserts_merge_or_ignore_duplicates,
    nested_insert_creates_parents_and_children_in_one_transaction,
    malformed_bodies_get_clear_errors,
    content_types_are_matched_whole_and_in_any_case,
    a_key_named_twice_is_refused_with_its_path,
    oversize_bodies_are_refused,
    single_object_writes_roll_back_unless_exactly_one_row,
    a_write_past_the_request_timeout_is_rolled_back,
    server_managed_timestamps,
    concurrent_bulk_patches_of_the_same_rows_all_succeed,
    columns_choose_the_keys_a_write_takes,
    prefer_tx_rollback_answers_and_keeps_nothing_and_max_affected_is_strict_only,
);

fn comment(tracker_id: i64, user_id: i64, body: &str) -> Value {
    json!({ "tracker_id": tracker_id, "user_id": user_id, "body": body })
}

async fn create_one_row_with_location_and_representation(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut events = app.app.bus.subscribe();
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments?select=id,body,is_resolved,user:users(username)",
            &comment(3, 2, "first look"),
            Some("return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let rows: Value = response.json().await.unwrap();
    let id = rows[0]["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/v1/tracker_comments/{id}"));
    assert_eq!(rows[0]["body"], "first look");
    assert_eq!(rows[0]["is_resolved"], false, "defaults are applied");
    let username = app.scalar("SELECT username FROM users WHERE id = 2").await;
    assert_eq!(rows[0]["user"]["username"], username, "representation honours embedding");
    let created_at =
        app.get_json(&format!("/api/v1/tracker_comments/{id}"), 200).await["created_at"].as_str().unwrap().to_owned();
    assert_eq!(created_at.len(), 27, "oxbase sets created_at: {created_at}");

    let event = events.try_recv().expect("one change event");
    assert_eq!(event.resource, "tracker_comments");
    assert_eq!(event.ids, [json!(id)]);
    assert!(event.version >= 1);
    assert_eq!(event.request_id.len(), 36);
    assert!(events.try_recv().is_err(), "exactly one event per request");

    let fetched = app.get_json(&location, 200).await;
    assert_eq!(fetched["body"], "first look");
}

async fn a_bulk_insert_with_one_bad_row_writes_nothing(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let mut rows: Vec<Value> = (0..500).map(|index| comment(1 + index % 50, 2, &format!("bulk {index}"))).collect();
    rows[499]["comment_type"] = json!("gossip");
    let body = assert_error(
        app.send_json(Method::POST, "/api/v1/tracker_comments", &json!(rows), None).await,
        422,
        "validation_failed",
        "[499].comment_type",
    )
    .await;
    let problems = body["details"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    assert_eq!(problems[0]["path"], "[499].comment_type");
    assert!(problems[0]["message"].as_str().unwrap().contains("'gossip' is not one of programming, biostat"));
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before, "nothing was written");

    rows[499]["comment_type"] = json!("biostat");
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &json!(rows), None).await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before + 500);
}

async fn every_invalid_value_is_listed(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = json!([
        { "tracker_id": 1, "user_id": 2, "body": "" },
        { "tracker_id": "one", "user_id": 2, "body": "x", "colour": "red" },
        { "user_id": 2, "body": "x", "id": 5, "created_at": "2025-01-01T00:00:00Z" },
        "not an object",
    ]);
    let body = assert_error(
        app.send_json(Method::POST, "/api/v1/tracker_comments", &rows, None).await,
        422,
        "validation_failed",
        "invalid values",
    )
    .await;
    let paths: Vec<&str> = body["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["path"].as_str().unwrap())
        .collect();
    for expected in ["[0].body", "[1].tracker_id", "[1].colour", "[2].id", "[2].created_at", "[2].tracker_id", "[3]"] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
}

async fn unique_and_reference_violations_name_the_field(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let taken = app.scalar("SELECT username FROM users WHERE id = 5").await;
    let body = assert_error(
        app.send_json(
            Method::POST,
            "/api/v1/users",
            &json!({ "username": taken, "email": "new.person@example.com" }),
            None,
        )
        .await,
        409,
        "duplicate",
        "username",
    )
    .await;
    assert_eq!(body["details"]["fields"], json!(["username"]));

    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let body = assert_error(
        app.send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!([comment(1, 2, "ok"), comment(99_999, 2, "orphan")]),
            None,
        )
        .await,
        422,
        "reference_not_found",
        "[1].tracker_id",
    )
    .await;
    assert!(
        body["details"]["problems"][0]["message"].as_str().unwrap().contains("trackers 99999 does not exist"),
        "{body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before);
}

async fn patch_with_filters_returns_the_representation_and_the_changes(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut events = app.app.bus.subscribe();
    let ids = app
        .integers(
            "SELECT id FROM trackers WHERE reporting_effort_id = 2 AND production_status <> 'on_hold' ORDER BY id",
        )
        .await;
    assert!(!ids.is_empty());
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/trackers?reporting_effort_id=eq.2&production_status=neq.on_hold&select=id,production_status,item:reporting_effort_items(item_code)",
            &json!({ "production_status": "on_hold" }),
            Some("return=representation"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let rows: Value = response.json().await.unwrap();
    let returned: Vec<i64> = rows.as_array().unwrap().iter().map(|row| row["id"].as_i64().unwrap()).collect();
    assert_eq!(returned, ids);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|row| row["production_status"] == "on_hold" && row["item"]["item_code"].is_string())
    );
    assert_eq!(
        app.count("SELECT count(*) FROM trackers WHERE reporting_effort_id = 2 AND production_status <> 'on_hold'")
            .await,
        0
    );

    let event = events.try_recv().unwrap();
    assert_eq!(event.op, oxbase_store::change::ChangeOperation::Update);
    assert_eq!(event.ids.len(), ids.len());
    let change = &event.changes[0];
    assert_eq!(change.fields["production_status"], "on_hold");
    assert!(change.fields.contains_key("updated_at"));
    assert!(!change.fields.contains_key("priority"), "only changed fields");
}

async fn unfiltered_patch_and_delete_are_refused(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let before = app.count("SELECT count(*) FROM trackers WHERE priority = 1").await;
    assert_error(
        app.send_json(Method::PATCH, "/api/v1/trackers", &json!({ "priority": 1 }), None).await,
        400,
        "unfiltered_write",
        "without a filter",
    )
    .await;
    let response = app.client.delete(app.url("/api/v1/trackers")).send().await.unwrap();
    assert_error(response, 400, "unfiltered_write", "DELETE").await;
    assert_eq!(app.count("SELECT count(*) FROM trackers WHERE priority = 1").await, before);
    assert_error(
        app.send_json(Method::PATCH, "/api/v1/trackers?order=id", &json!({ "priority": 1 }), None).await,
        400,
        "unsupported_parameter",
        "order",
    )
    .await;
}

async fn bulk_patch_gives_each_row_its_own_values_in_one_request(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut events = app.app.bus.subscribe();
    let rows: Vec<Value> = (1..=300).map(|id| json!({ "id": id, "priority": 1 + id % 5, "qc_status": if id % 2 == 0 { "completed" } else { "in_progress" } })).collect();
    let response = app.send_json(Method::PATCH, "/api/v1/trackers", &json!(rows), None).await;
    assert_eq!(response.status(), 204);
    let mismatches = app.count("SELECT count(*) FROM trackers WHERE id <= 300 AND (priority <> 1 + id % 5 OR qc_status <> CASE WHEN id % 2 = 0 THEN 'completed' ELSE 'in_progress' END)").await;
    assert_eq!(mismatches, 0);
    let event = events.try_recv().unwrap();
    assert_eq!(event.ids.len(), 300, "one event listing every row");
    assert!(events.try_recv().is_err());

    let body = assert_error(
        app.send_json(
            Method::PATCH,
            "/api/v1/trackers",
            &json!([{ "id": 1, "priority": 2 }, { "id": 999_999, "priority": 2 }]),
            None,
        )
        .await,
        404,
        "not_found",
        "999999",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("[1]"), "{body}");
    assert_error(
        app.send_json(Method::PATCH, "/api/v1/trackers", &json!([{ "priority": 2 }]), None).await,
        422,
        "validation_failed",
        "[0].id",
    )
    .await;
}

async fn single_row_patch_and_delete_by_id(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app
        .send_json(Method::PATCH, "/api/v1/trackers/7", &json!({ "priority": 5 }), Some("return=representation"))
        .await;
    assert_eq!(response.status(), 200);
    let rows: Value = response.json().await.unwrap();
    assert_eq!(rows[0]["priority"], 5);
    assert_error(
        app.send_json(Method::PATCH, "/api/v1/trackers/999999", &json!({ "priority": 5 }), None).await,
        404,
        "not_found",
        "999999",
    )
    .await;
    assert_error(
        app.send_json(Method::PATCH, "/api/v1/trackers/7", &json!({ "id": 8 }), None).await,
        422,
        "validation_failed",
        "primary key",
    )
    .await;

    let comment_id = app.scalar("SELECT max(id) FROM tracker_comments WHERE id NOT IN (SELECT parent_comment_id FROM tracker_comments WHERE parent_comment_id IS NOT NULL)").await.as_i64().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/tracker_comments/{comment_id}")))
        .header("prefer", "return=representation")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deleted: Value = response.json().await.unwrap();
    assert_eq!(deleted[0]["id"], comment_id, "the representation of a deleted row is read before it goes");
    assert_eq!(app.count(&format!("SELECT count(*) FROM tracker_comments WHERE id = {comment_id}")).await, 0);
    let response = app.client.delete(app.url(&format!("/api/v1/tracker_comments/{comment_id}"))).send().await.unwrap();
    assert_error(response, 404, "not_found", "no tracker_comments").await;
}

async fn upserts_merge_or_ignore_duplicates(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let found = app.rows("SELECT id, username, email FROM users WHERE id = 12").await;
    let (id, username, email) = (found[0][0].as_i64().unwrap(), found[0][1].clone(), found[0][2].clone());
    let rows = json!([
        { "username": username, "email": "changed@example.com" },
        { "username": "brand.new", "email": "brand.new@example.com" },
    ]);
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/users?on_conflict=username",
            &rows,
            Some("resolution=merge-duplicates,return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let returned: Value = response.json().await.unwrap();
    assert_eq!(returned.as_array().unwrap().len(), 2);
    let stored = app.scalar(&format!("SELECT email FROM users WHERE id = {id}")).await;
    assert_eq!(stored, "changed@example.com", "merge updates the existing row in place");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE username = 'brand.new'").await, 1);

    let rows = json!([{ "username": username, "email": email }, { "username": "another.one", "email": "another.one@example.com" }]);
    let response = app
        .send_json(Method::POST, "/api/v1/users?on_conflict=username", &rows, Some("resolution=ignore-duplicates"))
        .await;
    assert_eq!(response.status(), 201);
    let stored = app.scalar(&format!("SELECT email FROM users WHERE id = {id}")).await;
    assert_eq!(stored, "changed@example.com", "ignore keeps the existing row");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE username = 'another.one'").await, 1);

    // A merge inserts when nothing collides, so it carries every required field.
    let found = app.rows("SELECT reporting_effort_item_id, reporting_effort_id FROM trackers WHERE id = 3").await;
    let (item, effort) = (found[0][0].clone(), found[0][1].clone());
    let tracker = json!({ "id": 3, "reporting_effort_item_id": item, "reporting_effort_id": effort, "priority": 1 });
    let response = app.send_json(Method::POST, "/api/v1/trackers", &tracker, Some("resolution=merge-duplicates")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.count("SELECT priority FROM trackers WHERE id = 3").await, 1, "merge on the primary key");
    assert_error(
        app.send_json(Method::POST, "/api/v1/users?on_conflict=role", &rows, Some("resolution=merge-duplicates")).await,
        400,
        "invalid_parameter",
        "not a unique key",
    )
    .await;
}

async fn nested_insert_creates_parents_and_children_in_one_transaction(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let items = json!([
        { "reporting_effort_id": 3, "item_type": "TLF", "item_subtype": "Table", "item_code": "T-NEW-1", "tracker": { "reporting_effort_id": 3, "priority": 2 } },
        { "reporting_effort_id": 3, "item_type": "TLF", "item_subtype": "Table", "item_code": "T-NEW-2", "tracker": { "reporting_effort_id": 3, "priority": 4 } },
    ]);
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/reporting_effort_items?select=item_code,tracker(priority)",
            &items,
            Some("return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let rows: Value = response.json().await.unwrap();
    assert_eq!(rows[0]["tracker"]["priority"], 2);
    assert_eq!(rows[1]["tracker"]["priority"], 4);
    assert_eq!(app.count("SELECT count(*) FROM trackers t JOIN reporting_effort_items i ON i.id = t.reporting_effort_item_id WHERE i.item_code LIKE 'T-NEW-%'").await, 2);

    let tracker = json!({ "reporting_effort_item_id": 1, "reporting_effort_id": 1, "tracker_comments": [{ "user_id": 2, "body": "hello" }, { "user_id": 3, "body": "again" }] });
    let response = app.send_json(Method::POST, "/api/v1/trackers", &tracker, None).await;
    assert_error(response, 409, "duplicate", "reporting_effort_item_id").await;
    assert_eq!(
        app.count("SELECT count(*) FROM tracker_comments WHERE body IN ('hello', 'again')").await,
        0,
        "children roll back with their parent"
    );

    let mut bad = items.clone();
    bad[1]["item_code"] = json!("T-NEW-3");
    bad[1]["tracker"]["priority"] = json!(9);
    bad[0]["item_code"] = json!("T-NEW-4");
    let body = assert_error(
        app.send_json(Method::POST, "/api/v1/reporting_effort_items", &bad, None).await,
        422,
        "validation_failed",
        "[1].tracker.priority",
    )
    .await;
    assert!(body["details"]["problems"][0]["message"].as_str().unwrap().contains("at most 5"));
    assert_eq!(
        app.count("SELECT count(*) FROM reporting_effort_items WHERE item_code IN ('T-NEW-3', 'T-NEW-4')").await,
        0
    );
}

async fn malformed_bodies_get_clear_errors(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_json", "not valid JSON").await;
    let response =
        app.client.post(app.url("/api/v1/users")).header("content-type", "text/plain").body("hi").send().await.unwrap();
    assert_error(response, 415, "unsupported_media_type", "text/plain").await;
    let response = app.send_json(Method::POST, "/api/v1/users", &json!(42), None).await;
    assert_error(response, 400, "invalid_parameter", "JSON object").await;
    let response = app.send_json(Method::POST, "/api/v1/users", &json!({}), Some("return=everything")).await;
    assert_error(response, 400, "invalid_parameter", "return").await;
}

async fn content_types_are_matched_whole_and_in_any_case(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let post = |content_type: &'static str, body: String| {
        app.client.post(app.url("/api/v1/tracker_comments")).header("content-type", content_type).body(body).send()
    };
    for (index, content_type) in
        ["Application/JSON", "application/json; charset=utf-8", "application/json;charset=\"UTF-8\""]
            .into_iter()
            .enumerate()
    {
        let response = post(content_type, comment(1, 2, &format!("cased {index}")).to_string()).await.unwrap();
        assert_eq!(response.status(), 201, "{content_type}: {}", response.text().await.unwrap());
    }
    for content_type in ["application/jsonx", "application/json-patch", "application/json-patch+json", "json"] {
        let response = post(content_type, comment(1, 2, "refused").to_string()).await.unwrap();
        assert_error(response, 415, "unsupported_media_type", content_type).await;
    }
    let response = post("application/json; charset=latin1", comment(1, 2, "latin").to_string()).await.unwrap();
    assert_error(response, 415, "unsupported_media_type", "charset 'latin1'").await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments WHERE body IN ('refused', 'latin')").await, 0);
    // The single-object Accept of a write is matched in any case too.
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments?select=id,body"))
        .header("content-type", "application/json")
        .header("prefer", "return=representation")
        .header("accept", "APPLICATION/VND.PGRST.OBJECT+JSON")
        .body(comment(1, 2, "one object").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let row: Value = response.json().await.unwrap();
    assert_eq!(row["body"], "one object", "{row}");
}

async fn a_key_named_twice_is_refused_with_its_path(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let post = |path: &'static str, body: &'static str| {
        app.client.post(app.url(path)).header("content-type", "application/json").body(body).send()
    };
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let response =
        post("/api/v1/tracker_comments", r#"{"tracker_id": 1, "user_id": 2, "body": "first", "body": "second"}"#)
            .await
            .unwrap();
    let body = assert_error(response, 400, "duplicate_key", "'body' twice").await;
    assert_eq!(body["details"]["path"], "body", "{body}");
    let response = post(
        "/api/v1/tracker_comments",
        r#"[{"tracker_id": 1, "user_id": 2, "body": "a"}, {"tracker_id": 1, "user_id": 2, "body": "b"},
            {"tracker_id": 1, "user_id": 2, "user_id": 3, "body": "c"}]"#,
    )
    .await
    .unwrap();
    let body = assert_error(response, 400, "duplicate_key", "at [2].user_id").await;
    assert_eq!(body["details"]["key"], "user_id", "{body}");
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before, "nothing was written");
    // In a nested child, and in a PATCH body.
    let response = post(
        "/api/v1/reporting_effort_items",
        r#"[{"reporting_effort_id": 3, "item_type": "TLF", "item_subtype": "Table", "item_code": "T-DUP-1",
             "tracker": {"reporting_effort_id": 3, "priority": 2, "priority": 3}}]"#,
    )
    .await
    .unwrap();
    assert_error(response, 400, "duplicate_key", "at [0].tracker.priority").await;
    let response = app
        .client
        .patch(app.url("/api/v1/tracker_comments?id=eq.1"))
        .header("content-type", "application/json")
        .body(r#"{"body": "x", "body": "y"}"#)
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "duplicate_key", "'body'").await;
    // The same key in sibling rows is not a duplicate.
    let response = post(
        "/api/v1/tracker_comments",
        r#"[{"tracker_id": 1, "user_id": 2, "body": "sibling a"}, {"tracker_id": 1, "user_id": 2, "body": "sibling b"}]"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
}

async fn oversize_bodies_are_refused(engine: Engine) {
    let app = TestApp::spawn_on_with(engine, |config| config.max_body_bytes = 10_000).await;
    let rows: Vec<Value> = (0..200).map(|index| comment(1, 2, &format!("padding padding padding {index}"))).collect();
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &json!(rows), None).await;
    assert_error(response, 413, "payload_too_large", "larger than").await;
}

async fn single_object_writes_roll_back_unless_exactly_one_row(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .header("prefer", "return=representation")
        .header("accept", "application/vnd.pgrst.object+json")
        .json(&json!([comment(1, 2, "one"), comment(2, 2, "two")]))
        .send()
        .await
        .unwrap();
    assert_error(response, 406, "not_single_object", "nothing was written").await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before);
    let response = app
        .client
        .post(app.url("/api/v1/tracker_comments"))
        .header("prefer", "return=representation")
        .header("accept", "application/vnd.pgrst.object+json")
        .json(&comment(1, 2, "just one"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["body"], "just one", "one object, not an array: {created}");
}

async fn a_write_past_the_request_timeout_is_rolled_back(engine: Engine) {
    let app =
        TestApp::spawn_on_with(engine, |config| config.request_timeout = std::time::Duration::from_millis(1)).await;
    let mut events = app.app.bus.subscribe();
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let rows: Vec<Value> = (0..3000).map(|index| comment(1 + index % 50, 2, &format!("late {index}"))).collect();
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &json!(rows), None).await;
    assert_error(response, 503, "timeout", "").await;
    // The write task may still be finishing: give it time, then nothing must be there.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before, "a timed-out write commits nothing");
    assert!(events.try_recv().is_err(), "and publishes nothing");
}

async fn server_managed_timestamps(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/trackers/8",
            &json!({ "priority": 2, "updated_at": "2020-01-01T00:00:00Z" }),
            None,
        )
        .await;
    assert_error(response, 422, "validation_failed", "updated_at").await;

    let old = app.get_json("/api/v1/trackers/3", 200).await["updated_at"].clone();
    let found = app.rows("SELECT reporting_effort_item_id, reporting_effort_id FROM trackers WHERE id = 3").await;
    let tracker =
        json!({ "id": 3, "reporting_effort_item_id": found[0][0], "reporting_effort_id": found[0][1], "priority": 5 });
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/trackers",
            &tracker,
            Some("resolution=merge-duplicates,return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let rows: Value = response.json().await.unwrap();
    assert_ne!(rows[0]["updated_at"], old, "a merge refreshes updated_at");

    let bad: Vec<Value> = (0..150).map(|_| json!({ "tracker_id": 1, "user_id": 2, "body": "" })).collect();
    let body = assert_error(
        app.send_json(Method::POST, "/api/v1/tracker_comments", &json!(bad), None).await,
        422,
        "validation_failed",
        "150 invalid values",
    )
    .await;
    assert_eq!(
        body["details"]["problems"].as_array().unwrap().len(),
        101,
        "100 listed, then one line counting the rest"
    );
}

/// Overlapping bulk updates, each listing the rows in its own order, at once: on
/// PostgreSQL rows are locked in key order (and a collision is retried), so every request
/// succeeds and the rows end with one request's values — never a deadlock answered 500.
async fn concurrent_bulk_patches_of_the_same_rows_all_succeed(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    const STATUSES: [&str; 4] = ["not_started", "in_progress", "completed", "on_hold"];
    let trackers = app.count("SELECT count(*) FROM trackers").await.min(1000);
    let requests = (0..8_i64).map(|writer| {
        let mut ids: Vec<i64> = (1..=trackers).collect();
        if writer % 2 == 1 {
            ids.reverse();
        }
        let shift = usize::try_from(writer * 37).unwrap() % ids.len();
        ids.rotate_left(shift);
        // Every row its own value (a bulk update of varied values, as S7 sends).
        let rows: Vec<Value> = ids
            .iter()
            .map(|id| {
                let status = STATUSES[usize::try_from((id + writer) % 4).unwrap()];
                json!({ "id": id, "priority": 1 + writer % 5, "production_status": status })
            })
            .collect();
        let request = app.client.patch(app.url("/api/v1/trackers")).json(&rows);
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        })
    });
    let requests: Vec<_> = requests.collect();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 204, "{body}");
    }
    let distinct = app.count(&format!("SELECT count(DISTINCT priority) FROM trackers WHERE id <= {trackers}")).await;
    assert_eq!(distinct, 1, "each request is all-or-nothing: the rows carry one request's values");
}

/// `?columns=` (PostgREST): only the named keys are taken; on a create a named key a row
/// leaves out is null, or its default with `Prefer: missing=default`; on a PATCH the other
/// keys are ignored; an unknown name is refused.
async fn columns_choose_the_keys_a_write_takes(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = json!([{ "name": "c-1", "color": "#010101", "ignored": true }, { "name": "c-2" }]);
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_tags?columns=%22name%22,%22color%22&select=name,color",
            &rows,
            Some("missing=default, return=representation"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created, json!([{ "name": "c-1", "color": "#010101" }, { "name": "c-2", "color": "#808080" }]));
    // Without missing=default the left-out color is null, which the field refuses.
    let response = app.send_json(Method::POST, "/api/v1/tracker_tags?columns=name,color", &rows, None).await;
    let body = assert_error(response, 422, "validation_failed", "[1].color").await;
    assert!(body["details"]["problems"].to_string().contains("must not be null"), "{body}");
    // A PATCH takes only the named keys.
    let patch = json!({ "color": "#020202", "description": "not taken" });
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/tracker_tags?name=eq.c-1&columns=color",
            &patch,
            Some("return=representation"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().await.unwrap();
    assert_eq!((&patched[0]["color"], &patched[0]["description"]), (&json!("#020202"), &Value::Null));
    let response = app.send_json(Method::POST, "/api/v1/tracker_tags?columns=name,colour", &rows, None).await;
    let body = assert_error(response, 400, "unknown_column", "colour").await;
    assert_eq!(body["details"]["parameter"], "columns", "{body}");
    let response = app.send_json(Method::POST, "/api/v1/tracker_tags", &rows, Some("missing=sometimes")).await;
    assert_error(response, 400, "invalid_parameter", "missing").await;
}

/// `Prefer: tx=rollback` answers what the write would do and keeps nothing (no version
/// moves, no change event, the cache keeps serving the old rows); `max-affected=N` refuses
/// a write over N rows with `handling=strict`, and is ignored without it, as in PostgREST.
async fn prefer_tx_rollback_answers_and_keeps_nothing_and_max_affected_is_strict_only(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let before = app.get_json("/api/v1/trackers?id=lte.5&select=id,priority&order=id", 200).await;
    let mut events = app.app.bus.subscribe();
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/trackers?id=lte.5&select=id,priority",
            &json!({ "priority": 1 }),
            Some("tx=rollback, return=representation"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answered: Value = response.json().await.unwrap();
    assert_eq!(answered.as_array().unwrap().len(), 5);
    assert!(answered.as_array().unwrap().iter().all(|row| row["priority"] == 1), "what the write would do: {answered}");
    assert_eq!(app.get_json("/api/v1/trackers?id=lte.5&select=id,priority&order=id", 200).await, before);
    let stored = app.integers("SELECT priority FROM trackers WHERE id <= 5 ORDER BY id").await;
    let shown: Vec<i64> = before.as_array().unwrap().iter().map(|row| row["priority"].as_i64().unwrap()).collect();
    assert_eq!(stored, shown, "nothing was kept");
    assert!(events.try_recv().is_err(), "no change event for a rolled-back write");

    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/trackers?id=lte.5",
            &json!({ "priority": 2 }),
            Some("handling=strict, max-affected=3"),
        )
        .await;
    let body = assert_error(response, 400, "max_affected_exceeded", "5 rows").await;
    assert_eq!(body["details"], json!({ "rows": 5, "max_affected": 3 }));
    assert_eq!(app.integers("SELECT priority FROM trackers WHERE id <= 5 ORDER BY id").await, shown);
    let response = app
        .send_json(Method::PATCH, "/api/v1/trackers?id=lte.5", &json!({ "priority": 2 }), Some("max-affected=3"))
        .await;
    assert_eq!(response.status(), 204, "without handling=strict max-affected is ignored");
    assert_eq!(app.count("SELECT count(*) FROM trackers WHERE id <= 5 AND priority = 2").await, 5);
    let response = app.send_json(Method::PATCH, "/api/v1/trackers?id=eq.1", &json!({}), Some("tx=maybe")).await;
    assert_error(response, 400, "invalid_parameter", "tx").await;
}

/// `Prefer: count=exact` (or planned, estimated) on a write: `Content-Range` counts the
/// rows it changed, as PostgREST answers.
async fn prefer_count_on_a_write_says_how_many_rows_it_changed(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let expected = app.count("SELECT count(*) FROM trackers WHERE priority = 5").await;
    assert!(expected > 1);
    let response = app
        .send_json(Method::PATCH, "/api/v1/trackers?priority=eq.5", &json!({"priority": 4}), Some("count=exact"))
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["content-range"], format!("*/{expected}").as_str());
    let rows = json!([{"name": "count-one", "color": "#112233"}, {"name": "count-two", "color": "#445566"}]);
    let response =
        app.send_json(Method::POST, "/api/v1/tracker_tags", &rows, Some("return=representation, count=planned")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-range"], "0-1/2");
    let response = app
        .send_json(Method::DELETE, "/api/v1/tracker_tags?name=like.count-*", &Value::Null, Some("count=estimated"))
        .await;
    assert_eq!(response.headers()["content-range"], "*/2");
    let response =
        app.send_json(Method::DELETE, "/api/v1/tracker_tags?name=eq.none", &Value::Null, Some("count=exact")).await;
    assert_eq!(response.headers()["content-range"], "*/0");
    // Without the preference there is no Content-Range; a wrong value is named.
    let response = app.send_json(Method::PATCH, "/api/v1/trackers/1", &json!({"priority": 3}), None).await;
    assert!(response.headers().get("content-range").is_none());
    let response = app.send_json(Method::PATCH, "/api/v1/trackers/1", &json!({"priority": 3}), Some("count=all")).await;
    assert_error(response, 400, "invalid_parameter", "unknown count preference 'all'").await;
}
