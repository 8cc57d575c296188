//! PostgreSQL-specific behaviour, observed from outside oxbase: a TCP proxy between oxbase
//! and PostgreSQL counts the statements PostgreSQL is asked to execute (wire-protocol
//! Execute messages) and can cut every connection, as a database restart would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxbase_server::config::DatabaseUrl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::{Engine, TestApp, assert_error};

/// A proxy in front of the local PostgreSQL.
struct Proxy {
    address: SocketAddr,
    executes: Arc<AtomicU64>,
    open: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let executes = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicBool::new(true));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (counter, gate, registry) = (executes.clone(), open.clone(), tasks.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                if !gate.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect("127.0.0.1:5432").await else { continue };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let downstream = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let counter = counter.clone();
                let upstream = tokio::spawn(async move {
                    let mut messages = MessageCounter::default();
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let Ok(read) = client_read.read(&mut buffer).await else { return };
                        if read == 0 {
                            return;
                        }
                        counter.fetch_add(messages.executes_in(&buffer[..read]), Ordering::SeqCst);
                        if server_write.write_all(&buffer[..read]).await.is_err() {
                            return;
                        }
                    }
                });
                registry.lock().unwrap().extend([downstream.abort_handle(), upstream.abort_handle()]);
            }
        });
        Proxy { address, executes, open, tasks }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Accepts connections again.
    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    fn executes(&self) -> u64 {
        self.executes.load(Ordering::SeqCst)
    }
}

/// Follows the frontend message stream: the untyped startup message (after any SSL
/// request), then `type, length, body` messages; counts Execute (`E`) messages.
#[derive(Default)]
struct MessageCounter {
    started: bool,
    pending: Vec<u8>,
}

impl MessageCounter {
    fn executes_in(&mut self, bytes: &[u8]) -> u64 {
        self.pending.extend_from_slice(bytes);
        let mut executes = 0;
        loop {
            let header = if self.started { 5 } else { 4 };
            if self.pending.len() < header {
                return executes;
            }
            let length_at = if self.started { 1 } else { 0 };
            let length = u32::from_be_bytes(self.pending[length_at..length_at + 4].try_into().unwrap()) as usize;
            let total = length + length_at;
            if self.pending.len() < total {
                return executes;
            }
            if self.started {
                if self.pending[0] == b'E' {
                    executes += 1;
                }
            } else {
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                // An SSL or GSS encryption request is followed by the real startup message.
                self.started = !(length == 8 && (code == 80_877_103 || code == 80_877_104));
            }
            self.pending.drain(..total);
        }
    }
}

/// An app on its own PostgreSQL database whose connections go through `proxy`.
async fn app_through(proxy: &Proxy) -> TestApp {
    let address = proxy.address;
    TestApp::spawn_on_with(Engine::Postgres, move |config| {
        let DatabaseUrl::Postgres(url) = &config.database else { unreachable!("a PostgreSQL test") };
        config.database = DatabaseUrl::Postgres(url.replace("127.0.0.1:5432", &address.to_string()));
        config.pool.max_size = 2;
        config.pool.acquire_timeout = Duration::from_secs(2);
    })
    .await
}

#[tokio::test]
async fn postgres_executes_the_same_statements_at_any_page_size() {
    let proxy = Proxy::start().await;
    let app = app_through(&proxy).await;
    let select = "select=id,item:reporting_effort_items(item_code),comments:tracker_comments(id,body)";
    let mut counts = Vec::new();
    for limit in [5, 200, 5, 200] {
        let before = proxy.executes();
        let response = app.get(&format!("/api/v1/trackers?{select}&limit={limit}")).await;
        assert_eq!(response.status(), 200);
        let rows: Vec<serde_json::Value> = response.json().await.unwrap();
        assert_eq!(rows.len(), limit);
        counts.push(proxy.executes() - before);
    }
    assert_eq!(counts, [3, 3, 3, 3], "PostgreSQL executed 1 root + 2 embedded statements per request");
}

#[tokio::test]
async fn a_lost_database_is_a_503_and_service_resumes_by_itself() {
    let proxy = Proxy::start().await;
    let app = app_through(&proxy).await;
    assert_eq!(app.get("/api/v1/users?limit=2").await.status(), 200);

    proxy.cut();
    let response = app.get("/api/v1/users?limit=2").await;
    assert_eq!(
        response.headers().get("retry-after").map(|value| value.to_str().unwrap().to_owned()),
        Some("1".to_owned())
    );
    assert_error(response, 503, "database_unavailable", "unavailable").await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503, "not ready while the database is gone");

    proxy.restore();
    let mut recovered = false;
    for _ in 0..20 {
        let response = app.get("/api/v1/users?limit=2").await;
        if response.status() == 200 {
            recovered = true;
            break;
        }
        assert_eq!(response.status(), 503, "a failing request is a clean 503");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "reads work again without restarting oxbase");
    assert_eq!(app.get("/health/ready").await.status(), 200);
    let write =
        app.send_json(reqwest::Method::PATCH, "/api/v1/trackers/1", &serde_json::json!({ "priority": 2 }), None).await;
    assert_eq!(write.status(), 204, "writes work again too");
}

#[tokio::test]
async fn admin_pool_and_explain_when_enabled() {
    let app = TestApp::spawn_on_with(Engine::Postgres, |config| config.admin_enabled = true).await;
    app.get_json("/api/v1/users?limit=1", 200).await;
    let pool = app.get_json("/admin/pool", 200).await;
    assert_eq!(pool["engine"], "postgres");
    assert_eq!(pool["max_size"], 16, "the default pool size");
    assert!(pool["acquisitions"].as_u64().unwrap() >= 1, "{pool}");
    let counters = app.get_json("/admin/counters", 200).await;
    assert_eq!(counters["pool"]["engine"], "postgres", "one place for every counter: {counters}");
    assert_eq!(counters["cache"]["mode"], app.get_json("/admin/cache", 200).await["mode"], "{counters}");
    let explained =
        app.get_json("/admin/explain?resource=trackers&select=id&production_status=eq.in_progress&limit=5", 200).await;
    let statement = &explained["statements"][0];
    assert!(statement["sql"].as_str().unwrap().starts_with("SELECT \"t\".\"id\" FROM \"trackers\""), "{explained}");
    assert!(statement["plan"][0]["Plan"]["Node Type"].is_string(), "PostgreSQL's own plan: {explained}");
    assert_error(app.get("/admin/explain?select=id").await, 400, "invalid_parameter", "resource").await;

    let sqlite = TestApp::spawn_on_with(Engine::Sqlite, |config| config.admin_enabled = true).await;
    let explained = sqlite.get_json("/admin/explain?resource=trackers&reporting_effort_id=eq.3", 200).await;
    let detail = explained["statements"][0]["plan"][0]["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("INDEX"), "the filter uses an index: {detail}");

    let closed = TestApp::spawn_on(Engine::Sqlite).await;
    assert_error(closed.get("/admin/pool").await, 404, "route_not_found", "/admin/pool").await;
}

#[tokio::test]
async fn with_the_cache_a_conditional_get_executes_nothing_in_postgresql() {
    let proxy = Proxy::start().await;
    let address = proxy.address;
    let app = TestApp::spawn_on_with(Engine::Postgres, move |config| {
        let DatabaseUrl::Postgres(url) = &config.database else { unreachable!("a PostgreSQL test") };
        config.database = DatabaseUrl::Postgres(url.replace("127.0.0.1:5432", &address.to_string()));
        config.cache_enabled = Some(true);
    })
    .await;
    let path = "/api/v1/trackers?select=id,item:reporting_effort_items(item_code,title)&limit=20";
    let first = app.get(path).await;
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    let before = proxy.executes();
    let conditional = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(conditional.status(), 304);
    assert_eq!(proxy.executes() - before, 0, "PostgreSQL executed no statement for the 304");

    let patched = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/reporting_effort_items/1",
            &serde_json::json!({ "title": "renamed" }),
            None,
        )
        .await;
    assert_eq!(patched.status(), 204);
    let before = proxy.executes();
    let after_write = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(after_write.status(), 200, "the embedded resource changed, so the old tag no longer matches");
    assert!(proxy.executes() - before >= 2, "and the read went to PostgreSQL");
}

/// The pool statistics, waiting until `done` holds for them (at most 10 s).
async fn pool_when(app: &TestApp, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let pool = app.get_json("/admin/pool", 200).await;
        if done(&pool) {
            return pool;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the pool never got {what}: {pool}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL sessions of this app's database with the given application name.
async fn sessions(app: &TestApp, application_name: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{application_name}'"
    ))
    .await
}

/// Waits until PostgreSQL shows `expected` sessions for the app (a closed connection's
/// session ends a moment after the client goes).
async fn sessions_become(app: &TestApp, application_name: &str, expected: i64) {
    let started = std::time::Instant::now();
    loop {
        let count = sessions(app, application_name).await;
        if count == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{count} sessions, expected {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_pool_grows_under_load_and_shrinks_back_to_min_idle() {
    let application_name = format!("oxbase_pool_{}", std::process::id());
    let name = application_name.clone();
    let app = TestApp::spawn_on_with(Engine::Postgres, move |config| {
        config.admin_enabled = true;
        config.cache_enabled = Some(false);
        config.pool.max_size = 4;
        config.pool.min_idle = 1;
        config.pool.idle_timeout = Some(Duration::from_secs(1));
        config.pool.application_name = name;
    })
    .await;
    let pool = app.get_json("/admin/pool", 200).await;
    assert_eq!(
        (pool["size"].as_u64(), pool["min_idle"].as_u64(), pool["max_size"].as_u64()),
        (Some(1), Some(1), Some(4))
    );
    assert_eq!(sessions(&app, &application_name).await, 1, "only min_idle connections are opened at start");

    // A session of the test's own holds a lock, so every read holds its connection.
    let url = app.postgres_url().unwrap();
    let (locked_sender, locked) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        let mut transaction = client.transaction().unwrap();
        transaction.batch_execute("LOCK TABLE trackers IN ACCESS EXCLUSIVE MODE").unwrap();
        locked_sender.send(()).unwrap();
        released.recv().unwrap();
        transaction.commit().unwrap();
    });
    locked.await.unwrap();
    let read = |id: u32| {
        let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/trackers?id=eq.{id}")));
        tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
    };
    let mut reads: Vec<_> = (1..=4).map(read).collect();
    let pool = pool_when(&app, "four connections in use", |pool| pool["in_use"] == 4).await;
    assert_eq!(pool["size"], 4, "{pool}");
    assert_eq!(pool["grown"], 3, "{pool}");
    assert_eq!(sessions(&app, &application_name).await, 4);
    // A fifth read finds the pool at max_size and waits.
    reads.push(read(5));
    let pool = pool_when(&app, "a waiting request", |pool| pool["waiting"] == 1).await;
    assert_eq!(pool["size"], 4, "never more than max_size: {pool}");

    release.send(()).unwrap();
    tokio::task::spawn_blocking(move || holder.join().unwrap()).await.unwrap();
    for read in reads {
        assert_eq!(read.await.unwrap(), 200);
    }
    let busy_until = std::time::Instant::now();
    let pool = pool_when(&app, "back to min_idle", |pool| pool["size"] == 1).await;
    assert!(busy_until.elapsed() >= Duration::from_millis(900), "closed only after the idle timeout: {pool}");
    assert_eq!((pool["idle"].as_u64(), pool["idle_closed"].as_u64()), (Some(1), Some(3)), "{pool}");
    sessions_become(&app, &application_name, 1).await;
    // It stays at min_idle, and serves as before.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get_json("/admin/pool", 200).await["size"], 1);
    assert_eq!(app.get("/api/v1/trackers?limit=1").await.status(), 200);
    assert_eq!(sessions(&app, &application_name).await, 1);
}
