//! The hash chain: each batch's `hash` is SHA-256 over the previous batch's hash and the
//! batch's canonical content (its columns and its records in order, as one JSON array), so
//! changing, adding or removing any audit row breaks the chain from there on.

use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::auth::connection::{AuthConnection, Cell, Param};

/// A batch's columns, as hashed and stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchContent {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    pub role: Option<String>,
    pub api_key: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub resource: String,
    pub row_count: i64,
    pub prev_hash: String,
}

/// A record's columns (but its batch id, which the batch carries), as hashed and stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordContent {
    pub position: i64,
    pub resource: String,
    pub record_id: String,
    pub action: String,
    /// The JSON text exactly as stored.
    pub changes: String,
}

/// `hex(SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the batch and its records))`.
pub(crate) fn batch_hash(batch: &BatchContent, records: &[RecordContent]) -> String {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            serde_json::json!([record.position, record.resource, record.record_id, record.action, record.changes])
        })
        .collect();
    let canonical = serde_json::json!([
        batch.id,
        batch.at,
        batch.actor_id,
        batch.role,
        batch.api_key,
        batch.request_id,
        batch.client_ip,
        batch.user_agent,
        batch.action,
        batch.resource,
        batch.row_count,
        records,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(batch.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    /// Batches checked.
    pub batches: u64,
    /// Records checked.
    pub records: u64,
    /// The first batch checked (the oldest one retention left), if any.
    pub first: Option<i64>,
    /// The last batch checked.
    pub last: Option<i64>,
    /// The first break found, if any.
    pub broken: Option<ChainBreak>,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChainBreak {
    /// The batch at which it breaks.
    pub batch: i64,
    pub reason: String,
}

/// How many batches verification reads per statement.
const VERIFY_PAGE: i64 = 500;

const BATCH_COLUMNS: &str = "\"id\", \"at\", \"actor_id\", \"role\", \"api_key\", \"request_id\", \"client_ip\", \"user_agent\", \"action\", \"resource\", \"row_count\", \"prev_hash\", \"hash\"";

/// A stored batch row read back: its content and the hash it claims.
pub(crate) fn batch_from_cells(row: &[Cell]) -> Result<(BatchContent, String), StoreError> {
    let malformed = || StoreError::Internal(format!("a malformed audit batch row: {row:?}"));
    let int = |index: usize| row.get(index).and_then(Cell::int).ok_or_else(malformed);
    let text = |index: usize| row.get(index).and_then(Cell::text);
    let required = |index: usize| text(index).ok_or_else(malformed);
    Ok((
        BatchContent {
            id: int(0)?,
            at: int(1)?,
            actor_id: text(2),
            role: text(3),
            api_key: text(4),
            request_id: text(5),
            client_ip: text(6),
            user_agent: text(7),
            action: required(8)?,
            resource: required(9)?,
            row_count: int(10)?,
            prev_hash: required(11)?,
        },
        required(12)?,
    ))
}

pub(crate) fn batch_columns() -> &'static str {
    BATCH_COLUMNS
}

/// Walks every batch from the oldest one left, checking each one's hash, its link to the
/// one before (the first to what retention recorded as deleted last), that ids have no
/// gaps, and that the last one is the head's.
pub(crate) fn verify(connection: &mut dyn AuthConnection) -> Result<Verification, StoreError> {
    let head = connection.query(
        "SELECT \"last_id\", \"last_hash\", \"pruned_through\", \"pruned_hash\" FROM \"_oxbase_audit_head\" WHERE \"id\" = 1",
        &[],
    )?;
    let Some(head) = head.first() else {
        return Err(StoreError::Internal("the audit chain's head row is missing".into()));
    };
    let cell_int = |index: usize| head.get(index).and_then(Cell::int).unwrap_or_default();
    let cell_text = |index: usize| head.get(index).and_then(Cell::text).unwrap_or_default();
    let (last_id, last_hash, pruned_through, pruned_hash) = (cell_int(0), cell_text(1), cell_int(2), cell_text(3));
    let mut outcome = Verification { batches: 0, records: 0, first: None, last: None, broken: None };
    let mut previous_id = pruned_through;
    let mut previous_hash = pruned_hash;
    let broken = |batch: i64, reason: String| Some(ChainBreak { batch, reason });
    loop {
        let page = connection.query(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM \"_oxbase_audit_batches\" WHERE \"id\" > $1 ORDER BY \"id\" LIMIT {VERIFY_PAGE}"
            ),
            &[Param::Int(previous_id)],
        )?;
        if page.is_empty() {
            break;
        }
        let first_id = page[0].first().and_then(Cell::int).unwrap_or_default();
        let last_page_id = page[page.len() - 1].first().and_then(Cell::int).unwrap_or_default();
        let records = connection.query(
            "SELECT \"batch_id\", \"position\", \"resource\", \"record_id\", \"action\", \"changes\" FROM \"_oxbase_audit_records\" WHERE \"batch_id\" >= $1 AND \"batch_id\" <= $2 ORDER BY \"batch_id\", \"position\"",
            &[Param::Int(first_id), Param::Int(last_page_id)],
        )?;
        let mut records = records.iter().peekable();
        for row in &page {
            let (batch, stored_hash) = batch_from_cells(row)?;
            outcome.first.get_or_insert(batch.id);
            outcome.last = Some(batch.id);
            outcome.batches += 1;
            let mut contents = Vec::new();
            while let Some(record) = records.next_if(|record| record.first().and_then(Cell::int) == Some(batch.id)) {
                contents.push(RecordContent {
                    position: record.get(1).and_then(Cell::int).unwrap_or(-1),
                    resource: record.get(2).and_then(Cell::text).unwrap_or_default(),
                    record_id: record.get(3).and_then(Cell::text).unwrap_or_default(),
                    action: record.get(4).and_then(Cell::text).unwrap_or_default(),
                    changes: record.get(5).and_then(Cell::text).unwrap_or_default(),
                });
            }
            outcome.records += contents.len() as u64;
            if batch.id != previous_id + 1 {
                outcome.broken =
                    broken(batch.id, format!("batches {} to {} are missing", previous_id + 1, batch.id - 1));
            } else if batch.prev_hash != previous_hash {
                outcome.broken = broken(batch.id, "its prev_hash is not the previous batch's hash".into());
            } else if contents.iter().enumerate().any(|(index, record)| record.position != index as i64) {
                outcome.broken = broken(batch.id, "a record of it is missing or was added".into());
            } else if batch_hash(&batch, &contents) != stored_hash {
                outcome.broken =
                    broken(batch.id, "its content does not match its hash (a batch or record row was edited)".into());
            }
            if outcome.broken.is_some() {
                return Ok(outcome);
            }
            previous_id = batch.id;
            previous_hash = stored_hash;
        }
    }
    if previous_id != last_id || previous_hash != last_hash {
        let reason = if previous_id < last_id {
            format!("batches after {previous_id} up to {last_id} are missing")
        } else {
            "the last batch is not the one the chain's head names".to_owned()
        };
        outcome.broken = broken(last_id.max(previous_id), reason);
    }
    Ok(outcome)
}
