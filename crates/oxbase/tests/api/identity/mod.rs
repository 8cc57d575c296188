//! Identity over HTTP on both engines: logging in, the lockout, tokens refused with their
//! codes, refresh rotation and reuse, logout, password changes, API keys, another
//! provider's tokens. The pearl example's `users` are its accounts, served with its roles.

mod cli;
mod keys;
mod sessions;
mod tokens;

use std::time::Duration;

use oxbase_server::config::{CursorSecret, ServerConfig};
use serde_json::{Value, json};

use crate::support::{Engine, TestApp};

/// The JWT secret the test servers sign with, so tests can make tokens of their own.
pub const SECRET: &[u8] = b"the identity tests' JWT secret, 32 bytes or more";

/// A password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// The pearl server with its roles and accounts, admin endpoints on, the known JWT secret,
/// and `adjust` applied to the configuration.
pub async fn spawn(engine: Engine, adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
    TestApp::spawn_with_roles(
        engine,
        |config| {
            config.admin_enabled = true;
            config.auth.jwt_secret = Some(CursorSecret::new(SECRET).unwrap());
            adjust(config);
        },
        |schema| {
            let accounts = schema.accounts.as_ref().expect("pearl declares [accounts]");
            assert_eq!((accounts.resource.as_str(), accounts.password_field.as_str()), ("users", "password_hash"));
        },
    )
    .await
}

/// A user of the fixture with `role`: (username, id), after giving it [`PASSWORD`].
pub async fn account(app: &TestApp, role: &str) -> (String, i64) {
    let rows = app.rows(&format!("SELECT username, id FROM users WHERE role = '{role}' ORDER BY id LIMIT 1")).await;
    let (username, id) = (rows[0][0].as_str().unwrap().to_owned(), rows[0][1].as_i64().unwrap());
    let set = oxbase_server::service::identity::set_password(&app.app, &username, PASSWORD).await.unwrap();
    assert!(set, "{username} exists");
    (username, id)
}

/// `POST path` with a JSON body.
pub async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(path)).json(&body).send().await.unwrap()
}

/// `GET path` with `Authorization: Bearer credential`.
pub async fn get_as(app: &TestApp, path: &str, credential: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(credential).send().await.unwrap()
}

/// `GET path` without credentials (unlike [`TestApp::get`], which sends the suite's admin
/// key to `/admin/*`).
pub async fn anonymous(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// Logs in, asserting 200: the token response.
pub async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    let response = post(app, "/api/v1/auth/login", json!({ "username": username, "password": password })).await;
    assert_eq!(response.status(), 200, "login of {username}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Asserts a 401 with `code` and `WWW-Authenticate: Bearer`; the body.
pub async fn assert_unauthorized(response: reqwest::Response, code: &str) -> Value {
    assert_eq!(response.status(), 401, "{}", response.url());
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    body
}

/// Polls `check` until it holds, for up to two seconds.
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the condition never held");
}
