//! `/api/v1/{resource}`: the record endpoints, one file per action. Each extracts the
//! request, calls the read or write path ([`crate::service`]) and shapes the response.

pub mod create;
pub mod delete;
pub mod get;
pub mod history;
pub mod list;
mod read;
pub mod update;
mod write;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::service::DatabaseTiming;

/// A JSON body with its content type and database timing attached.
pub(crate) fn json_response(body: Vec<u8>, content_type: &'static str, timing: DatabaseTiming) -> Response {
    let mut response = ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response();
    response.extensions_mut().insert(timing);
    response
}

/// Query-string pairs in request order, percent-decoded.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}
