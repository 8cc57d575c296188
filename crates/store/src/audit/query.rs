//! Reading the trail back: batches by actor, resource, record, time and keyset page
//! (`/admin/audit`), and one row's records (`/{resource}/{id}/history`).

use serde_json::Value as Json;

use super::chain::{BatchContent, batch_columns, batch_from_cells};
use crate::StoreError;
use crate::auth::connection::{AuthConnection, Cell, Param};

/// Which batches to read. Every filter narrows; `after` pages by batch id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// The actor's user id.
    pub actor: Option<String>,
    /// The resource the batch wrote.
    pub resource: Option<String>,
    /// Batches with a record of this row (with `resource`, of that resource).
    pub record_id: Option<String>,
    /// At or after this time (Unix milliseconds).
    pub since: Option<i64>,
    /// Before this time (Unix milliseconds).
    pub until: Option<i64>,
    /// Batches after this id.
    pub after: Option<i64>,
    /// At most this many batches.
    pub limit: u32,
}

/// A batch as read back, with its records.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditBatch {
    pub id: i64,
    /// Unix milliseconds.
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
    pub hash: String,
    pub records: Vec<AuditRecord>,
}

/// One row's record: what a batch did to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    pub batch_id: i64,
    pub resource: String,
    pub record_id: String,
    pub action: String,
    /// `{field: [before, after]}`, `{field: null}` for a change whose values are withheld.
    pub changes: Json,
}

pub(crate) fn batches(
    connection: &mut dyn AuthConnection,
    filter: &AuditFilter,
) -> Result<Vec<AuditBatch>, StoreError> {
    let mut sql = format!("SELECT {} FROM \"_oxbase_audit_batches\" b WHERE 1 = 1", batch_columns());
    let mut params = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, param: Param| {
        params.push(param);
        sql.push_str(&clause.replace("{}", &format!("${}", params.len())));
    };
    if let Some(actor) = &filter.actor {
        bind(&mut sql, " AND b.\"actor_id\" = {}", Param::Text(actor.clone()));
    }
    if let Some(resource) = &filter.resource {
        bind(&mut sql, " AND b.\"resource\" = {}", Param::Text(resource.clone()));
    }
    if let Some(record_id) = &filter.record_id {
        bind(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM \"_oxbase_audit_records\" r WHERE r.\"batch_id\" = b.\"id\" AND r.\"record_id\" = {}",
            Param::Text(record_id.clone()),
        );
        if let Some(resource) = &filter.resource {
            bind(&mut sql, " AND r.\"resource\" = {}", Param::Text(resource.clone()));
        }
        sql.push(')');
    }
    if let Some(since) = filter.since {
        bind(&mut sql, " AND b.\"at\" >= {}", Param::Int(since));
    }
    if let Some(until) = filter.until {
        bind(&mut sql, " AND b.\"at\" < {}", Param::Int(until));
    }
    if let Some(after) = filter.after {
        bind(&mut sql, " AND b.\"id\" > {}", Param::Int(after));
    }
    sql.push_str(&format!(" ORDER BY b.\"id\" LIMIT {}", filter.limit.max(1)));
    let rows = connection.query(&sql, &params)?;
    let mut batches = Vec::with_capacity(rows.len());
    for row in &rows {
        let (content, hash) = batch_from_cells(row)?;
        batches.push(AuditBatch::without_records(content, hash));
    }
    if let (Some(first), Some(last)) = (batches.first().map(|batch| batch.id), batches.last().map(|batch| batch.id)) {
        let records = connection.query(
            "SELECT \"batch_id\", \"resource\", \"record_id\", \"action\", \"changes\" FROM \"_oxbase_audit_records\" WHERE \"batch_id\" >= $1 AND \"batch_id\" <= $2 ORDER BY \"batch_id\", \"position\"",
            &[Param::Int(first), Param::Int(last)],
        )?;
        let mut index = 0;
        for row in &records {
            let record = record_from_cells(row);
            while index < batches.len() && batches[index].id < record.batch_id {
                index += 1;
            }
            if index < batches.len() && batches[index].id == record.batch_id {
                batches[index].records.push(record);
            }
        }
    }
    Ok(batches)
}

/// One row's history, oldest first: each record with the batch that wrote it (its
/// `records` empty).
pub(crate) fn history(
    connection: &mut dyn AuthConnection,
    resource: &str,
    record_id: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<(AuditBatch, AuditRecord)>, StoreError> {
    let sql = format!(
        "SELECT {}, r.\"batch_id\", r.\"resource\", r.\"record_id\", r.\"action\", r.\"changes\" FROM \"_oxbase_audit_records\" r JOIN \"_oxbase_audit_batches\" b ON b.\"id\" = r.\"batch_id\" WHERE r.\"resource\" = $1 AND r.\"record_id\" = $2 AND r.\"batch_id\" > $3 ORDER BY r.\"batch_id\", r.\"position\" LIMIT {}",
        batch_columns().split(", ").map(|column| format!("b.{column}")).collect::<Vec<_>>().join(", "),
        limit.max(1)
    );
    let rows = connection.query(
        &sql,
        &[Param::Text(resource.to_owned()), Param::Text(record_id.to_owned()), Param::Int(after.unwrap_or(0))],
    )?;
    rows.iter()
        .map(|row| {
            let (content, hash) = batch_from_cells(&row[..13])?;
            Ok((AuditBatch::without_records(content, hash), record_from_cells(&row[13..])))
        })
        .collect()
}

impl AuditBatch {
    /// A batch as stored and hashed, with its hash, before its records are attached.
    fn without_records(content: BatchContent, hash: String) -> AuditBatch {
        AuditBatch {
            id: content.id,
            at: content.at,
            actor_id: content.actor_id,
            role: content.role,
            api_key: content.api_key,
            request_id: content.request_id,
            client_ip: content.client_ip,
            user_agent: content.user_agent,
            action: content.action,
            resource: content.resource,
            row_count: content.row_count,
            prev_hash: content.prev_hash,
            hash,
            records: Vec::new(),
        }
    }
}

fn record_from_cells(row: &[Cell]) -> AuditRecord {
    let changes = row.get(4).and_then(Cell::text).unwrap_or_default();
    AuditRecord {
        batch_id: row.first().and_then(Cell::int).unwrap_or_default(),
        resource: row.get(1).and_then(Cell::text).unwrap_or_default(),
        record_id: row.get(2).and_then(Cell::text).unwrap_or_default(),
        action: row.get(3).and_then(Cell::text).unwrap_or_default(),
        changes: serde_json::from_str(&changes).unwrap_or(Json::String(changes)),
    }
}
