//! Loading an example's generated data: migrate to the example's schema, then insert every
//! row in one transaction (all or nothing): prepared inserts on SQLite, COPY on PostgreSQL.

use std::path::Path;
use std::time::{Duration, Instant};

use oxbase_examples::{Scale, pearl};
use oxbase_schema::Schema;

use crate::StoreError;
use crate::migrate::{MigrateError, MigrateOptions, migrate};
use crate::postgres::migrate::database_message;
use crate::postgres::seed::{PostgresRowSink, reset_identity_sequences, suspend_indexes_and_foreign_keys};
use crate::settings::DatabaseUrl;
use crate::sqlite::seed::SqliteRowSink;
use crate::sqlite::{internal, open_connection};

/// What seeding did.
#[derive(Debug)]
pub struct SeedReport {
    /// Rows inserted per resource, in insertion order.
    pub rows: Vec<(&'static str, u64)>,
    /// Time spent generating and inserting (migration excluded).
    pub elapsed: Duration,
}

/// Why seeding changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("unknown example '{0}' (known examples: {known})", known = oxbase_examples::EXAMPLES.join(", "))]
    UnknownExample(String),
    #[error("the example's schema is invalid: {0}")]
    Schema(String),
    #[error("resource '{resource}' already has rows; seed into a fresh database (or delete its file)")]
    AlreadySeeded { resource: String },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The validated schema of a shipped example.
pub fn example_schema(example: &str) -> Result<Schema, SeedError> {
    let source =
        oxbase_examples::schema_source(example).ok_or_else(|| SeedError::UnknownExample(example.to_owned()))?;
    oxbase_schema::parse_schema(source, &format!("examples/{example}/schema.toml"))
        .map_err(|errors| SeedError::Schema(errors.to_string()))
}

/// Migrates `url` to the example's schema and loads its data at `scale`.
///
/// Blocking: call it from a blocking thread, never from inside an async task.
pub fn seed_example(url: &DatabaseUrl, example: &str, scale: Scale) -> Result<SeedReport, SeedError> {
    let schema = example_schema(example)?;
    migrate(url, &schema, MigrateOptions::default())?;
    match url {
        DatabaseUrl::Sqlite(path) => seed_sqlite(path, &schema, scale),
        DatabaseUrl::Postgres(url) => seed_postgres(url, &schema, scale),
    }
}

fn seed_sqlite(path: &Path, schema: &Schema, scale: Scale) -> Result<SeedReport, SeedError> {
    let mut connection = open_connection(path, Duration::from_secs(5))?;
    for resource in schema.resources.values() {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{}\")", resource.table);
        let has_rows: bool = connection.query_row(&sql, [], |row| row.get(0)).map_err(internal)?;
        if has_rows {
            return Err(SeedError::AlreadySeeded { resource: resource.name.clone() });
        }
    }
    let started = Instant::now();
    let transaction = connection.transaction().map_err(internal)?;
    let rows = {
        let mut sink = SqliteRowSink { transaction: &transaction, schema };
        pearl::generate(scale, &mut sink)?.rows
    };
    transaction.commit().map_err(internal)?;
    Ok(SeedReport { rows, elapsed: started.elapsed() })
}

fn seed_postgres(url: &str, schema: &Schema, scale: Scale) -> Result<SeedReport, SeedError> {
    let failed = |error: postgres::Error| StoreError::Internal(database_message(&error));
    let mut client = crate::postgres::connect(url)?;
    for resource in schema.resources.values() {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{}\")", resource.table);
        let has_rows: bool = client.query_one(&sql, &[]).and_then(|row| row.try_get(0)).map_err(failed)?;
        if has_rows {
            return Err(SeedError::AlreadySeeded { resource: resource.name.clone() });
        }
    }
    let started = Instant::now();
    let mut transaction = client.transaction().map_err(failed)?;
    // An example's data set is not a change anyone made: the audit triggers skip it.
    transaction.batch_execute("SET LOCAL oxbase.audit = 'off'").map_err(failed)?;
    let restore = suspend_indexes_and_foreign_keys(&mut transaction, schema)?;
    let rows = {
        let mut sink = PostgresRowSink::new(&mut transaction, schema);
        pearl::generate(scale, &mut sink)?.rows
    };
    for statement in &restore {
        transaction.batch_execute(statement).map_err(failed)?;
    }
    reset_identity_sequences(&mut transaction, schema)?;
    // Fresh statistics, so the first queries after seeding are planned for the real sizes.
    let tables: Vec<String> = schema.resources.values().map(|resource| format!("\"{}\"", resource.table)).collect();
    transaction.batch_execute(&format!("ANALYZE {}", tables.join(", "))).map_err(failed)?;
    transaction.commit().map_err(failed)?;
    Ok(SeedReport { rows, elapsed: started.elapsed() })
}
