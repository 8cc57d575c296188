//! Command-line arguments. The settings `serve` and `config` take are declared once in
//! `oxbase_server::config::settings` (each a flag, an `OXBASE_…` variable and a key in
//! the schema file's `[server]`, `[database]` or `[cache]`; flag > environment > schema
//! file > default); what is declared here belongs to the command line alone.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use oxbase_server::config::SettingFlags;

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
    /// Print the effective configuration (flags > environment > schema file > defaults),
    /// each value with its source; secrets as [redacted].
    Config(ConfigArgs),
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
    /// Create, list and revoke API keys for services.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the accounts of the schema's [accounts] resource.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `oxbase audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit hash chain from the oldest batch retention left; report the first
    /// break (batch id and why) and exit 2 when there is one.
    Verify(DatabaseArgs),
}

/// Which database a command works on: the schema file and its [database] url, or
/// `--database`.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// The schema file (TOML); its [database] and [auth] sections are read too.
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: PathBuf,
    /// Database URL [default: the schema file's [database] url].
    #[arg(long, env = "OXBASE_DATABASE")]
    pub database: Option<String>,
}

/// `oxbase keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once: only its digest is stored).
    Create(KeyCreateArgs),
    /// List every key (never the keys themselves).
    List(DatabaseArgs),
    /// Revoke a key by its id.
    Revoke(KeyRevokeArgs),
}

/// `oxbase keys create`
#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The role the key acts in.
    #[arg(long)]
    pub role: String,
    /// A name to recognise the key by.
    #[arg(long)]
    pub name: Option<String>,
    /// Resources the key may touch, comma-separated [default: all its role may].
    #[arg(long, value_delimiter = ',')]
    pub resources: Option<Vec<String>>,
    /// Actions the key may take, comma-separated: read, create, update, delete [default: all
    /// its role may].
    #[arg(long, value_delimiter = ',')]
    pub actions: Option<Vec<String>>,
    /// How long the key lives: 30d, 12h, 90m or seconds [default: no expiry].
    #[arg(long)]
    pub expires: Option<String>,
}

/// `oxbase keys revoke`
#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The key's id (the part after `oxk_`, as `keys list` shows it).
    pub id: String,
}

/// `oxbase users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Set an account's password, read from stdin (one line); revokes its refresh tokens.
    SetPassword(SetPasswordArgs),
}

/// `oxbase users set-password`
#[derive(Debug, Args)]
pub struct SetPasswordArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The account's username.
    pub username: String,
}

/// `oxbase serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The schema file (TOML); its [server], [database] and [cache] sections hold settings
    /// too, below flags and the environment.
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: PathBuf,
    /// Migrate the database to the schema before serving.
    #[arg(long, env = "OXBASE_MIGRATE")]
    pub migrate: bool,
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// `oxbase config`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The schema file whose [server], [database] and [cache] sections to read; without
    /// one, only flags, the environment and defaults count.
    #[arg(long, env = "OXBASE_SCHEMA")]
    pub schema: Option<PathBuf>,
    /// Print the table of every setting (Markdown, as in docs/operations.md) instead.
    #[arg(long)]
    pub markdown: bool,
    #[command(flatten)]
    pub settings: SettingFlags,
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
