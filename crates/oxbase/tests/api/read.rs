//! Reading rows: pages, single rows, encodings, headers.

use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn a_page_of_trackers_with_content_range() {
    let app = TestApp::spawn().await;
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

#[tokio::test]
async fn offset_pages_match_the_database() {
    let app = TestApp::spawn().await;
    let rows: Vec<Value> =
        serde_json::from_value(app.get_json("/api/v1/tracker_comments?limit=7&offset=100", 200).await).unwrap();
    let database = app.database();
    let mut statement = database
        .prepare("SELECT id, tracker_id, body, parent_comment_id FROM tracker_comments ORDER BY id LIMIT 7 OFFSET 100")
        .unwrap();
    let expected: Vec<(i64, i64, String, Option<i64>)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (id, tracker_id, body, parent)) in rows.iter().zip(expected) {
        assert_eq!(row["id"], id);
        assert_eq!(row["tracker_id"], tracker_id);
        assert_eq!(row["body"], body);
        assert_eq!(row["parent_comment_id"].as_i64(), parent);
    }
}

#[tokio::test]
async fn default_page_size_and_the_end_of_the_data() {
    let app = TestApp::spawn().await;
    let rows = app.get_json("/api/v1/trackers", 200).await;
    assert_eq!(rows.as_array().unwrap().len(), 50, "the default page size");
    let count: i64 = app.database().query_row("SELECT count(*) FROM studies", [], |row| row.get(0)).unwrap();
    let response = app.get(&format!("/api/v1/studies?offset={count}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-range"], "*/*");
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!([]));
}

#[tokio::test]
async fn one_row_by_id_with_exact_types() {
    let app = TestApp::spawn().await;
    let item = app.get_json("/api/v1/reporting_effort_items/5", 200).await;
    let (code, active, title): (String, bool, Option<String>) = app
        .database()
        .query_row("SELECT item_code, is_active, title FROM reporting_effort_items WHERE id = 5", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .unwrap();
    assert_eq!(item["id"], 5);
    assert_eq!(item["item_code"], code);
    assert_eq!(item["is_active"], active, "booleans are JSON booleans");
    assert_eq!(item["title"].as_str().map(str::to_owned), title);
    let fields: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(fields.first().map(|name| name.as_str()), Some("id"), "fields in schema order");
}

#[tokio::test]
async fn nulls_and_dates_round_trip() {
    let app = TestApp::spawn().await;
    let (id, due): (i64, Option<String>) = app
        .database()
        .query_row("SELECT id, due_date FROM trackers WHERE due_date IS NULL ORDER BY id LIMIT 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    let tracker = app.get_json(&format!("/api/v1/trackers/{id}"), 200).await;
    assert_eq!(due, None);
    assert!(tracker["due_date"].is_null(), "{tracker}");
    let date: String = app
        .database()
        .query_row("SELECT due_date FROM trackers WHERE due_date IS NOT NULL ORDER BY id LIMIT 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(date.len(), 10);
}

#[tokio::test]
async fn responses_carry_request_id_and_server_timing() {
    let app = TestApp::spawn().await;
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
