//! What every write endpoint shares: the JSON body, `Prefer`, the representation read,
//! the change event, and the response.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::plan::{Limits, ReadOptions, ReadPlan, plan_read};
use oxbase_query::write::{Conflict, WriteError};
use oxbase_schema::model::Literal;
use serde_json::{Value, json};

use crate::app::App;
use crate::bus::ChangeEvent;
use crate::http::error::ApiError;
use crate::http::media_type::{MediaType, accepts_single_object};
use crate::http::middleware::RequestDeadline;
use crate::http::records::{DatabaseTiming, JSON, OBJECT_JSON, json_response, not_found};
use crate::http::strict_json::{self, StrictJsonError};
use crate::store::json::literal_json;
use crate::store::write::{WriteFailure, WriteOptions, WriteOutcome, WriteRequest};

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

/// The `Prefer` header of a write.
#[derive(Debug, Clone, Copy)]
pub struct WritePreferences {
    pub returning: Return,
    pub conflict: Conflict,
}

/// Parses `Prefer: return=…, resolution=…`.
pub fn write_preferences(headers: &HeaderMap) -> Result<WritePreferences, ApiError> {
    let mut preferences = WritePreferences { returning: Return::Minimal, conflict: Conflict::Fail };
    for prefer in headers.get_all("prefer") {
        for token in prefer.to_str().unwrap_or_default().split([',', ';']).map(str::trim) {
            let unknown = |name: &str, value: &str, allowed: &str| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!("unknown {name} preference '{value}'"),
                )
                .with_details(json!({ "parameter": "Prefer", "token": value }))
                .with_hint(format!("use {allowed}"))
            };
            if let Some(value) = token.strip_prefix("return=") {
                preferences.returning = match value {
                    "minimal" => Return::Minimal,
                    "headers-only" => Return::HeadersOnly,
                    "representation" => Return::Representation,
                    other => {
                        return Err(unknown(
                            "return",
                            other,
                            "return=minimal, return=headers-only or return=representation",
                        ));
                    }
                };
            } else if let Some(value) = token.strip_prefix("resolution=") {
                preferences.conflict = match value {
                    "merge-duplicates" => Conflict::Merge,
                    "ignore-duplicates" => Conflict::Ignore,
                    other => {
                        return Err(unknown(
                            "resolution",
                            other,
                            "resolution=merge-duplicates or resolution=ignore-duplicates",
                        ));
                    }
                };
            }
        }
    }
    Ok(preferences)
}

/// The request body as JSON, with clear errors for a wrong type, a size over the limit,
/// malformed JSON, or a key named twice in one object.
pub fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    check_json_content_type(headers)?;
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload_too_large", "the request body is larger than the server accepts")
                .with_hint("split the rows over several requests, or raise server.max_body_bytes")
        } else {
            ApiError::new(status, "invalid_body", format!("the request body could not be read: {rejection}"))
        }
    })?;
    strict_json::from_slice(&bytes).map_err(|error| match error {
        StrictJsonError::Syntax(error) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {error}"))
                .with_details(json!({ "line": error.line(), "column": error.column() }))
        }
        StrictJsonError::DuplicateKey { key, path, line, column } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "duplicate_key",
            format!("the body names the key '{key}' twice in one object, at {path}"),
        )
        .with_details(json!({ "key": key, "path": path, "line": line, "column": column }))
        .with_hint("send each key once per object; nothing was written"),
    })
}

/// Refuses (415) a body whose `Content-Type` is not `application/json` (any case, with
/// parameters) or names a charset other than UTF-8, the only one JSON allows (RFC 8259 §8.1).
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).map(|value| String::from_utf8_lossy(value.as_bytes()));
    let content_type = content_type.as_deref().unwrap_or_default();
    let media_type = MediaType::parse(content_type);
    let refuse = |message: String| {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
            .with_details(json!({ "content_type": content_type }))
            .with_hint("send Content-Type: application/json (optionally with ; charset=utf-8)")
    };
    match media_type {
        Some(media_type) if media_type.essence == "application/json" => match media_type.parameter("charset") {
            Some(charset) if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") => {
                Err(refuse(format!("the body must be UTF-8 JSON, not charset '{charset}'")))
            }
            _ => Ok(()),
        },
        _ => Err(refuse(format!(
            "the body must be JSON, not '{}'",
            if content_type.is_empty() { "unspecified" } else { content_type }
        ))),
    }
}

/// The current time in the form oxbase stores timestamps in.
pub fn now() -> String {
    oxbase_schema::values::format_timestamp(time::OffsetDateTime::now_utc())
}

/// The read plan for `return=representation`: `select` from the request, no page limit
/// (the store reads exactly the written keys).
pub fn representation_plan(
    app: &App,
    resource: &str,
    parameters: &[(String, String)],
    returning: Return,
) -> Result<Option<ReadPlan>, ApiError> {
    if returning != Return::Representation {
        return Ok(None);
    }
    let select: Vec<(String, String)> = parameters.iter().filter(|(name, _)| name == "select").cloned().collect();
    // The rows written come back whatever their number (the body bounded them already);
    // the bytes and embedded arrays stay bounded.
    let mut limits = Limits { max_page_size: u32::MAX, ..app.limits() };
    limits.bounds.max_rows = u64::MAX;
    Ok(Some(plan_read(&app.schema, resource, &select, ReadOptions::default(), &limits, &app.cursor_key)?))
}

/// [`execute`] for a PATCH or DELETE (200 on success); for `/{resource}/{id}` (`id`), 404
/// when no row has the id.
#[allow(clippy::too_many_arguments)]
pub async fn execute_change(
    app: &Arc<App>,
    resource: &str,
    id: Option<String>,
    request: WriteRequest,
    headers: &HeaderMap,
    returning: Return,
    representation: Option<ReadPlan>,
    deadline: Option<RequestDeadline>,
) -> Result<Response, ApiError> {
    let (outcome, response) =
        execute(app, request, headers, returning, StatusCode::OK, representation, deadline).await?;
    if let Some(id) = id
        && outcome.keys.is_empty()
    {
        return Err(not_found(resource, &id));
    }
    Ok(response)
}

/// Runs a write, publishes its change event, and answers it.
///
/// The write and the publication run in a task of their own: if the request is cancelled
/// (the client went away, the request timeout fired), a write that commits still
/// publishes its event, so caches and subscribers never miss a committed change. A write
/// still running at the request deadline rolls back instead of committing.
pub async fn execute(
    app: &Arc<App>,
    request: WriteRequest,
    headers: &HeaderMap,
    returning: Return,
    success: StatusCode,
    representation: Option<ReadPlan>,
    deadline: Option<RequestDeadline>,
) -> Result<(WriteOutcome, Response), ApiError> {
    let single = accepts_single_object(headers);
    let options = WriteOptions {
        single_row: single && representation.is_some(),
        representation,
        deadline: Some(deadline.map_or_else(|| Instant::now() + app.config.request_timeout, |deadline| deadline.0)),
        instance: Some(app.instance.clone()),
    };
    // Known before any work: Redis is down, so the write could not be confirmed to the
    // other instances. Refusing now writes nothing; the 503 after a commit below is left
    // for Redis failing while the write runs.
    if let Some(reason) = app.coherence.redis_failure() {
        return Err(ApiError::redis_unavailable_before_write(&reason));
    }
    let request_id = headers.get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let task_app = app.clone();
    let (mut outcome, propagated) = tokio::spawn(async move {
        let resource = request.resource().to_owned();
        let outcome = task_app.store.write(request, options).await?;
        // Before the write answers or anyone hears of it, so no read after it, on any
        // instance sharing Redis, can be served old data. When Redis does not confirm, the
        // change is committed all the same: it is published, but answered as an error.
        let propagated = task_app.coherence.committed(&outcome.versions).await;
        if !outcome.keys.is_empty() {
            task_app.bus.publish(change_event(&task_app, &resource, &outcome, request_id));
        }
        Ok::<_, WriteFailure>((outcome, propagated))
    })
    .await
    .map_err(|error| ApiError::from(crate::store::StoreError::Internal(format!("the write task failed: {error}"))))??;
    propagated?;
    let timing = DatabaseTiming { duration: outcome.database_time, statements: outcome.statements };
    let response = match (returning, outcome.representation.take()) {
        (Return::Representation, Some(output)) => {
            let (body, content_type) = if single {
                (output.body[1..output.body.len() - 1].to_vec(), OBJECT_JSON)
            } else {
                (output.body, JSON)
            };
            let mut response = json_response(body, content_type, timing);
            *response.status_mut() = success;
            response
        }
        (Return::Representation, None) => {
            let mut response = json_response(b"[]".to_vec(), JSON, timing);
            *response.status_mut() = success;
            response
        }
        _ => {
            let status = if success == StatusCode::CREATED { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
            let mut response = status.into_response();
            response.extensions_mut().insert(timing);
            response
        }
    };
    Ok((outcome, response))
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

/// `Location: /api/v1/{resource}/{id}`.
pub fn location(resource: &str, key: &Literal) -> Option<HeaderValue> {
    let id = match key {
        Literal::Integer(number) => number.to_string(),
        Literal::Text(text) => text.clone(),
        _ => return None,
    };
    HeaderValue::from_str(&format!("/api/v1/{resource}/{id}")).ok()
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::Query(error) => error.into(),
            WriteError::Invalid(failure) => {
                let problems: Vec<Value> = failure
                    .problems
                    .iter()
                    .map(|problem| json!({ "path": problem.path, "message": problem.message }))
                    .collect();
                let first = failure
                    .problems
                    .first()
                    .map(|problem| format!(": {} {}", problem.path, problem.message))
                    .unwrap_or_default();
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", format!("{failure}{first}"))
                    .with_details(json!({ "problems": problems }))
                    .with_hint("nothing was written; fix every listed value and send the request again")
            }
        }
    }
}

impl From<WriteFailure> for ApiError {
    fn from(failure: WriteFailure) -> ApiError {
        match failure {
            WriteFailure::Duplicate { message, fields } => ApiError::new(StatusCode::CONFLICT, "duplicate", message)
                .with_details(json!({ "fields": fields }))
                .with_hint("nothing was written; use Prefer: resolution=merge-duplicates to update existing rows"),
            WriteFailure::Rejected { problems } => {
                let listed: Vec<Value> = problems
                    .iter()
                    .map(|problem| json!({ "path": problem.path, "message": problem.message }))
                    .collect();
                let first =
                    problems.first().map(|problem| format!("{} {}", problem.path, problem.message)).unwrap_or_default();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "reference_not_found",
                    format!("the request references rows that do not exist: {first}"),
                )
                .with_details(json!({ "problems": listed }))
                .with_hint("nothing was written")
            }
            WriteFailure::Constraint(message) => {
                ApiError::new(StatusCode::CONFLICT, "constraint_violation", message).with_hint("nothing was written")
            }
            WriteFailure::NotSingleRow { rows } => ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_single_object",
                format!("the write touched {rows} rows, not exactly one; nothing was written"),
            )
            .with_hint("filter the write to one row, or ask for application/json"),
            WriteFailure::DeadlinePassed => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "the write took longer than the request timeout and was rolled back; nothing was written",
                )
            },
            WriteFailure::KeysExhausted { message } => ApiError::new(StatusCode::CONFLICT, "ids_exhausted", message)
                .with_hint("nothing was written; the key's type holds no further ids"),
            WriteFailure::NotFound { message } => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            WriteFailure::Store(error) => error.into(),
        }
    }
}
