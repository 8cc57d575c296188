//! The one error type at the HTTP edge.
//!
//! Error policy: every layer below reports failures in its own terms (a `QueryError`, a
//! `StoreError`); this module is the single table that turns them into a status and a
//! stable snake_case `code`. Bodies are JSON `{code, message, details, hint}`. Internal
//! details (SQL, driver messages) are never put in a body: they travel in a response
//! extension to the request-log middleware, which logs them. `into_response` has no side
//! effects.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::QueryError;
use oxbase_query::error::QueryErrorKind;
use serde_json::{Value, json};

use crate::http::media_type::SINGLE_OBJECT;
use crate::redis_client::NotPropagated;
use crate::service::ServiceError;
use crate::store::StoreError;
use crate::store::write::WriteFailure;
use oxbase_query::write::WriteError;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    pub hint: Option<String>,
    /// What to log (never sent): the underlying cause of a 5xx.
    pub internal: Option<String>,
    /// Seconds after which a retry may succeed (503).
    pub retry_after: Option<u64>,
}

/// The cause of an error response, for the request log.
#[derive(Debug, Clone)]
pub struct LoggedError(pub String);

impl ApiError {
    /// An error with no details or hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            hint: None,
            internal: None,
            retry_after: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// 404 for a path no route serves.
    pub fn route_not_found(path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "route_not_found", format!("no route for '{path}'"))
            .with_details(json!({ "path": path }))
            .with_hint("resources are served at /api/v1/{resource}")
    }

    /// 414 for a URL (path and query) longer than the server accepts.
    pub fn uri_too_long(length: usize, limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the URL is {length} bytes; at most {limit} are accepted"),
        )
        .with_details(json!({ "length": length, "limit": limit }))
        .with_hint("shorten the filters, e.g. fewer in-list values per request")
    }

    /// 431 for request headers larger than the server accepts.
    pub fn headers_too_large(bytes: usize, limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers are {bytes} bytes; at most {limit} are accepted"),
        )
        .with_details(json!({ "bytes": bytes, "limit": limit }))
        .with_hint("send fewer or smaller headers, e.g. smaller cookies or tokens")
    }

    /// 503 for a connection opened while the server holds as many as it may.
    pub fn too_many_connections(limit: usize) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "the server has as many connections open as it accepts; retry shortly",
            )
            .with_details(json!({ "limit": limit }))
            .with_hint("reuse connections (keep-alive) instead of opening many")
        }
    }

    /// The JSON body every error response carries.
    pub fn body(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        })
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        let status = match error.kind {
            QueryErrorKind::UnknownResource => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: error.code(),
            details: error.details(),
            hint: error.hint.clone(),
            message: error.message,
            internal: None,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match &error {
            StoreError::Unavailable(_) | StoreError::ConnectionLost(_) => ApiError {
                retry_after: Some(1),
                internal: Some(error.to_string()),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; retry shortly",
                )
            },
            StoreError::Contention(_) => ApiError {
                retry_after: Some(1),
                internal: Some(error.to_string()),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "write_contention",
                    "the write collided with concurrent writes to the same rows and was rolled back; retry it",
                )
            },
            StoreError::TooLarge { bound, limit, message } => {
                ApiError::new(StatusCode::BAD_REQUEST, "limit_exceeded", message.clone())
                    .with_details(json!({ "bound": bound, "limit": limit }))
                    .with_hint(match *bound {
                        "max_embed_rows" => "limit the embedded array (e.g. comments.limit=100), filter it, or read it on its own, paged",
                        _ => "ask for fewer rows (a smaller limit, fewer or limited embeds, fewer columns), or page with a cursor",
                    })
            }
            StoreError::Unsupported(message) => {
                ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_supported", message.clone())
            }
            StoreError::Internal(_) => ApiError {
                internal: Some(error.to_string()),
                ..ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "an internal error occurred; it has been logged",
                )
            },
        }
    }
}

impl From<NotPropagated> for ApiError {
    fn from(error: NotPropagated) -> ApiError {
        ApiError {
            retry_after: Some(1),
            internal: Some(error.to_string()),
            details: json!({ "committed": true, "redis": "unavailable" }),
            hint: Some(
                "the change is saved: read it back before repeating a request that is not idempotent".to_owned(),
            ),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "change_not_propagated",
                "the change was committed, but redis did not confirm it to the other instances' caches in time",
            )
        }
    }
}

impl ApiError {
    /// 503 before a write starts, while this instance knows Redis cannot confirm it: the
    /// write would commit and then be answered `change_not_propagated`, so it is refused
    /// first, with nothing written, and a retry is safe.
    pub fn redis_unavailable_before_write(reason: &str) -> ApiError {
        ApiError {
            retry_after: Some(1),
            internal: Some(format!("write refused before it ran: {reason}")),
            details: json!({ "committed": false, "redis": "unavailable" }),
            hint: Some("nothing was written; retry shortly".to_owned()),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "redis_unavailable",
                "redis is unavailable, so a write could not be made known to the other instances' caches",
            )
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::Query(error) => error.into(),
            ServiceError::Invalid(error) => error.into(),
            ServiceError::Write(failure) => failure.into(),
            ServiceError::Store(error) => error.into(),
            ServiceError::NotPropagated(error) => error.into(),
            ServiceError::NotFound { resource, id } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {resource} with id {id}"))
                    .with_details(json!({ "resource": resource, "id": id }))
            }
            ServiceError::NotSingleObject { rows } => ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_single_object",
                format!(
                    "expected exactly one row for {SINGLE_OBJECT}, found {}",
                    if rows > 1 { "more than one" } else { "none" }
                ),
            )
            .with_details(json!({ "rows": rows }))
            .with_hint("filter to one row (e.g. id=eq.42), or ask for application/json"),
            ServiceError::UnfilteredWrite { method, resource } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "unfiltered_write",
                format!("{method} without a filter would change every row of '{resource}'"),
            )
            .with_details(json!({ "resource": resource }))
            .with_hint("add a filter such as ?id=eq.42, or set allow_unfiltered_writes = true on the resource"),
            ServiceError::RedisUnavailable { reason } => ApiError::redis_unavailable_before_write(&reason),
        }
    }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(internal) = self.internal {
            response.extensions_mut().insert(LoggedError(internal));
        }
        response
    }
}
