//! Several instances on one PostgreSQL database: caches stay exact across instances
//! (design invariant 3) with Redis, with LISTEN/NOTIFY alone, and for writes made outside
//! oxbase; Redis going away turns hits off, not correctness.
//!
//! Instances are mostly two apps in this process on ports of their own; they share nothing
//! but the database and Redis, exactly as two processes would. One test runs two real
//! `oxbase serve` processes to show it. Each test has its own database, and the Redis keys
//! are named after it, so tests never see each other's versions.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxbase_examples::Scale;
use oxbase_server::app::App;
use oxbase_server::config::{DatabaseUrl, SecretUrl, ServerConfig};
use oxbase_server::serve::{bind, serve};
use oxbase_store::seed::{example_schema, seed_example};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::{PostgresDatabase, ServerProcess, open_pearl_schema_path, oxbase_binary};

/// The shared Redis the suite runs against (`.ci/run` starts it).
pub(crate) const REDIS: &str = "redis://127.0.0.1:6379";

/// A read whose entry depends only on `trackers`.
pub(crate) const TRACKER: &str = "/api/v1/trackers/9?select=id,priority";

/// One oxbase instance in this process.
pub(crate) struct Instance {
    api: Api,
    pub(crate) app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Instance {
    pub(crate) async fn start(database: &PostgresDatabase, redis: Option<&str>) -> Instance {
        Instance::start_with(database, redis, false).await
    }

    /// With `[cache] external_writes = "exact"` when `exact`.
    async fn start_with(database: &PostgresDatabase, redis: Option<&str>, exact: bool) -> Instance {
        Instance::start_adjusted(database, redis, |config| config.cache_exact_external_writes = exact).await
    }

    /// With the settings `adjust` makes on top of the suite's.
    pub(crate) async fn start_adjusted(
        database: &PostgresDatabase,
        redis: Option<&str>,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> Instance {
        let mut config = ServerConfig::with_database(DatabaseUrl::Postgres(database.url()));
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.admin_enabled = true;
        config.redis_url = redis.map(SecretUrl::from);
        // Without Redis the cache is opt-in on PostgreSQL; these tests opt in.
        config.cache_enabled = Some(true);
        adjust(&mut config);
        let listener = bind(config.listen).await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut schema = example_schema("pearl").unwrap();
        schema.roles.clear();
        let app = Arc::new(App::open(config, schema).await.unwrap());
        let (sender, receiver) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app.clone(), async {
            let _ = receiver.await;
        }));
        Instance { api: Api { address, client: reqwest::Client::new() }, app, shutdown: Some(sender) }
    }

    pub(crate) fn mode(&self) -> &'static str {
        self.app.coherence.mode_name()
    }
}

impl Deref for Instance {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// The requests the tests make of an instance, in this process or not.
pub(crate) struct Api {
    pub(crate) address: SocketAddr,
    pub(crate) client: reqwest::Client,
}

impl Api {
    /// `GET path`: the body and whether it came from the cache (no statement executed).
    async fn read(&self, path: &str) -> (Value, bool) {
        let response = self.client.get(format!("http://{}{path}", self.address)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        let timing = response.headers()["server-timing"].to_str().unwrap().to_owned();
        let hit = timing.contains("desc=\"0 statements\"");
        (response.json().await.unwrap(), hit)
    }

    async fn patch_priority(&self, priority: i64) {
        let response = self
            .client
            .request(Method::PATCH, format!("http://{}/api/v1/trackers/9", self.address))
            .json(&json!({ "priority": priority }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    pub(crate) async fn cache_statistics(&self) -> Value {
        let response = self.client.get(format!("http://{}/admin/cache", self.address)).send().await.unwrap();
        response.json().await.unwrap()
    }
}

/// One `oxbase serve` process of the built binary; killed when dropped.
struct ProcessInstance {
    api: Api,
    process: ServerProcess,
}

impl ProcessInstance {
    /// `oxbase serve --schema schema --database … --redis REDIS --admin` on a free port.
    async fn start(schema: &Path, database: &PostgresDatabase) -> ProcessInstance {
        let (schema, url) = (schema.to_owned(), database.url());
        let process = tokio::task::spawn_blocking(move || {
            ServerProcess::start(
                Command::new(oxbase_binary())
                    .args(["serve", "--schema", schema.to_str().unwrap(), "--database", &url])
                    .args(["--listen", "127.0.0.1:0", "--redis", REDIS, "--admin"]),
            )
        })
        .await
        .unwrap();
        let address = process.address.parse().unwrap();
        ProcessInstance { api: Api { address, client: reqwest::Client::new() }, process }
    }

    /// SIGTERM, then the exit code once the process has stopped.
    fn stop(mut self) -> Option<i32> {
        self.process.terminate();
        self.process.wait_for_exit(Duration::from_secs(10)).code()
    }
}

impl Deref for ProcessInstance {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A copy of the pearl schema file, in `directory`, with `[cache] external_writes = "exact"`.
fn pearl_schema_with_exact_external_writes(directory: &Path) -> PathBuf {
    let source = std::fs::read_to_string(open_pearl_schema_path()).unwrap();
    let setting = "external_writes = \"exact\"\n";
    let schema = match source.find("\n[cache]\n") {
        Some(start) => {
            let end = start + "\n[cache]\n".len();
            format!("{}{setting}{}", &source[..end], &source[end..])
        }
        None => format!("{source}\n[cache]\n{setting}"),
    };
    let path = directory.join("schema.toml");
    std::fs::write(&path, schema).unwrap();
    path
}

/// A seeded test database whose keys in the shared Redis (named after the database) are
/// deleted with it, so repeated runs leave nothing behind.
pub(crate) struct SeededDatabase(PostgresDatabase);

impl Deref for SeededDatabase {
    type Target = PostgresDatabase;

    fn deref(&self) -> &PostgresDatabase {
        &self.0
    }
}

impl Drop for SeededDatabase {
    fn drop(&mut self) {
        let name = self.0.url().rsplit('/').next().unwrap_or_default().to_owned();
        let pattern = format!("oxbase:{name}:*");
        let Ok(listed) = Command::new("redis-cli").args(["--scan", "--pattern", &pattern]).output() else { return };
        let keys: Vec<String> = String::from_utf8_lossy(&listed.stdout).lines().map(str::to_owned).collect();
        if !keys.is_empty() {
            let _ = Command::new("redis-cli").arg("DEL").args(&keys).stdout(Stdio::null()).status();
        }
    }
}

pub(crate) async fn seeded_database() -> SeededDatabase {
    let database = PostgresDatabase::create().await;
    let url = DatabaseUrl::Postgres(database.url());
    tokio::task::spawn_blocking(move || seed_example(&url, "pearl", Scale::Small)).await.unwrap().unwrap();
    SeededDatabase(database)
}

/// A plain PostgreSQL client, writing behind oxbase's back.
async fn external_update(database: &PostgresDatabase, priority: i64) {
    let url = database.url();
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let priority = i32::try_from(priority).unwrap();
        client.execute("UPDATE \"trackers\" SET \"priority\" = $1 WHERE \"id\" = 9", &[&priority]).unwrap();
    })
    .await
    .unwrap();
}

/// Polls until `check` holds, up to `limit`; how long it took.
pub(crate) async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * fraction) as usize]
}

#[tokio::test]
async fn with_redis_a_write_on_one_instance_is_never_read_stale_on_another() {
    let database = seeded_database().await;
    let (a, b) = (Instance::start(&database, Some(REDIS)).await, Instance::start(&database, Some(REDIS)).await);
    assert_eq!((a.mode(), b.mode()), ("redis", "redis"));
    b.read(TRACKER).await;
    let mut hit_times = Vec::new();
    for round in 0..200_i64 {
        let before = b.read(TRACKER).await.0["priority"].clone();
        let started = Instant::now();
        let (unchanged, hit) = b.read(TRACKER).await;
        hit_times.push(started.elapsed());
        assert!(hit, "round {round}: an unchanged read on B is a cache hit");
        assert_eq!(unchanged["priority"], before);
        let priority = round % 5 + 1;
        a.patch_priority(priority).await;
        let (after, _) = b.read(TRACKER).await;
        assert_eq!(after["priority"], priority, "round {round}: B read stale data after A's write answered");
    }
    let statistics = b.cache_statistics().await;
    assert_eq!(statistics["mode"], "redis", "{statistics}");
    assert!(statistics["resources"]["trackers"]["hits"].as_u64().unwrap() >= 200, "{statistics}");
    assert_eq!(
        statistics["listener"]["external_writes"], 0,
        "oxbase's own writes do not fire the triggers: {statistics}"
    );
    eprintln!(
        "redis mode: 200 write-on-A/read-on-B rounds, 0 stale; hit on B p50 {:?} p99 {:?} (HTTP round trip incl. one HMGET)",
        percentile(&mut hit_times, 0.5),
        percentile(&mut hit_times, 0.99)
    );
}

#[tokio::test]
async fn with_redis_writes_made_outside_oxbase_arrive_with_the_notification() {
    let database = seeded_database().await;
    let (_a, b) = (Instance::start(&database, Some(REDIS)).await, Instance::start(&database, Some(REDIS)).await);
    let (stale_reads, mut lags) = external_rounds(&database, &b, 200).await;
    // Either instance's listener may have raised Redis first; B's own count follows shortly.
    eventually(Duration::from_secs(2), async || {
        b.cache_statistics().await["listener"]["external_writes"].as_u64().unwrap() >= 200
    })
    .await
    .expect("B heard every external write");
    eprintln!(
        "redis mode, external writes: {stale_reads}/200 immediate reads stale; fresh after p50 {:?} p99 {:?} max {:?}",
        percentile(&mut lags, 0.5),
        percentile(&mut lags, 0.99),
        percentile(&mut lags, 1.0)
    );
}

/// With `external_writes = "exact"`, a write made with a plain PostgreSQL client is never
/// read stale, in either mode: each hit first confirms that every earlier commit's
/// notification has arrived.
#[tokio::test]
async fn with_exact_external_writes_a_write_outside_oxbase_is_never_read_stale() {
    let database = seeded_database().await;
    for redis in [None, Some(REDIS)] {
        let (a, b) =
            (Instance::start_with(&database, redis, true).await, Instance::start_with(&database, redis, true).await);
        b.read(TRACKER).await;
        let mut hit_times = Vec::new();
        for round in 0..200_i64 {
            let started = Instant::now();
            let (_, hit) = b.read(TRACKER).await;
            hit_times.push(started.elapsed());
            assert!(hit, "round {round}: an unchanged read on B is a (confirmed) cache hit");
            let priority = round % 5 + 1;
            external_update(&database, priority).await;
            assert_eq!(
                b.read(TRACKER).await.0["priority"],
                priority,
                "round {round} ({}): B read stale data after a write made with a plain client committed",
                b.mode()
            );
            // An API write on A stays exact too.
            a.patch_priority(6 - priority).await;
            assert_eq!(b.read(TRACKER).await.0["priority"], 6 - priority, "round {round}: A's write");
        }
        let statistics = b.cache_statistics().await;
        assert!(statistics["listener"]["confirmations"].as_u64().unwrap() >= 200, "{statistics}");
        eprintln!(
            "{} mode, external_writes = exact: 200 rounds, 0 stale; confirmed hit p50 {:?} p99 {:?}",
            b.mode(),
            percentile(&mut hit_times, 0.5),
            percentile(&mut hit_times, 0.99)
        );
    }
}

/// Issue #6 as stated: two `oxbase serve` processes of the built binary on one PostgreSQL
/// database and one Redis, `[cache] external_writes = "exact"`. 200 rounds of "read on B (a
/// hit), PATCH on A, read on B", then 200 with the write made by a plain PostgreSQL client
/// (as psql would): not one read on B after a write has answered or committed is stale.
#[tokio::test]
async fn two_oxbase_processes_never_read_stale_after_an_api_write_or_a_plain_client_write() {
    let database = seeded_database().await;
    let directory = tempfile::tempdir().unwrap();
    let schema = pearl_schema_with_exact_external_writes(directory.path());
    let (a, b) = (ProcessInstance::start(&schema, &database).await, ProcessInstance::start(&schema, &database).await);
    for instance in [&a, &b] {
        let statistics = instance.cache_statistics().await;
        assert_eq!(statistics["mode"], "redis", "{statistics}");
        assert_eq!(statistics["listener"]["external_writes_exact"], true, "{statistics}");
    }
    let writers = ["PATCH on A", "UPDATE by a plain client"];
    let mut hit_times = [Vec::new(), Vec::new()];
    let mut stale_rounds = [Vec::new(), Vec::new()];
    b.read(TRACKER).await;
    for (writer, writer_name) in writers.iter().enumerate() {
        for round in 0..200 {
            let started = Instant::now();
            let (before, hit) = b.read(TRACKER).await;
            hit_times[writer].push(started.elapsed());
            assert!(hit, "{writer_name}, round {round}: an unchanged read on B is a cache hit\n{}", b.process.log());
            // Always a different value, so that a stale read cannot pass for a fresh one.
            let priority = before["priority"].as_i64().unwrap() % 5 + 1;
            if writer == 0 {
                a.patch_priority(priority).await;
            } else {
                external_update(&database, priority).await;
            }
            let (after, _) = b.read(TRACKER).await;
            if after["priority"] != priority {
                stale_rounds[writer].push((round, after["priority"].clone(), priority));
                // Count every stale round rather than stop at the first: wait until fresh, so
                // that the next round starts from a hit again.
                eventually(Duration::from_secs(1), async || b.read(TRACKER).await.0["priority"] == priority)
                    .await
                    .unwrap_or_else(|| panic!("{writer_name}, round {round}: the write never became visible on B"));
            }
        }
    }
    for (writer, writer_name) in writers.iter().enumerate() {
        assert!(
            stale_rounds[writer].is_empty(),
            "{writer_name}: B read stale data in {} of 200 rounds (round, read, written): {:?}",
            stale_rounds[writer].len(),
            stale_rounds[writer]
        );
    }
    let statistics = b.cache_statistics().await;
    assert!(statistics["resources"]["trackers"]["hits"].as_u64().unwrap() >= 400, "{statistics}");
    assert!(statistics["listener"]["confirmations"].as_u64().unwrap() >= 400, "{statistics}");
    eventually(Duration::from_secs(2), async || {
        b.cache_statistics().await["listener"]["external_writes"].as_u64().unwrap() >= 200
    })
    .await
    .expect("B heard every external write");
    for (writer, writer_name) in writers.iter().enumerate() {
        eprintln!(
            "two oxbase processes, redis + external_writes = exact, {writer_name}: 200 rounds, 0 stale; \
             confirmed hit on B p50 {:?} p99 {:?}",
            percentile(&mut hit_times[writer], 0.5),
            percentile(&mut hit_times[writer], 0.99)
        );
    }
    assert_eq!(a.stop(), Some(0), "a graceful stop exits 0");
    assert_eq!(b.stop(), Some(0), "a graceful stop exits 0");
}

/// `rounds` of: an unchanged read (a hit), a write by a plain client, reads until fresh.
/// Returns how many first reads after the write were stale, and how long until fresh.
async fn external_rounds(database: &PostgresDatabase, reader: &Instance, rounds: i64) -> (usize, Vec<Duration>) {
    let mut stale_reads = 0;
    let mut lags = Vec::new();
    reader.read(TRACKER).await;
    for round in 0..rounds {
        eventually(Duration::from_secs(2), async || reader.read(TRACKER).await.1)
            .await
            .unwrap_or_else(|| panic!("round {round}: an unchanged read becomes a hit"));
        let priority = round % 5 + 1;
        external_update(database, priority).await;
        let written = Instant::now();
        if reader.read(TRACKER).await.0["priority"] != priority {
            stale_reads += 1;
        }
        eventually(Duration::from_secs(1), async || reader.read(TRACKER).await.0["priority"] == priority)
            .await
            .unwrap_or_else(|| panic!("round {round}: the external write never became visible"));
        lags.push(written.elapsed());
    }
    (stale_reads, lags)
}

#[tokio::test]
async fn without_redis_instances_learn_of_writes_by_notify() {
    let database = seeded_database().await;
    let (a, b) = (Instance::start(&database, None).await, Instance::start(&database, None).await);
    assert_eq!((a.mode(), b.mode()), ("notify", "notify"));
    let mut stale_reads = 0;
    let mut lags = Vec::new();
    b.read(TRACKER).await;
    for round in 0..100_i64 {
        let priority = round % 5 + 1;
        a.patch_priority(priority).await;
        let written = Instant::now();
        if b.read(TRACKER).await.0["priority"] != priority {
            stale_reads += 1;
        }
        let lag = eventually(Duration::from_secs(1), async || b.read(TRACKER).await.0["priority"] == priority)
            .await
            .unwrap_or_else(|| panic!("round {round}: A's write never reached B"));
        lags.push(lag.max(written.elapsed()));
        // The writer itself is exact at once.
        assert_eq!(a.read(TRACKER).await.0["priority"], priority);
    }
    let (external_stale, mut external_lags) = external_rounds(&database, &b, 100).await;
    assert_eq!(b.cache_statistics().await["mode"], "notify");
    eprintln!(
        "notify mode: API writes {stale_reads}/100 immediate reads on B stale, fresh after p50 {:?} p99 {:?}; \
         external writes {external_stale}/100 stale, fresh after p50 {:?} p99 {:?}",
        percentile(&mut lags, 0.5),
        percentile(&mut lags, 0.99),
        percentile(&mut external_lags, 0.5),
        percentile(&mut external_lags, 0.99)
    );
}

/// A redis-server of the test's own on a free port, killed on drop.
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    pub(crate) process: Child,
}

impl RedisServer {
    pub(crate) fn start(port: Option<u16>) -> RedisServer {
        RedisServer::start_with(port, &[])
    }

    /// With extra `redis-server` arguments (`--requirepass …`).
    pub(crate) fn start_with(port: Option<u16>, arguments: &[&str]) -> RedisServer {
        let port =
            port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(arguments)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run uses it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(5), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        RedisServer { port, process }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn when_redis_goes_away_reads_stay_correct_and_hits_resume_when_it_returns() {
    let database = seeded_database().await;
    let mut redis = RedisServer::start(None);
    let (a, b) =
        (Instance::start(&database, Some(&redis.url())).await, Instance::start(&database, Some(&redis.url())).await);
    b.read(TRACKER).await;
    assert!(b.read(TRACKER).await.1, "a hit while Redis is up");

    redis.stop();
    // A write Redis cannot confirm is committed, but not answered as done: another instance
    // might still trust the older versions.
    let started = Instant::now();
    let response = a
        .client
        .patch(format!("http://{}/api/v1/trackers/9", a.address))
        .json(&json!({ "priority": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(body["code"], "change_not_propagated", "{body}");
    assert_eq!(body["details"]["committed"], true, "{body}");
    assert!(started.elapsed() < Duration::from_secs(4), "the writer gives up after a bounded wait");
    let (read, hit) = b.read(TRACKER).await;
    assert_eq!(read["priority"], 4, "the write while Redis is down is committed, and read on B");
    assert!(!hit);
    eventually(Duration::from_secs(3), async || a.mode() == "safe" && b.mode() == "safe")
        .await
        .expect("both instances notice Redis is gone");
    assert_eq!(b.cache_statistics().await["mode"], "safe");
    // Once A knows Redis is gone, a write is refused before it runs: nothing is written,
    // so a retry is safe.
    let response = a
        .client
        .patch(format!("http://{}/api/v1/trackers/9", a.address))
        .json(&json!({ "priority": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(body["code"], "redis_unavailable", "{body}");
    assert_eq!(body["details"]["committed"], false, "{body}");
    let ready = b.client.get(format!("http://{}/health/ready", b.address)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "an instance that cannot use Redis is not ready");
    let body = ready.json::<Value>().await.unwrap();
    assert_eq!(body["details"]["redis"], "unavailable", "{body}");
    assert!(body["details"]["redis_reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{body}");
    let (read, hit) = b.read(TRACKER).await;
    assert_eq!(read["priority"], 4);
    assert!(!hit, "no hit is served in safe mode");

    // Back, and empty: versions are re-seeded from the database before hits resume.
    let _restarted = RedisServer::start(Some(redis.port));
    let recovered = eventually(Duration::from_secs(5), async || a.mode() == "redis" && b.mode() == "redis")
        .await
        .expect("both instances leave safe mode");
    b.read(TRACKER).await;
    assert!(b.read(TRACKER).await.1, "hits resume");
    a.patch_priority(5).await;
    assert_eq!(b.read(TRACKER).await.0["priority"], 5, "and stay exact");
    let ready = b.client.get(format!("http://{}/health/ready", b.address)).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again");
    assert_eq!(ready.json::<Value>().await.unwrap()["redis"], "ok");
    eprintln!("redis restart: hits resumed {recovered:?} after redis accepted connections again");
}

/// With `[cache] redis_l2`, an entry one instance cached answers another instance's first
/// read (no statement), and is checked against the versions like a local entry: after a
/// write it is never served.
#[tokio::test]
async fn with_a_redis_l2_an_entry_cached_on_one_instance_answers_another() {
    let database = seeded_database().await;
    let with_l2 = |config: &mut ServerConfig| config.cache_redis_l2 = true;
    let a = Instance::start_adjusted(&database, Some(REDIS), with_l2).await;
    let b = Instance::start_adjusted(&database, Some(REDIS), with_l2).await;
    let path = "/api/v1/trackers?select=id,priority,comments:tracker_comments(id)&id=lt.30";
    let (on_a, hit) = a.read(path).await;
    assert!(!hit, "the first read anywhere goes to the database");
    let name = database.url().rsplit('/').next().unwrap().to_owned();
    eventually(Duration::from_secs(2), async || {
        let keys = Command::new("redis-cli")
            .args(["--scan", "--pattern", &format!("oxbase:{name}:*entry:*")])
            .output()
            .expect("redis-cli is installed with redis-server");
        !keys.stdout.is_empty()
    })
    .await
    .expect("A stores its entry in Redis");
    let (on_b, hit) = b.read(path).await;
    assert!(hit, "B's first read is answered from the shared entry, with no statement");
    assert_eq!(on_b, on_a);
    let statistics = b.cache_statistics().await;
    assert_eq!(statistics["l2"]["hits"], 1, "{statistics}");

    // A write on A: neither B's local copy nor the shared entry is served any more.
    let priority = if on_a[0]["priority"] == 5 { 1 } else { 5 };
    let first = on_a[0]["id"].as_i64().unwrap();
    let response = a
        .client
        .patch(format!("http://{}/api/v1/trackers/{first}", a.address))
        .json(&json!({ "priority": priority }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (after, hit) = b.read(path).await;
    assert!(!hit);
    assert_eq!(after[0]["priority"], priority, "B does not serve the entry from before the write");
}
