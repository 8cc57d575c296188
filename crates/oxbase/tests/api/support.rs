//! The test harness: a real server on a free port over a freshly seeded SQLite file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxbase_examples::Scale;
use oxbase_server::app::{App, bind, serve};
use oxbase_server::config::{DatabaseUrl, ServerConfig};
use oxbase_server::seed::{example_schema, seed_example};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A running server over the pearl example's small data set.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub database_path: PathBuf,
    /// The running app, e.g. to subscribe to its change events.
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    _directory: TempDir,
}

impl TestApp {
    /// Seeds a fresh database and starts a server on it.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let database_path = directory.path().join("pearl.db");
        let url = DatabaseUrl::Sqlite(database_path.clone());
        let seed_url = url.clone();
        tokio::task::spawn_blocking(move || seed_example(&seed_url, "pearl", Scale::Small))
            .await
            .unwrap()
            .expect("seeding the pearl example");
        let mut config = ServerConfig::with_database(url);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        adjust(&mut config);
        let listener = bind(config.listen).await.expect("binding a free port");
        let address = listener.local_addr().unwrap();
        let app = Arc::new(App::open(config, example_schema("pearl").unwrap()).await.expect("opening the app"));
        let (sender, receiver) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app.clone(), async {
            let _ = receiver.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::new(),
            database_path,
            app,
            shutdown: Some(sender),
            _directory: directory,
        }
    }

    /// The absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("the server answers")
    }

    /// GET a path and parse the JSON body, asserting the status.
    pub async fn get_json(&self, path: &str, status: u16) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// A request with a JSON body.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
        prefer: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(prefer) = prefer {
            request = request.header("prefer", prefer);
        }
        request.send().await.expect("the server answers")
    }

    /// Counts rows with SQL.
    pub fn count(&self, sql: &str) -> i64 {
        self.database().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    /// A direct connection to the database file, to compare the API with SQL.
    pub fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.database_path).unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// Asserts an oxbase error body: status, code, and that the message mentions `needle`.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str, needle: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status of {}", response.url());
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "errors are JSON");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().unwrap().contains(needle), "message should mention {needle:?}: {body}");
    assert!(body.get("details").is_some() && body.get("hint").is_some(), "{body}");
    body
}

/// The `oxbase` binary under test.
pub fn oxbase_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_oxbase"))
}

/// The pearl example's schema file in the repository.
pub fn pearl_schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pearl/schema.toml")
}
