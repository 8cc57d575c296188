//! `POST /api/v1/{resource}`: create one row, many rows, or rows with nested children;
//! upsert with `Prefer: resolution=…`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::http::records::write::{
    WriteOrigin, json_body, location, write_preferences, write_settings, written_response,
};
use crate::service::write::{self, Return};

/// Inserts the body's rows in one transaction.
pub async fn create(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    origin: WriteOrigin,
    Access(scope): Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    let preferences = write_preferences(&headers)?;
    let body = json_body(&headers, body)?;
    let settings = write_settings(&headers, &preferences, origin);
    let mut written =
        write::create(&state.0, &scope, &resource, &parameters, &body, preferences.conflict, settings.clone()).await?;
    let mut response = written_response(&mut written, &settings, preferences.count, StatusCode::CREATED);
    if written.single_object_body
        && settings.returning != Return::Minimal
        && let Some(value) = written.outcome.keys.first().and_then(|key| location(&resource, key))
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
