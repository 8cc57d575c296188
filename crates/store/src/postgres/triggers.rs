//! Triggers that catch writes made outside oxbase (psql, another program, a batch job).
//!
//! Every resource table gets one statement-level `AFTER INSERT OR UPDATE OR DELETE OR
//! TRUNCATE` trigger. It bumps the resource's row in `_oxbase_versions` and sends a
//! notification on [`super::notify::CHANNEL`], exactly as an oxbase write does, so caches
//! and subscribers on every instance hear of the change. oxbase's own write transactions
//! run on sessions opened with `oxbase.writer = on` and the trigger does nothing for them:
//! oxbase bumps and notifies itself, with the ids a trigger cannot cheaply know.
//!
//! Installing is idempotent (`CREATE OR REPLACE`), so every `migrate` re-installs them and
//! a database migrated by an older oxbase gets them on its next `migrate`.

use oxbase_schema::Schema;
use oxbase_schema::dialect::{Dialect, quote_string};

use crate::migrate::MigrateError;
use crate::postgres::migrate::database_message;
use crate::postgres::notify::CHANNEL;

/// The advisory-lock key trigger installation holds (the bytes of "oxbase_t"), so two
/// instances migrating at once install one after the other.
const TRIGGER_LOCK: i64 = 0x6f78_6261_7365_5f74;

/// The trigger and function name.
const NAME: &str = "_oxbase_external_write";

/// The statements that install the function and one trigger per resource table.
pub fn statements(schema: &Schema) -> Vec<String> {
    let function = format!(
        "CREATE OR REPLACE FUNCTION \"{NAME}\"() RETURNS trigger LANGUAGE plpgsql AS $oxbase$
DECLARE
  bumped BIGINT;
BEGIN
  IF current_setting('oxbase.writer', true) = 'on' THEN
    RETURN NULL;
  END IF;
  INSERT INTO \"_oxbase_versions\" (\"resource\", \"version\") VALUES (TG_ARGV[0], 1)
  ON CONFLICT (\"resource\") DO UPDATE SET \"version\" = \"_oxbase_versions\".\"version\" + 1
  RETURNING \"version\" INTO bumped;
  PERFORM pg_notify({channel}, json_build_object(
    'resource', TG_ARGV[0],
    'op', CASE TG_OP WHEN 'INSERT' THEN 'insert' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
    'versions', json_build_object(TG_ARGV[0], bumped))::text);
  RETURN NULL;
END
$oxbase$",
        channel = quote_string(CHANNEL)
    );
    let mut statements = vec![function];
    for resource in schema.resources.values() {
        statements.push(format!(
            "CREATE OR REPLACE TRIGGER \"{NAME}\" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION \"{NAME}\"({resource})",
            table = Dialect::Postgres.quote(&resource.table),
            resource = quote_string(&resource.name),
        ));
    }
    statements
}

/// Installs (or re-installs) the triggers in one transaction.
pub fn install(client: &mut postgres::Client, schema: &Schema) -> Result<(), MigrateError> {
    let failed = |statement: &str, error: &postgres::Error| MigrateError::Statement {
        statement: statement.to_owned(),
        message: database_message(error),
    };
    let mut transaction = client.transaction().map_err(|error| failed("BEGIN", &error))?;
    let lock = format!("SELECT pg_advisory_xact_lock({TRIGGER_LOCK})");
    transaction.batch_execute(&lock).map_err(|error| failed(&lock, &error))?;
    let exists: bool = transaction
        .query_one("SELECT to_regclass('\"_oxbase_versions\"') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| failed("SELECT to_regclass", &error))?;
    if !exists {
        return Ok(());
    }
    let audited: bool = transaction
        .query_one("SELECT to_regclass('\"_oxbase_audit_head\"') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| failed("SELECT to_regclass", &error))?;
    let audit_statements = if audited { super::audit_triggers::statements(schema) } else { Vec::new() };
    for statement in statements(schema).into_iter().chain(audit_statements) {
        transaction.batch_execute(&statement).map_err(|error| failed(&statement, &error))?;
    }
    transaction.commit().map_err(|error| failed("COMMIT", &error))
}
