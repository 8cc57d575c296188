//! Reading the audit trail: `/admin/audit`'s batches, and one row's history for callers
//! who may read that row (checked by the one read path), its values hidden where the
//! caller's role may not read the field.

use oxbase_query::error::{QueryError, QueryErrorKind};
use oxbase_query::parse::id_filter;
use oxbase_query::plan::ReadOptions;
use oxbase_schema::model::FieldType;
use oxbase_store::audit::{AuditBatch, AuditFilter};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::service::read::{ReadRequest, Shape, read};
use crate::service::{Scope, ServiceError};

/// A page's default and largest number of batches.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// `/admin/audit`'s query parameters as a filter: `actor`, `resource`, `record_id`,
/// `since` and `until` (RFC 3339 times), `after` (a batch id) and `limit`.
pub fn audit_filter(parameters: &[(String, String)]) -> Result<AuditFilter, ServiceError> {
    let mut filter = AuditFilter { limit: DEFAULT_LIMIT, ..AuditFilter::default() };
    for (name, value) in parameters {
        match name.as_str() {
            "actor" => filter.actor = Some(value.clone()),
            "resource" => filter.resource = Some(value.clone()),
            "record_id" => filter.record_id = Some(value.clone()),
            "since" => filter.since = Some(moment(name, value)?),
            "until" => filter.until = Some(moment(name, value)?),
            "after" => filter.after = Some(whole(name, value, "a batch id (the last one of the page before)")?),
            "limit" => {
                let limit = whole(name, value, "a number of batches")?;
                filter.limit = u32::try_from(limit)
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                    .ok_or_else(|| invalid(name, value, &format!("a limit from 1 to {MAX_LIMIT}")))?;
            }
            other => {
                return Err(QueryError::new(
                    QueryErrorKind::UnsupportedParameter,
                    format!("'{other}' is not a filter of the audit trail"),
                )
                .parameter(other)
                .hint("use actor, resource, record_id, since, until, after and limit")
                .into());
            }
        }
    }
    Ok(filter)
}

fn invalid(name: &str, value: &str, expected: &str) -> ServiceError {
    QueryError::new(QueryErrorKind::InvalidValue, format!("'{value}' is not a valid {name}"))
        .parameter(name)
        .token(value)
        .hint(format!("{name} takes {expected}"))
        .into()
}

fn whole(name: &str, value: &str, expected: &str) -> Result<i64, ServiceError> {
    value.parse::<i64>().ok().filter(|number| *number >= 0).ok_or_else(|| invalid(name, value, expected))
}

/// An RFC 3339 time as Unix milliseconds.
fn moment(name: &str, value: &str) -> Result<i64, ServiceError> {
    let parsed = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| invalid(name, value, "an RFC 3339 time such as 2026-12-04T10:00:00Z"))?;
    Ok(i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// Unix milliseconds as an RFC 3339 time.
fn time_text(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|moment| moment.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A batch as `/admin/audit` answers it.
fn batch_json(batch: &AuditBatch) -> Value {
    json!({
        "id": batch.id,
        "time": time_text(batch.at),
        "actor": {"user_id": batch.actor_id, "role": batch.role, "api_key": batch.api_key},
        "request_id": batch.request_id,
        "client_ip": batch.client_ip,
        "user_agent": batch.user_agent,
        "action": batch.action,
        "resource": batch.resource,
        "row_count": batch.row_count,
        "prev_hash": batch.prev_hash,
        "hash": batch.hash,
        "records": batch.records.iter().map(|record| json!({
            "resource": record.resource,
            "record_id": record.record_id,
            "action": record.action,
            "changes": record.changes,
        })).collect::<Vec<_>>(),
    })
}

/// The batches `filter` selects, oldest first, and the id to ask for the next page after
/// when this one is full.
pub async fn batches(app: &App, filter: AuditFilter) -> Result<(Vec<Value>, Option<i64>), ServiceError> {
    let limit = filter.limit as usize;
    let batches = app.store.audit_batches(filter).await?;
    let next = (batches.len() == limit).then(|| batches.last().map(|batch| batch.id)).flatten();
    Ok((batches.iter().map(batch_json).collect(), next))
}

/// The history of `resource`'s row `id`: found through the read path with the caller's
/// scope first (a row it may not read is not found, exactly like one that does not exist),
/// then each record with its batch, oldest first, fields the caller's role may not read
/// shown as changed without values.
pub async fn history(
    app: &App,
    scope: &Scope,
    resource: &str,
    id: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<(Vec<Value>, Option<i64>), ServiceError> {
    let parameters = vec![("select".to_owned(), "id".to_owned()), id_filter(scope.read_view(), resource, id)?];
    let path = format!("/api/v1/{resource}/{id}");
    read(
        app,
        scope,
        ReadRequest {
            resource,
            parameters: &parameters,
            options: ReadOptions::default(),
            shape: Shape::ById(id.to_owned()),
            cache_request: format!("GET {path}?select=id (audit history)"),
            path: &path,
        },
    )
    .await?;
    let definition = app.schema.resource(resource).expect("the read found the resource");
    let record_id = match definition.primary_key().field_type {
        FieldType::Integer | FieldType::Bigint => id.parse::<i64>().map_or_else(|_| id.to_owned(), |id| id.to_string()),
        _ => id.to_ascii_lowercase(),
    };
    let visible = scope.read_view().resource(resource);
    let entries = app.store.audit_history(resource, &record_id, after, limit).await?;
    let next = (entries.len() == limit as usize).then(|| entries.last().map(|(batch, _)| batch.id)).flatten();
    let entries = entries
        .into_iter()
        .map(|(batch, record)| {
            let mut changes = record.changes;
            if let Value::Object(fields) = &mut changes {
                for (field, value) in fields.iter_mut() {
                    if visible.is_none_or(|view| view.field(field).is_none()) {
                        *value = Value::Null;
                    }
                }
            }
            json!({
                "batch": batch.id,
                "time": time_text(batch.at),
                "actor": {"user_id": batch.actor_id, "role": batch.role, "api_key": batch.api_key},
                "request_id": batch.request_id,
                "action": record.action,
                "changes": changes,
            })
        })
        .collect();
    Ok((entries, next))
}

/// How many batches one retention transaction deletes: small, so it holds its locks
/// briefly and writers queue behind it for at most a few milliseconds.
pub const RETENTION_CHUNK: u32 = 500;

/// Deletes every batch written before `cutoff` (Unix milliseconds), oldest first, a chunk
/// per transaction with a pause between them; the number deleted.
pub async fn prune_before(app: &App, cutoff: i64) -> Result<u64, ServiceError> {
    let mut deleted = 0;
    loop {
        let chunk = app.store.audit_prune(cutoff, RETENTION_CHUNK).await?;
        deleted += chunk;
        if chunk < u64::from(RETENTION_CHUNK) {
            return Ok(deleted);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The retention task: every `[audit] retention_interval_seconds`, deletes the batches
/// older than `[audit] retention_days`. Runs until aborted.
pub async fn retain(app: std::sync::Arc<App>) {
    let Some(retention) = app.config.audit_retention else { return };
    let mut ticks = tokio::time::interval(app.config.audit_retention_interval);
    loop {
        ticks.tick().await;
        let now = oxbase_store::audit::now_millis();
        let cutoff = now.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        match prune_before(&app, cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit retention deleted batches"),
            Err(error) => tracing::warn!(error = %error, "audit retention failed; trying again next time"),
        }
    }
}
