//! The one error type at the HTTP edge.
//!
//! Error policy: every layer below reports failures in its own terms (a `QueryError`, a
//! `StoreError`, a `ServiceError`); [`from`] turns each into an [`ApiError`] with a
//! [`codes::Code`], and [`codes`] is the one table that gives every code its status.
//! Bodies are JSON `{code, message, details, hint}`. Internal details (SQL, driver
//! messages) are never put in a body: they travel in a response extension to the
//! request-log middleware, which logs them. `into_response` has no side effects.

pub mod codes;
mod from;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::error::codes::Code;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
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
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: Value::Null, hint: None, internal: None, retry_after: None }
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
        ApiError::new(Code::RouteNotFound, format!("no route for '{path}'"))
            .with_details(json!({ "path": path }))
            .with_hint("resources are served at /api/v1/{resource}")
    }

    /// 414 for a URL (path and query) longer than the server accepts.
    pub fn uri_too_long(length: usize, limit: usize) -> ApiError {
        ApiError::new(Code::UriTooLong, format!("the URL is {length} bytes; at most {limit} are accepted"))
            .with_details(json!({ "length": length, "limit": limit }))
            .with_hint("shorten the filters, e.g. fewer in-list values per request")
    }

    /// 431 for request headers larger than the server accepts.
    pub fn headers_too_large(bytes: usize, limit: usize) -> ApiError {
        ApiError::new(
            Code::HeadersTooLarge,
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
                Code::TooManyConnections,
                "the server has as many connections open as it accepts; retry shortly",
            )
            .with_details(json!({ "limit": limit }))
            .with_hint("reuse connections (keep-alive) instead of opening many")
        }
    }

    /// The status it is answered with (from the code's row in the table).
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The JSON body every error response carries.
    pub fn body(&self) -> Value {
        json!({
            "code": self.code.name(),
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            // Every 401 says how to authenticate (RFC 9110 §11.6.1).
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(internal) = self.internal {
            response.extensions_mut().insert(LoggedError(internal));
        }
        response
    }
}
