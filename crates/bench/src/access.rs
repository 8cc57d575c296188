//! The server the access variants (`S1-access`, `S3-access`) load: a second `oxbase serve`
//! on the same database, serving the example's full schema (its `[accounts]` and roles), and
//! the viewer's access token the variants send.
//!
//! The plain scenarios' server serves the schema without access, so the two rows of a pair
//! differ only in the rules (and the token check) and run in the same run, on the same data.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::BenchError;
use crate::client::Connection;
use crate::server::ServerProcess;
use crate::workload::{BenchRequest, Method, VIEWER};

/// The viewer's password: the example's demo password, so `oxbase demo`'s instructions log
/// in to a benchmark database too.
pub const VIEWER_PASSWORD: &str = oxbase_examples::pearl::DEMO_PASSWORD;

/// Life of the viewer's access token on the access server: longer than any run, so a long
/// `--duration` never meets a 401 because the token expired (the default is 15 minutes).
const TOKEN_SECONDS: &str = "86400";

/// Writes the example's full schema to `path` and sets the viewer's password with
/// `oxbase users set-password` (a child process of this binary, as the server is).
pub fn set_viewer_password(example: &str, schema_path: &Path, database: &str) -> Result<(), BenchError> {
    let source = oxbase_examples::schema_source(example).expect("the example exists");
    std::fs::write(schema_path, source)
        .map_err(|source| BenchError::Output { path: schema_path.to_owned(), source })?;
    let executable = std::env::current_exe()
        .map_err(|error| BenchError::Server(format!("cannot find the oxbase executable: {error}")))?;
    let mut child = Command::new(&executable)
        .args(["users", "set-password", VIEWER, "--schema"])
        .arg(schema_path)
        .args(["--database", database])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| BenchError::Server(format!("cannot start {}: {error}", executable.display())))?;
    let written = child.stdin.take().expect("stdin is piped").write_all(format!("{VIEWER_PASSWORD}\n").as_bytes());
    let output = child
        .wait_with_output()
        .map_err(|error| BenchError::Server(format!("oxbase users set-password {VIEWER}: {error}")))?;
    if !output.status.success() || written.is_err() {
        return Err(BenchError::Server(format!(
            "oxbase users set-password {VIEWER} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Starts the access server on `schema_path` (written by [`set_viewer_password`]) with the
/// same `extra` arguments as the plain server (cache, Redis).
pub fn start(schema_path: &Path, database: &str, extra: &[String], log: &Path) -> Result<ServerProcess, BenchError> {
    let mut arguments = extra.to_vec();
    arguments.extend(["--access-ttl-seconds".to_owned(), TOKEN_SECONDS.to_owned()]);
    ServerProcess::start(schema_path, database, &arguments, log)
}

/// Logs in as the viewer: `POST /api/v1/auth/login`, the access token of the answer.
pub async fn log_in(address: SocketAddr) -> Result<String, BenchError> {
    let failed = |reason: String| BenchError::Server(format!("logging in as {VIEWER} on http://{address}: {reason}"));
    let request = BenchRequest {
        method: Method::Post,
        path: "/api/v1/auth/login".to_owned(),
        query: Vec::new(),
        headers: vec![("content-type", "application/json".to_owned())],
        body: Some(serde_json::json!({ "username": VIEWER, "password": VIEWER_PASSWORD }).to_string()),
        read: None,
    };
    let mut connection = Connection::open(address).await.map_err(|error| failed(error.to_string()))?;
    let http = connection.build(&request).map_err(|error| failed(error.to_string()))?;
    let answer = connection.send(http, true).await.map_err(|error| failed(error.to_string()))?;
    let body = answer.body.unwrap_or_default();
    if answer.status != 200 {
        return Err(failed(format!("answered {}: {}", answer.status, String::from_utf8_lossy(&body))));
    }
    access_token(&body).ok_or_else(|| failed("the answer holds no access_token".to_owned()))
}

/// The `access_token` of a login answer.
fn access_token(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    answer.get("access_token")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewer_is_a_demo_account() {
        assert!(oxbase_examples::pearl::DEMO_ACCOUNTS.contains(&VIEWER));
    }

    #[test]
    fn the_token_is_read_from_the_login_answer() {
        let body = br#"{"access_token":"a.b.c","token_type":"bearer","expires_in":900,"refresh_token":"r"}"#;
        assert_eq!(access_token(body).as_deref(), Some("a.b.c"));
        assert_eq!(access_token(br#"{"code":"credentials_invalid"}"#), None);
        assert_eq!(access_token(b"not json"), None);
    }
}
