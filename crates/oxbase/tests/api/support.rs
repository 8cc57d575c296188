//! The test harness: a real server on a free port over a freshly seeded SQLite file or
//! PostgreSQL database.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxbase_examples::Scale;
use oxbase_server::app::App;
use oxbase_server::config::{DatabaseUrl, ServerConfig};
use oxbase_server::serve::{bind, serve};
use oxbase_store::seed::{example_schema, seed_example};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The local PostgreSQL server the suite creates its databases in.
pub const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// Instantiates async test functions taking an [`Engine`] once per engine, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Engine::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Engine::Postgres).await } )*
        }
    };
}

/// Like [`on_both_engines!`], for plain (blocking) test functions taking an [`Engine`]:
/// tests that run the `oxbase` binary.
#[macro_export]
macro_rules! on_both_engines_blocking {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::support::Engine::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::support::Engine::Postgres) } )*
        }
    };
}

/// An empty database of either engine for a test that runs the `oxbase` binary: an SQLite
/// file in a temporary directory, or a fresh PostgreSQL database. Its queries block, so
/// use it from plain tests or blocking threads.
pub struct ScratchDatabase {
    engine: Engine,
    directory: TempDir,
    file_name: String,
    postgres: Option<PostgresDatabase>,
}

impl ScratchDatabase {
    /// An empty database; on SQLite the file `file_name` (not created yet) in a new
    /// temporary directory.
    pub fn create(engine: Engine, file_name: &str) -> ScratchDatabase {
        let postgres = (engine == Engine::Postgres).then(PostgresDatabase::create_blocking);
        let directory = tempfile::tempdir().expect("a temporary directory");
        ScratchDatabase { engine, directory, file_name: file_name.to_owned(), postgres }
    }

    /// The temporary directory (for schema files and the like).
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    /// The URL to give `--database`.
    pub fn url(&self) -> String {
        match &self.postgres {
            None => format!("sqlite://{}", self.directory.path().join(&self.file_name).display()),
            Some(database) => database.url(),
        }
    }

    /// The SQL for this engine: the first on SQLite, the second on PostgreSQL.
    pub fn pick<'a>(&self, sqlite: &'a str, postgres: &'a str) -> &'a str {
        if self.engine == Engine::Sqlite { sqlite } else { postgres }
    }

    /// Runs statements, giving the database's error message on failure.
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        match &self.postgres {
            None => self.sqlite().execute_batch(sql).map_err(|error| error.to_string()),
            Some(database) => postgres::Client::connect(&database.url(), postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .map_err(|error| error.to_string()),
        }
    }

    /// Every row of a query, as JSON values (see [`TestApp::rows`]).
    pub fn rows(&self, sql: &str) -> Vec<Vec<serde_json::Value>> {
        match &self.postgres {
            None => sqlite_rows(&self.sqlite(), sql),
            Some(database) => {
                let mut client = postgres::Client::connect(&database.url(), postgres::NoTls).unwrap();
                let rows = client.query(sql, &[]).unwrap_or_else(|error| panic!("{sql}: {error}"));
                rows.iter().map(postgres_row_json).collect()
            }
        }
    }

    /// The one integer a query returns.
    pub fn count(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        rows[0][0].as_i64().unwrap_or_else(|| panic!("{sql} returned no integer"))
    }

    /// The first column of every row, as text.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .into_iter()
            .map(|row| row[0].as_str().unwrap_or_else(|| panic!("{sql}: {row:?}")).to_owned())
            .collect()
    }

    /// A table's column names in order.
    pub fn columns(&self, table: &str) -> Vec<String> {
        let (sqlite, postgres) = (
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
            format!(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        );
        self.texts(self.pick(&sqlite, &postgres))
    }

    fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.directory.path().join(&self.file_name)).unwrap()
    }
}

/// A fresh PostgreSQL database for one test, dropped when the test ends.
pub struct PostgresDatabase {
    pub name: String,
}

impl PostgresDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> PostgresDatabase {
        let name = format!("oxbase_test_{}", uuid_like());
        let statement = format!("CREATE DATABASE \"{name}\"");
        tokio::task::spawn_blocking(move || {
            let mut admin = postgres::Client::connect(&format!("{POSTGRES_SERVER}/postgres"), postgres::NoTls)
                .expect("PostgreSQL runs on 127.0.0.1:5432 (.ci/run starts it)");
            admin.batch_execute(&statement).unwrap();
        })
        .await
        .unwrap();
        PostgresDatabase { name }
    }

    /// Like [`PostgresDatabase::create`], for tests without an async runtime.
    pub fn create_blocking() -> PostgresDatabase {
        let name = format!("oxbase_test_{}", uuid_like());
        let mut admin = postgres::Client::connect(&format!("{POSTGRES_SERVER}/postgres"), postgres::NoTls)
            .expect("PostgreSQL runs on 127.0.0.1:5432 (.ci/run starts it)");
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
        PostgresDatabase { name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("{POSTGRES_SERVER}/{}", self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // A plain thread: Drop may run inside an async test, where the blocking client
        // cannot run.
        let _ = std::thread::spawn(move || {
            if let Ok(mut admin) = postgres::Client::connect(&format!("{POSTGRES_SERVER}/postgres"), postgres::NoTls) {
                let _ = admin.batch_execute(&statement);
            }
        })
        .join();
    }
}

fn uuid_like() -> String {
    let mut random = fastrand::Rng::new();
    (0..16).map(|_| char::from(b'a' + random.u8(..26))).collect()
}

/// A running server over the pearl example's small data set.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub database_path: PathBuf,
    /// On PostgreSQL, the test's own database (dropped with the app).
    postgres: Option<PostgresDatabase>,
    /// The running app, e.g. to subscribe to its change events.
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    _directory: TempDir,
}

impl TestApp {
    /// Seeds a fresh SQLite database and starts a server on it.
    #[allow(dead_code, reason = "every suite runs on both engines now; kept for SQLite-only tests")]
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Seeds a fresh database of `engine` and starts a server on it.
    pub async fn spawn_on(engine: Engine) -> TestApp {
        TestApp::spawn_on_with(engine, |_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        TestApp::spawn_on_with(Engine::Sqlite, adjust).await
    }

    /// Like [`TestApp::spawn_on`], letting the test adjust the configuration.
    pub async fn spawn_on_with(engine: Engine, adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        TestApp::spawn_on_with_schema(engine, adjust, |_| {}).await
    }

    /// Like [`TestApp::spawn_on_with`], also adjusting the pearl schema the server serves
    /// (settings such as `allow_unfiltered_writes`; the tables stay pearl's). The schema
    /// comes without its roles, so every request may do everything (the API and data
    /// tests); [`TestApp::spawn_with_roles`] keeps them.
    pub async fn spawn_on_with_schema(
        engine: Engine,
        adjust: impl FnOnce(&mut ServerConfig),
        adjust_schema: impl FnOnce(&mut oxbase_schema::Schema),
    ) -> TestApp {
        TestApp::spawn_on_with_schema_as_is(engine, adjust, |schema| {
            schema.roles.clear();
            adjust_schema(schema);
        })
        .await
    }

    /// The pearl example as it is, roles and all, adjusted by `adjust_schema`.
    pub async fn spawn_with_roles(
        engine: Engine,
        adjust: impl FnOnce(&mut ServerConfig),
        adjust_schema: impl FnOnce(&mut oxbase_schema::Schema),
    ) -> TestApp {
        TestApp::spawn_on_with_schema_as_is(engine, adjust, adjust_schema).await
    }

    async fn spawn_on_with_schema_as_is(
        engine: Engine,
        adjust: impl FnOnce(&mut ServerConfig),
        adjust_schema: impl FnOnce(&mut oxbase_schema::Schema),
    ) -> TestApp {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let database_path = directory.path().join("pearl.db");
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(PostgresDatabase::create().await),
        };
        let url = match &postgres {
            None => DatabaseUrl::Sqlite(database_path.clone()),
            Some(database) => DatabaseUrl::Postgres(database.url()),
        };
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
        let mut schema = example_schema("pearl").unwrap();
        adjust_schema(&mut schema);
        let app = Arc::new(App::open(config, schema).await.expect("opening the app"));
        let (sender, receiver) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app.clone(), async {
            let _ = receiver.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::new(),
            database_path,
            postgres,
            app,
            shutdown: Some(sender),
            _directory: directory,
        }
    }

    /// On PostgreSQL, the URL of the test's database (for a client of the test's own).
    pub fn postgres_url(&self) -> Option<String> {
        self.postgres.as_ref().map(PostgresDatabase::url)
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

    /// The one integer a query returns (a count), on whichever engine the app runs.
    pub async fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).await.as_i64().unwrap_or_else(|| panic!("{sql} returned no integer"))
    }

    /// Every row of a query, as JSON values, on whichever engine the app runs. Write SQL
    /// both engines accept (`= false` rather than `= 0` for booleans).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<serde_json::Value>> {
        let sql = sql.to_owned();
        match &self.postgres {
            None => {
                let path = self.database_path.clone();
                tokio::task::spawn_blocking(move || sqlite_rows(&rusqlite::Connection::open(path).unwrap(), &sql))
                    .await
                    .unwrap()
            }
            Some(database) => {
                let url = database.url();
                tokio::task::spawn_blocking(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    let rows = client.query(sql.as_str(), &[]).unwrap_or_else(|error| panic!("{sql}: {error}"));
                    rows.iter().map(postgres_row_json).collect()
                })
                .await
                .unwrap()
            }
        }
    }

    /// The first column of every row, as integers.
    pub async fn integers(&self, sql: &str) -> Vec<i64> {
        self.rows(sql)
            .await
            .into_iter()
            .map(|row| row[0].as_i64().unwrap_or_else(|| panic!("{sql}: {row:?}")))
            .collect()
    }

    /// The one value a query returns.
    pub async fn scalar(&self, sql: &str) -> serde_json::Value {
        let rows = self.rows(sql).await;
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        rows[0][0].clone()
    }

    /// A direct connection to the database file, to compare the API with SQL (SQLite only;
    /// [`TestApp::rows`] works on both engines).
    #[allow(dead_code, reason = "every suite runs on both engines now; kept for SQLite-only tests")]
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

/// The pearl example's schema without its roles and accounts (which come last in the
/// file): a server of it lets every request do everything, as the API and data tests that
/// run the binary expect. Written once per test process.
pub fn open_pearl_schema_path() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let open = oxbase_examples::schema_source_without_access("pearl").unwrap();
        assert!(!open.contains("[roles.") && !open.contains("[accounts]"), "roles and accounts come last");
        let path = std::env::temp_dir().join(format!("oxbase-open-pearl-{}.toml", std::process::id()));
        std::fs::write(&path, open).unwrap();
        path
    })
    .clone()
}

/// A running `oxbase serve` process and the address it printed; killed when dropped, so a
/// failing test leaves no server behind.
pub struct ServerProcess {
    pub child: Child,
    pub address: String,
    /// Everything the process has written to stderr (its log), read by a thread of its own
    /// so that a chatty server never blocks on a full pipe.
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `command` (an `oxbase serve …`) and waits for its `oxbase listening on` line.
    /// Blocks: call it from a plain test or a blocking thread.
    // The child is owned by the returned ServerProcess, whose Drop kills and waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn start(command: &mut Command) -> ServerProcess {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting oxbase");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log_writer = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|read| read > 0) {
                log_writer.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                panic!("oxbase exited before listening: {}", log.lock().unwrap());
            }
            let announced = ["oxbase listening on http://", "oxbase demo: the pearl clinical-study tracker on http://"]
                .iter()
                .find_map(|prefix| line.trim().strip_prefix(prefix));
            if let Some(address) = announced {
                let address = address.to_owned();
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                return ServerProcess { child, address, log };
            }
        }
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM (a graceful stop).
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, failing the test after `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
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

/// Every row of an SQLite query, as JSON values.
fn sqlite_rows(connection: &rusqlite::Connection, sql: &str) -> Vec<Vec<serde_json::Value>> {
    let mut statement = connection.prepare(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
    let columns = statement.column_count();
    let rows = statement
        .query_map([], |row| {
            (0..columns)
                .map(|index| {
                    Ok(match row.get::<_, rusqlite::types::Value>(index)? {
                        rusqlite::types::Value::Null => serde_json::Value::Null,
                        rusqlite::types::Value::Integer(number) => number.into(),
                        rusqlite::types::Value::Real(number) => number.into(),
                        rusqlite::types::Value::Text(text) => text.into(),
                        rusqlite::types::Value::Blob(_) => serde_json::Value::Null,
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    rows.map(Result::unwrap).collect()
}

/// A PostgreSQL row as JSON values (the types the suite's SQL selects).
fn postgres_row_json(row: &postgres::Row) -> Vec<serde_json::Value> {
    use postgres::types::Type;
    (0..row.len())
        .map(|index| match *row.columns()[index].type_() {
            Type::INT2 => row.get::<_, Option<i16>>(index).map_or(serde_json::Value::Null, Into::into),
            Type::INT4 => row.get::<_, Option<i32>>(index).map_or(serde_json::Value::Null, Into::into),
            Type::INT8 => row.get::<_, Option<i64>>(index).map_or(serde_json::Value::Null, Into::into),
            Type::FLOAT4 => row.get::<_, Option<f32>>(index).map_or(serde_json::Value::Null, Into::into),
            Type::FLOAT8 => row.get::<_, Option<f64>>(index).map_or(serde_json::Value::Null, Into::into),
            Type::BOOL => {
                row.get::<_, Option<bool>>(index).map_or(serde_json::Value::Null, |flag| i64::from(flag).into())
            }
            Type::NUMERIC => panic!("cast numeric results to float8 or text in test SQL"),
            _ => row.get::<_, Option<String>>(index).map_or(serde_json::Value::Null, Into::into),
        })
        .collect()
}
