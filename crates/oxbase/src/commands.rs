//! What each subcommand does: resolve settings, call the library, report.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use oxbase_examples::Scale;
use oxbase_examples::pearl::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use oxbase_schema::Schema;
use oxbase_server::app::App;
use oxbase_server::config::render::{TableRow, settings_table};
use oxbase_server::config::{Config, DatabaseUrl, FileSettings, ServerConfig};
use oxbase_server::serve::{Exposure, bind, exposure, serve};
use oxbase_store::migrate::{MigrateError, MigrateOptions, MigrateOutcome, migrate};
use oxbase_store::seed::{SeedError, example_schema, seed_example};

use std::io::Write;

use crate::cli::{CheckArgs, Command, ConfigArgs, DemoArgs, LogFormat, MigrateArgs, SeedArgs, ServeArgs};

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

/// Runs one subcommand; `matches` are the subcommand's parsed arguments, which tell a
/// flag from its environment variable.
pub fn run(command: Command, matches: Option<&clap::ArgMatches>) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(arguments) => check(arguments),
        Command::Migrate(arguments) => run_migrate(arguments),
        Command::Seed(arguments) => seed(arguments),
        Command::Config(arguments) => config_command(arguments, matches),
        Command::Serve(arguments) => runtime()?.block_on(serve_command(arguments, matches)),
        Command::Demo(arguments) => runtime()?.block_on(demo(arguments)),
        Command::Bench(options) => bench(options),
        Command::Keys(command) => runtime()?.block_on(crate::identity::keys(command)),
        Command::Users(command) => runtime()?.block_on(crate::identity::users(command)),
        Command::Audit(command) => runtime()?.block_on(crate::audit::audit(command)),
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Loads a schema file and its configuration sections, printing every problem and
/// failing when there are any. The sections are read first: an unknown or mistyped key
/// there is the one problem reported, as for any key the file cannot hold.
pub(crate) fn load_schema(path: &std::path::Path) -> anyhow::Result<(Schema, FileSettings)> {
    let report = |errors: oxbase_schema::CheckErrors| {
        let count = errors.errors.len();
        anyhow!("{errors}\n{count} problem{} found", if count == 1 { "" } else { "s" })
    };
    let file = path.display().to_string();
    let source = oxbase_schema::read_schema_file(path).map_err(report)?;
    let settings = FileSettings::parse(&source, &file).map_err(report)?;
    let schema = oxbase_schema::parse_schema(&source, &file).map_err(report)?;
    Ok((schema, settings))
}

fn check(arguments: CheckArgs) -> anyhow::Result<ExitCode> {
    let (schema, _) = load_schema(&arguments.schema)?;
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
fn database_url(flag: Option<&str>, file: &FileSettings) -> anyhow::Result<DatabaseUrl> {
    let url = flag
        .or(file.database.url.as_ref().map(|url| url.expose()))
        .ok_or_else(|| anyhow!("no database given: pass --database URL, set OXBASE_DATABASE, or set `url` in the schema's [database] section"))?;
    Ok(DatabaseUrl::parse(url)?)
}

fn run_migrate(arguments: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (schema, file) = load_schema(&arguments.schema)?;
    let url = database_url(arguments.database.as_deref(), &file)?;
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

/// The effective configuration: flag > environment > the schema file's sections > default.
fn resolve_config(
    flags: &oxbase_server::config::SettingFlags,
    matches: Option<&clap::ArgMatches>,
    schema_file: Option<(&FileSettings, &std::path::Path)>,
) -> anyhow::Result<Config> {
    Ok(Config::resolve(flags, matches, schema_file, |variable| std::env::var_os(variable))?)
}

fn parse_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .parse()
        .with_context(|| format!("invalid listen address '{listen}': expected host:port such as 127.0.0.1:8080"))
}

/// `oxbase config`: the effective configuration, then the checks `serve` makes at start
/// (a failing one is reported after the configuration, with exit status 1).
fn config_command(arguments: ConfigArgs, matches: Option<&clap::ArgMatches>) -> anyhow::Result<ExitCode> {
    if arguments.markdown {
        say!("{}", settings_table(&command_line_rows()).trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    let file = arguments.schema.as_deref().map(load_schema).transpose()?;
    let schema_file = file.as_ref().zip(arguments.schema.as_deref()).map(|((_, settings), path)| (settings, path));
    let config = resolve_config(&arguments.settings, matches, schema_file)?;
    say!("{}", config.to_toml().trim_end());
    config.server_config()?;
    Ok(ExitCode::SUCCESS)
}

/// The settings table's rows for what only the command line sets, from the clap
/// declarations themselves.
fn command_line_rows() -> Vec<TableRow> {
    use clap::CommandFactory;
    let command = crate::cli::Cli::command();
    let serve = command.find_subcommand("serve").expect("serve is a subcommand");
    let arguments = [(serve, "schema", "required"), (serve, "migrate", "off"), (&command, "log_format", "`text`")];
    arguments
        .into_iter()
        .map(|(command, id, default)| {
            let argument =
                command.get_arguments().find(|argument| argument.get_id() == id).expect("a declared argument");
            let possible: Vec<String> =
                argument.get_possible_values().iter().map(|value| value.get_name().to_owned()).collect();
            let value = match argument.get_value_names().and_then(|names| names.first()) {
                _ if !argument.get_action().takes_values() => None,
                _ if !possible.is_empty() => Some(format!(" {}", possible.join("|"))),
                Some(name) => Some(format!(" {name}")),
                None => None,
            };
            let help = argument.get_help().map(|help| help.to_string()).unwrap_or_default();
            TableRow {
                setting: String::new(),
                flag: format!("--{}{}", argument.get_long().unwrap_or_default(), value.unwrap_or_default()),
                env: argument.get_env().map(|env| env.to_string_lossy().into_owned()).unwrap_or_default(),
                default: default.to_owned(),
                meaning: if help.ends_with('.') { help } else { format!("{help}.") },
            }
        })
        .collect()
}

/// Fails unless the database matches the schema, so a server never answers 500 for a
/// table that was never created.
pub(crate) fn ensure_migrated(url: &DatabaseUrl, schema: &Schema, schema_path: &str) -> anyhow::Result<()> {
    let fix = format!("run `oxbase migrate --schema {schema_path} --database {url}` (or pass --migrate)");
    match migrate(url, schema, MigrateOptions { dry_run: true, allow_destructive: true }) {
        Ok(MigrateOutcome::UpToDate) => Ok(()),
        Ok(_) | Err(MigrateError::Impossible(_)) => {
            bail!("the database {url} is not migrated to this schema: {fix}")
        }
        Err(error) => Err(error.into()),
    }
}

async fn serve_command(arguments: ServeArgs, matches: Option<&clap::ArgMatches>) -> anyhow::Result<ExitCode> {
    let (schema, file) = load_schema(&arguments.schema)?;
    let config = resolve_config(&arguments.settings, matches, Some((&file, &arguments.schema)))?.server_config()?;
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
    match exposure(&schema, config.listen, config.open)? {
        Exposure::Guarded => {}
        Exposure::OpenLocally => tracing::warn!(
            "the schema declares no roles: every request may read, write and delete everything (served on loopback only; declare [roles] before exposing it)"
        ),
        Exposure::Public => tracing::warn!(
            "the schema declares no roles and --open is set: the API is public, anyone who reaches {} may read, write and delete everything",
            config.listen
        ),
    }
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
    let source = oxbase_examples::schema_source("pearl").expect("the pearl example exists");
    let file = FileSettings::parse(source, "examples/pearl/schema.toml")?;
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
    config.max_page_size = file.server.max_page_size.unwrap_or(config.max_page_size);
    let listener = bind(config.listen).await?;
    let address = listener.local_addr()?;
    let app = Arc::new(App::open(config, schema).await?);
    // The demo's accounts: one per role, all with the same password, printed below.
    for username in DEMO_ACCOUNTS {
        if !oxbase_server::service::identity::set_password(&app, username, DEMO_PASSWORD).await? {
            bail!("the demo account '{username}' is missing from {}", arguments.data_dir.display());
        }
    }
    announce!("\noxbase demo: the pearl clinical-study tracker on http://{address}\n");
    announce!("without credentials (the anonymous role: trackers, items, comments, usernames):");
    announce!("  curl 'http://{address}/api/v1/trackers?limit=2'");
    announce!("  curl 'http://{address}/api/v1/users/1'");
    announce!("\ndemo accounts, password '{DEMO_PASSWORD}': admin (admin), editor1 (editor), viewer1 (viewer)");
    announce!("log in, then send the token:");
    announce!(
        "  curl -s -X POST 'http://{address}/api/v1/auth/login' -H 'Content-Type: application/json' -d '{{\"username\":\"viewer1\",\"password\":\"{DEMO_PASSWORD}\"}}'"
    );
    announce!("  curl 'http://{address}/api/v1/reporting_efforts?limit=5' -H 'Authorization: Bearer <access_token>'");
    announce!("\nCtrl-C stops it; the data stays in {}", arguments.data_dir.display());
    serve(listener, app, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn bench(options: oxbase_bench::BenchOptions) -> anyhow::Result<ExitCode> {
    let report = oxbase_bench::run(&options)?;
    say!("{}", report.to_markdown());
    say!("wrote {} and {}", options.out.join("bench.json").display(), options.out.join("bench.md").display());
    Ok(ExitCode::SUCCESS)
}
