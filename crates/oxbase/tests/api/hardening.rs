//! What an attacker's requests found, kept fixed: values the database cannot hold are
//! refused the same way on both engines, ids stay usable after explicit ones, responses
//! are bounded, a refused encoding never follows a commit, and a filter matches the same
//! rows in a write as in a read.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(
    integers_outside_a_32_bit_column_are_refused_in_filters_and_ids,
    the_nul_character_is_refused_in_filters_and_bodies,
    dates_outside_four_digit_years_are_refused,
    a_merge_upsert_naming_one_key_twice_is_refused_whole,
    plain_inserts_after_an_upsert_with_explicit_ids_get_free_ids,
    ids_past_a_32_bit_key_fail_cleanly_and_write_nothing,
    responses_are_bounded_by_rows_per_embed_rows_in_all_and_bytes,
    a_request_refusing_every_encoding_is_answered_uncompressed_never_406,
    like_in_a_write_filter_matches_what_it_matches_in_a_read,
);

async fn integers_outside_a_32_bit_column_are_refused_in_filters_and_ids(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    for path in [
        "/api/v1/trackers?id=eq.2147483648",
        "/api/v1/trackers?priority=gt.-2147483649",
        "/api/v1/trackers?id=in.(1,2147483648)",
        "/api/v1/trackers?or=(id.eq.1,id.eq.9999999999)",
    ] {
        let body = assert_error(app.get(path).await, 400, "invalid_parameter", "32-bit").await;
        assert!(body["details"]["parameter"].is_string(), "{path}: the parameter is named: {body}");
    }
    assert_error(app.get("/api/v1/trackers/2147483648").await, 400, "invalid_id", "2147483647").await;
    // The largest value a 32-bit column holds is a plain filter.
    assert_eq!(app.get_json("/api/v1/trackers?id=eq.2147483647", 200).await, json!([]));
    let before = app.count("SELECT count(*) FROM trackers").await;
    for method in [Method::PATCH, Method::DELETE] {
        let response =
            app.send_json(method.clone(), "/api/v1/trackers?id=eq.2147483648", &json!({"priority": 2}), None).await;
        assert_error(response, 400, "invalid_parameter", "32-bit").await;
        let response = app.send_json(method, "/api/v1/trackers/2147483648", &json!({"priority": 2}), None).await;
        assert_error(response, 400, "invalid_id", "2147483647").await;
    }
    assert_eq!(app.count("SELECT count(*) FROM trackers").await, before);
}

async fn the_nul_character_is_refused_in_filters_and_bodies(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    assert_error(app.get("/api/v1/tracker_comments?body=eq.a%00b").await, 400, "invalid_parameter", "NUL").await;
    assert_error(app.get("/api/v1/tracker_comments?body=like.*%00*").await, 400, "invalid_parameter", "NUL").await;
    let before = app.count("SELECT count(*) FROM tracker_comments").await;
    let rows = json!([
        { "tracker_id": 1, "user_id": 1, "body": "fine" },
        { "tracker_id": 1, "user_id": 1, "body": "a\u{0}b" },
    ]);
    let response = app.send_json(Method::POST, "/api/v1/tracker_comments", &rows, None).await;
    let body = assert_error(response, 422, "validation_failed", "NUL").await;
    assert_eq!(body["details"]["problems"][0]["path"], "[1].body", "{body}");
    let response =
        app.send_json(Method::PATCH, "/api/v1/tracker_comments?id=eq.1", &json!({ "body": "\u{0}" }), None).await;
    assert_error(response, 422, "validation_failed", "NUL").await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments").await, before, "nothing was written");
}

async fn dates_outside_four_digit_years_are_refused(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    for path in [
        "/api/v1/tracker_comments?created_at=lt.-0001-01-01",
        "/api/v1/tracker_comments?created_at=gt.0000-12-31T23:00:00Z",
        "/api/v1/trackers?due_date=lt.-0001-01-01",
        "/api/v1/trackers?due_date=eq.0000-01-01",
    ] {
        assert_error(app.get(path).await, 400, "invalid_parameter", "expected").await;
    }
    assert_eq!(app.get("/api/v1/trackers?due_date=gt.0001-01-01&limit=1").await.status(), 200);
    let response =
        app.send_json(Method::PATCH, "/api/v1/trackers/1", &json!({ "due_date": "-0001-01-01" }), None).await;
    let body = assert_error(response, 422, "validation_failed", "outside the dates").await;
    assert_eq!(body["details"]["problems"][0]["path"], "due_date", "{body}");
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/tracker_comments/1",
            &json!({ "resolved_at": "0001-01-01T00:00:00+01:00" }),
            None,
        )
        .await;
    assert_error(response, 422, "validation_failed", "outside the timestamps").await;
}

async fn a_merge_upsert_naming_one_key_twice_is_refused_whole(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = json!([
        { "id": 1, "name": "urgent", "color": "#ff0000" },
        { "id": 2, "name": "later", "color": "#00ff00" },
        { "id": 1, "name": "urgent-again", "color": "#0000ff" },
    ]);
    let response =
        app.send_json(Method::POST, "/api/v1/tracker_tags", &rows, Some("resolution=merge-duplicates")).await;
    let body = assert_error(response, 422, "validation_failed", "repeats").await;
    assert_eq!(body["details"]["problems"][0]["path"], "[2].id", "{body}");
    assert!(body["details"]["problems"][0]["message"].as_str().unwrap().contains("[0]"), "{body}");
    let names = app.rows("SELECT name FROM tracker_tags WHERE id IN (1, 2) ORDER BY id").await;
    assert!(names.iter().all(|row| row[0] != "urgent-again" && row[0] != "later"), "nothing was written: {names:?}");
    // The same on a named unique key.
    let rows = json!([{ "name": "dup", "color": "#111111" }, { "name": "dup", "color": "#222222" }]);
    let response = app
        .send_json(Method::POST, "/api/v1/tracker_tags?on_conflict=name", &rows, Some("resolution=merge-duplicates"))
        .await;
    let body = assert_error(response, 422, "validation_failed", "repeats").await;
    assert_eq!(body["details"]["problems"][0]["path"], "[1].name", "{body}");
    // Ignoring duplicates names no row twice for an update, so it stays allowed.
    let response = app
        .send_json(Method::POST, "/api/v1/tracker_tags?on_conflict=name", &rows, Some("resolution=ignore-duplicates"))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM tracker_tags WHERE name = 'dup'").await, 1);
}

async fn plain_inserts_after_an_upsert_with_explicit_ids_get_free_ids(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let highest = app.count("SELECT max(id) FROM tracker_tags").await;
    let explicit = highest + 10;
    let rows = json!([{ "id": explicit, "name": "explicit", "color": "#123456" }]);
    let response =
        app.send_json(Method::POST, "/api/v1/tracker_tags", &rows, Some("resolution=merge-duplicates")).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    for index in 0..3 {
        let response = app
            .send_json(
                Method::POST,
                "/api/v1/tracker_tags",
                &json!({ "name": format!("plain-{index}") }),
                Some("return=representation"),
            )
            .await;
        assert_eq!(response.status(), 201, "plain insert {index}: {}", response.text().await.unwrap());
        let created: Value = response.json().await.unwrap();
        assert!(created[0]["id"].as_i64().unwrap() > explicit, "a fresh id past the explicit one: {created}");
    }
}

async fn ids_past_a_32_bit_key_fail_cleanly_and_write_nothing(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = json!([{ "id": 2147483647_i64, "name": "last", "color": "#123456" }]);
    let response =
        app.send_json(Method::POST, "/api/v1/tracker_tags", &rows, Some("resolution=merge-duplicates")).await;
    assert_eq!(response.status(), 201, "the largest 32-bit id is a valid id");
    let too_large = json!([{ "id": 2147483648_i64, "name": "past", "color": "#123456" }]);
    let response =
        app.send_json(Method::POST, "/api/v1/tracker_tags", &too_large, Some("resolution=merge-duplicates")).await;
    let body = assert_error(response, 422, "validation_failed", "out of range").await;
    assert_eq!(body["details"]["problems"][0]["path"], "[0].id", "{body}");
    let before = app.count("SELECT count(*) FROM tracker_tags").await;
    let response = app.send_json(Method::POST, "/api/v1/tracker_tags", &json!({ "name": "next" }), None).await;
    assert_error(response, 409, "ids_exhausted", "no new ids").await;
    assert_eq!(app.count("SELECT count(*) FROM tracker_tags").await, before, "nothing was written");
}

async fn responses_are_bounded_by_rows_per_embed_rows_in_all_and_bytes(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    // A short URL whose answer repeats a shared row's children under every parent: each
    // tracker embeds its programmer, who embeds every tracker they produce.
    let bomb = "/api/v1/trackers?select=*,programmer:users!production_programmer_id(*,produced_trackers(*,tracker_comments(*)))&limit=1000";
    let body = assert_error(app.get(bomb).await, 400, "limit_exceeded", "more than").await;
    assert!(
        ["max_response_rows", "max_response_bytes", "max_embed_rows"]
            .contains(&body["details"]["bound"].as_str().unwrap()),
        "{body}"
    );
    let bounded = TestApp::spawn_on_with(engine, |config| {
        config.response_bounds.max_embed_rows = 3;
        config.response_bounds.max_rows = 200;
        config.response_bounds.max_bytes = 20_000;
    })
    .await;
    let body =
        assert_error(bounded.get("/api/v1/trackers?limit=201").await, 400, "limit_exceeded", "more than 200 rows")
            .await;
    assert_eq!(body["details"], json!({ "bound": "max_response_rows", "limit": 200 }));
    let body = assert_error(
        bounded.get("/api/v1/users?select=id,produced_trackers(id)&limit=5").await,
        400,
        "limit_exceeded",
        "'produced_trackers'",
    )
    .await;
    assert_eq!(body["details"]["bound"], "max_embed_rows", "{body}");
    let body = assert_error(
        bounded.get("/api/v1/users?select=id,produced_trackers(id)&produced_trackers.limit=4").await,
        400,
        "limit_exceeded",
        "embedded array",
    )
    .await;
    assert_eq!(body["details"]["parameter"], "produced_trackers.limit", "{body}");
    let rows: Value =
        bounded.get_json("/api/v1/users?select=id,produced_trackers(id)&produced_trackers.limit=3&limit=5", 200).await;
    assert!(rows.as_array().unwrap().iter().all(|user| user["produced_trackers"].as_array().unwrap().len() <= 3));
    let body = assert_error(
        bounded.get("/api/v1/tracker_comments?select=*,tracker:trackers(*)&limit=60").await,
        400,
        "limit_exceeded",
        "20000 bytes",
    )
    .await;
    assert_eq!(body["details"], json!({ "bound": "max_response_bytes", "limit": 20_000 }));
}

async fn a_request_refusing_every_encoding_is_answered_uncompressed_never_406(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    for refusal in ["identity;q=0", "*;q=0", "identity;q=0, deflate"] {
        let response = app
            .client
            .post(app.url("/api/v1/tracker_tags"))
            .header("accept-encoding", refusal)
            .header("prefer", "return=representation")
            .json(&json!({ "name": format!("refused {refusal}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{refusal}");
        assert!(response.headers().get("content-encoding").is_none());
        let created: Value = response.json().await.unwrap();
        let id = created[0]["id"].as_i64().unwrap();
        let read = |path: String| app.client.get(app.url(&path)).header("accept-encoding", refusal).send();
        let response = read(format!("/api/v1/tracker_tags/{id}")).await.unwrap();
        assert_eq!(response.status(), 200, "{refusal}");
        let response = read("/api/v1/trackers?limit=100".to_owned()).await.unwrap();
        assert_eq!(response.status(), 200, "{refusal}");
        assert!(response.headers().get("content-encoding").is_none());
        assert_eq!(response.json::<Value>().await.unwrap().as_array().unwrap().len(), 100);
        let response =
            app.client.delete(app.url(&format!("/api/v1/tracker_tags/{id}"))).header("accept-encoding", refusal);
        assert_eq!(response.send().await.unwrap().status(), 204, "{refusal}");
        assert_eq!(app.count(&format!("SELECT count(*) FROM tracker_tags WHERE id = {id}")).await, 0);
        let response = read(format!("/api/v1/tracker_tags/{id}")).await.unwrap();
        assert_error(response, 404, "not_found", "no tracker_tags").await;
    }
}

async fn like_in_a_write_filter_matches_what_it_matches_in_a_read(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let username = app.scalar("SELECT username FROM users WHERE id = 1").await;
    let username = username.as_str().unwrap();
    let capitalised = format!("{}{}*", username[..1].to_uppercase(), &username[1..2]);
    let read = app.get_json(&format!("/api/v1/users?username=like.{capitalised}"), 200).await;
    assert_eq!(read, json!([]), "like is case-sensitive in reads");
    let path = format!("/api/v1/users?username=like.{capitalised}");
    let response =
        app.send_json(Method::PATCH, &path, &json!({ "role": "viewer" }), Some("return=representation")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]), "and in writes");
    let response = app.send_json(Method::DELETE, &path, &json!({}), Some("return=representation")).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(app.count("SELECT count(*) FROM users WHERE id = 1").await, 1);
    let lower = format!("/api/v1/users?username=like.{}*&select=id", &username[..2]);
    assert!(app.get_json(&lower, 200).await.as_array().unwrap().iter().any(|row| row["id"] == 1));
}
