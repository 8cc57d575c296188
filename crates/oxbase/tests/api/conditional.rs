//! ETags, conditional GETs and compression of responses.

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(
    etag_and_if_none_match,
    compression_by_accept_encoding,
    repeated_reads_come_from_the_cache_until_a_write_changes_what_they_read,
    a_conditional_hit_needs_no_database_work,
    a_cached_body_is_compressed_once_per_coding,
    compression_level_is_configurable,
    identical_concurrent_misses_read_the_database_once,
);

async fn etag_and_if_none_match(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let path = "/api/v1/trackers?select=id,priority&id=lt.20";
    let first = app.get(path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");

    let again = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], tag.as_str());
    assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");

    let other = app.client.get(app.url(path)).header("if-none-match", "\"0000000000000000\"").send().await.unwrap();
    assert_eq!(other.status(), 200, "a stale tag gets the body");

    let priority = app.count("SELECT priority FROM trackers WHERE id = 5").await;
    let patched =
        app.send_json(Method::PATCH, "/api/v1/trackers/5", &json!({ "priority": priority % 5 + 1 }), None).await;
    assert_eq!(patched.status(), 204);
    let changed = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(changed.status(), 200, "after a write the old tag no longer matches");
    assert_ne!(changed.headers()["etag"], tag.as_str());
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded).unwrap();
        }
        "br" => {
            brotli::Decompressor::new(bytes, 4096).read_to_end(&mut decoded).unwrap();
        }
        "zstd" => decoded = zstd::decode_all(bytes).unwrap(),
        other => panic!("unexpected encoding {other}"),
    }
    decoded
}

async fn compression_by_accept_encoding(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let path = "/api/v1/tracker_comments?limit=200";
    let plain = app.get(path).await;
    assert!(plain.headers().get("content-encoding").is_none(), "no Accept-Encoding, no compression");
    let plain: Value = plain.json().await.unwrap();
    for (accept, expected) in [("gzip", "gzip"), ("br", "br"), ("zstd", "zstd"), ("gzip;q=0.5, br;q=1.0", "br")] {
        let response = app.client.get(app.url(path)).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let encoding = response.headers()["content-encoding"].to_str().unwrap().to_owned();
        assert_eq!(encoding, expected, "Accept-Encoding: {accept}");
        assert_eq!(response.headers()["content-range"], "0-199/*", "the row range survives compression");
        let bytes = response.bytes().await.unwrap();
        let decoded: Value = serde_json::from_slice(&decode(&encoding, &bytes)).unwrap();
        assert_eq!(decoded, plain, "{encoding} decodes to the same rows");
        assert!(bytes.len() < serde_json::to_vec(&plain).unwrap().len() / 2, "{encoding} is smaller");
    }
    let small = app.client.get(app.url("/api/v1/users/1")).header("accept-encoding", "gzip").send().await.unwrap();
    assert!(small.headers().get("content-encoding").is_none(), "a small body is sent as it is");
    let tag = app.get("/api/v1/users/1").await.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = app
        .client
        .get(app.url("/api/v1/users/1"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.headers().get("content-encoding").is_none(), "a 304 is never compressed");
}

/// The statement count a response's `Server-Timing` reports.
fn statements(response: &reqwest::Response) -> u32 {
    let timing = response.headers()["server-timing"].to_str().unwrap().to_owned();
    let description = timing.split("desc=\"").nth(1).unwrap_or_else(|| panic!("no statement count in {timing}"));
    description.split(' ').next().unwrap().parse().unwrap()
}

async fn repeated_reads_come_from_the_cache_until_a_write_changes_what_they_read(engine: Engine) {
    // The cache is opt-in on PostgreSQL.
    let app = TestApp::spawn_on_with(engine, |config| config.cache_enabled = Some(true)).await;
    let path = "/api/v1/trackers?select=id,comments:tracker_comments(id,body)&id=eq.3";
    let first = app.get(path).await;
    assert!(statements(&first) > 0);
    let first: Value = first.json().await.unwrap();
    let second = app.get(path).await;
    assert_eq!(statements(&second), 0, "the second read is a cache hit");
    assert_eq!(second.json::<Value>().await.unwrap(), first);

    // A write to an embedded resource invalidates the entry at once.
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!({ "tracker_id": 3, "user_id": 2, "body": "fresh" }),
            None,
        )
        .await;
    assert_eq!(created.status(), 201);
    let third = app.get(path).await;
    assert!(statements(&third) > 0, "a changed resource misses");
    let third: Value = third.json().await.unwrap();
    assert!(third[0]["comments"].as_array().unwrap().iter().any(|comment| comment["body"] == "fresh"), "{third}");

    // No stale read across many write/read rounds.
    for round in 0..50 {
        let priority = round % 5 + 1;
        let path = "/api/v1/trackers/9?select=id,priority";
        app.get(path).await;
        let patched = app.send_json(Method::PATCH, "/api/v1/trackers/9", &json!({ "priority": priority }), None).await;
        assert_eq!(patched.status(), 204);
        let read = app.get_json(path, 200).await;
        assert_eq!(read["priority"], priority, "round {round}: the read after a write sees it");
    }
}

async fn a_conditional_hit_needs_no_database_work(engine: Engine) {
    let app = TestApp::spawn_on_with(engine, |config| {
        config.admin_enabled = true;
        config.cache_enabled = Some(true);
    })
    .await;
    let path = "/api/v1/tracker_comments?limit=100";
    let tag = app.get(path).await.headers()["etag"].to_str().unwrap().to_owned();
    let conditional = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(conditional.status(), 304);
    assert_eq!(statements(&conditional), 0, "answered from the cache");
    let statistics = app.get_json("/admin/cache", 200).await;
    assert!(statistics["hits"].as_u64().unwrap() >= 1, "{statistics}");
    assert!(statistics["bytes"].as_u64().unwrap() > 0, "{statistics}");
}

async fn a_cached_body_is_compressed_once_per_coding(engine: Engine) {
    let app = TestApp::spawn_on_with(engine, |config| {
        config.admin_enabled = true;
        config.cache_enabled = Some(true);
    })
    .await;
    let path = "/api/v1/tracker_comments?limit=200";
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let response = app.client.get(app.url(path)).header("accept-encoding", "br").send().await.unwrap();
        assert_eq!(response.headers()["content-encoding"], "br");
        assert_eq!(response.headers()["vary"], "accept-encoding");
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(bodies.iter().all(|body| *body == bodies[0]), "hits send the stored variant's bytes");
    let gzip = app.client.get(app.url(path)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let statistics = app.get_json("/admin/cache", 200).await;
    // The miss compressed br, the gzip hit compressed gzip once; the two br hits reused it.
    assert_eq!(statistics["compressions"], 2, "{statistics}");
    assert_eq!(statistics["precompressed_hits"], 2, "{statistics}");

    // A write makes a new entry, compressed afresh, that decodes to the new rows.
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/tracker_comments",
            &json!({ "tracker_id": 1, "user_id": 1, "body": "after" }),
            None,
        )
        .await;
    assert_eq!(created.status(), 201);
    let fresh = app.client.get(app.url(path)).header("accept-encoding", "br").send().await.unwrap();
    let plain: Value = app.get_json(path, 200).await;
    let decoded: Value = serde_json::from_slice(&decode("br", &fresh.bytes().await.unwrap())).unwrap();
    assert_eq!(decoded, plain);
    assert_eq!(app.get_json("/admin/cache", 200).await["compressions"], 3);
}

async fn compression_level_is_configurable(engine: Engine) {
    let path = "/api/v1/tracker_comments?limit=500";
    let mut sizes = Vec::new();
    for level in [0, 11] {
        let app = TestApp::spawn_on_with(engine, |config| config.compression_level = Some(level)).await;
        let response = app.client.get(app.url(path)).header("accept-encoding", "br").send().await.unwrap();
        let bytes = response.bytes().await.unwrap();
        let decoded: Value = serde_json::from_slice(&decode("br", &bytes)).unwrap();
        assert_eq!(decoded.as_array().unwrap().len(), 500);
        sizes.push(bytes.len());
    }
    assert!(sizes[1] < sizes[0], "level 11 is smaller than level 0: {sizes:?}");
}

/// Many identical requests at once on a cold cache: one reads the database, the others are
/// answered from the entry it stores (no thundering herd on the database).
async fn identical_concurrent_misses_read_the_database_once(engine: Engine) {
    let app = TestApp::spawn_on_with(engine, |config| {
        config.admin_enabled = true;
        config.cache_enabled = Some(true);
    })
    .await;
    let path = "/api/v1/tracker_comments?select=*,tracker:trackers(*)&limit=1000&order=body";
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let request = app.client.get(app.url(path));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                let statements = statements(&response);
                (statements, response.bytes().await.unwrap())
            })
        })
        .collect();
    let mut readers = 0;
    let mut bodies = Vec::new();
    for request in requests {
        let (statements, body) = request.await.unwrap();
        readers += usize::from(statements > 0);
        bodies.push(body);
    }
    assert_eq!(readers, 1, "exactly one of 16 identical requests ran statements");
    assert!(bodies.iter().all(|body| *body == bodies[0]));
    let statistics = app.get_json("/admin/cache", 200).await;
    assert_eq!(statistics["hits"], 15, "{statistics}");
    assert_eq!(statistics["misses"], 1, "{statistics}");
}
