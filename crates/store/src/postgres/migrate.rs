//! Migrations on PostgreSQL: read the applied physical schema from history, plan, apply in
//! one transaction, record; then build the indexes of tables that already have rows, each
//! with `CREATE INDEX CONCURRENTLY`, after the commit.
//!
//! PostgreSQL DDL is transactional, so the history read, every other statement and the
//! history row share one transaction. A plain `CREATE INDEX` would block every write to
//! its table while it reads the whole table, so an index on an existing table with rows is
//! built concurrently instead, which PostgreSQL allows only outside a transaction: the
//! migration records it with the rest (its statement is in the history and the recorded
//! physical schema has the index), and the post-commit phase builds it. That phase runs on
//! every migration, so an index the history promises but the database lacks or holds
//! INVALID (a concurrent build that failed, or a process killed between the commit and
//! the build) is dropped and built again by the next `migrate`.
//!
//! A session-level advisory lock, taken before anything else and held until the
//! post-commit phase is done, makes two instances migrating at the same moment run one
//! after the other; the second finds the database up to date. It is taken by polling
//! `pg_try_advisory_lock`, never by waiting inside a statement: a concurrent index build
//! waits for every transaction with an older snapshot, which a session blocked on the lock
//! would hold, and the two would wait for each other.

use std::collections::HashMap;
use std::time::Duration;

use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::migration::{MigrationPlan, plan_migration};
use oxbase_schema::physical::{PhysicalIndex, PhysicalSchema};
use postgres::GenericClient;

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
            "CREATE TABLE IF NOT EXISTS \"_oxbase_migrations\" (\n  \"id\" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  \"applied_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n  \"oxbase_version\" TEXT NOT NULL,\n  \"steps\" TEXT NOT NULL,\n  \"statements\" TEXT NOT NULL,\n  \"physical_schema\" TEXT NOT NULL\n)",
        ],
    ),
    (
        "_oxbase_versions",
        &[
            "CREATE TABLE IF NOT EXISTS \"_oxbase_versions\" (\n  \"resource\" TEXT PRIMARY KEY,\n  \"version\" BIGINT NOT NULL\n)",
        ],
    ),
    ("_oxbase_refresh_tokens", crate::auth::schema::POSTGRES_REFRESH_TOKENS),
    ("_oxbase_api_keys", crate::auth::schema::POSTGRES_API_KEYS),
    ("_oxbase_secrets", crate::auth::schema::POSTGRES_SECRETS),
    ("_oxbase_audit_batches", crate::audit::schema::POSTGRES_BATCHES),
    ("_oxbase_audit_records", crate::audit::schema::POSTGRES_RECORDS),
    ("_oxbase_audit_head", crate::audit::schema::POSTGRES_HEAD),
];

/// The advisory-lock key migrations hold (the bytes of "oxbase_m"): for their session, and
/// for their transaction too, which older oxbase versions wait for.
const MIGRATION_LOCK: i64 = 0x6f78_6261_7365_5f6d;

/// How often a migration waiting for another one to finish tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Migrates the database `client` is connected to, to `schema`.
///
/// Blocking: call it from a blocking thread, never from inside an async task.
pub fn migrate(
    client: &mut postgres::Client,
    schema: &Schema,
    options: MigrateOptions,
) -> Result<MigrateOutcome, MigrateError> {
    let lock = format!("SELECT pg_try_advisory_lock({MIGRATION_LOCK})");
    while !client
        .query_one(&lock, &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| statement_error(&lock, &error))?
    {
        std::thread::sleep(LOCK_POLL);
    }
    let outcome = migrate_locked(client, schema, options);
    // Ending the session would release it too, so a failure here loses nothing.
    let _ = client.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    outcome
}

/// [`migrate`], holding the migration lock.
fn migrate_locked(
    client: &mut postgres::Client,
    schema: &Schema,
    options: MigrateOptions,
) -> Result<MigrateOutcome, MigrateError> {
    let mut transaction = client.transaction().map_err(|error| statement_error("BEGIN", &error))?;
    let lock = format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})");
    transaction.batch_execute(&lock).map_err(|error| statement_error(&lock, &error))?;
    let applied = applied_schema(&mut transaction)?;
    let wanted = PhysicalSchema::of(schema, Dialect::Postgres);
    let mut plan = plan_migration(applied.as_ref(), &wanted);
    let history_missing = applied.is_none() && !history_exists(&mut transaction)?;
    let system_tables = missing_system_tables(SYSTEM_TABLES, |table| table_exists(&mut transaction, table))?;
    let concurrent = defer_index_builds(&mut transaction, applied.as_ref(), &wanted, &mut plan)?;
    let Some((mut steps, mut statements)) = checked_statements(&plan, history_missing, &system_tables, options)? else {
        drop(transaction);
        if options.dry_run {
            return Ok(MigrateOutcome::UpToDate);
        }
        // Nothing to change, but an index an earlier migration promised may be missing.
        let (steps, statements) = build_missing_indexes(client, &wanted, &[])?;
        return Ok(if steps.is_empty() {
            MigrateOutcome::UpToDate
        } else {
            MigrateOutcome::Applied { steps, statements }
        });
    };
    // The transaction runs every statement but the concurrent builds; the history lists
    // them all.
    let in_transaction = statements.len();
    statements.extend(concurrent.iter().map(|index| index.statement.clone()));
    if options.dry_run {
        // Dropping the transaction rolls it back, releasing the lock.
        return Ok(MigrateOutcome::Planned { steps, statements });
    }
    for statement in &statements[..in_transaction] {
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
    // The deferred indexes are missing now, like any other the database lacks; their steps
    // are in the report already.
    let deferred: Vec<&str> = concurrent.iter().map(|index| index.name.as_str()).collect();
    let (repairs, built) = build_missing_indexes(client, &wanted, &deferred)?;
    steps.extend(repairs);
    Ok(MigrateOutcome::Applied { steps, statements: in_transaction + built })
}

/// An index whose build waits until after the commit.
struct DeferredIndex {
    name: String,
    /// Its `CREATE INDEX CONCURRENTLY`, for the history and a dry run.
    statement: String,
}

/// Takes out of the transaction every index the plan creates on an existing table that
/// has rows, rewording its step, and gives the `CREATE INDEX CONCURRENTLY` statements that
/// build them after the commit. Indexes on new or empty tables stay in the transaction:
/// building them costs nothing, and they commit or roll back with the rest.
fn defer_index_builds(
    transaction: &mut impl GenericClient,
    applied: Option<&PhysicalSchema>,
    wanted: &PhysicalSchema,
    plan: &mut MigrationPlan,
) -> Result<Vec<DeferredIndex>, MigrateError> {
    let Some(applied) = applied else { return Ok(Vec::new()) };
    let mut concurrent = Vec::new();
    for table in wanted.tables.iter().filter(|table| applied.table(&table.name).is_some()) {
        let statements: Vec<(&PhysicalIndex, String)> =
            table.indexes.iter().map(|index| (index, index.create_statement(&table.name, Dialect::Postgres))).collect();
        let mut has_rows = None;
        for step in &mut plan.steps {
            let Some((index, _)) = statements.iter().find(|(_, sql)| step.statements == [sql.clone()]) else {
                continue;
            };
            let has_rows = match has_rows {
                Some(known) => known,
                None => *has_rows.insert(table_has_rows(transaction, &table.name)?),
            };
            if has_rows {
                step.description =
                    format!("create index {} concurrently, after the commit ({} has rows)", index.name, table.name);
                step.statements.clear();
                concurrent.push(DeferredIndex {
                    name: index.name.clone(),
                    statement: concurrent_statement(index, &table.name),
                });
            }
        }
    }
    Ok(concurrent)
}

fn table_has_rows(client: &mut impl GenericClient, table: &str) -> Result<bool, MigrateError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", Dialect::Postgres.quote(table));
    client.query_one(&sql, &[]).and_then(|row| row.try_get(0)).map_err(|error| statement_error(&sql, &error))
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY …` for `index`.
fn concurrent_statement(index: &PhysicalIndex, table: &str) -> String {
    index.create_statement(table, Dialect::Postgres).replacen("INDEX ", "INDEX CONCURRENTLY ", 1)
}

/// Builds, concurrently and outside any transaction, every index of `wanted` that the
/// database lacks, first dropping one a failed build left INVALID. Gives a step
/// description for each (but those `announced` already) and the number of statements run.
fn build_missing_indexes(
    client: &mut postgres::Client,
    wanted: &PhysicalSchema,
    announced: &[&str],
) -> Result<(Vec<String>, usize), MigrateError> {
    let sql = "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
               WHERE c.relnamespace = current_schema()::regnamespace";
    let existing: HashMap<String, bool> = client
        .query(sql, &[])
        .map_err(|error| statement_error(sql, &error))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let (mut steps, mut statements) = (Vec::new(), 0);
    for table in &wanted.tables {
        for index in &table.indexes {
            let valid = existing.get(&index.name).copied();
            if valid == Some(true) {
                continue;
            }
            let quoted = Dialect::Postgres.quote(&index.name);
            if valid == Some(false) {
                let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {quoted}");
                client.batch_execute(&drop).map_err(|error| statement_error(&drop, &error))?;
                statements += 1;
            }
            let create = concurrent_statement(index, &table.name);
            tracing::info!(index = %index.name, table = %table.name, "building index concurrently");
            if let Err(error) = client.batch_execute(&create) {
                // A failed concurrent build leaves an INVALID index behind, which PostgreSQL
                // still maintains on every write: drop it now; the next migrate tries again.
                let _ = client.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {quoted}"));
                return Err(MigrateError::IndexBuild {
                    index: index.name.clone(),
                    statement: create,
                    message: database_message(&error),
                });
            }
            statements += 1;
            if announced.contains(&index.name.as_str()) {
                continue;
            }
            steps.push(match valid {
                Some(false) => {
                    format!("rebuild index {} concurrently (a failed build had left it invalid)", index.name)
                }
                _ => format!("create index {} concurrently (it was missing)", index.name),
            });
        }
    }
    Ok((steps, statements))
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

fn table_exists(client: &mut impl GenericClient, table: &str) -> Result<bool, MigrateError> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)",
            &[&table],
        )
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
