//! Redis gaps between two instances: a Redis that restarts empty, or stalls for a second,
//! must never let one instance serve a hit older than a write another instance answered;
//! and a Redis the instance cannot use at all (a wrong password) is said so, in the log and
//! in readiness.
//!
//! Each test owns its redis-server (on a free port), so restarting or freezing it disturbs
//! no other test.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scale_out::{Api, Instance, RedisServer, TRACKER, eventually, seeded_database};
use crate::support::{ServerProcess, open_pearl_schema_path, oxbase_binary};

/// What a gap does to the test's redis-server, over and over, until told to stop.
#[derive(Clone, Copy, Debug)]
enum Gap {
    /// Kill it and start an empty one on the same port.
    RestartEmpty,
    /// SIGSTOP for a second, then SIGCONT.
    Freeze,
}

/// Runs `gap` on `redis` in a thread of its own until `stop` is set; gives the server back.
fn disturb(mut redis: RedisServer, gap: Gap, stop: Arc<AtomicBool>) -> JoinHandle<RedisServer> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            // Long enough between gaps for the instances to resynchronise and serve hits.
            std::thread::sleep(Duration::from_millis(400));
            match gap {
                Gap::RestartEmpty => {
                    redis.stop();
                    redis = RedisServer::start(Some(redis.port));
                }
                Gap::Freeze => {
                    let pid = redis.process.id().to_string();
                    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
                    std::thread::sleep(Duration::from_secs(1));
                    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
                }
            }
        }
        redis
    })
}

/// A read on B: the priority and whether it was a hit, or `None` for an error answer.
async fn priority_on(api: &Api) -> Option<(i64, bool)> {
    let response = api.client.get(format!("http://{}{TRACKER}", api.address)).send().await.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let hit = response.headers()["server-timing"].to_str().unwrap().contains("desc=\"0 statements\"");
    let body: Value = response.json().await.ok()?;
    Some((body["priority"].as_i64()?, hit))
}

/// A PATCH on A: the status, or `None` when no answer came.
async fn patch_on(api: &Api, priority: i64) -> Option<StatusCode> {
    let response = api
        .client
        .patch(format!("http://{}/api/v1/trackers/9", api.address))
        .json(&json!({ "priority": priority }))
        .send()
        .await
        .ok()?;
    Some(response.status())
}

/// What the rounds saw.
#[derive(Debug, Default)]
struct Rounds {
    rounds: usize,
    /// PATCHes answered 204, each followed by a read on B.
    acknowledged: usize,
    /// PATCHes answered with an error (not acknowledged; B's next read is not judged).
    refused: usize,
    /// Reads on B after an acknowledged PATCH that returned the value from before it.
    stale: Vec<(usize, i64, i64)>,
    /// Reads on B answered with an error.
    read_errors: usize,
    /// Warming reads on B that were cache hits.
    hits: usize,
}

/// Rounds of "read on B (warms its entry), PATCH on A, read on B" for `duration` (at most
/// `limit` rounds) while `gap` disturbs Redis.
async fn rounds_under(gap: Gap, duration: Duration, limit: usize) -> Rounds {
    let database = seeded_database().await;
    let redis = RedisServer::start(None);
    let url = redis.url();
    let (a, b) = (Instance::start(&database, Some(&url)).await, Instance::start(&database, Some(&url)).await);
    assert_eq!((a.mode(), b.mode()), ("redis", "redis"));
    let stop = Arc::new(AtomicBool::new(false));
    let disturber = disturb(redis, gap, stop.clone());
    let mut seen = Rounds::default();
    let started = Instant::now();
    while started.elapsed() < duration && seen.rounds < limit {
        let round = seen.rounds;
        seen.rounds += 1;
        if let Some((_, true)) = priority_on(&b).await {
            seen.hits += 1;
        }
        // Consecutive rounds always write different values, so a stale read shows.
        let priority = (round % 5 + 1) as i64;
        if patch_on(&a, priority).await != Some(StatusCode::NO_CONTENT) {
            seen.refused += 1;
            continue;
        }
        seen.acknowledged += 1;
        match priority_on(&b).await {
            Some((read, _)) if read != priority => seen.stale.push((round, read, priority)),
            Some(_) => {}
            None => seen.read_errors += 1,
        }
    }
    stop.store(true, Ordering::SeqCst);
    let _redis = tokio::task::spawn_blocking(move || disturber.join().unwrap()).await.unwrap();
    eprintln!(
        "{gap:?}: {} rounds in {:?}, {} acknowledged, {} refused, {} stale, {} read errors, {} warming hits on B; \
         stale (round, read, written): {:?}",
        seen.rounds,
        started.elapsed(),
        seen.acknowledged,
        seen.refused,
        seen.stale.len(),
        seen.read_errors,
        seen.hits,
        seen.stale.iter().take(10).collect::<Vec<_>>()
    );
    seen
}

#[tokio::test]
async fn a_redis_restarted_empty_never_lets_another_instance_read_a_write_stale() {
    let seen = rounds_under(Gap::RestartEmpty, Duration::from_secs(8), 5000).await;
    assert!(seen.stale.is_empty(), "B read stale data after A's write answered: {seen:?}");
    // While an instance knows Redis is gone its writes are refused at once (nothing
    // written), so refused rounds are quick and many; what matters is that enough writes
    // were acknowledged between the restarts to judge B's reads after them.
    assert!(seen.acknowledged >= 100, "writes are acknowledged between restarts: {seen:?}");
    assert!(seen.hits >= 20, "hits resume between restarts, so the test could see stale hits: {seen:?}");
}

#[tokio::test]
async fn a_redis_frozen_for_a_second_never_lets_another_instance_read_a_write_stale() {
    let seen = rounds_under(Gap::Freeze, Duration::from_secs(8), 5000).await;
    assert!(seen.stale.is_empty(), "B read stale data after A's write answered: {seen:?}");
    // Writes refused while A knows Redis is frozen are quick, so count the acknowledged
    // ones rather than their share.
    assert!(seen.acknowledged >= 100, "writes are acknowledged between freezes: {seen:?}");
    assert!(seen.hits >= 20, "hits resume between freezes, so the test could see stale hits: {seen:?}");
}

/// A Redis URL with a wrong password: the process says why it cannot use Redis (once, at
/// warn or error, without the password), and `/health/ready` answers 503 with the cause.
#[tokio::test]
async fn a_wrong_redis_password_is_logged_and_makes_the_instance_unready() {
    const PASSWORD: &str = "the-wrong-one-3f9c";
    let database = seeded_database().await;
    let redis = RedisServer::start_with(None, &["--requirepass", "the-right-one-81ad"]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port);
    let schema = open_pearl_schema_path();
    let database_url = database.url();
    let process = tokio::task::spawn_blocking(move || {
        ServerProcess::start(
            Command::new(oxbase_binary())
                .args(["serve", "--schema", schema.to_str().unwrap(), "--database", &database_url])
                .args(["--listen", "127.0.0.1:0", "--redis", &url, "--admin"]),
        )
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let ready = client.get(format!("http://{}/health/ready", process.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", process.log());
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["details"]["redis"], "unavailable", "{body}");
    let reason = body["details"]["redis_reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.to_lowercase().contains("pass"), "the cause names the password problem: {body}");
    assert!(!body.to_string().contains(PASSWORD), "{body}");
    eprintln!("wrong redis password: /health/ready 503 {body}");
    // Reads still work, from the database.
    let read = client.get(format!("http://{}{TRACKER}", process.address)).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    eventually(Duration::from_secs(1), async || process.log().contains("redis")).await;
    let log = process.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| (line.contains("WARN") || line.contains("ERROR")) && line.contains("redis"))
        .collect();
    assert!(
        warnings.iter().any(|line| line.to_lowercase().contains("pass")),
        "the cause is logged at warn or error:\n{log}"
    );
    assert!(warnings.len() <= 3, "said once, not every retry:\n{log}");
    eprintln!("wrong redis password, logged:\n{}", warnings.join("\n"));
    assert!(!log.contains(PASSWORD), "the password is never logged:\n{log}");
    drop(redis);
}
