//! Embedding related rows without N+1: shapes, disambiguation, filters on embedded rows,
//! and a statement count that does not grow with the page.

use serde_json::Value;

use crate::support::{TestApp, assert_error};

/// The statement count from `Server-Timing: db;…;desc="N statements"`.
fn statements(response: &reqwest::Response) -> u32 {
    let timing = response.headers()["server-timing"].to_str().unwrap().to_owned();
    let description = timing.split("desc=\"").nth(1).unwrap_or_else(|| panic!("no statement count in {timing}"));
    description.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn statement_count_does_not_depend_on_page_size() {
    let app = TestApp::spawn().await;
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

#[tokio::test]
async fn to_one_to_many_and_nested_embeddings_match_the_database() {
    let app = TestApp::spawn().await;
    let rows = app
        .get_json("/api/v1/trackers?select=id,item:reporting_effort_items(item_code,reporting_efforts(name)),tracker_comments(id,body)&limit=20&offset=5", 200)
        .await;
    let database = app.database();
    for row in rows.as_array().unwrap() {
        let id = row["id"].as_i64().unwrap();
        let (code, effort): (String, String) = database
            .query_row(
                "SELECT i.item_code, e.name FROM trackers t JOIN reporting_effort_items i ON i.id = t.reporting_effort_item_id JOIN reporting_efforts e ON e.id = i.reporting_effort_id WHERE t.id = ?1",
                [id],
                |found| Ok((found.get(0)?, found.get(1)?)),
            )
            .unwrap();
        assert_eq!(row["item"]["item_code"], code, "{row}");
        assert_eq!(row["item"]["reporting_efforts"]["name"], effort, "{row}");
        let comment_ids: Vec<i64> = database
            .prepare("SELECT id FROM tracker_comments WHERE tracker_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([id], |found| found.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let embedded: Vec<i64> =
            row["tracker_comments"].as_array().unwrap().iter().map(|comment| comment["id"].as_i64().unwrap()).collect();
        assert_eq!(embedded, comment_ids, "tracker {id}");
        assert_eq!(
            row.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "item", "tracker_comments"],
            "keys in select order, no join columns"
        );
    }
}

#[tokio::test]
async fn one_to_one_embeds_an_object() {
    let app = TestApp::spawn().await;
    let item = app.get_json("/api/v1/reporting_effort_items/7?select=id,tracker(id,production_status)", 200).await;
    let tracker_id: i64 = app
        .database()
        .query_row("SELECT id FROM trackers WHERE reporting_effort_item_id = 7", [], |row| row.get(0))
        .unwrap();
    assert_eq!(item["tracker"]["id"], tracker_id, "{item}");
}

#[tokio::test]
async fn ambiguous_embedding_needs_a_hint() {
    let app = TestApp::spawn().await;
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
    let database = app.database();
    for row in rows.as_array().unwrap() {
        let (programmer, qc): (String, String) = database
            .query_row(
                "SELECT p.username, q.username FROM trackers t JOIN users p ON p.id = t.production_programmer_id JOIN users q ON q.id = t.qc_programmer_id WHERE t.id = ?1",
                [row["id"].as_i64().unwrap()],
                |found| Ok((found.get(0)?, found.get(1)?)),
            )
            .unwrap();
        assert_eq!(row["programmer"]["username"], programmer);
        assert_eq!(row["qc"]["username"], qc);
    }
    let null_programmer = app.get_json("/api/v1/trackers?select=id,users!production_programmer_id(username)&production_programmer_id=is.null&limit=1", 200).await;
    assert!(null_programmer[0]["users"].is_null(), "a missing to-one row is null: {null_programmer}");
}

#[tokio::test]
async fn many_to_many_through_a_junction() {
    let app = TestApp::spawn().await;
    let rows = app.get_json("/api/v1/trackers?select=id,tracker_tags(name)&limit=30", 200).await;
    let database = app.database();
    for row in rows.as_array().unwrap() {
        let mut expected: Vec<String> = database
            .prepare("SELECT g.name FROM tracker_item_tags j JOIN tracker_tags g ON g.id = j.tag_id WHERE j.tracker_id = ?1 ORDER BY g.id")
            .unwrap()
            .query_map([row["id"].as_i64().unwrap()], |found| found.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut embedded: Vec<String> = row["tracker_tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tag["name"].as_str().unwrap().to_owned())
            .collect();
        expected.sort();
        embedded.sort();
        assert_eq!(embedded, expected, "{row}");
    }
}

#[tokio::test]
async fn filters_order_and_limits_on_embedded_rows() {
    let app = TestApp::spawn().await;
    let rows = app
        .get_json("/api/v1/trackers?select=id,tracker_comments(id,created_at,is_resolved)&tracker_comments.is_resolved=is.false&tracker_comments.order=created_at.desc&tracker_comments.limit=2&limit=40", 200)
        .await;
    let database = app.database();
    for row in rows.as_array().unwrap() {
        let expected: Vec<i64> = database
            .prepare("SELECT id FROM tracker_comments WHERE tracker_id = ?1 AND is_resolved = 0 ORDER BY created_at DESC, id LIMIT 2")
            .unwrap()
            .query_map([row["id"].as_i64().unwrap()], |found| found.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let embedded: Vec<i64> =
            row["tracker_comments"].as_array().unwrap().iter().map(|comment| comment["id"].as_i64().unwrap()).collect();
        assert_eq!(embedded, expected, "{row}");
    }
}

#[tokio::test]
async fn inner_embedding_filters_parents() {
    let app = TestApp::spawn().await;
    let tag: String =
        app.database().query_row("SELECT name FROM tracker_tags ORDER BY id LIMIT 1", [], |row| row.get(0)).unwrap();
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
    let expected: i64 = app
        .database()
        .query_row(
            "SELECT count(*) FROM trackers t WHERE EXISTS (SELECT 1 FROM tracker_item_tags j JOIN tracker_tags g ON g.id = j.tag_id WHERE j.tracker_id = t.id AND g.name = ?1)",
            [&tag],
            |row| row.get(0),
        )
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

#[tokio::test]
async fn embedding_errors() {
    let app = TestApp::spawn().await;
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
