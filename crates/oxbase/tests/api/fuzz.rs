//! A seeded fuzzer: grammar fragments, hostile values, headers and bodies glued at random
//! into reads and writes. Whatever arrives, the answer is never a 5xx, never larger than
//! the response bounds, and every error is JSON with a code; the server (in this test's
//! own process) stays under 256 MB of memory throughout.

use reqwest::Method;
use serde_json::Value;

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(thousands_of_hostile_requests_never_give_a_server_error_or_an_unbounded_answer);

/// Pieces of URLs: names, operators, values the database cannot hold, punctuation.
const URL_PIECES: &[&str] = &[
    "trackers",
    "users",
    "tracker_comments",
    "tracker_tags",
    "limit=",
    "offset=",
    "%00",
    "%ZZ",
    "&",
    "=",
    "?",
    "/",
    "..",
    "1",
    "-1",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "1e309",
    "é",
    "'",
    "%22",
    ";",
    "select=*",
    "select=",
    "id,",
    "tracker_comments(",
    "tracker_comments(*,replies(*))",
    "programmer:users!production_programmer_id(*,produced_trackers(*,tracker_comments(*)))",
    "users!production_programmer_id(",
    ")",
    "!inner",
    "order=",
    ".desc",
    ".nullsfirst",
    "or=(",
    "and(",
    "priority.eq.",
    "eq.",
    "like.",
    "ilike.*a%00*",
    "in.(",
    "not.",
    "is.null",
    ",",
    "*",
    "count()",
    ".sum()",
    "after=",
    "abc",
    "due_date=gte.",
    "created_at=lt.-0001-01-01",
    "2025-01-01",
    "0000-01-01",
    "tracker_comments.limit=",
    "limit=1000",
    "on_conflict=",
];

/// Header values a hostile or confused client sends.
const HEADERS: &[(&str, &str)] = &[
    ("accept-encoding", "identity;q=0"),
    ("accept-encoding", "*;q=0"),
    ("accept-encoding", "br, gzip;q=0.5"),
    ("accept-encoding", "zstd;q=nonsense"),
    ("accept", "application/vnd.pgrst.object+json"),
    ("accept", "text/csv"),
    ("accept", "*/*"),
    ("prefer", "count=exact"),
    ("prefer", "count=estimated"),
    ("prefer", "count=bogus"),
    ("prefer", "return=representation"),
    ("prefer", "return=headers-only"),
    ("prefer", "resolution=merge-duplicates"),
    ("prefer", "resolution=ignore-duplicates"),
    ("range", "0-9"),
    ("range", "9-0"),
    ("range", "items=5-"),
    ("range", "-"),
    ("if-none-match", "*"),
    ("if-none-match", "\"0000000000000000\""),
    ("content-type", "application/json"),
    ("content-type", "application/jsonx"),
    ("content-type", "text/plain"),
];

/// JSON values for a field: right, wrong, and out of every range.
const VALUES: &[&str] = &[
    "1",
    "3",
    "-1",
    "0",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "1.5",
    "1e400",
    "true",
    "null",
    "\"\"",
    "\"text\"",
    "\"a\\u0000b\"",
    "\"2025-01-01\"",
    "\"-0001-01-01\"",
    "\"0001-01-01T00:00:00+01:00\"",
    "\"in_progress\"",
    "\"#ff0000\"",
    "[]",
    "{}",
    "[1,2]",
];

const FIELDS: &[&str] = &[
    "id",
    "name",
    "color",
    "priority",
    "production_status",
    "due_date",
    "tracker_id",
    "user_id",
    "body",
    "resolved_at",
    "reporting_effort_item_id",
    "tracker_comments",
    "unknown",
];

const WRITE_PATHS: &[&str] = &[
    "/api/v1/tracker_tags",
    "/api/v1/tracker_comments",
    "/api/v1/trackers",
    "/api/v1/trackers?id=eq.1",
    "/api/v1/trackers?id=eq.2147483648",
    "/api/v1/tracker_tags?id=gt.5",
    "/api/v1/tracker_comments?body=like.*a*",
    "/api/v1/tracker_tags/1",
    "/api/v1/tracker_tags/2147483648",
    "/api/v1/tracker_tags?on_conflict=name",
    "/api/v1/users?username=like.Admin*",
];

fn random_object(random: &mut fastrand::Rng) -> String {
    let mut object = String::from("{");
    for index in 0..random.usize(0..5) {
        if index > 0 {
            object.push(',');
        }
        // Keys repeat now and then: a duplicate key must not pass unnoticed or crash.
        let field = FIELDS[random.usize(..FIELDS.len())];
        let value = VALUES[random.usize(..VALUES.len())];
        object.push_str(&format!("\"{field}\":{value}"));
    }
    object.push('}');
    object
}

fn random_body(random: &mut fastrand::Rng) -> String {
    match random.u8(..10) {
        0 => "not json".to_owned(),
        1 => "[".repeat(random.usize(1..200)),
        2..=5 => random_object(random),
        _ => {
            let rows: Vec<String> = (0..random.usize(0..6)).map(|_| random_object(random)).collect();
            format!("[{}]", rows.join(","))
        }
    }
}

/// The process's peak resident memory (`VmHWM`), in bytes: the server runs in this test's
/// process, and nextest runs each test in a process of its own.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes * 1024)
}

async fn thousands_of_hostile_requests_never_give_a_server_error_or_an_unbounded_answer(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let max_bytes = app.app.config.response_bounds.max_bytes as usize;
    let mut random = fastrand::Rng::with_seed(11);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut largest = 0usize;
    for round in 0..2400 {
        let (method, path, body) = if round % 4 == 3 {
            let method = [Method::POST, Method::PATCH, Method::DELETE][random.usize(..3)].clone();
            (method, WRITE_PATHS[random.usize(..WRITE_PATHS.len())].to_owned(), Some(random_body(&mut random)))
        } else {
            // Mostly a real resource and a query of fragments; now and then fragments alone.
            let mut path = String::from("/api/v1/");
            if random.u8(..5) > 0 {
                path.push_str(["trackers", "users", "tracker_comments", "tracker_tags"][random.usize(..4)]);
                path.push_str(["?", "?select=", "/", "?id=", "?limit=5&"][random.usize(..5)]);
            }
            for _ in 0..random.usize(1..12) {
                path.push_str(URL_PIECES[random.usize(..URL_PIECES.len())]);
            }
            (Method::GET, path, None)
        };
        let mut request = app.client.request(method.clone(), app.url(&path));
        let mut has_content_type = false;
        for _ in 0..random.usize(0..4) {
            let (name, value) = HEADERS[random.usize(..HEADERS.len())];
            has_content_type |= name == "content-type";
            request = request.header(name, value);
        }
        if let Some(body) = &body {
            if !has_content_type {
                request = request.header("content-type", "application/json");
            }
            request = request.body(body.clone());
        }
        let response = request.send().await.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let status = response.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|value| value.to_str().unwrap_or_default().starts_with("application/json"));
        let bytes = response.bytes().await.unwrap();
        largest = largest.max(bytes.len());
        assert!(status < 500, "{method} {path} {body:?} gave {status}: {}", String::from_utf8_lossy(&bytes));
        assert!(bytes.len() <= max_bytes, "{method} {path}: {} bytes, over the bound", bytes.len());
        if status >= 400 {
            assert!(is_json, "{method} {path}: a {status} error is JSON");
            let error: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{method} {path}: {bytes:?}"));
            assert!(error["code"].is_string(), "{method} {path}: {error}");
        }
    }
    let peak = peak_resident_bytes();
    eprintln!("{engine:?}: statuses {statuses:?}, largest body {largest} bytes, peak RSS {} MiB", peak >> 20);
    assert!(statuses.keys().any(|status| *status < 300), "some requests succeed: {statuses:?}");
    assert!(peak < 256 << 20, "peak resident memory {} MiB", peak >> 20);
}
