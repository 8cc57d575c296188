//! Command-line arguments. Each setting is a flag and an `OXBASE_…` environment variable;
//! `serve` also reads `[server]` and `[database]` from the schema file. Precedence:
//! flag > environment > schema file > built-in default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// oxbase serves a declared relational schema as a fast, safe REST API.
#[derive(Debug, Parser)]
#[command(name = "oxbase", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, global = true, env = "OXBASE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a schema over HTTP.
    Serve(ServeArgs),
    /// Bring a database to a schema (creates tables, columns and indexes).
    Migrate(MigrateArgs),
    /// Validate a schema file; exits non-zero and names every problem.
    Check(CheckArgs),
    /// Load an example's deterministic data set into a database.
    Seed(SeedArgs),
    /// Migrate, seed and serve the pearl example on an embedded SQLite file.
    Demo(DemoArgs),
    /// Replay an example's workload against a server; measure it, the database limit and
    /// the HTTP limit; write a report.
    Bench(oxbase_bench::BenchOptions),
}

/// `oxbase serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The schema file (TOML).
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: PathBuf,
    /// Database URL: sqlite://relative/path.db, sqlite:///absolute/path.db or postgres://user@host:port/db
    /// [default: the schema file's [database] url]
    #[arg(long, env = "OXBASE_DATABASE")]
    pub database: Option<String>,
    /// Address to listen on [default: the schema file's [server] listen, else 127.0.0.1:8080].
    #[arg(long, env = "OXBASE_LISTEN")]
    pub listen: Option<String>,
    /// SQLite reader connections [default: 4].
    #[arg(long, env = "OXBASE_READERS")]
    pub readers: Option<u32>,
    /// Seconds a client has to send a request's headers, from the connection's opening or
    /// the request's first byte; 0 waits forever [default: the schema file's [server]
    /// header_read_timeout_seconds, else 10].
    #[arg(long, env = "OXBASE_HEADER_READ_TIMEOUT", value_name = "SECONDS")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a connection with no request in flight stays open; 0 keeps it open
    /// [default: the schema file's [server] keep_alive_timeout_seconds, else 60].
    #[arg(long, env = "OXBASE_KEEP_ALIVE_TIMEOUT", value_name = "SECONDS")]
    pub keep_alive_timeout: Option<u64>,
    /// Most connections open at once; more are answered 503 too_many_connections
    /// [default: the schema file's [server] max_connections, else 10000 or fewer to fit
    /// the open-file limit].
    #[arg(long, env = "OXBASE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Migrate the database to the schema before serving.
    #[arg(long, env = "OXBASE_MIGRATE")]
    pub migrate: bool,
    /// Serve /admin/* (pool statistics, EXPLAIN) [default: the schema file's [server] admin].
    #[arg(long, env = "OXBASE_ADMIN")]
    pub admin: bool,
    /// Redis shared by every instance for cache versions and change events, e.g.
    /// redis://127.0.0.1:6379/0 [default: the schema file's [cache] redis_url; none].
    #[arg(long, env = "OXBASE_REDIS")]
    pub redis: Option<String>,
    /// Cache read responses: on or off [default: the schema file's [cache] enabled; else on
    /// for SQLite and for PostgreSQL with Redis].
    #[arg(long, env = "OXBASE_CACHE", value_parser = ["on", "off"])]
    pub cache: Option<String>,
    /// File holding the secret (at least 32 bytes) that signs keyset cursors; instances
    /// behind one load balancer need the same one. The secret itself may also come from
    /// OXBASE_CURSOR_SECRET (there is no flag for it, so it never shows in `ps`)
    /// [default: the schema file's [server] cursor_secret_file; else a random secret per
    /// process, and cursors end with it].
    #[arg(long, env = "OXBASE_CURSOR_SECRET_FILE")]
    pub cursor_secret_file: Option<PathBuf>,
    /// File holding the previous cursor secret while rotating: cursors it signed still
    /// verify, new ones are signed with the current secret; also OXBASE_CURSOR_SECRET_PREVIOUS
    /// [default: the schema file's [server] cursor_secret_previous_file; none].
    #[arg(long, env = "OXBASE_CURSOR_SECRET_PREVIOUS_FILE")]
    pub cursor_secret_previous_file: Option<PathBuf>,
}

/// `oxbase migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The schema file (TOML).
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: PathBuf,
    /// Database URL [default: the schema file's [database] url].
    #[arg(long, env = "OXBASE_DATABASE")]
    pub database: Option<String>,
    /// Print the SQL that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow dropping tables or columns and changing column types.
    #[arg(long)]
    pub allow_destructive: bool,
}

/// `oxbase check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The schema file (TOML).
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: PathBuf,
}

/// `oxbase seed`
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The example whose data to load.
    #[arg(long, default_value = "pearl")]
    pub example: String,
    /// How much data: small (about 1k trackers), default (100k) or large (1M).
    #[arg(long, default_value = "small")]
    pub scale: String,
    /// Database URL to migrate and load into; must hold none of the example's rows yet.
    #[arg(long, env = "OXBASE_DATABASE")]
    pub database: String,
}

/// `oxbase demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding the demo's SQLite file (created if missing).
    #[arg(long, env = "OXBASE_DATA_DIR", default_value = "oxbase-demo")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "OXBASE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}
