//! `DELETE /api/v1/{resource}` (filtered rows) and `DELETE /api/v1/{resource}/{id}`.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use oxbase_query::parse::{id_filter, resource as find_resource};
use oxbase_query::plan::plan_filter;

use std::sync::Arc;

use crate::app::{App, AppState};
use crate::http::error::ApiError;
use crate::http::middleware::RequestDeadline;
use crate::http::records::query_pairs;
use crate::http::records::update::refuse_unfiltered;
use crate::http::records::write::{execute_change, representation_plan, write_preferences};
use crate::store::write::WriteRequest;

/// Deletes the rows the filters select.
pub async fn delete(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    delete_rows(&state.0, &resource, parameters, headers, None, deadline.map(|Extension(deadline)| deadline)).await
}

/// Deletes the row with this key, or 404.
pub async fn delete_one(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
) -> Result<Response, ApiError> {
    let mut parameters = query_pairs(query.as_deref());
    parameters.push(id_filter(&state.0.schema, &resource, &id)?);
    delete_rows(&state.0, &resource, parameters, headers, Some(id), deadline.map(|Extension(deadline)| deadline)).await
}

async fn delete_rows(
    app: &Arc<App>,
    resource: &str,
    parameters: Vec<(String, String)>,
    headers: HeaderMap,
    id: Option<String>,
    deadline: Option<RequestDeadline>,
) -> Result<Response, ApiError> {
    let preferences = write_preferences(&headers)?;
    let definition = find_resource(&app.schema, resource)?;
    let condition = plan_filter(&app.schema, resource, &parameters, &app.limits())?;
    refuse_unfiltered(app, resource, condition.is_none(), "DELETE")?;
    // The representation of deleted rows must be read before they go: read it first, in the
    // same way a GET with these filters would.
    let representation = representation_plan(app, resource, &parameters, preferences.returning)?;
    let request = WriteRequest::Delete {
        resource: definition.name.clone(),
        table: definition.table.clone(),
        key: definition.primary_key().name.clone(),
        condition,
    };
    execute_change(app, resource, id, request, &headers, preferences.returning, representation, deadline).await
}
