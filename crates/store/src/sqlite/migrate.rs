//! Migrations on SQLite: read the applied physical schema from history, plan, apply in one
//! transaction, record.

use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::migration::plan_migration;
use oxbase_schema::physical::PhysicalSchema;
use rusqlite::{Connection, OptionalExtension, params};

use crate::migrate::{
    MigrateError, MigrateOptions, MigrateOutcome, SystemTable, checked_statements, missing_system_tables,
};

/// oxbase's own tables: the migration history, the per-resource versions, and what
/// identity keeps (refresh tokens, API keys, generated secrets), and the audit trail
/// (batches, records, the chain's head). Times are Unix seconds (the audit's milliseconds).
const SYSTEM_TABLES: &[SystemTable] = &[
    (
        "_oxbase_migrations",
        &[
            "CREATE TABLE IF NOT EXISTS \"_oxbase_migrations\" (\n  \"id\" INTEGER PRIMARY KEY AUTOINCREMENT,\n  \"applied_at\" TEXT NOT NULL,\n  \"oxbase_version\" TEXT NOT NULL,\n  \"steps\" TEXT NOT NULL,\n  \"statements\" TEXT NOT NULL,\n  \"physical_schema\" TEXT NOT NULL\n)",
        ],
    ),
    (
        "_oxbase_versions",
        &[
            "CREATE TABLE IF NOT EXISTS \"_oxbase_versions\" (\n  \"resource\" TEXT PRIMARY KEY,\n  \"version\" INTEGER NOT NULL\n)",
        ],
    ),
    ("_oxbase_refresh_tokens", crate::auth::schema::SQLITE_REFRESH_TOKENS),
    ("_oxbase_api_keys", crate::auth::schema::SQLITE_API_KEYS),
    ("_oxbase_secrets", crate::auth::schema::SQLITE_SECRETS),
    ("_oxbase_audit_batches", crate::audit::schema::SQLITE_BATCHES),
    ("_oxbase_audit_records", crate::audit::schema::SQLITE_RECORDS),
    ("_oxbase_audit_head", crate::audit::schema::SQLITE_HEAD),
];

/// Migrates an open SQLite database to `schema`.
pub fn migrate(
    connection: &mut Connection,
    schema: &Schema,
    options: MigrateOptions,
) -> Result<MigrateOutcome, MigrateError> {
    let applied = applied_schema(connection)?;
    let wanted = PhysicalSchema::of(schema, Dialect::Sqlite);
    let plan = plan_migration(applied.as_ref(), &wanted);
    let history_missing = applied.is_none() && !history_exists(connection)?;
    let system_tables = missing_system_tables(SYSTEM_TABLES, |table| table_exists(connection, table))?;
    let Some((steps, statements)) = checked_statements(&plan, history_missing, &system_tables, options)? else {
        return Ok(MigrateOutcome::UpToDate);
    };
    if options.dry_run {
        return Ok(MigrateOutcome::Planned { steps, statements });
    }
    let rebuilds = plan.rebuilds_tables();
    if rebuilds {
        // Dropping a table that others reference would cascade or fail with enforcement on;
        // it is switched back on, and every reference checked, before anything commits.
        execute(connection, "PRAGMA foreign_keys = OFF")?;
    }
    let result = apply(connection, &statements, &steps, &wanted, rebuilds);
    if rebuilds {
        execute(connection, "PRAGMA foreign_keys = ON")?;
    }
    result?;
    Ok(MigrateOutcome::Applied { steps, statements: statements.len() })
}

fn apply(
    connection: &mut Connection,
    statements: &[String],
    steps: &[String],
    wanted: &PhysicalSchema,
    rebuilds: bool,
) -> Result<(), MigrateError> {
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|error| MigrateError::Statement { statement: "BEGIN IMMEDIATE".into(), message: error.to_string() })?;
    for statement in statements {
        transaction
            .execute_batch(statement)
            .map_err(|error| MigrateError::Statement { statement: statement.clone(), message: error.to_string() })?;
    }
    if rebuilds {
        let broken: Option<String> = transaction
            .query_row("PRAGMA foreign_key_check", [], |row| row.get::<_, String>(0))
            .optional()
            .map_err(|error| MigrateError::Statement {
                statement: "PRAGMA foreign_key_check".into(),
                message: error.to_string(),
            })?;
        if let Some(table) = broken {
            return Err(MigrateError::Statement {
                statement: "PRAGMA foreign_key_check".into(),
                message: format!("rows of table '{table}' would reference rows that no longer exist"),
            });
        }
    }
    let physical_json = serde_json::to_string(wanted).map_err(|error| MigrateError::History(error.to_string()))?;
    let applied_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    transaction
        .execute(
            "INSERT INTO \"_oxbase_migrations\" (\"applied_at\", \"oxbase_version\", \"steps\", \"statements\", \"physical_schema\") VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                applied_at,
                env!("CARGO_PKG_VERSION"),
                serde_json::to_string(steps).unwrap_or_default(),
                serde_json::to_string(statements).unwrap_or_default(),
                physical_json
            ],
        )
        .map_err(|error| MigrateError::Statement { statement: "INSERT INTO _oxbase_migrations".into(), message: error.to_string() })?;
    transaction
        .commit()
        .map_err(|error| MigrateError::Statement { statement: "COMMIT".into(), message: error.to_string() })
}

fn execute(connection: &Connection, sql: &str) -> Result<(), MigrateError> {
    connection
        .execute_batch(sql)
        .map_err(|error| MigrateError::Statement { statement: sql.to_owned(), message: error.to_string() })
}

fn history_exists(connection: &Connection) -> Result<bool, MigrateError> {
    table_exists(connection, "_oxbase_migrations")
}

fn table_exists(connection: &Connection, table: &str) -> Result<bool, MigrateError> {
    connection
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(|error| MigrateError::History(error.to_string()))
}

/// The physical schema recorded by the last migration, if any.
pub fn applied_schema(connection: &Connection) -> Result<Option<PhysicalSchema>, MigrateError> {
    if !history_exists(connection)? {
        return Ok(None);
    }
    let last: Option<String> = connection
        .query_row("SELECT \"physical_schema\" FROM \"_oxbase_migrations\" ORDER BY \"id\" DESC LIMIT 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(|error| MigrateError::History(error.to_string()))?;
    last.map(|json| serde_json::from_str(&json).map_err(|error| MigrateError::History(error.to_string()))).transpose()
}
