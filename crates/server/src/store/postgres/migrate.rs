//! Migrations on PostgreSQL: read the applied physical schema from history, plan, apply in
//! one transaction, record.
//!
//! PostgreSQL DDL is transactional, so the history read, every statement and the history
//! row share one transaction, held under an advisory lock: two instances migrating at the
//! same moment run one after the other, and the second finds the database up to date.

use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::migration::plan_migration;
use oxbase_schema::physical::PhysicalSchema;
use postgres::GenericClient;

use crate::store::migrate::{MigrateError, MigrateOptions, MigrateOutcome, checked_statements};

/// oxbase's own tables: the migration history and the per-resource versions.
const SYSTEM_TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS \"_oxbase_migrations\" (\n  \"id\" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  \"applied_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n  \"oxbase_version\" TEXT NOT NULL,\n  \"steps\" TEXT NOT NULL,\n  \"statements\" TEXT NOT NULL,\n  \"physical_schema\" TEXT NOT NULL\n)",
    "CREATE TABLE IF NOT EXISTS \"_oxbase_versions\" (\n  \"resource\" TEXT PRIMARY KEY,\n  \"version\" BIGINT NOT NULL\n)",
];

/// The advisory-lock key migrations hold for their transaction (the bytes of "oxbase_m").
const MIGRATION_LOCK: i64 = 0x6f78_6261_7365_5f6d;

/// Migrates the database `client` is connected to, to `schema`.
///
/// Blocking: call it from a blocking thread, never from inside an async task.
pub fn migrate(
    client: &mut postgres::Client,
    schema: &Schema,
    options: MigrateOptions,
) -> Result<MigrateOutcome, MigrateError> {
    let mut transaction = client.transaction().map_err(|error| statement_error("BEGIN", &error))?;
    let lock = format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})");
    transaction.batch_execute(&lock).map_err(|error| statement_error(&lock, &error))?;
    let applied = applied_schema(&mut transaction)?;
    let wanted = PhysicalSchema::of(schema, Dialect::Postgres);
    let plan = plan_migration(applied.as_ref(), &wanted);
    let history_missing = applied.is_none() && !history_exists(&mut transaction)?;
    let Some((steps, statements)) = checked_statements(&plan, history_missing, SYSTEM_TABLES, options)? else {
        return Ok(MigrateOutcome::UpToDate);
    };
    if options.dry_run {
        // Dropping the transaction rolls it back, releasing the lock.
        return Ok(MigrateOutcome::Planned { steps, statements });
    }
    for statement in &statements {
        transaction.batch_execute(statement).map_err(|error| statement_error(statement, &error))?;
    }
    let physical_json = serde_json::to_string(&wanted).map_err(|error| MigrateError::History(error.to_string()))?;
    let record = "INSERT INTO \"_oxbase_migrations\" (\"oxbase_version\", \"steps\", \"statements\", \"physical_schema\") VALUES ($1, $2, $3, $4)";
    transaction
        .execute(
            record,
            &[
                &env!("CARGO_PKG_VERSION"),
                &serde_json::to_string(&steps).unwrap_or_default(),
                &serde_json::to_string(&statements).unwrap_or_default(),
                &physical_json,
            ],
        )
        .map_err(|error| statement_error("INSERT INTO _oxbase_migrations", &error))?;
    transaction.commit().map_err(|error| statement_error("COMMIT", &error))?;
    Ok(MigrateOutcome::Applied { steps, statements: statements.len() })
}

/// A failed statement, described by the database's own message (and its detail, which
/// names the offending key or value when there is one).
fn statement_error(statement: &str, error: &postgres::Error) -> MigrateError {
    MigrateError::Statement { statement: statement.to_owned(), message: database_message(error) }
}

/// The database's message for `error`, or the driver's when the database sent none (a lost
/// connection, say).
pub fn database_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(database) => match database.detail() {
            Some(detail) => format!("{} ({detail})", database.message()),
            None => database.message().to_owned(),
        },
        None => error.to_string(),
    }
}

fn history_exists(client: &mut impl GenericClient) -> Result<bool, MigrateError> {
    client
        .query_one("SELECT to_regclass('\"_oxbase_migrations\"') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| MigrateError::History(database_message(&error)))
}

/// The physical schema recorded by the last migration, if any.
pub fn applied_schema(client: &mut impl GenericClient) -> Result<Option<PhysicalSchema>, MigrateError> {
    if !history_exists(client)? {
        return Ok(None);
    }
    let last: Option<String> = client
        .query_opt("SELECT \"physical_schema\" FROM \"_oxbase_migrations\" ORDER BY \"id\" DESC LIMIT 1", &[])
        .and_then(|row| row.map(|row| row.try_get(0)).transpose())
        .map_err(|error| MigrateError::History(database_message(&error)))?;
    last.map(|json| serde_json::from_str(&json).map_err(|error| MigrateError::History(error.to_string()))).transpose()
}
