//! Inside the write transaction: the records a write collects as it goes, and the batch
//! appended to the chain as the transaction's last step.
//!
//! The chain's head row is read (on PostgreSQL `FOR UPDATE`) only once everything else of
//! the write has run, so concurrent writers queue on it for as long as it takes to insert
//! their batch and its records and commit, not for their whole write; the batch id is the
//! head's plus one, so ids follow the chain without gaps.

use oxbase_query::sql::Statement;
use oxbase_query::sql::write::rows_per_statement;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::{Literal, Resource};
use serde_json::{Map, Value as Json};

use super::AuditContext;
use super::chain::{BatchContent, RecordContent, batch_hash};
use crate::StoreError;
use crate::exec::{Executor, Value};
use crate::write::WriteFailure;

/// One row's record, before the batch it belongs to has an id.
#[derive(Debug, Clone)]
pub(crate) struct PendingRecord {
    pub resource: String,
    pub record_id: String,
    pub action: &'static str,
    pub changes: Map<String, Json>,
}

/// Adds `field`'s change to `changes` as the audit records it: left out when excluded,
/// without values when masked, else `[before, after]`.
pub(crate) fn add_change(
    changes: &mut Map<String, Json>,
    context: &AuditContext,
    resource: &Resource,
    field: &str,
    before: Json,
    after: Json,
) {
    if resource.audit_exclude.iter().any(|excluded| excluded == field) {
        return;
    }
    let entry = if context.masks(&resource.name, field) { super::MASKED } else { Json::Array(vec![before, after]) };
    changes.insert(field.to_owned(), entry);
}

/// Appends one batch for a write that changed `row_count` rows of `resource`, with
/// `records`, to the chain. Nothing when there are no records.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_batch(
    executor: &mut dyn Executor,
    context: &AuditContext,
    action: &str,
    resource: &str,
    row_count: usize,
    records: Vec<PendingRecord>,
    statements: &mut u32,
) -> Result<(), WriteFailure> {
    if records.is_empty() {
        return Ok(());
    }
    let dialect = executor.dialect();
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let head = Statement {
        sql: format!("SELECT \"last_id\", \"last_hash\" FROM \"_oxbase_audit_head\" WHERE \"id\" = 1{lock}"),
        parameters: Vec::new(),
        key_list: None,
    };
    let rows = run(executor, &head, statements)?;
    let (last_id, last_hash) = match rows.first().map(Vec::as_slice) {
        Some([Value::Integer(id), Value::Text(hash)]) => (*id, hash.clone()),
        other => {
            return Err(
                StoreError::Internal(format!("the audit chain's head is missing or malformed: {other:?}")).into()
            );
        }
    };
    let records: Vec<RecordContent> = records
        .into_iter()
        .enumerate()
        .map(|(position, record)| RecordContent {
            position: position as i64,
            resource: record.resource,
            record_id: record.record_id,
            action: record.action.to_owned(),
            changes: Json::Object(record.changes).to_string(),
        })
        .collect();
    let batch = BatchContent {
        id: last_id + 1,
        at: now_millis(),
        actor_id: context.actor_id.clone(),
        role: context.role.clone(),
        api_key: context.api_key.clone(),
        request_id: context.request_id.clone(),
        client_ip: context.client_ip.clone(),
        user_agent: context.user_agent.clone(),
        action: action.to_owned(),
        resource: resource.to_owned(),
        row_count: row_count as i64,
        prev_hash: last_hash,
    };
    let hash = batch_hash(&batch, &records);
    let text = |value: &Option<String>| value.clone().map_or(Literal::Null, Literal::Text);
    let batch_values = vec![
        Literal::Integer(batch.id),
        Literal::Integer(batch.at),
        text(&batch.actor_id),
        text(&batch.role),
        text(&batch.api_key),
        text(&batch.request_id),
        text(&batch.client_ip),
        text(&batch.user_agent),
        Literal::Text(batch.action.clone()),
        Literal::Text(batch.resource.clone()),
        Literal::Integer(batch.row_count),
        Literal::Text(batch.prev_hash.clone()),
        Literal::Text(hash.clone()),
    ];
    let insert_batch = values_statement(
        dialect,
        "INSERT INTO \"_oxbase_audit_batches\" (\"id\", \"at\", \"actor_id\", \"role\", \"api_key\", \"request_id\", \"client_ip\", \"user_agent\", \"action\", \"resource\", \"row_count\", \"prev_hash\", \"hash\") VALUES ",
        13,
        batch_values,
    );
    run(executor, &insert_batch, statements)?;
    // Multi-row inserts, chunked under the engine's parameter limit like the data's.
    for chunk in records.chunks(rows_per_statement(dialect, 6)) {
        let mut values = Vec::with_capacity(chunk.len() * 6);
        for record in chunk {
            values.extend([
                Literal::Integer(batch.id),
                Literal::Integer(record.position),
                Literal::Text(record.resource.clone()),
                Literal::Text(record.record_id.clone()),
                Literal::Text(record.action.clone()),
                Literal::Text(record.changes.clone()),
            ]);
        }
        let statement = values_statement(
            dialect,
            "INSERT INTO \"_oxbase_audit_records\" (\"batch_id\", \"position\", \"resource\", \"record_id\", \"action\", \"changes\") VALUES ",
            6,
            values,
        );
        run(executor, &statement, statements)?;
    }
    let mut update = String::from("UPDATE \"_oxbase_audit_head\" SET \"last_id\" = ");
    dialect.push_placeholder(&mut update, 1);
    update.push_str(", \"last_hash\" = ");
    dialect.push_placeholder(&mut update, 2);
    update.push_str(" WHERE \"id\" = 1");
    let update =
        Statement { sql: update, parameters: vec![Literal::Integer(batch.id), Literal::Text(hash)], key_list: None };
    run(executor, &update, statements)?;
    Ok(())
}

/// `prefix` followed by one `(…)` group of `width` placeholders per `width` values.
fn values_statement(dialect: Dialect, prefix: &str, width: usize, values: Vec<Literal>) -> Statement {
    let mut sql = String::from(prefix);
    for (index, _) in values.iter().enumerate() {
        if index % width == 0 {
            if index > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
        } else {
            sql.push_str(", ");
        }
        dialect.push_placeholder(&mut sql, index + 1);
        if index % width == width - 1 {
            sql.push(')');
        }
    }
    Statement { sql, parameters: values, key_list: None }
}

fn run(
    executor: &mut dyn Executor,
    statement: &Statement,
    statements: &mut u32,
) -> Result<Vec<Vec<Value>>, WriteFailure> {
    *statements += 1;
    Ok(executor.run("_oxbase_audit", statement, None)?)
}

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
