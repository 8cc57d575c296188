//! What each subcommand does: resolve settings, call the library, report.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use oxbase_examples::Scale;
use oxbase_schema::Schema;
use oxbase_server::app::App;
use oxbase_server::config::{CursorSecret, DatabaseUrl, ServerConfig};
use oxbase_server::seed::{SeedError, example_schema, seed_example};
use oxbase_server::serve::{bind, serve};
use oxbase_server::store::migrate::{MigrateError, MigrateOptions, MigrateOutcome, migrate};

use std::io::Write;

use crate::cli::{CheckArgs, Command, DemoArgs, LogFormat, MigrateArgs, SeedArgs, ServeArgs};

/// A command's output on stdout has no reader any more: `oxbase seed … | head -1`, where
/// `head` exits after one line. `println!` panics then; the commands instead stop printing
/// and `main` exits quietly with status 0 (not the 141 of a process killed by SIGPIPE):
/// every command prints after its work is done, so the work succeeded and the reader took
/// all it wanted, and `set -o pipefail` scripts do not fail on it.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes one line of command output to stdout: [`StdoutClosed`] when the reader has gone.
pub fn write_line(line: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write to stdout")),
    }
}

/// `println!` for command output, returning [`StdoutClosed`] from the command when stdout
/// has no reader.
macro_rules! say {
    ($($argument:tt)*) => {
        write_line(format_args!($($argument)*))?
    };
}

/// `println!` for what a running server announces (its address, the demo's banner): a
/// closed stdout is ignored, since the server's work is serving, and its log is on stderr.
macro_rules! announce {
    ($($argument:tt)*) => {
        drop(write_line(format_args!($($argument)*)))
    };
}

/// Sets up `tracing` to stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(arguments) => check(arguments),
        Command::Migrate(arguments) => run_migrate(arguments),
        Command::Seed(arguments) => seed(arguments),
        Command::Serve(arguments) => runtime()?.block_on(serve_command(arguments)),
        Command::Demo(arguments) => runtime()?.block_on(demo(arguments)),
        Command::Bench(options) => bench(options),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Loads a schema file, printing every problem and failing when there are any.
fn load_schema(path: &std::path::Path) -> anyhow::Result<Schema> {
    oxbase_schema::load_schema_file(path).map_err(|errors| {
        let count = errors.errors.len();
        anyhow!("{errors}\n{count} problem{} found", if count == 1 { "" } else { "s" })
    })
}

fn check(arguments: CheckArgs) -> anyhow::Result<ExitCode> {
    let schema = load_schema(&arguments.schema)?;
    let fields: usize = schema.resources.values().map(|resource| resource.fields.len()).sum();
    let indexes: usize = schema.resources.values().map(|resource| resource.indexes.len()).sum();
    say!(
        "{}: ok ({} resources, {fields} fields, {indexes} indexes, {} roles)",
        arguments.schema.display(),
        schema.resources.len(),
        schema.roles.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The database URL from the flag or environment, else the schema file.
fn database_url(flag: Option<&str>, schema: &Schema) -> anyhow::Result<DatabaseUrl> {
    let url = flag
        .or(schema.database.url.as_deref())
        .ok_or_else(|| anyhow!("no database given: pass --database URL, set OXBASE_DATABASE, or set `url` in the schema's [database] section"))?;
    Ok(DatabaseUrl::parse(url)?)
}

fn run_migrate(arguments: MigrateArgs) -> anyhow::Result<ExitCode> {
    let schema = load_schema(&arguments.schema)?;
    let url = database_url(arguments.database.as_deref(), &schema)?;
    let options = MigrateOptions { dry_run: arguments.dry_run, allow_destructive: arguments.allow_destructive };
    match migrate(&url, &schema, options)? {
        MigrateOutcome::UpToDate => say!("{url}: up to date"),
        MigrateOutcome::Planned { steps, statements } => {
            say!("-- dry run: {} step(s) for {url}; nothing was changed", steps.len());
            for step in &steps {
                say!("--   {step}");
            }
            for statement in statements {
                say!("{statement};\n");
            }
        }
        MigrateOutcome::Applied { steps, statements } => {
            say!("{url}: applied {} step(s), {statements} statement(s)", steps.len());
            for step in steps {
                say!("  {step}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn seed(arguments: SeedArgs) -> anyhow::Result<ExitCode> {
    let scale = Scale::parse(&arguments.scale)
        .ok_or_else(|| anyhow!("unknown scale '{}': use small, default or large", arguments.scale))?;
    let url = DatabaseUrl::parse(&arguments.database)?;
    let report = seed_example(&url, &arguments.example, scale)?;
    let total: u64 = report.rows.iter().map(|(_, rows)| rows).sum();
    say!("seeded {} ({}) into {url}: {total} rows in {:.2?}", arguments.example, arguments.scale, report.elapsed);
    for (resource, rows) in report.rows {
        say!("  {resource:<34} {rows:>10}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves `serve`'s settings: flag > environment > schema file > default.
fn server_config(arguments: &ServeArgs, schema: &Schema) -> anyhow::Result<ServerConfig> {
    let database = database_url(arguments.database.as_deref(), schema)?;
    let mut config = ServerConfig::with_database(database);
    if let Some(listen) = arguments.listen.as_deref().or(schema.server.listen.as_deref()) {
        config.listen = parse_listen(listen)?;
    }
    if let Some(size) = schema.server.default_page_size {
        config.default_page_size = size;
    }
    if let Some(size) = schema.server.max_page_size {
        config.max_page_size = size;
    }
    if config.default_page_size > config.max_page_size {
        bail!(
            "server.default_page_size ({}) is larger than server.max_page_size ({})",
            config.default_page_size,
            config.max_page_size
        );
    }
    if let Some(rows) = schema.server.max_embed_rows {
        config.response_bounds.max_embed_rows = rows;
    }
    if let Some(rows) = schema.server.max_response_rows {
        config.response_bounds.max_rows = rows;
    }
    if let Some(bytes) = schema.server.max_response_bytes {
        config.response_bounds.max_bytes = bytes;
    }
    if let Some(bytes) = schema.server.max_body_bytes {
        config.max_body_bytes = bytes;
    }
    if let Some(seconds) = schema.server.request_timeout_seconds {
        config.request_timeout = std::time::Duration::from_secs(seconds);
    }
    apply_connection_settings(&mut config, arguments, schema)?;
    if let Some(readers) = arguments.readers.or(schema.database.readers) {
        config.readers = readers;
    }
    if let Some(milliseconds) = schema.database.busy_timeout_ms {
        config.busy_timeout = std::time::Duration::from_millis(milliseconds);
    }
    apply_pool_settings(&mut config, schema);
    config.admin_enabled = arguments.admin || schema.server.admin.unwrap_or(false);
    if let Some(bytes) = schema.server.compression_min_bytes {
        config.compression_min_bytes = bytes;
    }
    if let Some(level) = schema.server.compression_level
        && level > 11
    {
        bail!("server.compression_level is {level}; use 0 (fastest) to 11 (smallest; gzip stops at 9)");
    }
    config.compression_level = schema.server.compression_level;
    config.cache_enabled = match arguments.cache.as_deref() {
        Some(switch) => Some(switch == "on"),
        None => schema.cache.enabled,
    };
    if let Some(bytes) = schema.cache.max_bytes {
        config.cache_max_bytes = bytes;
    }
    if let Some(seconds) = schema.cache.ttl_seconds {
        config.cache_ttl = std::time::Duration::from_secs(seconds);
    }
    config.redis_url = arguments.redis.clone().or_else(|| schema.cache.redis_url.clone());
    config.cache_redis_l2 = schema.cache.redis_l2.unwrap_or(false);
    config.cache_exact_external_writes =
        schema.cache.external_writes == Some(oxbase_schema::file::ExternalWrites::Exact);
    let schema_directory = arguments.schema.parent().unwrap_or(std::path::Path::new("."));
    config.cursor_secret = cursor_secret(
        arguments.cursor_secret_file.as_deref(),
        "OXBASE_CURSOR_SECRET",
        schema.server.cursor_secret_file.as_deref().map(|path| (schema_directory.join(path), "cursor_secret_file")),
    )?;
    config.cursor_secret_previous = cursor_secret(
        arguments.cursor_secret_previous_file.as_deref(),
        "OXBASE_CURSOR_SECRET_PREVIOUS",
        schema
            .server
            .cursor_secret_previous_file
            .as_deref()
            .map(|path| (schema_directory.join(path), "cursor_secret_previous_file")),
    )?;
    if config.cursor_secret.is_none() && config.cursor_secret_previous.is_some() {
        bail!(
            "a previous cursor secret is set but no current one: set OXBASE_CURSOR_SECRET or a cursor secret file too (the previous secret only verifies old cursors)"
        );
    }
    Ok(config)
}

/// One cursor secret: from the file flag (or its `OXBASE_…_FILE` variable), else the
/// variable `variable` holding the secret itself, else the schema file's `[server]` key.
/// A file's trailing newline is not part of the secret. Shorter than 32 bytes is refused,
/// naming where the secret came from.
fn cursor_secret(
    file_flag: Option<&std::path::Path>,
    variable: &str,
    schema_file: Option<(std::path::PathBuf, &str)>,
) -> anyhow::Result<Option<CursorSecret>> {
    let read = |path: &std::path::Path| -> anyhow::Result<Vec<u8>> {
        let mut bytes =
            std::fs::read(path).with_context(|| format!("cannot read the cursor secret file {}", path.display()))?;
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        Ok(bytes)
    };
    let (bytes, source) = if let Some(path) = file_flag {
        (read(path)?, format!("file {}", path.display()))
    } else if let Some(value) = std::env::var_os(variable) {
        (value.into_encoded_bytes(), variable.to_owned())
    } else if let Some((path, key)) = schema_file {
        (read(&path)?, format!("[server] {key} {}", path.display()))
    } else {
        return Ok(None);
    };
    CursorSecret::new(bytes)
        .map(Some)
        .map_err(|error| anyhow!("{error} (from {source}); generate one with: openssl rand -base64 48"))
}

/// The connection limits (flag > environment > `[server]` > default) and the header size.
fn apply_connection_settings(config: &mut ServerConfig, arguments: &ServeArgs, schema: &Schema) -> anyhow::Result<()> {
    let server = &schema.server;
    // 0 turns a timeout off.
    let seconds = |value: u64| (value > 0).then(|| std::time::Duration::from_secs(value));
    if let Some(value) = arguments.header_read_timeout.or(server.header_read_timeout_seconds) {
        config.header_read_timeout = seconds(value);
    }
    if let Some(value) = arguments.keep_alive_timeout.or(server.keep_alive_timeout_seconds) {
        config.keep_alive_timeout = seconds(value);
    }
    if let Some(connections) = arguments.max_connections.or(server.max_connections) {
        if connections == 0 {
            bail!("max_connections is 0; use at least 1 (it caps how many client connections are open at once)");
        }
        config.max_connections = Some(connections);
    }
    if let Some(bytes) = server.max_header_bytes {
        config.max_header_bytes = bytes;
    }
    Ok(())
}

/// `[database]` pool and slow-query settings.
fn apply_pool_settings(config: &mut ServerConfig, schema: &Schema) {
    use std::time::Duration;
    let database = &schema.database;
    let pool = &mut config.pool;
    if let Some(size) = database.pool_size {
        pool.max_size = size.max(1);
    }
    if let Some(min_idle) = database.min_idle {
        pool.min_idle = min_idle;
    }
    // More idle connections than the pool may hold would only be a misreading.
    pool.min_idle = pool.min_idle.min(pool.max_size);
    if let Some(seconds) = database.idle_timeout_seconds {
        pool.idle_timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
    }
    if let Some(milliseconds) = database.acquire_timeout_ms {
        pool.acquire_timeout = Duration::from_millis(milliseconds);
    }
    if let Some(milliseconds) = database.statement_timeout_ms {
        pool.statement_timeout = Duration::from_millis(milliseconds);
    }
    if let Some(seconds) = database.max_lifetime_seconds {
        pool.max_lifetime = Duration::from_secs(seconds);
    }
    if let Some(test) = database.test_before_acquire {
        pool.test_before_acquire = test;
    }
    if let Some(name) = &database.application_name {
        pool.application_name = name.clone();
    }
    if let Some(milliseconds) = database.slow_query_ms {
        config.slow_query = (milliseconds > 0).then(|| Duration::from_millis(milliseconds));
    }
    if let Some(log_parameters) = database.log_slow_query_parameters {
        config.log_slow_query_parameters = log_parameters;
    }
}

fn parse_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .parse()
        .with_context(|| format!("invalid listen address '{listen}': expected host:port such as 127.0.0.1:8080"))
}

/// Fails unless the database matches the schema, so a server never answers 500 for a
/// table that was never created.
fn ensure_migrated(url: &DatabaseUrl, schema: &Schema, schema_path: &str) -> anyhow::Result<()> {
    let fix = format!("run `oxbase migrate --schema {schema_path} --database {url}` (or pass --migrate)");
    match migrate(url, schema, MigrateOptions { dry_run: true, allow_destructive: true }) {
        Ok(MigrateOutcome::UpToDate) => Ok(()),
        Ok(_) | Err(MigrateError::Impossible(_)) => {
            bail!("the database {url} is not migrated to this schema: {fix}")
        }
        Err(error) => Err(error.into()),
    }
}

async fn serve_command(arguments: ServeArgs) -> anyhow::Result<ExitCode> {
    let schema = load_schema(&arguments.schema)?;
    let config = server_config(&arguments, &schema)?;
    // Migrations use blocking database clients: keep them off the async workers.
    let schema_path = arguments.schema.display().to_string();
    let (database, schema, migrate_first) = (config.database.clone(), schema, arguments.migrate);
    let schema = tokio::task::spawn_blocking(move || {
        if migrate_first {
            migrate(&database, &schema, MigrateOptions::default())?;
        }
        ensure_migrated(&database, &schema, &schema_path)?;
        Ok::<_, anyhow::Error>(schema)
    })
    .await??;
    run_server(config, schema).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_server(config: ServerConfig, schema: Schema) -> anyhow::Result<SocketAddr> {
    let listener = bind(config.listen).await?;
    let address = listener.local_addr()?;
    let database = config.database.to_string();
    let app = Arc::new(App::open(config, schema).await?);
    tracing::info!(%address, database, cache = app.coherence.mode_name(), "listening");
    announce!("oxbase listening on http://{address}");
    serve(listener, app, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(address)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn demo(arguments: DemoArgs) -> anyhow::Result<ExitCode> {
    let schema = example_schema("pearl")?;
    let url = DatabaseUrl::Sqlite(arguments.data_dir.join("pearl.db"));
    let seeding = tokio::task::spawn_blocking({
        let url = url.clone();
        move || seed_example(&url, "pearl", Scale::Small)
    });
    match seeding.await? {
        Ok(report) => {
            let total: u64 = report.rows.iter().map(|(_, rows)| rows).sum();
            announce!("seeded the pearl example ({total} rows) into {url} in {:.2?}", report.elapsed);
        }
        Err(SeedError::AlreadySeeded { .. }) => {
            announce!("using the pearl example already in {url}")
        }
        Err(error) => return Err(error.into()),
    }
    let mut config = ServerConfig::with_database(url);
    config.listen = parse_listen(&arguments.listen)?;
    config.max_page_size = schema.server.max_page_size.unwrap_or(config.max_page_size);
    let listener = bind(config.listen).await?;
    let address = listener.local_addr()?;
    announce!("\noxbase demo: the pearl clinical-study tracker on http://{address}\n");
    announce!("try:");
    announce!("  curl 'http://{address}/api/v1/trackers?limit=2'");
    announce!("  curl 'http://{address}/api/v1/users/1'");
    announce!("  curl 'http://{address}/api/v1/reporting_efforts?limit=5&offset=1'");
    announce!("\nCtrl-C stops it; the data stays in {}", arguments.data_dir.display());
    let app = Arc::new(App::open(config, schema).await?);
    serve(listener, app, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn bench(options: oxbase_bench::BenchOptions) -> anyhow::Result<ExitCode> {
    let report = oxbase_bench::run(&options)?;
    say!("{}", report.to_markdown());
    say!("wrote {} and {}", options.out.join("bench.json").display(), options.out.join("bench.md").display());
    Ok(ExitCode::SUCCESS)
}
