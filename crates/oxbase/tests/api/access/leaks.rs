//! The leak suite: two users of one role whose row rules differ read through every read
//! path (list, embeds two deep, counts, aggregates, cursors, cache hits, 304s, errors) and
//! see exactly what their rules allow, as SQL evaluated here independently says; every
//! write path refuses rows outside the rules with nothing written.

use std::collections::BTreeSet;

use oxbase_schema::model::{Action, Permission, Preset, PresetValue};
use oxbase_schema::predicate::{Predicate, UserValue};
use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp, assert_error};

/// Two editors of the seed (ids 2 and 3), made viewers whose rules read only their own.
const ALICE: i64 = 2;
const BOB: i64 = 3;

fn permission(resource: &str, actions: &[Action], filter: Option<&str>) -> Permission {
    Permission {
        resource: Some(resource.to_owned()),
        actions: actions.to_vec(),
        filter: filter.map(|text| Predicate::parse(text).unwrap()),
        fields: None,
        hidden: Vec::new(),
        read_only: Vec::new(),
        presets: Vec::new(),
        check: None,
    }
}

/// Pearl with a `viewer` role whose rules read the caller's values: own trackers, own
/// comments, users without their email; update own trackers (as production programmer),
/// create comments as themselves.
async fn pearl_with_own_rows(engine: Engine) -> (TestApp, String, String) {
    let app = TestApp::spawn_with_roles(
        engine,
        // The cache on, on PostgreSQL too: hits are a read path.
        |config| config.cache_enabled = Some(true),
        |schema| {
            let viewer = schema.roles.get_mut("viewer").unwrap();
            let mut users = permission("users", &[Action::Read], None);
            users.hidden = vec!["email".to_owned()];
            let mut comments = permission("tracker_comments", &[Action::Create], None);
            comments.presets = vec![Preset { field: "user_id".into(), value: PresetValue::User(UserValue::Id) }];
            viewer.permissions = vec![
                permission(
                    "trackers",
                    &[Action::Read],
                    Some("production_programmer_id = $user.id or qc_programmer_id = $user.id"),
                ),
                permission("trackers", &[Action::Update], Some("production_programmer_id = $user.id")),
                permission("tracker_comments", &[Action::Read], Some("user_id = $user.id")),
                comments,
                users,
                permission("reporting_effort_items", &[Action::Read], None),
            ];
        },
    )
    .await;
    let changed =
        app.integers(&format!("UPDATE users SET role = 'viewer' WHERE id IN ({ALICE}, {BOB}) RETURNING id")).await;
    assert_eq!(changed.len(), 2);
    let alice = log_in_as(&app, ALICE).await;
    let bob = log_in_as(&app, BOB).await;
    (app, alice, bob)
}

/// Logs in as the user with this id: the access token.
async fn log_in_as(app: &TestApp, id: i64) -> String {
    let username =
        app.rows(&format!("SELECT username FROM users WHERE id = {id}")).await[0][0].as_str().unwrap().to_owned();
    super::log_in(app, &username).await
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn json_as(app: &TestApp, token: &str, path: &str) -> Value {
    let response = get_as(app, token, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn ids(rows: &Value) -> BTreeSet<i64> {
    rows.as_array().unwrap().iter().map(|row| row["id"].as_i64().unwrap()).collect()
}

async fn sql_ids(app: &TestApp, sql: &str) -> BTreeSet<i64> {
    app.integers(sql).await.into_iter().collect()
}

fn own_trackers(user: i64) -> String {
    format!("SELECT id FROM trackers WHERE production_programmer_id = {user} OR qc_programmer_id = {user}")
}

async fn every_read_path_shows_only_what_the_rules_allow(engine: Engine) {
    let (app, alice, bob) = pearl_with_own_rows(engine).await;
    for (user, token, other) in [(ALICE, &alice, BOB), (BOB, &bob, ALICE)] {
        let expected = sql_ids(&app, &own_trackers(user)).await;
        assert!(!expected.is_empty(), "the seed gives user {user} trackers");
        // List.
        let listed = json_as(&app, token, "/api/v1/trackers?select=id&limit=1000").await;
        assert_eq!(ids(&listed), expected, "user {user}'s list");
        // Count (exact) and aggregate.
        let response = get_as(&app, token, "/api/v1/trackers?select=id&limit=1").await;
        assert_eq!(response.status(), 200);
        let response = app
            .client
            .get(app.url("/api/v1/trackers?select=id&limit=1"))
            .bearer_auth(token)
            .header("prefer", "count=exact")
            .send()
            .await
            .unwrap();
        let range = response.headers()["content-range"].to_str().unwrap().to_owned();
        assert_eq!(range, format!("0-0/{}", expected.len()), "user {user}'s count");
        let counted = json_as(&app, token, "/api/v1/trackers?select=count()").await;
        assert_eq!(counted[0]["count"], expected.len(), "user {user}'s aggregate");
        // Embedded two deep: items → their tracker → its comments; only own trackers and
        // own comments appear, wherever they are.
        let comments = sql_ids(&app, &format!("SELECT id FROM tracker_comments WHERE user_id = {user}")).await;
        let items = json_as(
            &app,
            token,
            "/api/v1/reporting_effort_items?select=id,tracker(id,tracker_comments(id,user_id))&limit=1000",
        )
        .await;
        let mut seen_trackers = BTreeSet::new();
        let mut seen_comments = BTreeSet::new();
        for item in items.as_array().unwrap() {
            for tracker in as_rows(&item["tracker"]) {
                seen_trackers.insert(tracker["id"].as_i64().unwrap());
                for comment in as_rows(&tracker["tracker_comments"]) {
                    assert_eq!(comment["user_id"], user, "user {user} sees only own comments: {comment}");
                    seen_comments.insert(comment["id"].as_i64().unwrap());
                }
            }
        }
        // The small seed has 1,000 items: all of them were read.
        assert_eq!(seen_trackers, expected, "user {user}: the embedded trackers are exactly the own ones");
        let own_comments_on_own_trackers = sql_ids(
            &app,
            &format!(
                "SELECT id FROM tracker_comments WHERE user_id = {user} AND tracker_id IN ({})",
                own_trackers(user)
            ),
        )
        .await;
        assert!(seen_comments.is_subset(&comments));
        assert_eq!(seen_comments, own_comments_on_own_trackers, "user {user}: comments two deep");
        // `!inner` filters by the visible children only.
        let inner = json_as(&app, token, "/api/v1/reporting_effort_items?select=id,tracker!inner(id)&limit=1000").await;
        assert_eq!(inner.as_array().unwrap().len(), expected.len(), "user {user}: items with a visible tracker");
        // Single-object reads of another's row are 404, like a row that does not exist.
        let others = sql_ids(&app, &format!("{} EXCEPT {}", own_trackers(other), own_trackers(user))).await;
        let foreign = *others.iter().next().expect("the other user has trackers of their own");
        assert_error(get_as(&app, token, &format!("/api/v1/trackers/{foreign}")).await, 404, "not_found", "").await;
        assert_error(get_as(&app, token, "/api/v1/trackers/999999").await, 404, "not_found", "").await;
        // Hidden fields are unknown, in messages and hints alike.
        let error =
            assert_error(get_as(&app, token, "/api/v1/users?select=email").await, 400, "unknown_column", "").await;
        assert!(!error["hint"].as_str().unwrap().contains("email"), "{error}");
        // What the role does not grant at all is unknown.
        assert_error(get_as(&app, token, "/api/v1/studies").await, 404, "unknown_resource", "").await;
    }
}

fn as_rows(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(rows) => rows.iter().collect(),
        Value::Null => Vec::new(),
        row => vec![row],
    }
}

/// Cursors, cache entries and entity tags are each caller's own.
async fn cursors_cache_entries_and_etags_do_not_cross_callers(engine: Engine) {
    let (app, alice, bob) = pearl_with_own_rows(engine).await;
    let path = "/api/v1/trackers?select=id&order=id&limit=2";
    let response = get_as(&app, &alice, path).await;
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let next = link.split(['<', '>']).nth(1).unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let alice_page: Value = response.json().await.unwrap();
    // Alice's cursor goes on for Alice, and is refused for Bob.
    let second = json_as(&app, &alice, &next).await;
    assert!(ids(&second).iter().all(|id| ids(&alice_page).iter().all(|seen| id > seen)));
    assert_error(get_as(&app, &bob, &next).await, 400, "invalid_cursor", "").await;
    // The same URL: Alice's second read is a cache hit, Bob's is his own rows.
    let hit = get_as(&app, &alice, path).await;
    assert!(hit.headers()["server-timing"].to_str().unwrap().contains("0 statements"), "a cache hit");
    let bob_page = json_as(&app, &bob, path).await;
    assert_ne!(bob_page, alice_page);
    let own = sql_ids(&app, &own_trackers(BOB)).await;
    assert!(ids(&bob_page).is_subset(&own));
    // Alice's tag does not make Bob's answer a 304.
    let response = app.client.get(app.url(path)).bearer_auth(&bob).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Without credentials the role has no trackers at all... but pearl's anonymous role reads them all.
    let anonymous = app.get_json("/api/v1/trackers?select=id&limit=3", 200).await;
    assert_eq!(anonymous.as_array().unwrap().len(), 3);
}

/// Writes: rows outside the caller's rules are refused whole, nothing written; rows it
/// cannot read are 404; presets are the server's.
async fn every_write_path_refuses_rows_outside_the_rules(engine: Engine) {
    let (app, alice, _) = pearl_with_own_rows(engine).await;
    let own = sql_ids(&app, &format!("SELECT id FROM trackers WHERE production_programmer_id = {ALICE}")).await;
    let qc_only = sql_ids(
        &app,
        &format!("SELECT id FROM trackers WHERE qc_programmer_id = {ALICE} AND production_programmer_id <> {ALICE}"),
    )
    .await;
    let foreign = sql_ids(&app, &format!("{} EXCEPT {}", own_trackers(BOB), own_trackers(ALICE))).await;
    let (mine, readable, unreadable) =
        (*own.iter().next().unwrap(), *qc_only.iter().next().unwrap(), *foreign.iter().next().unwrap());
    let send = |method: Method, path: String, body: Value| {
        let request = app.client.request(method, app.url(&path)).bearer_auth(&alice).json(&body);
        async move { request.send().await.unwrap() }
    };
    let priorities = |ids: Vec<i64>| {
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let app = &app;
        async move { app.integers(&format!("SELECT priority FROM trackers WHERE id IN ({list}) ORDER BY id")).await }
    };
    let before = priorities(vec![mine, readable, unreadable]).await;
    // A row it may read but not update: 403 naming it, nothing written.
    let response = send(Method::PATCH, format!("/api/v1/trackers/{readable}"), json!({"priority": 1})).await;
    assert_error(response, 403, "row_forbidden", &readable.to_string()).await;
    // A row it may not read: 404, as if absent.
    let response = send(Method::PATCH, format!("/api/v1/trackers/{unreadable}"), json!({"priority": 1})).await;
    assert_error(response, 404, "not_found", "").await;
    // A filter reaching an outside row fails whole.
    let response =
        send(Method::PATCH, format!("/api/v1/trackers?id=in.({mine},{readable})"), json!({"priority": 1})).await;
    assert_error(response, 403, "row_forbidden", "").await;
    // A bulk update by keys with one outside row fails whole; an unreadable key is missing.
    let response = send(
        Method::PATCH,
        "/api/v1/trackers".into(),
        json!([{"id": mine, "priority": 1}, {"id": readable, "priority": 1}]),
    )
    .await;
    assert_error(response, 403, "row_forbidden", "").await;
    let response = send(
        Method::PATCH,
        "/api/v1/trackers".into(),
        json!([{"id": mine, "priority": 1}, {"id": unreadable, "priority": 1}]),
    )
    .await;
    assert_error(response, 404, "not_found", &unreadable.to_string()).await;
    // An update that would move its own row out of reach fails (the rule is the check).
    let response =
        send(Method::PATCH, format!("/api/v1/trackers/{mine}"), json!({"production_programmer_id": BOB})).await;
    assert_error(response, 403, "row_forbidden", "outside").await;
    assert_eq!(priorities(vec![mine, readable, unreadable]).await, before, "nothing was written");
    // Its own row: written.
    let response = send(Method::PATCH, format!("/api/v1/trackers/{mine}"), json!({"priority": 1})).await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.count(&format!("SELECT priority FROM trackers WHERE id = {mine}")).await, 1);
    // Deleting is not granted; creating trackers neither.
    assert_error(
        send(Method::DELETE, format!("/api/v1/trackers/{mine}"), Value::Null).await,
        403,
        "forbidden",
        "delete",
    )
    .await;
    // Comments: the author is the caller, whatever the body; a body naming it is refused.
    let response = send(
        Method::POST,
        "/api/v1/tracker_comments".into(),
        json!({"tracker_id": mine, "user_id": BOB, "body": "forged"}),
    )
    .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("may not be written by your role"), "{body}");
    let response = send(
        Method::POST,
        "/api/v1/tracker_comments".into(),
        json!([{"tracker_id": mine, "body": "one"}, {"tracker_id": mine, "body": "two"}]),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM tracker_comments WHERE body IN ('one', 'two') AND user_id = {ALICE}"))
            .await,
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM tracker_comments WHERE body = 'forged'").await, 0);
}

on_both_engines!(
    every_read_path_shows_only_what_the_rules_allow,
    cursors_cache_entries_and_etags_do_not_cross_callers,
    every_write_path_refuses_rows_outside_the_rules,
);
