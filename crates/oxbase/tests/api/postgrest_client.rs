//! A real PostgREST client against the running server: `@supabase/postgrest-js` from npm,
//! driven by `tests/postgrest-js/client.mjs` under Node. Every query it runs (select,
//! filters, order, range, embedding, count, single rows, an error) is checked against the
//! same query written in SQL on the test database, so "PostgREST clients work unchanged"
//! is proven with the client itself rather than with URLs we wrote by hand. It runs on both
//! engines; on PostgreSQL the SQL runs on PostgreSQL.
//!
//! The npm package is installed by `.ci/run` (`npm ci --prefix tests/postgrest-js`); without
//! it this test fails, it does not skip.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(postgrest_js_queries_match_sql_on_the_same_database);

/// The test server's database, queried with the engine's own driver.
enum Database {
    Sqlite(Connection),
    /// Blocking: used only on a blocking thread.
    Postgres(RefCell<::postgres::Client>),
}

impl Database {
    fn engine(&self) -> Engine {
        match self {
            Database::Sqlite(_) => Engine::Sqlite,
            Database::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQL for this engine: the first on SQLite, the second on PostgreSQL.
    fn pick<'a>(&self, sqlite: &'a str, postgres: &'a str) -> &'a str {
        if self.engine() == Engine::Sqlite { sqlite } else { postgres }
    }
}

/// What a check compares the client's answer with.
struct Truth {
    /// The test server's database.
    database: Database,
    /// The error body oxbase gives the unknown-column request when asked with plain HTTP.
    unknown_column_error_from_plain_http: Value,
}

/// Checks one named query's result (`{data, error, count, status, request}`) and panics on
/// a mismatch.
type Check = fn(&Value, &Truth);

/// Every query client.mjs runs, by name, with its check. A query the client runs without a
/// check here (or the other way round) fails the test, so the two files stay in step.
const CHECKS: &[(&str, Check)] = &[
    ("select_columns", check_select_columns),
    ("filter_eq_and_gte", check_filter_eq_and_gte),
    ("filter_in", check_filter_in),
    ("filter_is_null", check_filter_is_null),
    ("filter_neq", check_filter_neq),
    ("filter_lt_date", check_filter_lt_date),
    ("filter_like", check_filter_like),
    ("filter_ilike", check_filter_ilike),
    ("filter_not", check_filter_not),
    ("filter_or", check_filter_or),
    ("order_due_date_desc_nulls_last", check_order_due_date_desc_nulls_last),
    ("range_10_to_19", check_range_10_to_19),
    ("embed_item_and_comments", check_embed_item_and_comments),
    ("embed_disambiguated_user", check_embed_disambiguated_user),
    ("embed_many_to_many_tags", check_embed_many_to_many_tags),
    ("embed_nested_replies", check_embed_nested_replies),
    ("embed_inner_item_filter", check_embed_inner_item_filter),
    ("embed_inner_comments_filter", check_embed_inner_comments_filter),
    ("embed_filter_without_inner", check_embed_filter_without_inner),
    ("count_exact", check_count_exact),
    ("count_exact_head", check_count_exact_head),
    ("single", check_single),
    ("maybe_single_missing", check_maybe_single_missing),
    ("error_unknown_column", check_error_unknown_column),
    ("insert_bulk_missing_default", check_insert_bulk_missing_default),
    ("insert_bulk_missing_null", check_insert_bulk_missing_null),
    ("upsert_bulk", check_upsert_bulk),
];

async fn postgrest_js_queries_match_sql_on_the_same_database(engine: Engine) {
    let client_directory = postgrest_js_directory();
    let app = TestApp::spawn_on(engine).await;
    // The status is checked with the client's answer, so a wrong one is reported with the rest.
    let unknown_column_error_from_plain_http: Value =
        app.get("/api/v1/trackers?select=id,no_such_column").await.json().await.unwrap_or(Value::Null);
    let base_url = app.url("/api/v1");
    // The server runs on this test's runtime, so the blocking wait for Node goes elsewhere.
    let results = tokio::task::spawn_blocking(move || run_client(&client_directory, &base_url)).await.unwrap();
    let (sqlite_path, postgres_url) = (app.database_path.clone(), app.postgres_url());

    let ran: BTreeSet<&str> = results.as_object().unwrap().keys().map(String::as_str).collect();
    let checked: BTreeSet<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
    assert_eq!(ran, checked, "client.mjs and CHECKS must name the same queries");

    // The checks query the database with blocking clients, so they run on a blocking thread.
    let failures = tokio::task::spawn_blocking(move || {
        let database = match postgres_url {
            None => Database::Sqlite(Connection::open(sqlite_path).unwrap()),
            Some(url) => {
                Database::Postgres(RefCell::new(::postgres::Client::connect(&url, ::postgres::NoTls).unwrap()))
            }
        };
        let truth = Truth { database, unknown_column_error_from_plain_http };
        // Run every check even when one fails, so one run reports every broken query.
        let mut failures = Vec::new();
        for (name, check) in CHECKS {
            let result = &results[*name];
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(result, &truth))) {
                failures.push(format!(
                    "{name}: {}\n    request: {}\n    status: {}, error: {}",
                    panic_message(panic.as_ref()),
                    result["request"],
                    result["status"],
                    result["error"],
                ));
            }
        }
        failures
    })
    .await
    .unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} postgrest-js queries failed:\n{}",
        failures.len(),
        CHECKS.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Running the client

/// `tests/postgrest-js` at the workspace root, with its npm packages installed.
fn postgrest_js_directory() -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/postgrest-js");
    let installed = |directory: &Path| directory.join("node_modules/@supabase/postgrest-js/package.json").is_file();
    if !installed(&directory) {
        // The locked client version comes from the npm registry, so that the README's test
        // command works on a fresh clone (.ci/run installs it before the tests as well).
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&directory)
            .status()
            .unwrap_or_else(|error| {
                panic!("postgrest-js is not installed and npm cannot run ({error}): install Node.js 20+ with npm")
            });
        assert!(status.success(), "`npm ci --prefix {}` failed", directory.display());
    }
    assert!(installed(&directory), "postgrest-js is still missing from {}", directory.display());
    directory
}

/// Runs `node client.mjs <base_url>` and parses the one JSON object it prints.
fn run_client(directory: &Path, base_url: &str) -> Value {
    let output = Command::new("node")
        .arg("client.mjs")
        .arg(base_url)
        .current_dir(directory)
        .output()
        .unwrap_or_else(|error| panic!("cannot start `node` (is Node.js installed and on PATH?): {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The client logs every request it sends; shown when the test fails.
    eprintln!("{stderr}");
    assert!(output.status.success(), "client.mjs failed ({}):\n{stderr}", output.status);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("client.mjs printed no JSON object ({error}):\n{}", String::from_utf8_lossy(&output.stdout))
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the checks

/// The rows of a successful list query: status 200, no error, `data` an array.
fn successful_rows(result: &Value) -> &Vec<Value> {
    assert_eq!(result["status"], 200, "status");
    assert!(result["error"].is_null(), "error: {}", result["error"]);
    result["data"].as_array().unwrap_or_else(|| panic!("data is not an array: {}", result["data"]))
}

/// Runs `sql` and gives each row as a JSON object keyed by column name, with SQLite's
/// integers, reals, text and nulls as JSON numbers, strings and nulls (what oxbase sends for
/// the pearl columns used here; booleans are compared separately). On PostgreSQL each row is
/// PostgreSQL's own `row_to_json` (dates as YYYY-MM-DD, as oxbase sends them).
fn sql_rows(database: &Database, sql: &str) -> Vec<Value> {
    let database = match database {
        Database::Sqlite(database) => database,
        Database::Postgres(client) => {
            let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) AS q");
            let rows =
                client.borrow_mut().query(wrapped.as_str(), &[]).unwrap_or_else(|error| panic!("{sql}: {error}"));
            return rows.iter().map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap()).collect();
        }
    };
    let mut statement = database.prepare(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
    let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
    statement
        .query_map([], |row| {
            let mut object = serde_json::Map::new();
            for (index, name) in names.iter().enumerate() {
                let value = match row.get_ref(index)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(integer) => Value::from(integer),
                    ValueRef::Real(real) => Value::from(real),
                    ValueRef::Text(text) => Value::from(String::from_utf8_lossy(text).into_owned()),
                    ValueRef::Blob(_) => panic!("{sql}: pearl has no blob columns"),
                };
                object.insert(name.clone(), value);
            }
            Ok(Value::Object(object))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn sql_count(database: &Database, sql: &str) -> i64 {
    match database {
        Database::Sqlite(database) => {
            database.query_row(sql, [], |row| row.get(0)).unwrap_or_else(|error| panic!("{sql}: {error}"))
        }
        Database::Postgres(client) => {
            client.borrow_mut().query_one(sql, &[]).unwrap_or_else(|error| panic!("{sql}: {error}")).get(0)
        }
    }
}

/// Groups rows by an integer column (removed from the rows), e.g. comments by tracker_id.
fn group_by_column(rows: Vec<Value>, column: &str) -> BTreeMap<i64, Vec<Value>> {
    let mut groups: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for mut row in rows {
        let key = row.as_object_mut().unwrap().remove(column).unwrap().as_i64().unwrap();
        groups.entry(key).or_default().push(row);
    }
    groups
}

/// The `id`s of rows, in order.
fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|row| row["id"].as_i64().unwrap_or_else(|| panic!("a row without an integer id: {row}"))).collect()
}

/// An embedded array sorted by one field: PostgREST promises no order inside an embedding
/// unless the request orders it, so unordered embeddings are compared as sets.
fn sorted_by(array: &Value, field: &str) -> Vec<Value> {
    let mut values = array.as_array().unwrap_or_else(|| panic!("not an array: {array}")).clone();
    values.sort_by_key(|value| (value[field].as_i64(), value[field].as_str().map(str::to_owned)));
    values
}

/// The rows match the SQL result exactly: same ids in the same order, then same fields and
/// values (a field the client did not select must not come back).
fn assert_rows_equal(rows: &[Value], expected: &[Value]) {
    assert_eq!(ids(rows), ids(expected), "ids in order");
    for (row, expected_row) in rows.iter().zip(expected) {
        assert_eq!(row, expected_row, "row {}", expected_row["id"]);
    }
}

/// A filter query is only a test of the filter if the filter keeps some rows and drops some.
fn assert_filter_is_selective(database: &Database, table: &str, kept: usize) {
    let total = sql_count(database, &format!("SELECT count(*) FROM {table}"));
    assert!(kept > 0 && (kept as i64) < total, "fixture: the filter keeps {kept} of {total} rows of {table}");
}

/// A filter query on trackers or items compared with the same WHERE in SQL.
fn check_filter(result: &Value, truth: &Truth, table: &str, sql: &str) {
    let expected = sql_rows(&truth.database, sql);
    assert_filter_is_selective(&truth.database, table, expected.len());
    assert_rows_equal(successful_rows(result), &expected);
}

// ---------------------------------------------------------------------------------------
// select

fn check_select_columns(result: &Value, truth: &Truth) {
    let expected =
        sql_rows(&truth.database, "SELECT id, production_status, priority FROM trackers ORDER BY id LIMIT 3");
    assert_eq!(expected.len(), 3);
    assert_rows_equal(successful_rows(result), &expected);
}

// ---------------------------------------------------------------------------------------
// filters

fn check_filter_eq_and_gte(result: &Value, truth: &Truth) {
    let sql = "SELECT id, production_status, priority FROM trackers \
               WHERE production_status = 'in_progress' AND priority >= 2 ORDER BY id";
    check_filter(result, truth, "trackers", sql);
}

fn check_filter_in(result: &Value, truth: &Truth) {
    check_filter(result, truth, "trackers", "SELECT id, priority FROM trackers WHERE priority IN (1, 5) ORDER BY id");
}

fn check_filter_is_null(result: &Value, truth: &Truth) {
    check_filter(result, truth, "trackers", "SELECT id, due_date FROM trackers WHERE due_date IS NULL ORDER BY id");
}

fn check_filter_neq(result: &Value, truth: &Truth) {
    let sql = "SELECT id, qc_status FROM trackers WHERE qc_status <> 'not_started' ORDER BY id";
    check_filter(result, truth, "trackers", sql);
}

fn check_filter_lt_date(result: &Value, truth: &Truth) {
    // ISO dates compare as text in SQLite; a null due date is not less than anything.
    let sql = "SELECT id, due_date FROM trackers WHERE due_date < '2025-06-01' ORDER BY id";
    check_filter(result, truth, "trackers", sql);
}

fn check_filter_like(result: &Value, truth: &Truth) {
    // PostgREST's like is PostgreSQL's case-sensitive LIKE with * for %: SQLite's GLOB.
    let sql = truth.database.pick(
        "SELECT id, item_code FROM reporting_effort_items WHERE item_code GLOB '*1*' ORDER BY id",
        "SELECT id, item_code FROM reporting_effort_items WHERE item_code LIKE '%1%' ORDER BY id",
    );
    check_filter(result, truth, "reporting_effort_items", sql);
}

fn check_filter_ilike(result: &Value, truth: &Truth) {
    // SQLite's LIKE ignores ASCII case, like ilike; the client's pattern is in another case
    // than the titles ("Safety Population"), so a case-sensitive match would find nothing.
    let sql = truth.database.pick(
        "SELECT id, title FROM reporting_effort_items WHERE title LIKE '%safety population%' ORDER BY id",
        "SELECT id, title FROM reporting_effort_items WHERE title ILIKE '%safety population%' ORDER BY id",
    );
    check_filter(result, truth, "reporting_effort_items", sql);
}

fn check_filter_not(result: &Value, truth: &Truth) {
    let sql = "SELECT id, qc_status FROM trackers WHERE NOT (qc_status = 'failed') ORDER BY id";
    check_filter(result, truth, "trackers", sql);
}

fn check_filter_or(result: &Value, truth: &Truth) {
    let sql = "SELECT id, priority FROM trackers WHERE priority = 1 OR priority = 5 ORDER BY id";
    check_filter(result, truth, "trackers", sql);
}

// ---------------------------------------------------------------------------------------
// order and range

fn check_order_due_date_desc_nulls_last(result: &Value, truth: &Truth) {
    let expected =
        sql_rows(&truth.database, "SELECT id, due_date FROM trackers ORDER BY due_date IS NULL, due_date DESC, id");
    assert!(expected.last().unwrap()["due_date"].is_null(), "fixture: some trackers have no due date");
    assert_rows_equal(successful_rows(result), &expected);
}

fn check_range_10_to_19(result: &Value, truth: &Truth) {
    let expected = sql_rows(&truth.database, "SELECT id FROM trackers ORDER BY id LIMIT 10 OFFSET 10");
    assert_eq!(expected.len(), 10);
    assert_rows_equal(successful_rows(result), &expected);
}

// ---------------------------------------------------------------------------------------
// embedding

fn check_embed_item_and_comments(result: &Value, truth: &Truth) {
    let trackers = sql_rows(
        &truth.database,
        "SELECT t.id, i.item_code, i.title FROM trackers t \
         JOIN reporting_effort_items i ON i.id = t.reporting_effort_item_id ORDER BY t.id LIMIT 20",
    );
    let comments_by_tracker = group_by_column(
        sql_rows(&truth.database, "SELECT tracker_id, id, body FROM tracker_comments ORDER BY id"),
        "tracker_id",
    );
    let rows = successful_rows(result);
    assert_eq!(ids(rows), ids(&trackers), "tracker ids in order");
    for (row, tracker) in rows.iter().zip(&trackers) {
        let id = tracker["id"].as_i64().unwrap();
        let expected_item = json!({ "item_code": tracker["item_code"], "title": tracker["title"] });
        let expected_comments = comments_by_tracker.get(&id).cloned().unwrap_or_default();
        let expected_row = json!({ "id": id, "item": expected_item, "comments": expected_comments });
        let row_with_sorted_comments =
            json!({ "id": row["id"], "item": row["item"], "comments": sorted_by(&row["comments"], "id") });
        assert_eq!(row_with_sorted_comments, expected_row, "tracker {id}");
        assert_eq!(row.as_object().unwrap().len(), 3, "only id, item and comments: {row}");
    }
}

fn check_embed_disambiguated_user(result: &Value, truth: &Truth) {
    let trackers = sql_rows(
        &truth.database,
        "SELECT t.id, t.production_programmer_id, u.username FROM trackers t \
         LEFT JOIN users u ON u.id = t.production_programmer_id ORDER BY t.id LIMIT 50",
    );
    assert!(
        trackers.iter().any(|tracker| tracker["username"].is_null())
            && trackers.iter().any(|tracker| !tracker["username"].is_null()),
        "fixture: the page has trackers with and without a production programmer"
    );
    let expected: Vec<Value> = trackers
        .iter()
        .map(|tracker| {
            // Many-to-one: one object, or null when the tracker has no programmer.
            let user = if tracker["username"].is_null() { Value::Null } else { json!({ "username": tracker["username"] }) };
            json!({ "id": tracker["id"], "production_programmer_id": tracker["production_programmer_id"], "users": user })
        })
        .collect();
    assert_rows_equal(successful_rows(result), &expected);
}

fn check_embed_many_to_many_tags(result: &Value, truth: &Truth) {
    let trackers = sql_rows(&truth.database, "SELECT id FROM trackers ORDER BY id LIMIT 50");
    let tags_by_tracker = group_by_column(
        sql_rows(
            &truth.database,
            "SELECT j.tracker_id, g.name FROM tracker_item_tags j JOIN tracker_tags g ON g.id = j.tag_id",
        ),
        "tracker_id",
    );
    assert!(
        trackers
            .iter()
            .any(|tracker| tags_by_tracker.get(&tracker["id"].as_i64().unwrap()).is_some_and(|tags| tags.len() > 1)),
        "fixture: some tracker on the page has several tags"
    );
    let rows = successful_rows(result);
    assert_eq!(ids(rows), ids(&trackers), "tracker ids in order");
    for row in rows {
        let id = row["id"].as_i64().unwrap();
        let expected_tags = tags_by_tracker.get(&id).cloned().unwrap_or_default();
        assert_eq!(
            sorted_by(&row["tracker_tags"], "name"),
            sorted_by(&Value::from(expected_tags), "name"),
            "tracker {id}"
        );
        assert_eq!(row.as_object().unwrap().len(), 2, "only id and tracker_tags: {row}");
    }
}

fn check_embed_nested_replies(result: &Value, truth: &Truth) {
    let trackers = sql_rows(&truth.database, "SELECT id FROM trackers ORDER BY id LIMIT 20");
    // The client orders the embedded comments by id descending (tracker_comments.order).
    let comments_by_tracker = group_by_column(
        sql_rows(&truth.database, "SELECT tracker_id, id FROM tracker_comments ORDER BY id DESC"),
        "tracker_id",
    );
    let replies_by_comment = group_by_column(
        sql_rows(
            &truth.database,
            "SELECT parent_comment_id, id FROM tracker_comments WHERE parent_comment_id IS NOT NULL ORDER BY id",
        ),
        "parent_comment_id",
    );
    let rows = successful_rows(result);
    assert_eq!(ids(rows), ids(&trackers), "tracker ids in order");
    let mut replies_seen = 0;
    for row in rows {
        let tracker_id = row["id"].as_i64().unwrap();
        let comments = row["tracker_comments"].as_array().unwrap_or_else(|| panic!("tracker {tracker_id}: {row}"));
        let expected_comments = comments_by_tracker.get(&tracker_id).cloned().unwrap_or_default();
        assert_eq!(ids(comments), ids(&expected_comments), "tracker {tracker_id}: comment ids, newest first");
        for comment in comments {
            let comment_id = comment["id"].as_i64().unwrap();
            let expected_replies = replies_by_comment.get(&comment_id).cloned().unwrap_or_default();
            replies_seen += expected_replies.len();
            assert_eq!(sorted_by(&comment["replies"], "id"), expected_replies, "replies to comment {comment_id}");
            assert_eq!(comment.as_object().unwrap().len(), 2, "only id and replies: {comment}");
        }
    }
    assert!(replies_seen > 0, "fixture: some comment on the page has replies");
}

fn check_embed_inner_item_filter(result: &Value, truth: &Truth) {
    let items = sql_rows(
        &truth.database,
        "SELECT t.id, i.item_code, i.item_type FROM trackers t \
         JOIN reporting_effort_items i ON i.id = t.reporting_effort_item_id WHERE i.item_type = 'Dataset' ORDER BY t.id",
    );
    assert_filter_is_selective(&truth.database, "trackers", items.len());
    let expected: Vec<Value> = items
        .iter()
        .map(|row| json!({ "id": row["id"], "item": { "item_code": row["item_code"], "item_type": row["item_type"] } }))
        .collect();
    assert_rows_equal(successful_rows(result), &expected);
}

fn check_embed_inner_comments_filter(result: &Value, truth: &Truth) {
    // !inner keeps only trackers with a biostat comment, and the filter keeps only those
    // comments in each embedded array.
    let biostat_comments_by_tracker = group_by_column(
        sql_rows(
            &truth.database,
            "SELECT tracker_id, id, comment_type FROM tracker_comments WHERE comment_type = 'biostat' ORDER BY id",
        ),
        "tracker_id",
    );
    assert_filter_is_selective(&truth.database, "trackers", biostat_comments_by_tracker.len());
    let rows = successful_rows(result);
    let expected_ids: Vec<i64> = biostat_comments_by_tracker.keys().copied().collect();
    assert_eq!(ids(rows), expected_ids, "trackers with a biostat comment, in id order");
    for row in rows {
        let id = row["id"].as_i64().unwrap();
        assert_eq!(sorted_by(&row["comments"], "id"), biostat_comments_by_tracker[&id], "tracker {id}");
    }
}

fn check_embed_filter_without_inner(result: &Value, truth: &Truth) {
    // Without !inner every tracker stays; the filter only narrows the embedded arrays.
    let trackers = sql_rows(&truth.database, "SELECT id FROM trackers ORDER BY id LIMIT 20");
    let unresolved_by_tracker = group_by_column(
        sql_rows(&truth.database, "SELECT tracker_id, id FROM tracker_comments WHERE is_resolved = false ORDER BY id"),
        "tracker_id",
    );
    assert!(
        trackers.iter().any(|tracker| !unresolved_by_tracker.contains_key(&tracker["id"].as_i64().unwrap())),
        "fixture: some tracker on the page has no unresolved comment"
    );
    let rows = successful_rows(result);
    assert_eq!(ids(rows), ids(&trackers), "every tracker of the page, in id order");
    for row in rows {
        let id = row["id"].as_i64().unwrap();
        let comments = sorted_by(&row["comments"], "id");
        let expected_ids = ids(&unresolved_by_tracker.get(&id).cloned().unwrap_or_default());
        assert_eq!(ids(&comments), expected_ids, "tracker {id}: its unresolved comments");
        for comment in &comments {
            assert_eq!(comment["is_resolved"], false, "tracker {id}: {comment}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// count

fn check_count_exact(result: &Value, truth: &Truth) {
    let total = sql_count(&truth.database, "SELECT count(*) FROM trackers WHERE production_status = 'completed'");
    let first_page =
        sql_rows(&truth.database, "SELECT id FROM trackers WHERE production_status = 'completed' ORDER BY id LIMIT 5");
    assert!(total > 5, "fixture: more completed trackers than one page");
    assert_rows_equal(successful_rows(result), &first_page);
    assert_eq!(result["count"], total, "count is the total of the filter, not of the page");
}

fn check_count_exact_head(result: &Value, truth: &Truth) {
    let total = sql_count(&truth.database, "SELECT count(*) FROM trackers WHERE production_status = 'on_hold'");
    assert_eq!(result["request"]["method"], "HEAD");
    assert_eq!(result["status"], 200, "status");
    assert!(result["error"].is_null(), "error: {}", result["error"]);
    assert!(result["data"].is_null(), "HEAD has no body: {}", result["data"]);
    assert_eq!(result["count"], total);
}

// ---------------------------------------------------------------------------------------
// one row

fn check_single(result: &Value, truth: &Truth) {
    let expected = sql_rows(&truth.database, "SELECT id, priority, production_status FROM trackers WHERE id = 5");
    assert_eq!(result["status"], 200, "status");
    assert!(result["error"].is_null(), "error: {}", result["error"]);
    assert_eq!(result["data"], expected[0], "one object, not an array");
}

fn check_maybe_single_missing(result: &Value, truth: &Truth) {
    assert_eq!(sql_count(&truth.database, "SELECT count(*) FROM trackers WHERE id = 999999"), 0);
    assert_eq!(result["status"], 200, "status");
    assert!(result["error"].is_null(), "no row is not an error for maybeSingle: {}", result["error"]);
    assert!(result["data"].is_null(), "data: {}", result["data"]);
}

// ---------------------------------------------------------------------------------------
// errors

fn check_error_unknown_column(result: &Value, truth: &Truth) {
    assert_eq!(result["status"], 400, "status");
    assert!(result["data"].is_null(), "data: {}", result["data"]);
    let error = &result["error"];
    assert_eq!(error["code"], "unknown_column", "{error}");
    assert!(error["message"].as_str().is_some_and(|message| message.contains("no_such_column")), "{error}");
    assert!(error.get("details").is_some() && error.get("hint").is_some(), "{error}");
    assert_eq!(
        *error, truth.unknown_column_error_from_plain_http,
        "the client hands over oxbase's error body unchanged"
    );
}

// ---------------------------------------------------------------------------------------
// writes: bulk insert and upsert, which send ?columns= (and Prefer: missing=default)

/// The rows a write returned, sorted by name.
fn by_name(data: &Value) -> Vec<Value> {
    let mut rows = data.as_array().cloned().unwrap_or_default();
    rows.sort_by_key(|row| row["name"].as_str().unwrap_or_default().to_owned());
    rows
}

fn check_insert_bulk_missing_default(result: &Value, truth: &Truth) {
    assert_eq!(result["status"], 201, "status; error: {}", result["error"]);
    let url = result["request"]["url"].as_str().unwrap_or_default();
    assert!(url.contains("columns="), "the client sent columns: {url}");
    let prefer = result["request"]["headers"]["prefer"].as_str().unwrap_or_default();
    assert!(prefer.contains("missing=default"), "the client asked for defaults: {}", result["request"]);
    // The key the second row leaves out gets the column's default.
    let defaults = sql_rows(&truth.database, "SELECT name, color FROM tracker_tags WHERE name = 'js-b'");
    assert_eq!(defaults, [json!({ "name": "js-b", "color": "#808080" })]);
    assert_eq!(by_name(&result["data"]), [json!({ "name": "js-a", "color": "#111111" }), defaults[0].clone()]);
}

fn check_insert_bulk_missing_null(result: &Value, truth: &Truth) {
    // Without missing=default a key a row leaves out is null, as in PostgREST, and color
    // may not be null: the request is refused whole.
    assert_eq!(result["status"], 422, "status; data: {}", result["data"]);
    assert_eq!(result["error"]["code"], "validation_failed", "{}", result["error"]);
    assert!(result["error"]["message"].as_str().unwrap_or_default().contains("[1].color"), "{}", result["error"]);
    assert_eq!(sql_count(&truth.database, "SELECT count(*) FROM tracker_tags WHERE name IN ('js-d', 'js-e')"), 0);
}

fn check_upsert_bulk(result: &Value, truth: &Truth) {
    assert_eq!(result["status"], 201, "status; error: {}", result["error"]);
    let expected =
        sql_rows(&truth.database, "SELECT name, color FROM tracker_tags WHERE name IN ('js-a', 'js-c') ORDER BY name");
    assert_eq!(
        expected,
        [json!({ "name": "js-a", "color": "#222222" }), json!({ "name": "js-c", "color": "#333333" })]
    );
    assert_eq!(by_name(&result["data"]), expected, "the merged row and the new one");
}
