//! `/api/v1/{resource}`: the record endpoints, one file per action.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
mod read;
pub mod update;
mod write;

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

/// Database work done for a response, for the `Server-Timing` header.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseTiming {
    pub duration: Duration,
    pub statements: u32,
}

impl DatabaseTiming {
    /// No database work: an answer from the response cache.
    pub const NONE: DatabaseTiming = DatabaseTiming { duration: Duration::ZERO, statements: 0 };
}

/// The content type of a JSON array of rows (and of one row at `/{resource}/{id}`).
pub const JSON: &str = "application/json; charset=utf-8";
/// The content type of one row asked for with PostgREST's single-object media type.
pub const OBJECT_JSON: &str = "application/vnd.pgrst.object+json; charset=utf-8";

/// A JSON body with its content type and database timing attached.
pub(crate) fn json_response(body: Vec<u8>, content_type: &'static str, timing: DatabaseTiming) -> Response {
    let mut response = ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response();
    response.extensions_mut().insert(timing);
    response
}

/// 404 for `/{resource}/{id}` when no row has the id.
pub(crate) fn not_found(resource: &str, id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {resource} with id {id}"))
        .with_details(serde_json::json!({ "resource": resource, "id": id }))
}

/// Query-string pairs in request order, percent-decoded.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}
