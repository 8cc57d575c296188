//! Bringing a database to the schema: options, outcomes and errors shared by every engine.

use oxbase_schema::Schema;

use crate::config::DatabaseUrl;
use crate::store::{StoreError, postgres, sqlite};

/// How `migrate` may proceed.
#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// Print the SQL, change nothing.
    pub dry_run: bool,
    /// Allow dropping tables or columns and changing column types.
    pub allow_destructive: bool,
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq)]
pub enum MigrateOutcome {
    /// The database already matches the schema.
    UpToDate,
    /// Dry run: the statements that would run, in order.
    Planned { steps: Vec<String>, statements: Vec<String> },
    /// The statements ran and the history row was written.
    Applied { steps: Vec<String>, statements: usize },
}

/// Why `migrate` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Destructive steps without `--allow-destructive`.
    #[error("refusing destructive changes (pass --allow-destructive to apply them):\n{}", bullet_list(.0))]
    DestructiveRefused(Vec<String>),
    /// Changes that cannot be made as declared.
    #[error("the schema asks for changes that cannot be applied:\n{}", bullet_list(.0))]
    Impossible(Vec<String>),
    /// A statement failed; the transaction was rolled back.
    #[error("migration failed and was rolled back: {message}\n  while running: {statement}")]
    Statement { statement: String, message: String },
    /// The history table holds something oxbase cannot read.
    #[error("the migration history is unreadable: {0}")]
    History(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|item| format!("  - {item}")).collect::<Vec<_>>().join("\n")
}

/// Migrates the database at `url` to `schema`.
///
/// Blocking (the PostgreSQL client waits on its own runtime): call it from a blocking
/// thread, never from inside an async task.
pub fn migrate(url: &DatabaseUrl, schema: &Schema, options: MigrateOptions) -> Result<MigrateOutcome, MigrateError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut connection = sqlite::open_connection(path, std::time::Duration::from_secs(5))?;
            sqlite::migrate::migrate(&mut connection, schema, options)
        }
        DatabaseUrl::Postgres(url) => {
            let mut client = postgres::connect(url)?;
            postgres::migrate::migrate(&mut client, schema, options)
        }
    }
}
