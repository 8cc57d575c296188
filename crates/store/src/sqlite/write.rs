//! Writes on SQLite: one IMMEDIATE transaction on the single writer connection.

use oxbase_schema::Schema;
use rusqlite::{Connection, TransactionBehavior};

use crate::exec::SlowQueryLog;
use crate::sqlite::exec::SqliteExecutor;
use crate::sqlite::internal;
use crate::transaction::write_in_transaction;
use crate::write::{WriteFailure, WriteOptions, WriteOutcome, WriteRequest};

/// Runs a write request in one transaction; nothing of it stays unless all of it commits.
pub(super) fn write(
    connection: &mut Connection,
    schema: &Schema,
    request: &WriteRequest,
    options: WriteOptions,
    slow_query_log: Option<SlowQueryLog>,
) -> Result<WriteOutcome, WriteFailure> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(internal)?;
    let rollback = options.rollback;
    let outcome = write_in_transaction(
        &mut SqliteExecutor { connection: &transaction, slow_query_log },
        schema,
        request,
        options,
    )?;
    if rollback {
        transaction.rollback().map_err(internal)?;
    } else {
        transaction.commit().map_err(internal)?;
    }
    Ok(outcome)
}
