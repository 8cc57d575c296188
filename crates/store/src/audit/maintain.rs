//! The trail's upkeep and reads as `Store` methods: verification, retention, listing.

use super::chain::{Verification, verify};
use super::query::{AuditBatch, AuditFilter, AuditRecord, batches, history};
use crate::auth::connection::{AuthConnection, Cell, Param};
use crate::{Store, StoreError};

impl Store {
    /// Walks the audit chain from the oldest batch retention left and reports the first
    /// break, reading one consistent snapshot.
    pub async fn audit_verify(&self) -> Result<Verification, StoreError> {
        let postgres = matches!(self, Store::Postgres(_));
        self.auth_read(move |connection| {
            connection.batch(if postgres { "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" } else { "BEGIN" })?;
            let result = verify(connection);
            let _ = connection.batch("COMMIT");
            result
        })
        .await
    }

    /// Batches matching `filter`, oldest first, with their records.
    pub async fn audit_batches(&self, filter: AuditFilter) -> Result<Vec<AuditBatch>, StoreError> {
        self.auth_read(move |connection| batches(connection, &filter)).await
    }

    /// One row's records, oldest first, each with the batch that wrote it.
    pub async fn audit_history(
        &self,
        resource: &str,
        record_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(AuditBatch, AuditRecord)>, StoreError> {
        let (resource, record_id) = (resource.to_owned(), record_id.to_owned());
        self.auth_read(move |connection| history(connection, &resource, &record_id, after, limit)).await
    }

    /// Deletes up to `chunk` of the oldest batches written before `cutoff` (Unix
    /// milliseconds), with their records, in one short transaction, and records the last
    /// one deleted in the chain's head so what remains still verifies; the number deleted
    /// (0: nothing more is due). Only a prefix of the chain is ever deleted: it stops at
    /// the first batch that is not due.
    pub async fn audit_prune(&self, cutoff: i64, chunk: u32) -> Result<u64, StoreError> {
        self.auth_write(move |connection| {
            crate::auth::connection::in_transaction(connection, |connection| prune(connection, cutoff, chunk))
        })
        .await
    }
}

fn prune(connection: &mut dyn AuthConnection, cutoff: i64, chunk: u32) -> Result<u64, StoreError> {
    let oldest = connection.query(
        &format!(
            "SELECT \"id\", \"at\", \"hash\" FROM \"_oxbase_audit_batches\" ORDER BY \"id\" LIMIT {}",
            chunk.max(1)
        ),
        &[],
    )?;
    let mut through = None;
    let mut deleted = 0;
    for row in &oldest {
        let (Some(id), Some(at), Some(hash)) =
            (row.first().and_then(Cell::int), row.get(1).and_then(Cell::int), row.get(2).and_then(Cell::text))
        else {
            return Err(StoreError::Internal(format!("a malformed audit batch row: {row:?}")));
        };
        if at >= cutoff {
            break;
        }
        through = Some((id, hash));
        deleted += 1;
    }
    let Some((through, hash)) = through else { return Ok(0) };
    connection.execute("DELETE FROM \"_oxbase_audit_records\" WHERE \"batch_id\" <= $1", &[Param::Int(through)])?;
    connection.execute("DELETE FROM \"_oxbase_audit_batches\" WHERE \"id\" <= $1", &[Param::Int(through)])?;
    // Last, so a concurrent writer waits on the head row only for the commit.
    connection.execute(
        "UPDATE \"_oxbase_audit_head\" SET \"pruned_through\" = $1, \"pruned_hash\" = $2 WHERE \"id\" = 1",
        &[Param::Int(through), Param::Text(hash)],
    )?;
    Ok(deleted)
}
