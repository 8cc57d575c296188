//! The query grammar end to end: filters, order, counts, ranges, cursors, aggregates,
//! single objects.

use serde_json::Value;

use crate::on_both_engines;
use oxbase_server::config::CursorSecret;

use crate::support::{Engine, TestApp, assert_error};

on_both_engines!(
    filters_are_typed_by_their_column,
    logic_in_lists_and_negation,
    like_is_case_sensitive_and_ilike_is_not,
    match_and_imatch_filter_by_regular_expression,
    any_and_all_modifiers_match_as_or_and_and,
    isdistinct_counts_null_as_a_value,
    order_with_nulls_and_the_key_tie_breaker,
    exact_counts_and_the_range_header,
    cursor_pages_walk_the_whole_order_exactly_once,
    tampered_and_foreign_cursors_are_refused,
    cursors_verify_on_instances_sharing_the_secret_and_across_a_rotation,
    aggregates_group_by_the_other_columns,
    single_objects,
    single_object_accept_is_matched_whole_and_in_any_case,
    request_limits_are_clear_errors,
    counts_of_aggregates_count_groups,
    cursors_are_bound_to_inner_filters_and_keep_the_page_size,
    planned_and_estimated_counts,
);

fn ids(rows: &Value) -> Vec<i64> {
    rows.as_array().unwrap().iter().map(|row| row["id"].as_i64().unwrap()).collect()
}

async fn filters_are_typed_by_their_column(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app.get_json("/api/v1/trackers?select=id&production_status=eq.in_progress&priority=gte.4&due_date=lt.2026-06-01&limit=1000", 200).await;
    let expected = app.integers("SELECT id FROM trackers WHERE production_status = 'in_progress' AND priority >= 4 AND due_date < '2026-06-01' ORDER BY id",
    ).await;
    assert!(!expected.is_empty());
    assert_eq!(ids(&rows), expected);

    let rows = app
        .get_json("/api/v1/tracker_comments?select=id&is_resolved=is.true&created_at=gte.2025-06-01&limit=1000", 200)
        .await;
    let expected = app.integers("SELECT id FROM tracker_comments WHERE is_resolved = true AND created_at >= '2025-06-01T00:00:00.000000Z' ORDER BY id",
    ).await;
    assert_eq!(ids(&rows), expected);

    assert_error(app.get("/api/v1/trackers?priority=eq.abc").await, 400, "invalid_parameter", "'abc'").await;
    let body =
        assert_error(app.get("/api/v1/trackers?production_status=eq.done").await, 400, "invalid_parameter", "'done'")
            .await;
    assert!(body["message"].as_str().unwrap().contains("not_started"), "{body}");
    assert_error(app.get("/api/v1/trackers?due_date=gt.2025-02-30").await, 400, "invalid_parameter", "2025-02-30")
        .await;
    assert_error(app.get("/api/v1/trackers?priority=like.1*").await, 400, "invalid_parameter", "needs a text column")
        .await;
    assert_error(app.get("/api/v1/trackers?priority=equals.1").await, 400, "invalid_grammar", "equals").await;
    assert_error(app.get("/api/v1/trackers?or=(priority.eq.1").await, 400, "invalid_grammar", "'or'").await;
}

async fn logic_in_lists_and_negation(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app.get_json("/api/v1/trackers?select=id&or=(priority.eq.1,and(priority.eq.5,qc_status.neq.failed))&production_status=not.in.(on_hold,completed)&limit=1000", 200).await;
    let expected = app.integers("SELECT id FROM trackers WHERE (priority = 1 OR (priority = 5 AND qc_status <> 'failed')) AND NOT (production_status IN ('on_hold', 'completed')) ORDER BY id",
    ).await;
    assert!(!expected.is_empty());
    assert_eq!(ids(&rows), expected);
}

async fn like_is_case_sensitive_and_ilike_is_not(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let code = app
        .scalar("SELECT item_code FROM reporting_effort_items WHERE item_code <> lower(item_code) ORDER BY id LIMIT 1")
        .await;
    let code = code.as_str().unwrap().to_owned();
    let lower = code.to_lowercase();
    let exact = app.get_json(&format!("/api/v1/reporting_effort_items?select=id&item_code=like.{code}"), 200).await;
    assert!(!ids(&exact).is_empty());
    let wrong_case =
        app.get_json(&format!("/api/v1/reporting_effort_items?select=id&item_code=like.{lower}"), 200).await;
    assert!(ids(&wrong_case).is_empty(), "like is case-sensitive");
    let any_case =
        app.get_json(&format!("/api/v1/reporting_effort_items?select=id&item_code=ilike.{lower}"), 200).await;
    assert_eq!(ids(&any_case), ids(&exact));
}

async fn order_with_nulls_and_the_key_tie_breaker(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows =
        app.get_json("/api/v1/trackers?select=id,due_date&order=due_date.desc.nullslast,priority&limit=300", 200).await;
    let expected =
        app.integers("SELECT id FROM trackers ORDER BY due_date DESC NULLS LAST, priority ASC, id LIMIT 300").await;
    assert_eq!(ids(&rows), expected);
    assert_error(app.get("/api/v1/trackers?order=due_date.sideways").await, 400, "invalid_grammar", "sideways").await;
}

async fn exact_counts_and_the_range_header(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app
        .client
        .get(app.url("/api/v1/tracker_comments?select=id&is_resolved=is.false"))
        .header("prefer", "count=exact")
        .header("range", "10-19")
        .send()
        .await
        .unwrap();
    let total = app.scalar("SELECT count(*) FROM tracker_comments WHERE is_resolved = false").await;
    assert_eq!(response.headers()["content-range"], format!("10-19/{total}"));
    assert!(
        response.headers()["server-timing"].to_str().unwrap().contains("2 statements"),
        "the count is one more statement"
    );
    let rows: Value = response.json().await.unwrap();
    assert_eq!(
        ids(&rows),
        app.integers("SELECT id FROM tracker_comments WHERE is_resolved = false ORDER BY id LIMIT 10 OFFSET 10").await
    );

    let response = app.client.get(app.url("/api/v1/trackers")).header("range", "9-3").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response =
        app.client.get(app.url("/api/v1/trackers")).header("prefer", "count=sometimes").send().await.unwrap();
    assert_eq!(response.status(), 400);
}

async fn cursor_pages_walk_the_whole_order_exactly_once(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let mut path = "/api/v1/trackers?select=id,due_date&order=due_date.desc,priority&limit=97".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let next = response.headers().get("link").map(|link| link.to_str().unwrap().to_owned());
        let rows: Value = response.json().await.unwrap();
        seen.extend(ids(&rows));
        pages += 1;
        let Some(next) = next else { break };
        assert!(next.ends_with("rel=\"next\""), "{next}");
        path = next.trim_start_matches('<').split('>').next().unwrap().to_owned();
        assert!(pages < 100, "cursor paging must end");
    }
    let expected = app.integers("SELECT id FROM trackers ORDER BY due_date DESC NULLS FIRST, priority ASC, id").await;
    assert_eq!(seen, expected, "every row once, in order, across {pages} pages");
}

async fn tampered_and_foreign_cursors_are_refused(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app.get("/api/v1/trackers?select=id&order=priority&limit=5").await;
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let cursor = link.split("after=").nth(1).unwrap().split('>').next().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_error(
        app.get(&format!("/api/v1/trackers?select=id&order=priority&limit=5&after={tampered}")).await,
        400,
        "invalid_cursor",
        "invalid cursor",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/trackers?select=id&order=due_date&limit=5&after={cursor}")).await,
        400,
        "invalid_cursor",
        "another query",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/trackers?select=id&order=priority&limit=5&offset=5&after={cursor}")).await,
        400,
        "unsupported",
        "not both",
    )
    .await;
    let valid = app.get(&format!("/api/v1/trackers?select=id&order=priority&limit=5&after={cursor}")).await;
    assert_eq!(valid.status(), 200);
}

/// The `after` cursor of the `Link` header of a path's answer.
async fn next_cursor(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    link.split("after=").nth(1).unwrap().split(['>', '&']).next().unwrap().to_owned()
}

async fn cursors_verify_on_instances_sharing_the_secret_and_across_a_rotation(engine: Engine) {
    let secret = |byte: u8| Some(CursorSecret::new(vec![byte; 32]).unwrap());
    // Three instances over identical data (the seed is deterministic): two sharing the old
    // secret, and one rotated to a new secret with the old one as previous.
    let first = TestApp::spawn_on_with(engine, |config| config.cursor_secret = secret(1)).await;
    let second = TestApp::spawn_on_with(engine, |config| config.cursor_secret = secret(1)).await;
    let rotated = TestApp::spawn_on_with(engine, |config| {
        config.cursor_secret = secret(2);
        config.cursor_secret_previous = secret(1);
    })
    .await;
    let page = "/api/v1/trackers?select=id&order=priority,id&limit=5";
    let old_cursor = next_cursor(&first, page).await;
    let expected = first.get_json(&format!("{page}&after={old_cursor}"), 200).await;
    assert_eq!(second.get_json(&format!("{page}&after={old_cursor}"), 200).await, expected, "a shared secret");
    assert_eq!(rotated.get_json(&format!("{page}&after={old_cursor}"), 200).await, expected, "the previous secret");

    // The rotated instance signs with the new secret, which the others do not know.
    let new_cursor = next_cursor(&rotated, page).await;
    assert_ne!(new_cursor, old_cursor);
    assert_eq!(rotated.get_json(&format!("{page}&after={new_cursor}"), 200).await, expected);
    assert_error(
        second.get(&format!("{page}&after={new_cursor}")).await,
        400,
        "invalid_cursor",
        "belongs to another query or server",
    )
    .await;
    // Default instances each sign with a random secret of their own.
    let (alone, other) = (TestApp::spawn_on(engine).await, TestApp::spawn_on(engine).await);
    let random_cursor = next_cursor(&alone, page).await;
    assert_error(other.get(&format!("{page}&after={random_cursor}")).await, 400, "invalid_cursor", "another").await;
}

async fn aggregates_group_by_the_other_columns(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let rows = app.get_json("/api/v1/trackers?select=production_status,count(),priority.avg(),due_date.max()&reporting_effort_id=eq.1&order=production_status", 200).await;
    let expected = app
        .rows("SELECT production_status, count(*), CAST(avg(priority) AS DOUBLE PRECISION), CAST(max(due_date) AS TEXT) FROM trackers WHERE reporting_effort_id = 1 GROUP BY production_status ORDER BY production_status")
        .await;
    assert_eq!(rows.as_array().unwrap().len(), expected.len());
    for (row, expected) in rows.as_array().unwrap().iter().zip(expected) {
        assert_eq!(row["production_status"], expected[0]);
        assert_eq!(row["count"], expected[1]);
        assert!((row["avg"].as_f64().unwrap() - expected[2].as_f64().unwrap()).abs() < 1e-9, "{row}");
        assert_eq!(row["max"], expected[3]);
    }
    let total = app.get_json("/api/v1/tracker_comments?select=total:count()", 200).await;
    let expected = app.scalar("SELECT count(*) FROM tracker_comments").await;
    assert_eq!(total, serde_json::json!([{ "total": expected }]));
    assert_error(app.get("/api/v1/trackers?select=production_status.sum()").await, 400, "invalid_parameter", "sum()")
        .await;
    assert_error(
        app.get("/api/v1/trackers?select=count(),tracker_comments(id)").await,
        400,
        "unsupported",
        "aggregates",
    )
    .await;
}

async fn single_object_accept_is_matched_whole_and_in_any_case(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let get = |accept: &'static str| app.client.get(app.url("/api/v1/users?id=eq.3")).header("accept", accept).send();
    for accept in [
        "Application/Vnd.PGRST.Object+JSON",
        "application/vnd.pgrst.object+json; charset=utf-8",
        "text/html, application/vnd.pgrst.object",
    ] {
        let response = get(accept).await.unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        let user: Value = response.json().await.unwrap();
        assert_eq!(user["id"], 3, "{accept}: one object, not an array");
    }
    // A longer type that merely starts with the single-object one is not it.
    let rows: Value = get("application/vnd.pgrst.object+jsonx, application/json").await.unwrap().json().await.unwrap();
    assert!(rows.is_array(), "{rows}");
}

async fn single_objects(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let response = app
        .client
        .get(app.url("/api/v1/users?id=eq.3"))
        .header("accept", "application/vnd.pgrst.object+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["id"], 3);
    let response = app
        .client
        .get(app.url("/api/v1/users?role=eq.editor"))
        .header("accept", "application/vnd.pgrst.object+json")
        .send()
        .await
        .unwrap();
    assert_error(response, 406, "not_single_object", "exactly one row").await;
    let response = app
        .client
        .get(app.url("/api/v1/users?id=eq.999999"))
        .header("accept", "application/vnd.pgrst.object+json")
        .send()
        .await
        .unwrap();
    assert_error(response, 406, "not_single_object", "none").await;
    let tracker = app.get_json("/api/v1/trackers/4?select=id,item:reporting_effort_items(item_code)", 200).await;
    assert_eq!(tracker["id"], 4);
    assert!(tracker["item"]["item_code"].is_string(), "{tracker}");
}

async fn request_limits_are_clear_errors(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let many_terms: String = (0..51).map(|index| format!("priority=neq.{index}")).collect::<Vec<_>>().join("&");
    assert_error(
        app.get(&format!("/api/v1/trackers?{many_terms}")).await,
        400,
        "limit_exceeded",
        "too many filter terms",
    )
    .await;
    let long_list: String = (0..1001).map(|index| index.to_string()).collect::<Vec<_>>().join(",");
    assert_error(
        app.get(&format!("/api/v1/trackers?id=in.({long_list})")).await,
        400,
        "limit_exceeded",
        "at most 1000",
    )
    .await;
    let long_url = "x".repeat(9000);
    assert_error(
        app.get(&format!("/api/v1/trackers?select=id&item_code=eq.{long_url}")).await,
        414,
        "uri_too_long",
        "URL",
    )
    .await;
}

async fn counts_of_aggregates_count_groups(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    for (path, groups) in [
        ("/api/v1/trackers?select=count()&id=eq.0", 1),
        ("/api/v1/trackers?select=count()", 1),
        ("/api/v1/trackers?select=production_status,count()", 4),
    ] {
        let response = app.client.get(app.url(path)).header("prefer", "count=exact").send().await.unwrap();
        let range = response.headers()["content-range"].to_str().unwrap().to_owned();
        assert_eq!(range.rsplit('/').next().unwrap(), groups.to_string(), "{path}: {range}");
    }
    assert_error(
        app.get("/api/v1/trackers?select=id,tracker_comments(count())").await,
        400,
        "unsupported",
        "inside an embedding",
    )
    .await;
}

async fn cursors_are_bound_to_inner_filters_and_keep_the_page_size(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let tags: Vec<String> = app
        .rows("SELECT name FROM tracker_tags ORDER BY id LIMIT 2")
        .await
        .into_iter()
        .map(|row| row[0].as_str().unwrap().to_owned())
        .collect();
    let first = format!("/api/v1/trackers?select=id,tracker_tags!inner(name)&tracker_tags.name=eq.{}&limit=2", tags[0]);
    let response = app.get(&first).await;
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let cursor = link.split("after=").nth(1).unwrap().split(['>', '&']).next().unwrap().to_owned();
    let foreign = format!(
        "/api/v1/trackers?select=id,tracker_tags!inner(name)&tracker_tags.name=eq.{}&limit=2&after={cursor}",
        tags[1]
    );
    assert_error(app.get(&foreign).await, 400, "invalid_cursor", "another query").await;

    let response =
        app.client.get(app.url("/api/v1/trackers?select=id")).header("range", "100-102").send().await.unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("limit=3"), "the next page keeps the Range's size: {link}");
}

async fn planned_and_estimated_counts(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let exact = app.count("SELECT count(*) FROM trackers WHERE priority >= 3").await;
    let total = |preference: &'static str| {
        let request =
            app.client.get(app.url("/api/v1/trackers?select=id&priority=gte.3&limit=1")).header("prefer", preference);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.headers()["content-range"].to_str().unwrap().rsplit('/').next().unwrap().parse::<i64>().unwrap()
        }
    };
    assert_eq!(total("count=estimated").await, exact, "small results are counted exactly");
    let planned = total("count=planned").await;
    match engine {
        Engine::Sqlite => assert_eq!(planned, exact, "SQLite keeps no statistics: planned is exact"),
        Engine::Postgres => assert!(planned > 0, "the planner's estimate: {planned} (exact {exact})"),
    }
}

/// `like(any).{…}` is one `like` per value joined by or, `(all)` by and, as in PostgREST;
/// each value is typed by the column like any other.
async fn any_and_all_modifiers_match_as_or_and_and(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let ids =
        |rows: Value| -> Vec<i64> { rows.as_array().unwrap().iter().map(|row| row["id"].as_i64().unwrap()).collect() };
    let any = app.get_json("/api/v1/users?select=id&username=like(any).{admin*,editor1*}&order=id", 200).await;
    let expected =
        app.integers("SELECT id FROM users WHERE username LIKE 'admin%' OR username LIKE 'editor1%' ORDER BY id").await;
    assert!(!expected.is_empty());
    assert_eq!(ids(any), expected);
    let all = app.get_json("/api/v1/users?select=id&username=like(all).{*e*,*r*}&order=id", 200).await;
    let expected =
        app.integers("SELECT id FROM users WHERE username LIKE '%e%' AND username LIKE '%r%' ORDER BY id").await;
    assert_eq!(ids(all), expected);
    let not_any =
        app.get_json("/api/v1/trackers?select=id&priority=not.eq(any).{1,2,3}&order=id&limit=1000", 200).await;
    let expected = app.integers("SELECT id FROM trackers WHERE priority NOT IN (1, 2, 3) ORDER BY id LIMIT 1000").await;
    assert_eq!(ids(not_any), expected);
    assert_error(app.get("/api/v1/trackers?priority=gt(any).{1,high}").await, 400, "invalid_parameter", "high").await;
    assert_error(app.get("/api/v1/trackers?id=in(any).{1,2}").await, 400, "invalid_grammar", "(any)").await;
}

/// `isdistinct` is SQL's `IS DISTINCT FROM`: unlike `neq`, a null column is distinct
/// from a value, and `not.isdistinct` matches equal values only.
async fn isdistinct_counts_null_as_a_value(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let date =
        app.scalar("SELECT CAST(due_date AS TEXT) FROM trackers WHERE due_date IS NOT NULL ORDER BY id LIMIT 1").await;
    let date = date.as_str().unwrap().to_owned();
    let count = |rows: Value| rows.as_array().unwrap().len() as i64;
    let distinct =
        app.get_json(&format!("/api/v1/trackers?select=id&due_date=isdistinct.{date}&limit=1000"), 200).await;
    let nulls = app.count("SELECT count(*) FROM trackers WHERE due_date IS NULL").await;
    assert!(nulls > 0, "the seed has trackers without a due date");
    let other = app.count(&format!("SELECT count(*) FROM trackers WHERE due_date <> '{date}'")).await;
    assert_eq!(count(distinct), other + nulls, "null counts as distinct");
    let neq = app.get_json(&format!("/api/v1/trackers?select=id&due_date=neq.{date}&limit=1000"), 200).await;
    assert_eq!(count(neq), other, "neq leaves nulls out");
    let same =
        app.get_json(&format!("/api/v1/trackers?select=id&due_date=not.isdistinct.{date}&limit=1000"), 200).await;
    let equal = app.count(&format!("SELECT count(*) FROM trackers WHERE due_date = '{date}'")).await;
    assert_eq!(count(same), equal);
}

/// `match` / `imatch`: a regular expression anywhere in the value (PostgreSQL's `~`, `~*`;
/// the same engine on SQLite); a bad or huge pattern is a 400 naming the column.
async fn match_and_imatch_filter_by_regular_expression(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let ids = |rows: serde_json::Value| -> Vec<i64> {
        rows.as_array().unwrap().iter().map(|row| row["id"].as_i64().unwrap()).collect()
    };
    let editors = app.integers("SELECT id FROM users WHERE username LIKE 'editor%' ORDER BY id").await;
    assert_eq!(editors.len(), 10);
    let matched = app.get_json("/api/v1/users?select=id&username=match.%5Eeditor%5Cd%2B%24&order=id", 200).await;
    assert_eq!(ids(matched), editors);
    // Case: match is sensitive, imatch is not.
    let none = app.get_json("/api/v1/users?select=id&username=match.%5EEDITOR", 200).await;
    assert_eq!(ids(none), Vec::<i64>::new());
    let matched = app.get_json("/api/v1/users?select=id&username=imatch.%5EEDITOR&order=id", 200).await;
    assert_eq!(ids(matched), editors);
    // Negated, in a logic tree, and with (any).
    let others = app.count("SELECT count(*) FROM users WHERE username NOT LIKE 'editor%'").await;
    let rows = app.get_json("/api/v1/users?select=id&username=not.match.%5Eeditor&limit=1000", 200).await;
    assert_eq!(rows.as_array().unwrap().len() as i64, others);
    let rows =
        app.get_json("/api/v1/users?select=id&or=(username.match.%5Eeditor1%24,username.eq.admin)&order=id", 200).await;
    assert_eq!(ids(rows), vec![1, 2]);
    let rows =
        app.get_json("/api/v1/users?select=id&username=match(any).%7B%5Eeditor1%24,%5Eadmin%24%7D&order=id", 200).await;
    assert_eq!(ids(rows), vec![1, 2]);
    // Bad patterns and columns are clear errors.
    assert_error(
        app.get("/api/v1/users?username=match.(unclosed").await,
        400,
        "invalid_parameter",
        "invalid regular expression for 'username'",
    )
    .await;
    assert_error(
        app.get("/api/v1/users?username=match.(a%7B100%7D)%7B100%7D").await,
        400,
        "invalid_parameter",
        "too large",
    )
    .await;
    assert_error(app.get("/api/v1/users?id=match.1").await, 400, "invalid_parameter", "needs a text column").await;
    // A class PostgreSQL's engine lacks: SQLite (oxbase's engine) matches, PostgreSQL
    // refuses it as the client's error, never a 500.
    let response = app.get("/api/v1/users?select=id&username=match.%5Cp%7BL%7D&limit=1").await;
    match engine {
        Engine::Sqlite => assert_eq!(response.status(), 200),
        Engine::Postgres => {
            assert_error(response, 400, "invalid_parameter", "PostgreSQL refuses the regular expression").await;
        }
    }
}
