//! Reading rows: pages, single rows, encodings, headers.

use serde_json::Value;

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(
    a_page_of_trackers_with_content_range,
    offset_pages_match_the_database,
    default_page_size_and_the_end_of_the_data,
    one_row_by_id_with_exact_types,
    nulls_and_dates_round_trip,
    responses_carry_request_id_and_server_timing,
);

async fn a_page_of_trackers_with_content_range(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app.get("/api/v1/trackers?limit=2").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-range"], "0-1/*");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], 1);
    assert_eq!(rows[1]["id"], 2);
    for row in &rows {
        assert!(row["priority"].is_i64(), "{row}");
        assert!(
            ["not_started", "in_progress", "completed", "on_hold"]
                .contains(&row["production_status"].as_str().unwrap())
        );
        assert!(row["updated_at"].as_str().unwrap().ends_with('Z'), "{row}");
    }
}

async fn offset_pages_match_the_database(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows: Vec<Value> =
        serde_json::from_value(app.get_json("/api/v1/tracker_comments?limit=7&offset=100", 200).await).unwrap();
    let expected = app
        .rows("SELECT id, tracker_id, body, parent_comment_id FROM tracker_comments ORDER BY id LIMIT 7 OFFSET 100")
        .await;
    assert_eq!(rows.len(), expected.len());
    for (row, expected) in rows.iter().zip(expected) {
        assert_eq!(row["id"], expected[0]);
        assert_eq!(row["tracker_id"], expected[1]);
        assert_eq!(row["body"], expected[2]);
        assert_eq!(row["parent_comment_id"], expected[3]);
    }
}

async fn default_page_size_and_the_end_of_the_data(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app.get_json("/api/v1/trackers", 200).await;
    assert_eq!(rows.as_array().unwrap().len(), 50, "the default page size");
    let count = app.count("SELECT count(*) FROM studies").await;
    let response = app.get(&format!("/api/v1/studies?offset={count}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-range"], "*/*");
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!([]));
}

async fn one_row_by_id_with_exact_types(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let item = app.get_json("/api/v1/reporting_effort_items/5", 200).await;
    let found = app
        .rows("SELECT item_code, CASE WHEN is_active THEN 1 ELSE 0 END, title FROM reporting_effort_items WHERE id = 5")
        .await;
    let (code, active, title) = (found[0][0].clone(), found[0][1] == 1, found[0][2].as_str().map(str::to_owned));
    assert_eq!(item["id"], 5);
    assert_eq!(item["item_code"], code);
    assert_eq!(item["is_active"], active, "booleans are JSON booleans");
    assert_eq!(item["title"].as_str().map(str::to_owned), title);
    let fields: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(fields.first().map(|name| name.as_str()), Some("id"), "fields in schema order");
}

async fn nulls_and_dates_round_trip(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let found =
        app.rows("SELECT id, CAST(due_date AS TEXT) FROM trackers WHERE due_date IS NULL ORDER BY id LIMIT 1").await;
    let (id, due) = (found[0][0].as_i64().unwrap(), found[0][1].as_str().map(str::to_owned));
    let tracker = app.get_json(&format!("/api/v1/trackers/{id}"), 200).await;
    assert_eq!(due, None);
    assert!(tracker["due_date"].is_null(), "{tracker}");
    let found = app
        .rows("SELECT id, CAST(due_date AS TEXT) FROM trackers WHERE due_date IS NOT NULL ORDER BY id LIMIT 1")
        .await;
    let tracker = app.get_json(&format!("/api/v1/trackers/{}", found[0][0]), 200).await;
    assert_eq!(tracker["due_date"], found[0][1], "dates are YYYY-MM-DD on both engines");
}

async fn responses_carry_request_id_and_server_timing(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app.get("/api/v1/users?limit=3").await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(request_id.len(), 36, "a uuid: {request_id}");
    let timing = response.headers()["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("db;dur="), "{timing}");
    assert!(timing.contains("desc=\"1 statement\""), "{timing}");
    assert!(timing.contains("total;dur="), "{timing}");

    let response =
        app.client.get(app.url("/api/v1/users")).header("x-request-id", "client-chosen-id").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-id", "a client's request id is kept");
}
