//! The write path: a create, update or delete in an access scope → a write outcome.
//!
//! Every row is validated before anything is written; then one transaction runs in a task
//! of its own, the versions it bumped are made current before it answers, and one change
//! event is published after the commit — even if the caller went away meanwhile.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use oxbase_access::Denied;
use oxbase_query::error::{QueryError, QueryErrorKind};
use oxbase_query::parse::resource as find_resource;
use oxbase_query::plan::{Condition, Limits, ReadOptions, ReadPlan, plan_filter, plan_read};
use oxbase_query::write::columns::{Missing, parse_columns, take_columns};
use oxbase_query::write::{Conflict, InsertPlan, ServerValue, plan_bulk_update, plan_insert, plan_update};
use oxbase_schema::Schema;
use oxbase_schema::model::Action;
use serde_json::Value;

use crate::app::App;
use crate::service::{Scope, ServiceError};
use oxbase_store::audit::AuditContext;
use oxbase_store::change::ChangeEvent;
use oxbase_store::json::literal_json;
use oxbase_store::write::{WriteGuard, WriteOptions, WriteOutcome, WriteRequest};

/// What a client asked to get back (`Prefer: return=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// No body (the default).
    Minimal,
    /// No body, but `Location` for a single create.
    HeadersOnly,
    /// The written rows, as `select` shapes them.
    Representation,
}

/// How a write is carried out besides what it writes.
#[derive(Debug, Clone)]
pub struct WriteSettings {
    /// What comes back.
    pub returning: Return,
    /// The client asked for exactly one row back (with [`Return::Representation`]): any
    /// other number rolls the write back.
    pub single_object: bool,
    /// Past this instant the write rolls back instead of committing; `None`: the
    /// configured request timeout from now.
    pub deadline: Option<Instant>,
    /// Named in the change event.
    pub request_id: String,
    /// With `?columns=` on a create: what a named key an object leaves out becomes
    /// (`Prefer: missing=default`, else null, as PostgREST does).
    pub missing: Missing,
    /// `Prefer: tx=rollback`: answer what the write would do, keep nothing (no versions
    /// move, no change event).
    pub rollback: bool,
    /// `Prefer: max-affected=N` with `handling=strict`: more rows changed is an error.
    pub max_affected: Option<usize>,
    /// The client's address, for the audit trail.
    pub client_ip: Option<String>,
    /// The request's `User-Agent`, for the audit trail.
    pub user_agent: Option<String>,
}

/// A committed write.
#[derive(Debug)]
pub struct Written {
    pub outcome: WriteOutcome,
    /// The body was one object (so a create can name the new row in `Location`).
    pub single_object_body: bool,
}

/// The current time in the form oxbase stores timestamps in.
pub fn now() -> String {
    oxbase_schema::values::format_timestamp(time::OffsetDateTime::now_utc())
}

/// Inserts `body`'s rows (one object, an array, parents with nested children) in one
/// transaction; with `conflict` other than [`Conflict::Fail`], an upsert on `on_conflict`.
#[tracing::instrument(name = "service.create", level = "debug", skip_all, fields(resource = %resource))]
pub async fn create(
    app: &Arc<App>,
    scope: &Scope,
    resource: &str,
    parameters: &[(String, String)],
    body: &Value,
    conflict: Conflict,
    settings: WriteSettings,
) -> Result<Written, ServiceError> {
    let mut on_conflict = None;
    let mut columns = None;
    for (name, value) in parameters {
        match name.as_str() {
            "select" => {}
            "on_conflict" => on_conflict = Some(value.as_str()),
            "columns" => columns = Some(value.as_str()),
            other => {
                return Err(QueryError::new(
                    QueryErrorKind::UnsupportedParameter,
                    format!("'{other}' does not apply to creating rows"),
                )
                .parameter(other)
                .hint("POST takes select (for return=representation), on_conflict and columns")
                .into());
            }
        }
    }
    permit(scope, resource, Action::Create)?;
    let upsert = conflict != Conflict::Fail;
    if upsert {
        // An upsert may change existing rows: it needs both.
        permit(scope, resource, Action::Update)?;
    }
    let view = scope.write_view(Action::Create);
    let body = with_columns(view, resource, body, columns, Some(settings.missing))?;
    let presets: Vec<ServerValue> = view.resources.keys().flat_map(|name| scope.presets(name)).collect();
    let plan = plan_insert(view, resource, &body, conflict, on_conflict, &now(), &presets)?;
    // Every resource the body creates rows of (nested children too) must allow it, and
    // every row created must pass the caller's rules for it afterwards.
    let mut after = Vec::new();
    for (name, has_rows) in created_resources(&plan) {
        if has_rows {
            permit(scope, &name, Action::Create)?;
        }
        let mut rules: Vec<Condition> = scope.after(&name, Action::Create).into_iter().collect();
        if upsert && name == resource {
            rules.extend(scope.rows(&name, Action::Update));
        }
        match rules.len() {
            0 => {}
            1 => after.push((name, rules.remove(0))),
            _ => after.push((name, Condition::And(rules))),
        }
    }
    let guard = WriteGuard { visible: None, before: None, after };
    let single_object_body = plan.single_object;
    let representation = representation_plan(app, scope, resource, parameters, settings.returning)?;
    let outcome = execute(app, scope, WriteRequest::Insert(plan), representation, guard, settings).await?;
    Ok(Written { outcome, single_object_body })
}

/// Updates the rows the filters select with one object's values, or each row of an array
/// by its key; `id`: the row `/{resource}/{id}` names ([`ServiceError::NotFound`] when none has it).
#[tracing::instrument(name = "service.update", level = "debug", skip_all, fields(resource = %resource))]
pub async fn update(
    app: &Arc<App>,
    scope: &Scope,
    resource: &str,
    parameters: &[(String, String)],
    body: &Value,
    id: Option<String>,
    settings: WriteSettings,
) -> Result<Written, ServiceError> {
    permit(scope, resource, Action::Update)?;
    let view = scope.write_view(Action::Update);
    let columns = parameters.iter().find(|(name, _)| name == "columns").map(|(_, text)| text.as_str());
    let body = with_columns(view, resource, body, columns, None)?;
    let body = body.as_ref();
    let filters: Vec<(String, String)> = parameters.iter().filter(|(name, _)| name != "columns").cloned().collect();
    let condition = plan_filter(scope.read_view(), resource, &filters, &app.limits())?;
    // The rows it may read are all it can name; of those, each must be one it may update
    // (else 403, nothing written), and stay within its rules afterwards.
    let mut guard = WriteGuard {
        visible: None,
        before: scope.rows(resource, Action::Update),
        after: scope.after(resource, Action::Update).map(|rule| vec![(resource.to_owned(), rule)]).unwrap_or_default(),
    };
    let request = match body {
        Value::Array(rows) => {
            if condition.is_some() {
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    "an array body updates rows by their keys; it takes no filters",
                )
                .parameter("body")
                .hint("send one object to update every filtered row, or an array of objects with keys and no filters")
                .into());
            }
            guard.visible = scope.rows(resource, Action::Read);
            WriteRequest::BulkUpdate(plan_bulk_update(view, resource, rows, &now())?)
        }
        _ => {
            refuse_unfiltered(app, resource, condition.is_none(), "PATCH")?;
            let condition = within(condition, scope.rows(resource, Action::Read));
            WriteRequest::Update(plan_update(view, resource, body, condition, &now())?)
        }
    };
    let representation = representation_plan(app, scope, resource, parameters, settings.returning)?;
    changed(resource, id, execute(app, scope, request, representation, guard, settings).await?)
}

/// Deletes the rows the filters select; `id` as for [`update`].
#[tracing::instrument(name = "service.delete", level = "debug", skip_all, fields(resource = %resource))]
pub async fn delete(
    app: &Arc<App>,
    scope: &Scope,
    resource: &str,
    parameters: &[(String, String)],
    id: Option<String>,
    settings: WriteSettings,
) -> Result<Written, ServiceError> {
    permit(scope, resource, Action::Delete)?;
    let definition = find_resource(&app.schema, resource)?;
    let condition = plan_filter(scope.read_view(), resource, parameters, &app.limits())?;
    refuse_unfiltered(app, resource, condition.is_none(), "DELETE")?;
    // The representation of deleted rows is read inside the transaction, before they go.
    let representation = representation_plan(app, scope, resource, parameters, settings.returning)?;
    let request = WriteRequest::Delete {
        resource: definition.name.clone(),
        table: definition.table.clone(),
        key: definition.primary_key().name.clone(),
        condition: within(condition, scope.rows(resource, Action::Read)),
    };
    let guard = WriteGuard { visible: None, before: scope.rows(resource, Action::Delete), after: Vec::new() };
    changed(resource, id, execute(app, scope, request, representation, guard, settings).await?)
}

/// Whether the caller may take `action` on `resource`: a resource it may neither see nor
/// write is unknown to it (404, as one that does not exist), one it sees is forbidden (403).
fn permit(scope: &Scope, resource: &str, action: Action) -> Result<(), ServiceError> {
    match scope.permit(resource, action) {
        Ok(()) => Ok(()),
        Err(Denied::Forbidden { .. }) if !scope.sees(resource) => {
            Err(find_resource(scope.read_view(), resource).err().map_or_else(
                || ServiceError::Denied(Denied::Forbidden { action: action.name(), resource: resource.to_owned() }),
                ServiceError::from,
            ))
        }
        Err(denied) => Err(denied.into()),
    }
}

/// The resources an insert plan creates rows in, each with whether the body holds rows of it.
fn created_resources(plan: &InsertPlan) -> Vec<(String, bool)> {
    let mut resources = vec![(plan.target.resource.clone(), !plan.rows.is_empty())];
    for (position, nested) in plan.target.nested.iter().enumerate() {
        let has_rows = plan.rows.iter().any(|row| !row.children[position].is_empty());
        resources.push((nested.target.resource.clone(), has_rows));
    }
    resources
}

/// A filter limited to the rows a rule reaches.
fn within(filter: Option<Condition>, rule: Option<Condition>) -> Option<Condition> {
    match (filter, rule) {
        (None, rule) => rule,
        (filter, None) => filter,
        (Some(filter), Some(rule)) => Some(Condition::And(vec![filter, rule])),
    }
}

/// `body` keeping only the keys `?columns=` names ([`take_columns`]); unchanged without it.
fn with_columns<'a>(
    view: &Schema,
    resource: &str,
    body: &'a Value,
    columns: Option<&str>,
    missing: Option<Missing>,
) -> Result<Cow<'a, Value>, ServiceError> {
    let Some(text) = columns else { return Ok(Cow::Borrowed(body)) };
    let definition = find_resource(view, resource)?;
    let columns = parse_columns(view, definition, text)?;
    Ok(Cow::Owned(take_columns(definition, body, &columns, missing)))
}

/// A PATCH or DELETE by id that found no row is a 404 (after a transaction that changed
/// nothing).
fn changed(resource: &str, id: Option<String>, outcome: WriteOutcome) -> Result<Written, ServiceError> {
    if let Some(id) = id
        && outcome.keys.is_empty()
    {
        return Err(ServiceError::NotFound { resource: resource.to_owned(), id });
    }
    Ok(Written { outcome, single_object_body: false })
}

/// Refuses a PATCH or DELETE with no filter, unless the resource allows it.
fn refuse_unfiltered(app: &App, resource: &str, unfiltered: bool, method: &'static str) -> Result<(), ServiceError> {
    let allowed = app.schema.resource(resource).is_some_and(|definition| definition.allow_unfiltered_writes);
    if unfiltered && !allowed {
        return Err(ServiceError::UnfilteredWrite { method, resource: resource.to_owned() });
    }
    Ok(())
}

/// The read plan for `return=representation`: `select` from the request, no page limit
/// (the store reads exactly the written keys).
fn representation_plan(
    app: &App,
    scope: &Scope,
    resource: &str,
    parameters: &[(String, String)],
    returning: Return,
) -> Result<Option<ReadPlan>, ServiceError> {
    if returning != Return::Representation {
        return Ok(None);
    }
    let select: Vec<(String, String)> = parameters.iter().filter(|(name, _)| name == "select").cloned().collect();
    // The rows written come back whatever their number (the body bounded them already);
    // the bytes and embedded arrays stay bounded.
    let mut limits = Limits { max_page_size: u32::MAX, ..app.limits() };
    limits.bounds.max_rows = u64::MAX;
    let rules = |name: &str| scope.rows(name, Action::Read);
    Ok(Some(plan_read(scope.read_view(), resource, &select, ReadOptions::default(), &limits, &app.cursor_key, &rules)?))
}

/// Runs a validated write and publishes its change event.
///
/// The write and the publication run in a task of their own: if the caller is cancelled
/// (the client went away, the request timeout fired), a write that commits still
/// publishes its event, so caches and subscribers never miss a committed change. A write
/// still running at the deadline rolls back instead of committing.
async fn execute(
    app: &Arc<App>,
    scope: &Scope,
    request: WriteRequest,
    representation: Option<ReadPlan>,
    guard: WriteGuard,
    settings: WriteSettings,
) -> Result<WriteOutcome, ServiceError> {
    let options = WriteOptions {
        single_row: settings.single_object && representation.is_some(),
        representation,
        deadline: Some(settings.deadline.unwrap_or_else(|| Instant::now() + app.config.request_timeout)),
        instance: Some(app.instance.clone()),
        rollback: settings.rollback,
        max_affected: settings.max_affected,
        guard,
        audit: Some(audit_context(app, scope, &request, &settings)),
    };
    let rollback = settings.rollback;
    // Known before any work: Redis is down, so the write could not be confirmed to the
    // other instances. Refusing now writes nothing; NotPropagated after a commit below is
    // left for Redis failing while the write runs.
    if let Some(reason) = app.coherence.redis_failure() {
        return Err(ServiceError::RedisUnavailable { reason });
    }
    let task_app = app.clone();
    let request_id = settings.request_id;
    let (outcome, propagated) = tokio::spawn(async move {
        let resource = request.resource().to_owned();
        let mut outcome = task_app.store.write(request, options).await?;
        if rollback {
            // Rolled back: nothing changed, so no version moves and nobody hears of it.
            outcome.versions.clear();
            return Ok::<_, ServiceError>((outcome, Ok(())));
        }
        // Before the write answers or anyone hears of it, so no read after it, on any
        // instance sharing Redis, can be served old data. When Redis does not confirm, the
        // change is committed all the same: it is published, but answered as an error.
        let propagated = task_app.coherence.committed(&outcome.versions).await;
        if !outcome.keys.is_empty() {
            task_app.bus.publish(change_event(&task_app, &resource, &outcome, request_id));
        }
        Ok::<_, ServiceError>((outcome, propagated))
    })
    .await
    .map_err(|error| oxbase_store::StoreError::Internal(format!("the write task failed: {error}")))??;
    propagated?;
    Ok(outcome)
}

/// Who writes and from where, and which fields of the resources written the writer's
/// role may not read (recorded as changed without their values).
fn audit_context(app: &App, scope: &Scope, request: &WriteRequest, settings: &WriteSettings) -> AuditContext {
    let mut written = vec![request.resource().to_owned()];
    if let WriteRequest::Insert(plan) = request {
        written.extend(plan.target.nested.iter().map(|nested| nested.target.resource.clone()));
    }
    let masked = written
        .into_iter()
        .filter_map(|name| {
            let definition = app.schema.resource(&name)?;
            let visible = scope.read_view().resource(&name);
            let hidden: Vec<String> = definition
                .fields
                .iter()
                .filter(|field| visible.is_none_or(|view| view.field(&field.name).is_none()))
                .map(|field| field.name.clone())
                .collect();
            (!hidden.is_empty()).then_some((name, hidden))
        })
        .collect();
    AuditContext {
        actor_id: scope.user_id().map(|id| match id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }),
        role: Some(scope.role().to_owned()),
        api_key: scope.key_id().map(str::to_owned),
        request_id: Some(settings.request_id.clone()).filter(|id| !id.is_empty()),
        client_ip: settings.client_ip.clone(),
        user_agent: settings.user_agent.clone(),
        masked,
    }
}

fn change_event(app: &App, resource: &str, outcome: &WriteOutcome, request_id: String) -> ChangeEvent {
    let key_type = app
        .schema
        .resource(resource)
        .map(|definition| definition.primary_key().field_type.clone())
        .unwrap_or(oxbase_schema::model::FieldType::Bigint);
    ChangeEvent {
        resource: resource.to_owned(),
        op: outcome.op,
        ids: outcome.keys.iter().map(|key| literal_json(key, &key_type)).collect(),
        changes: outcome.changes.clone(),
        version: outcome.versions.first().map_or(0, |(_, version)| *version),
        versions: outcome.versions.iter().cloned().collect(),
        request_id,
    }
}
