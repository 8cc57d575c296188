//! The JSON bodies of the main kinds of error, as snapshots: one snapshot per kind, the
//! same file for both engines, so an answer that changes, or that differs between SQLite
//! and PostgreSQL, fails here.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(error_bodies_are_the_same_on_both_engines);

/// A request and the name of its snapshot.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, &'static str)>,
}

fn get(name: &'static str, path: &str) -> Case {
    Case { name, method: Method::GET, path: path.to_owned(), body: None, headers: Vec::new() }
}

fn send(name: &'static str, method: Method, path: &str, body: Value) -> Case {
    Case { name, method, path: path.to_owned(), body: Some(body), headers: Vec::new() }
}

async fn error_bodies_are_the_same_on_both_engines(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let existing = app.scalar("SELECT username FROM users WHERE id = 2").await;
    let cases = vec![
        get("unknown_resource", "/api/v1/trackerz"),
        get("unknown_column", "/api/v1/trackers?select=id,colour"),
        get("invalid_grammar", "/api/v1/trackers?priority=between.1"),
        get("invalid_parameter", "/api/v1/trackers?priority=eq.high"),
        get("invalid_parameter_32_bit", "/api/v1/trackers?id=eq.2147483648"),
        get("invalid_id", "/api/v1/trackers/abc"),
        get("limit_exceeded", "/api/v1/trackers?limit=1000000"),
        get("invalid_cursor", "/api/v1/trackers?after=abc"),
        get("not_found", "/api/v1/trackers/999999"),
        get("route_not_found", "/nowhere"),
        Case {
            headers: vec![("accept", "application/vnd.pgrst.object+json")],
            ..get("not_single_object", "/api/v1/trackers?limit=2")
        },
        send("method_not_allowed", Method::PUT, "/api/v1/trackers/1", json!({})),
        send("unfiltered_write", Method::PATCH, "/api/v1/trackers", json!({ "priority": 1 })),
        send(
            "validation_failed",
            Method::POST,
            "/api/v1/tracker_comments",
            json!([{ "tracker_id": "one", "body": "" }]),
        ),
        send(
            "reference_not_found",
            Method::POST,
            "/api/v1/tracker_comments",
            json!({ "tracker_id": 999999, "user_id": 1, "body": "x" }),
        ),
        send(
            "duplicate",
            Method::POST,
            "/api/v1/users",
            json!({ "username": existing, "email": "someone.new@example.com" }),
        ),
        Case {
            headers: vec![("content-type", "text/plain")],
            ..send("unsupported_media_type", Method::POST, "/api/v1/tracker_tags", json!({}))
        },
    ];
    for case in cases {
        let mut request = app.client.request(case.method.clone(), app.url(&case.path));
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        for (name, value) in &case.headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_else(|_| panic!("{}: a JSON body", case.name));
        insta::assert_json_snapshot!(case.name, json!({ "status": status, "body": body }));
    }
    // Bodies that are not JSON are read by oxbase itself, so they are sent raw.
    for (name, raw) in [("invalid_json", "{\"name\": "), ("duplicate_key", "{\"name\":\"a\",\"name\":\"b\"}")] {
        let response = app
            .client
            .post(app.url("/api/v1/tracker_tags"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        insta::assert_json_snapshot!(name, json!({ "status": status, "body": body }));
    }
}
