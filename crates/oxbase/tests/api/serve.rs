//! `oxbase serve` as a process: settings from flags, environment and the schema file;
//! refusing an unmigrated database; graceful shutdown on SIGTERM. Each runs on both
//! engines but the connection limits, which do not depend on the engine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::on_both_engines_blocking;
use crate::support::{
    Engine, ScratchDatabase, ServerProcess, open_pearl_schema_path, oxbase_binary, pearl_schema_path,
};

on_both_engines_blocking!(
    serves_the_pearl_example_and_stops_gracefully_on_sigterm,
    refuses_an_unmigrated_database,
    migrate_flag_prepares_a_fresh_database_and_flags_beat_the_environment,
    a_killed_bulk_insert_leaves_all_or_nothing,
    a_disabled_cache_is_reported_off_everywhere,
    log_lines_carry_the_request_span_down_to_the_slow_query_log,
);

/// Secure by default: a schema without roles is served on loopback, and on any other
/// address only with `--open`; the pearl example, which declares roles, needs none.
#[test]
fn a_schema_without_roles_is_served_publicly_only_when_open_says_so() {
    let database = seeded_database(Engine::Sqlite);
    let url = database.url();
    let open_schema = open_pearl_schema_path();
    let arguments = ["serve", "--schema", open_schema.to_str().unwrap(), "--database", &url, "--listen", "0.0.0.0:0"];
    let output = Command::new(oxbase_binary()).args(arguments).output().unwrap();
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("refusing to serve a schema without roles on 0.0.0.0:0"), "{errors}");
    assert!(errors.contains("--open"), "{errors}");

    let server = ServerProcess::start(Command::new(oxbase_binary()).args(arguments).arg("--open"));
    let (status, _) = get(&server, "/api/v1/studies?limit=1");
    assert_eq!(status, 200);
    assert!(server.log().contains("the API is public"), "{}", server.log());
    drop(server);

    let pearl = pearl_schema_path();
    let server = ServerProcess::start(Command::new(oxbase_binary()).args([
        "serve",
        "--schema",
        pearl.to_str().unwrap(),
        "--database",
        &url,
        "--listen",
        "0.0.0.0:0",
    ]));
    let (status, body) = get(&server, "/api/v1/trackers?limit=1");
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&server, "/api/v1/studies");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("authentication_required"), "{body}");
}

/// `oxbase demo` serves the pearl example with its roles: the anonymous role's reads work
/// without credentials, the demo accounts it prints log in, and their tokens reach the rest.
#[test]
fn the_demo_prints_accounts_that_log_in() {
    let directory = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(directory.path().join("demo")),
    );
    let (status, body) = get(&server, "/api/v1/users/1");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body(&body), serde_json::json!({"id": 1, "username": "admin"}), "no email without credentials");
    let (status, _) = get(&server, "/api/v1/reporting_efforts?limit=1");
    assert_eq!(status, 401);
    let login = r#"{"username":"viewer1","password":"oxbase-demo"}"#;
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{login}",
        login.len()
    )
    .unwrap();
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 200, "{body}");
    let token = json_body(&body)["access_token"].as_str().unwrap().to_owned();
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "GET /api/v1/reporting_efforts?limit=1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body(&body).as_array().unwrap().len(), 1);
}

/// Connection handling does not depend on the engine.
#[test]
fn connection_limits_come_from_the_schema_file_the_environment_and_flags() {
    connection_limits_from_every_source(Engine::Sqlite);
}

/// `GET path` on a server process, over a fresh connection.
fn get(server: &ServerProcess, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// A database of `engine` seeded with the pearl example by `oxbase seed`.
fn seeded_database(engine: Engine) -> ScratchDatabase {
    let database = ScratchDatabase::create(engine, "pearl.db");
    let output = Command::new(oxbase_binary()).args(["seed", "--database", &database.url()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    database
}

/// A body's JSON, whether it came whole or chunked.
fn json_body(body: &str) -> serde_json::Value {
    serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // A chunked body: take the JSON between the chunk-size lines.
        serde_json::from_str(body.lines().nth(1).unwrap()).unwrap()
    })
}

fn serves_the_pearl_example_and_stops_gracefully_on_sigterm(engine: Engine) {
    let database = seeded_database(engine);
    let mut server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["serve", "--schema", open_pearl_schema_path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env("OXBASE_DATABASE", database.url()),
    );
    let (status, body) = get(&server, "/api/v1/trackers?select=id,item:reporting_effort_items(item_code)&limit=2");
    assert_eq!(status, 200, "{body}");
    let trackers = json_body(&body);
    assert_eq!(trackers.as_array().unwrap().len(), 2);
    assert!(trackers[0]["item"]["item_code"].is_string(), "{trackers}");
    let (status, body) = get(&server, "/health/ready");
    assert_eq!(status, 200, "{body}");

    // A request in flight when SIGTERM arrives is still answered.
    let mut in_flight = TcpStream::connect(&server.address).unwrap();
    write!(in_flight, "GET /api/v1/users?limit=3 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.terminate();
    std::thread::sleep(Duration::from_millis(200));
    write!(in_flight, "\r\n").unwrap();
    let (status, _) = read_response(&mut in_flight);
    assert_eq!(status, 200, "the in-flight request finished");

    let exit = server.wait_for_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "a graceful stop exits 0");
    assert!(TcpStream::connect(&server.address).is_err(), "no longer listening");
}

fn refuses_an_unmigrated_database(engine: Engine) {
    let database = ScratchDatabase::create(engine, "empty.db");
    let url = database.url();
    let output = Command::new(oxbase_binary())
        .args([
            "serve",
            "--schema",
            open_pearl_schema_path().to_str().unwrap(),
            "--database",
            &url,
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("is not migrated to this schema"), "{errors}");
    assert!(errors.contains("oxbase migrate --schema"), "{errors}");
}

fn migrate_flag_prepares_a_fresh_database_and_flags_beat_the_environment(engine: Engine) {
    let database = ScratchDatabase::create(engine, "fresh.db");
    let url = database.url();
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args([
                "serve",
                "--schema",
                open_pearl_schema_path().to_str().unwrap(),
                "--database",
                &url,
                "--migrate",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("OXBASE_LISTEN", "127.0.0.1:1")
            .env("OXBASE_DATABASE", "sqlite:///nonexistent/never.db"),
    );
    assert_ne!(server.address, "127.0.0.1:1");
    let (status, body) = get(&server, "/api/v1/studies");
    assert_eq!(status, 200);
    assert!(body.contains("[]"), "{body}");
}

/// SIGKILL in the middle of a 50,000-row bulk insert leaves all of the rows or none.
fn a_killed_bulk_insert_leaves_all_or_nothing(engine: Engine) {
    let database = seeded_database(engine);
    let url = database.url();
    let schema = database.directory().join("schema.toml");
    let source = std::fs::read_to_string(open_pearl_schema_path()).unwrap();
    std::fs::write(&schema, source.replacen("[server]\n", "[server]\nmax_body_bytes = 100000000\n", 1)).unwrap();
    let rows: Vec<serde_json::Value> = (0..50_000)
        .map(|index| serde_json::json!({ "tracker_id": 1 + index % 900, "user_id": 2, "body": format!("crash-test {index}") }))
        .collect();
    let body = serde_json::to_vec(&rows).unwrap();
    let mut outcomes = Vec::new();
    for delay_ms in [50, 200, 400, 700, 1000, 1500, 3000] {
        let mut server = ServerProcess::start(Command::new(oxbase_binary()).args([
            "serve",
            "--schema",
            schema.to_str().unwrap(),
            "--database",
            &url,
            "--listen",
            "127.0.0.1:0",
        ]));
        let address = server.address.clone();
        let request_body = body.clone();
        let sender = std::thread::spawn(move || {
            let Ok(mut stream) = TcpStream::connect(&address) else { return };
            let head = format!(
                "POST /api/v1/tracker_comments HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                request_body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&request_body);
            let mut ignored = Vec::new();
            let _ = stream.read_to_end(&mut ignored);
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        sender.join().unwrap();
        if engine == Engine::Postgres {
            wait_for_sessions_to_end(&database);
        }
        let written = database.count("SELECT count(*) FROM tracker_comments WHERE body LIKE 'crash-test %'");
        assert!(written == 0 || written == 50_000, "after a kill at {delay_ms} ms, {written} of 50000 rows are there");
        outcomes.push((delay_ms, written));
        database.execute("DELETE FROM tracker_comments WHERE body LIKE 'crash-test %'").unwrap();
    }
    eprintln!("kill delay (ms) → rows left: {outcomes:?}");
}

/// Waits until PostgreSQL has ended the killed server's sessions: a session notices its
/// client is gone only when it next reads from it, and until then its transaction is
/// neither committed nor rolled back.
fn wait_for_sessions_to_end(database: &ScratchDatabase) {
    let started = Instant::now();
    loop {
        let sessions = database.count(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'oxbase'",
        );
        if sessions == 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{sessions} sessions of the killed server remain");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `[server] header_read_timeout_seconds` from the file, `OXBASE_MAX_CONNECTIONS` over the
/// file's `max_connections`, and `--keep-alive-timeout`, each seen at work.
fn connection_limits_from_every_source(engine: Engine) {
    let database = seeded_database(engine);
    let schema = database.directory().join("schema.toml");
    let source = std::fs::read_to_string(open_pearl_schema_path()).unwrap();
    let limits = "[server]\nheader_read_timeout_seconds = 1\nmax_connections = 50\n";
    std::fs::write(&schema, source.replacen("[server]\n", limits, 1)).unwrap();
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["serve", "--schema", schema.to_str().unwrap(), "--database", &database.url()])
            .args(["--listen", "127.0.0.1:0", "--keep-alive-timeout", "1"])
            .env("OXBASE_MAX_CONNECTIONS", "2"),
    );
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&server.address).unwrap()).collect();
    let (status, body) = get(&server, "/health/live");
    assert_eq!(status, 503, "the environment's cap of 2 beats the file's 50: {body}");
    assert!(body.contains("too_many_connections"), "{body}");

    // The file's header-read timeout closes the two idle sockets after a second.
    for mut socket in idle {
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(socket.read(&mut [0; 16]).unwrap(), 0, "closed by the server");
    }
    let closed = started.elapsed();
    assert!(closed >= Duration::from_millis(900) && closed < Duration::from_secs(3), "closed after {closed:?}");
    assert_eq!(get(&server, "/health/live").0, 200);

    // The flag's keep-alive timeout closes a connection idle after its response.
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(stream, "GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let answered = Instant::now();
    let (status, _) = read_response(&mut stream);
    let idle_for = answered.elapsed();
    assert_eq!(status, 200);
    assert!(idle_for >= Duration::from_millis(900) && idle_for < Duration::from_secs(3), "closed after {idle_for:?}");
    assert!(server.log().contains("connection limit reached"), "{}", server.log());
}

/// With `--cache off` the start-up log, `/health/ready` and `/admin/cache` all say `off`
/// (on PostgreSQL without Redis they used to say `notify`, the mode the cache would use).
fn a_disabled_cache_is_reported_off_everywhere(engine: Engine) {
    let database = seeded_database(engine);
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["serve", "--schema", open_pearl_schema_path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(["--cache", "off", "--admin"])
            .env("OXBASE_DATABASE", database.url())
            .env_remove("OXBASE_REDIS")
            .env_remove("OXBASE_CACHE"),
    );
    // The log is read by a thread of its own, so the line may arrive just after the address.
    let started = Instant::now();
    let listening = loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|line| line.contains("listening")) {
            break line.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no listening line in {log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(listening.contains("cache=\"off\""), "{listening}");
    let (status, body) = get(&server, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body(&body)["cache"], "off", "{body}");
    let (status, body) = get(&server, "/admin/cache");
    assert_eq!(status, 200, "{body}");
    let statistics = json_body(&body);
    assert_eq!((&statistics["enabled"], &statistics["mode"]), (&false.into(), &"off".into()), "{statistics}");
}

/// Every request runs in a span with its id, method, route template and status, and the
/// store's log lines (here the slow-query log, on a blocking thread) carry it; with debug
/// level on, inside the store's own span.
fn log_lines_carry_the_request_span_down_to_the_slow_query_log(engine: Engine) {
    let database = seeded_database(engine);
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["--log-format", "json", "serve", "--schema", open_pearl_schema_path().to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--cache", "off", "--slow-query-ms", "1"])
            // The service and store spans are at debug level (at info, only the request's).
            .env("RUST_LOG", "info,oxbase_store=debug")
            .env("OXBASE_DATABASE", database.url())
            .env_remove("OXBASE_REDIS"),
    );
    let started = Instant::now();
    let slow = loop {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        write!(
            stream,
            "GET /api/v1/trackers?select=*,tracker_comments(*)&limit=1000 HTTP/1.1\r\nHost: test\r\nX-Request-Id: span-test-42\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        assert_eq!(read_response(&mut stream).0, 200);
        let log = server.log();
        if let Some(line) = log.lines().find(|line| line.contains("slow query")) {
            break line.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no slow-query line in {log}");
    };
    let slow: serde_json::Value = serde_json::from_str(&slow).unwrap_or_else(|_| panic!("a JSON line: {slow}"));
    let request = slow["spans"].as_array().and_then(|spans| spans.iter().find(|span| span["name"] == "request"));
    let request = request.unwrap_or_else(|| panic!("the slow query is logged inside the request span: {slow}"));
    assert_eq!(request["request_id"], "span-test-42", "{slow}");
    assert_eq!(request["route"], "/api/v1/{resource}", "the route template, not the path: {slow}");
    assert_eq!(request["method"], "GET", "{slow}");
    assert!(slow["spans"].as_array().unwrap().iter().any(|span| span["name"] == "store.read"), "{slow}");
    let finished =
        server.log().lines().filter(|line| line.contains("span-test-42") && line.contains("\"status\":200")).count();
    assert!(finished >= 1, "the request line carries the status: {}", server.log());
}
