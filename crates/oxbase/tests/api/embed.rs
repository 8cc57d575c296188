//! Embedding related rows without N+1: shapes, disambiguation, filters on embedded rows,
//! and a statement count that does not grow with the page. On both engines.

use serde_json::Value;

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(
    statement_count_does_not_depend_on_page_size,
    to_one_to_many_and_nested_embeddings_match_the_database,
    one_to_one_embeds_an_object,
    ambiguous_embedding_needs_a_hint,
    many_to_many_through_a_junction,
    filters_order_and_limits_on_embedded_rows,
    inner_embedding_filters_parents,
    embedding_errors,
);

/// The statement count from `Server-Timing: db;…;desc="N statements"`.
fn statements(response: &reqwest::Response) -> u32 {
    let timing = response.headers()["server-timing"].to_str().unwrap().to_owned();
    let description = timing.split("desc=\"").nth(1).unwrap_or_else(|| panic!("no statement count in {timing}"));
    description.split(' ').next().unwrap().parse().unwrap()
}

fn ids(rows: &Value, key: &str) -> Vec<i64> {
    rows.as_array().unwrap().iter().map(|row| row[key].as_i64().unwrap()).collect()
}

async fn statement_count_does_not_depend_on_page_size(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let select = "select=id,item:reporting_effort_items(item_code,footnotes:reporting_effort_item_footnotes(sequence_number)),comments:tracker_comments(id,replies(id))";
    let mut counts = Vec::new();
    for limit in [1, 50, 500] {
        let response = app.get(&format!("/api/v1/trackers?{select}&limit={limit}")).await;
        assert_eq!(response.status(), 200);
        counts.push(statements(&response));
        let rows: Vec<Value> = response.json().await.unwrap();
        assert_eq!(rows.len(), limit);
    }
    assert_eq!(counts, [5, 5, 5], "1 root + 4 embedded nodes, whatever the page size");
}

async fn to_one_to_many_and_nested_embeddings_match_the_database(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app
        .get_json("/api/v1/trackers?select=id,item:reporting_effort_items(item_code,reporting_efforts(name)),tracker_comments(id,body)&limit=20&offset=5", 200)
        .await;
    for row in rows.as_array().unwrap() {
        let id = row["id"].as_i64().unwrap();
        let expected = app
            .rows(&format!(
                "SELECT i.item_code, e.name FROM trackers t JOIN reporting_effort_items i ON i.id = t.reporting_effort_item_id JOIN reporting_efforts e ON e.id = i.reporting_effort_id WHERE t.id = {id}"
            ))
            .await;
        assert_eq!(row["item"]["item_code"], expected[0][0], "{row}");
        assert_eq!(row["item"]["reporting_efforts"]["name"], expected[0][1], "{row}");
        let comment_ids =
            app.integers(&format!("SELECT id FROM tracker_comments WHERE tracker_id = {id} ORDER BY id")).await;
        assert_eq!(ids(&row["tracker_comments"], "id"), comment_ids, "tracker {id}");
        assert_eq!(
            row.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "item", "tracker_comments"],
            "keys in select order, no join columns"
        );
    }
}

async fn one_to_one_embeds_an_object(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let item = app.get_json("/api/v1/reporting_effort_items/7?select=id,tracker(id,production_status)", 200).await;
    let tracker_id = app.scalar("SELECT id FROM trackers WHERE reporting_effort_item_id = 7").await;
    assert_eq!(item["tracker"]["id"], tracker_id, "{item}");
}

async fn ambiguous_embedding_needs_a_hint(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let body = assert_error(
        app.get("/api/v1/trackers?select=id,users(username)").await,
        400,
        "ambiguous_relation",
        "'users' is ambiguous",
    )
    .await;
    let hint = body["hint"].as_str().unwrap();
    assert!(hint.contains("users!production_programmer_id") && hint.contains("users!qc_programmer_id"), "{hint}");

    let rows = app
        .get_json("/api/v1/trackers?select=id,programmer:users!production_programmer_id(username),qc:users!qc_programmer_id(username)&production_programmer_id=not.is.null&qc_programmer_id=not.is.null&limit=10", 200)
        .await;
    for row in rows.as_array().unwrap() {
        let expected = app
            .rows(&format!(
                "SELECT p.username, q.username FROM trackers t JOIN users p ON p.id = t.production_programmer_id JOIN users q ON q.id = t.qc_programmer_id WHERE t.id = {}",
                row["id"]
            ))
            .await;
        assert_eq!(row["programmer"]["username"], expected[0][0]);
        assert_eq!(row["qc"]["username"], expected[0][1]);
    }
    let null_programmer = app.get_json("/api/v1/trackers?select=id,users!production_programmer_id(username)&production_programmer_id=is.null&limit=1", 200).await;
    assert!(null_programmer[0]["users"].is_null(), "a missing to-one row is null: {null_programmer}");
}

async fn many_to_many_through_a_junction(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app.get_json("/api/v1/trackers?select=id,tracker_tags(name)&limit=30", 200).await;
    for row in rows.as_array().unwrap() {
        let expected: Vec<Value> = app
            .rows(&format!("SELECT g.name FROM tracker_item_tags j JOIN tracker_tags g ON g.id = j.tag_id WHERE j.tracker_id = {} ORDER BY g.id", row["id"]))
            .await
            .into_iter()
            .map(|found| found[0].clone())
            .collect();
        let embedded: Vec<Value> =
            row["tracker_tags"].as_array().unwrap().iter().map(|tag| tag["name"].clone()).collect();
        assert_eq!(embedded, expected, "{row}");
    }
}

async fn filters_order_and_limits_on_embedded_rows(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app
        .get_json("/api/v1/trackers?select=id,tracker_comments(id,created_at,is_resolved)&tracker_comments.is_resolved=is.false&tracker_comments.order=created_at.desc&tracker_comments.limit=2&limit=40", 200)
        .await;
    for row in rows.as_array().unwrap() {
        let expected = app
            .integers(&format!(
                "SELECT id FROM tracker_comments WHERE tracker_id = {} AND is_resolved = false ORDER BY created_at DESC, id LIMIT 2",
                row["id"]
            ))
            .await;
        assert_eq!(ids(&row["tracker_comments"], "id"), expected, "{row}");
    }
}

async fn inner_embedding_filters_parents(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let tag = app.scalar("SELECT name FROM tracker_tags ORDER BY id LIMIT 1").await;
    let tag = tag.as_str().unwrap().to_owned();
    let response =
        app.client
            .get(app.url(&format!(
                "/api/v1/trackers?select=id,tracker_tags!inner(name)&tracker_tags.name=eq.{tag}&limit=1000"
            )))
            .header("prefer", "count=exact")
            .send()
            .await
            .unwrap();
    let total: i64 = response.headers()["content-range"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let rows: Vec<Value> = response.json().await.unwrap();
    let expected = app
        .scalar(&format!(
            "SELECT count(*) FROM trackers t WHERE EXISTS (SELECT 1 FROM tracker_item_tags j JOIN tracker_tags g ON g.id = j.tag_id WHERE j.tracker_id = t.id AND g.name = '{tag}')"
        ))
        .await
        .as_i64()
        .unwrap();
    assert!(expected > 0);
    assert_eq!(rows.len() as i64, expected);
    assert_eq!(total, expected, "the count honours !inner too");
    for row in &rows {
        let names: Vec<&str> =
            row["tracker_tags"].as_array().unwrap().iter().map(|tag| tag["name"].as_str().unwrap()).collect();
        assert_eq!(names, [tag.as_str()], "{row}");
    }
}

async fn embedding_errors(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let body =
        assert_error(app.get("/api/v1/trackers?select=id,coments(*)").await, 400, "unknown_relation", "'coments'")
            .await;
    assert!(
        body["hint"].as_str().unwrap().contains("tracker_comments")
            || body["hint"].as_str().unwrap().contains("did you mean"),
        "{body}"
    );
    assert_error(app.get("/api/v1/trackers?select=id,tracker_comments(nope)").await, 400, "unknown_column", "'nope'")
        .await;
    assert_error(
        app.get("/api/v1/trackers?tracker_comments.id=eq.1").await,
        400,
        "unknown_relation",
        "not embedded in select",
    )
    .await;
    let deep = "select=id,tracker_comments(id,replies(id,replies(id,replies(id,replies(id)))))";
    assert_error(app.get(&format!("/api/v1/trackers?{deep}")).await, 400, "limit_exceeded", "deeper than the limit")
        .await;
    assert_error(app.get("/api/v1/trackers?select=id,tracker_comments(id").await, 400, "invalid_grammar", "select")
        .await;
}
