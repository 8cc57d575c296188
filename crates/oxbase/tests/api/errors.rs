//! Bad requests get a 4xx JSON error naming what was wrong; never a 500.

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(
    unknown_resource_is_404_with_a_hint,
    bad_and_missing_ids,
    bad_paging_parameters,
    unknown_columns_are_refused_not_ignored,
    unknown_routes_and_methods,
);

async fn unknown_resource_is_404_with_a_hint(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let body = assert_error(app.get("/api/v1/tracker").await, 404, "unknown_resource", "'tracker'").await;
    assert_eq!(body["hint"], "did you mean 'trackers'?");
    assert_eq!(body["details"]["token"], "tracker");
    let body =
        assert_error(app.get("/api/v1/nothing_like_it/1").await, 404, "unknown_resource", "nothing_like_it").await;
    // No close name: a few real names, not a pointer at a route that does not exist.
    let hint = body["hint"].as_str().unwrap();
    assert!(hint.starts_with("known resources: ") && hint.contains("trackers"), "{hint}");
    assert!(hint.ends_with("and 3 more"), "the pearl example has 11 resources; 8 are listed: {hint}");
    assert!(!hint.contains("openapi"), "{hint}");
}

async fn bad_and_missing_ids(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    assert_error(app.get("/api/v1/trackers/abc").await, 400, "invalid_id", "'abc'").await;
    assert_error(app.get("/api/v1/trackers/99999999999999999999").await, 400, "invalid_id", "expected an integer")
        .await;
    let body = assert_error(app.get("/api/v1/trackers/999999").await, 404, "not_found", "999999").await;
    assert_eq!(body["details"]["resource"], "trackers");
}

async fn bad_paging_parameters(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let body = assert_error(app.get("/api/v1/trackers?limit=abc").await, 400, "invalid_parameter", "'limit'").await;
    assert_eq!(body["details"]["token"], "abc");
    assert_error(app.get("/api/v1/trackers?limit=-5").await, 400, "invalid_parameter", "'limit'").await;
    assert_error(app.get("/api/v1/trackers?offset=1.5").await, 400, "invalid_parameter", "'offset'").await;
    let body =
        assert_error(app.get("/api/v1/trackers?limit=1001").await, 400, "limit_exceeded", "largest page of 1000").await;
    assert!(body["hint"].as_str().unwrap().contains("max_page_size"));
}

async fn unknown_columns_are_refused_not_ignored(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let body = assert_error(app.get("/api/v1/trackers?colour=eq.red").await, 400, "unknown_column", "'colour'").await;
    assert_eq!(body["details"]["parameter"], "colour");
    assert_eq!(body["details"]["token"], "colour");
    assert_error(app.get("/api/v1/trackers?columns=id").await, 400, "unsupported_parameter", "'columns'").await;
}

async fn unknown_routes_and_methods(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    assert_error(app.get("/nowhere").await, 404, "route_not_found", "/nowhere").await;
    let response =
        app.client.put(app.url("/api/v1/trackers/1")).json(&serde_json::json!({"priority": 1})).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed", "PUT").await;
    let count = app.count("SELECT count(*) FROM trackers WHERE id = 1").await;
    assert_eq!(count, 1, "the row is still there");
}
