//! `PATCH /api/v1/{resource}` (filtered rows, or an array of rows by key) and
//! `PATCH /api/v1/{resource}/{id}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use oxbase_query::parse::id_filter;

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::http::records::write::{WriteOrigin, json_body, write_preferences, write_settings, written_response};
use crate::service::Scope;
use crate::service::write;

/// Updates the rows the filters select, or each row of an array by its key.
pub async fn update(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    origin: WriteOrigin,
    Access(scope): Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    update_rows(&state, &scope, &resource, parameters, headers, body, None, origin).await
}

/// Updates the row with this key, or 404.
pub async fn update_one(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    origin: WriteOrigin,
    Access(scope): Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut parameters = query_pairs(query.as_deref());
    parameters.push(id_filter(scope.read_view(), &resource, &id)?);
    update_rows(&state, &scope, &resource, parameters, headers, body, Some(id), origin).await
}

#[allow(clippy::too_many_arguments)]
async fn update_rows(
    state: &AppState,
    scope: &Scope,
    resource: &str,
    parameters: Vec<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: Option<String>,
    origin: WriteOrigin,
) -> Result<Response, ApiError> {
    let preferences = write_preferences(&headers)?;
    let body = json_body(&headers, body)?;
    let settings = write_settings(&headers, &preferences, origin);
    let mut written = write::update(&state.0, scope, resource, &parameters, &body, id, settings.clone()).await?;
    Ok(written_response(&mut written, &settings, preferences.count, StatusCode::OK))
}
