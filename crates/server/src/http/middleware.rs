//! Middleware every request passes through.

use std::any::Any;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::http::encoding;
use crate::http::error::codes::Code;
use crate::http::error::{ApiError, LoggedError};
use crate::service::DatabaseTiming;

/// Runs the request in its span (request id, method, route template, status: every log
/// line made while serving it carries them), logs one line per request (method, path,
/// status, duration, request id, and the cause of any 5xx), and adds `Server-Timing`.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id =
        request.headers().get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    // The template, never the raw path: ids stay out of span names and fields.
    let route = request.extensions().get::<MatchedPath>().map_or("(no route)", MatchedPath::as_str).to_owned();
    // Display, not Debug: the log layer formats the fields once per request, and escaping
    // them as Debug strings cost a tenth of a trivial request's instructions (callgrind).
    let span = tracing::info_span!("request", %request_id, %method, %route, status = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status);
    let mut timing = String::new();
    if let Some(database) = response.extensions().get::<DatabaseTiming>() {
        let plural = if database.statements == 1 { "" } else { "s" };
        timing.push_str(&format!(
            "db;dur={:.3};desc=\"{} statement{plural}\", ",
            milliseconds(database.duration),
            database.statements
        ));
    }
    timing.push_str(&format!("total;dur={:.3}", milliseconds(elapsed)));
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", value);
    }
    let duration_ms = milliseconds(elapsed);
    match response.extensions().get::<LoggedError>() {
        Some(LoggedError(cause)) => {
            tracing::error!(%method, %path, status, duration_ms, request_id, cause, "request failed")
        }
        None => tracing::info!(%method, %path, status, duration_ms, request_id, "request"),
    }
    response
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// When the request's time is up: writes roll back instead of committing after it.
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Instant);

/// A panic in a handler becomes a logged 500 JSON error, not a dropped connection.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let cause = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError {
        internal: Some(format!("panic: {cause}")),
        ..ApiError::new(Code::InternalError, "an internal error occurred; it has been logged")
    }
    .into_response()
}

/// Where `Content-Range` waits while the compressor runs (it skips ranged responses).
const HIDDEN_CONTENT_RANGE: &str = "x-oxbase-content-range";

/// Moves `Content-Range` aside before compression ([`guard_request`] puts it back).
pub async fn hide_content_range(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(range) = response.headers_mut().remove(axum::http::header::CONTENT_RANGE) {
        response.headers_mut().insert(HIDDEN_CONTENT_RANGE, range);
    }
    response
}

/// What every request is held to before and around the work, in one layer (each layer of
/// its own cost an allocation and a clone of the routes per request; measured with
/// callgrind on `GET /health/live`, that was a third of the request's instructions):
///
/// - the URL and the headers within their limits (414 `uri_too_long`, 431
///   `headers_too_large`), checked before anything else;
/// - an `Accept-Encoding` that refuses every coding, identity included, dropped, so the
///   compressor sends identity instead of turning a finished answer (a committed write,
///   a 404) into a 406 ([`encoding::refuses_every_coding`]);
/// - the deadline: writes roll back instead of committing after it, and a request still
///   running then is answered 503 `timeout`;
/// - `Content-Range` put back after compression (see [`hide_content_range`]).
pub async fn guard_request(limits: RequestLimits, mut request: Request, next: Next) -> Response {
    let url_length = request.uri().path_and_query().map_or(0, |path| path.as_str().len());
    if url_length > limits.max_url_length {
        return ApiError::uri_too_long(url_length, limits.max_url_length).into_response();
    }
    // As sent over HTTP/1.1: `name: value` and a line break per header.
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > limits.max_header_bytes {
        return ApiError::headers_too_large(header_bytes, limits.max_header_bytes).into_response();
    }
    if encoding::refuses_every_coding(request.headers()) {
        request.headers_mut().remove(axum::http::header::ACCEPT_ENCODING);
    }
    let timeout = limits.timeout;
    request.extensions_mut().insert(RequestDeadline(Instant::now() + timeout));
    let mut response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            return ApiError {
                retry_after: Some(1),
                internal: Some(format!("request exceeded the {timeout:?} timeout")),
                ..ApiError::new(Code::Timeout, format!("the request took longer than {timeout:?}"))
            }
            .into_response();
        }
    };
    if let Some(range) = response.headers_mut().remove(HIDDEN_CONTENT_RANGE) {
        response.headers_mut().insert(axum::http::header::CONTENT_RANGE, range);
    }
    response
}

/// The limits [`guard_request`] holds a request to.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_url_length: usize,
    pub max_header_bytes: usize,
    pub timeout: Duration,
}
