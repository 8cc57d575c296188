//! `oxbase serve` as a process: settings from flags, environment and the schema file;
//! refusing an unmigrated database; graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{PostgresDatabase, oxbase_binary, pearl_schema_path};

/// A running `oxbase` process and the address it printed.
struct ServerProcess {
    child: Child,
    address: String,
}

impl ServerProcess {
    // The child is owned by the returned ServerProcess, whose Drop kills and waits for it.
    #[allow(clippy::zombie_processes)]
    fn start(command: &mut Command) -> ServerProcess {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting oxbase");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            let read = stdout.read_line(&mut line).unwrap();
            if read == 0 {
                let mut errors = String::new();
                child.stderr.take().unwrap().read_to_string(&mut errors).unwrap();
                let _ = child.wait();
                panic!("oxbase exited before listening: {errors}");
            }
            if let Some(address) = line.trim().strip_prefix("oxbase listening on http://") {
                let address = address.to_owned();
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                return ServerProcess { child, address };
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
        read_response(&mut stream)
    }

    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "oxbase did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

fn seeded_database(directory: &std::path::Path) -> String {
    let url = format!("sqlite://{}", directory.join("pearl.db").display());
    let output = Command::new(oxbase_binary()).args(["seed", "--database", &url]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    url
}

#[test]
fn serves_the_pearl_example_and_stops_gracefully_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let url = seeded_database(directory.path());
    let mut server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["serve", "--schema", pearl_schema_path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env("OXBASE_DATABASE", &url),
    );
    let (status, body) = server.get("/api/v1/trackers?limit=2");
    assert_eq!(status, 200, "{body}");
    let trackers: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // A chunked body: take the JSON between the chunk-size lines.
        serde_json::from_str(body.lines().nth(1).unwrap()).unwrap()
    });
    assert_eq!(trackers.as_array().unwrap().len(), 2);

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

#[test]
fn refuses_an_unmigrated_database() {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("empty.db").display());
    let output = Command::new(oxbase_binary())
        .args([
            "serve",
            "--schema",
            pearl_schema_path().to_str().unwrap(),
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

#[test]
fn serves_postgresql_after_migrating_it() {
    let database = PostgresDatabase::create_blocking();
    let url = database.url();
    let output = Command::new(oxbase_binary()).args(["seed", "--database", &url]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let server = ServerProcess::start(Command::new(oxbase_binary()).args([
        "serve",
        "--schema",
        pearl_schema_path().to_str().unwrap(),
        "--database",
        &url,
        "--listen",
        "127.0.0.1:0",
    ]));
    let (status, body) = server.get("/api/v1/trackers?select=id,item:reporting_effort_items(item_code)&limit=3");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"item_code\""), "{body}");
    let (status, body) = server.get("/health/ready");
    assert_eq!(status, 200, "{body}");
    let mut server = server;
    server.terminate();
    let exit = server.wait_for_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "a graceful stop on PostgreSQL exits 0 too");
}

#[test]
fn migrate_flag_prepares_a_fresh_database_and_flags_beat_the_environment() {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("fresh.db").display());
    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args([
                "serve",
                "--schema",
                pearl_schema_path().to_str().unwrap(),
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
    let (status, body) = server.get("/api/v1/studies");
    assert_eq!(status, 200);
    assert!(body.contains("[]"), "{body}");
}

/// SIGKILL in the middle of a 50,000-row bulk insert leaves all of the rows or none.
#[test]
fn a_killed_bulk_insert_leaves_all_or_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let url = seeded_database(directory.path());
    let schema = directory.path().join("schema.toml");
    let source = std::fs::read_to_string(pearl_schema_path()).unwrap();
    std::fs::write(&schema, source.replacen("[server]\n", "[server]\nmax_body_bytes = 100000000\n", 1)).unwrap();
    let rows: Vec<serde_json::Value> = (0..50_000)
        .map(|index| serde_json::json!({ "tracker_id": 1 + index % 900, "user_id": 2, "body": format!("crash-test {index}") }))
        .collect();
    let body = serde_json::to_vec(&rows).unwrap();
    let database = directory.path().join("pearl.db");
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
        let connection = rusqlite::Connection::open(&database).unwrap();
        let written: i64 = connection
            .query_row("SELECT count(*) FROM tracker_comments WHERE body LIKE 'crash-test %'", [], |row| row.get(0))
            .unwrap();
        assert!(written == 0 || written == 50_000, "after a kill at {delay_ms} ms, {written} of 50000 rows are there");
        outcomes.push((delay_ms, written));
        connection.execute("DELETE FROM tracker_comments WHERE body LIKE 'crash-test %'", []).unwrap();
    }
    eprintln!("kill delay (ms) → rows left: {outcomes:?}");
}
