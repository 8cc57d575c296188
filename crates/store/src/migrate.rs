//! Bringing a database to the schema: options, outcomes and errors shared by every engine.

use oxbase_schema::Schema;
use oxbase_schema::migration::MigrationPlan;

use crate::settings::DatabaseUrl;
use crate::{StoreError, postgres, sqlite};

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
    /// An index built after the migration committed (PostgreSQL's `CREATE INDEX
    /// CONCURRENTLY` on a table with rows) failed; the rest of the migration stays applied.
    #[error(
        "the migration was committed, but building index {index} failed: {message}\n  while running: {statement}\n  the index was dropped again; `oxbase migrate` builds it once the cause is fixed"
    )]
    IndexBuild { index: String, statement: String, message: String },
    /// The history table holds something oxbase cannot read.
    #[error("the migration history is unreadable: {0}")]
    History(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|item| format!("  - {item}")).collect::<Vec<_>>().join("\n")
}

/// A migration's step descriptions and its statements, in order.
pub(crate) type StepsAndStatements = (Vec<String>, Vec<String>);

/// oxbase's own tables: each one's name and the statements that create it (and its
/// indexes), all idempotent.
pub(crate) type SystemTable = (&'static str, &'static [&'static str]);

/// The statements creating the system tables `exists` does not find, in order: all of them
/// for a new database, and those added by a later oxbase version for one migrated before.
pub(crate) fn missing_system_tables(
    tables: &[SystemTable],
    mut exists: impl FnMut(&str) -> Result<bool, MigrateError>,
) -> Result<Vec<(&'static str, &'static [&'static str])>, MigrateError> {
    let mut missing = Vec::new();
    for (table, statements) in tables {
        if !exists(table)? {
            missing.push((*table, *statements));
        }
    }
    Ok(missing)
}

/// The checks every engine applies to a plan, and what it then runs: `None` when the
/// database is up to date, else the step descriptions and every statement in order
/// (oxbase's missing own tables first; a step names them when the history exists, so an
/// older database is told what an upgrade adds).
pub(crate) fn checked_statements(
    plan: &MigrationPlan,
    history_missing: bool,
    system_tables: &[(&'static str, &'static [&'static str])],
    options: MigrateOptions,
) -> Result<Option<StepsAndStatements>, MigrateError> {
    if plan.is_empty() && system_tables.is_empty() {
        return Ok(None);
    }
    if !plan.impossible.is_empty() {
        return Err(MigrateError::Impossible(plan.impossible.clone()));
    }
    let destructive: Vec<String> = plan
        .destructive_steps()
        .map(|step| format!("{}: {}", step.description, step.destructive.as_deref().unwrap_or_default()))
        .collect();
    if !destructive.is_empty() && !options.allow_destructive {
        return Err(MigrateError::DestructiveRefused(destructive));
    }
    let mut steps: Vec<String> = Vec::new();
    if !history_missing {
        steps.extend(system_tables.iter().map(|(table, _)| format!("create oxbase's system table {table}")));
    }
    steps.extend(plan.steps.iter().map(|step| step.description.clone()));
    let mut statements: Vec<String> =
        system_tables.iter().flat_map(|(_, statements)| statements.iter().map(|sql| (*sql).to_owned())).collect();
    statements.extend(plan.statements().cloned());
    Ok(Some((steps, statements)))
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
            let outcome = postgres::migrate::migrate(&mut client, schema, options)?;
            if !options.dry_run {
                // Idempotent, so databases migrated before the triggers existed get them too.
                postgres::triggers::install(&mut client, schema)?;
            }
            Ok(outcome)
        }
    }
}
