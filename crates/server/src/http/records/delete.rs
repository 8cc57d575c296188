//! `DELETE /api/v1/{resource}` (filtered rows) and `DELETE /api/v1/{resource}/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use oxbase_query::parse::id_filter;

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::http::records::write::{WriteOrigin, write_preferences, write_settings, written_response};
use crate::service::Scope;
use crate::service::write;

/// Deletes the rows the filters select.
pub async fn delete(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    origin: WriteOrigin,
    Access(scope): Access,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    delete_rows(&state, &scope, &resource, parameters, headers, None, origin).await
}

/// Deletes the row with this key, or 404.
pub async fn delete_one(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    origin: WriteOrigin,
    Access(scope): Access,
) -> Result<Response, ApiError> {
    let mut parameters = query_pairs(query.as_deref());
    parameters.push(id_filter(scope.read_view(), &resource, &id)?);
    delete_rows(&state, &scope, &resource, parameters, headers, Some(id), origin).await
}

async fn delete_rows(
    state: &AppState,
    scope: &Scope,
    resource: &str,
    parameters: Vec<(String, String)>,
    headers: HeaderMap,
    id: Option<String>,
    origin: WriteOrigin,
) -> Result<Response, ApiError> {
    let preferences = write_preferences(&headers)?;
    let settings = write_settings(&headers, &preferences, origin);
    let mut written = write::delete(&state.0, scope, resource, &parameters, id, settings.clone()).await?;
    Ok(written_response(&mut written, &settings, preferences.count, StatusCode::OK))
}
