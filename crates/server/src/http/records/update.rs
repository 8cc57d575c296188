//! `PATCH /api/v1/{resource}` (filtered rows, or an array of rows by key) and
//! `PATCH /api/v1/{resource}/{id}`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use oxbase_query::error::{QueryError, QueryErrorKind};
use oxbase_query::parse::id_filter;
use oxbase_query::plan::plan_filter;
use oxbase_query::write::{plan_bulk_update, plan_update};
use serde_json::{Value, json};

use std::sync::Arc;

use crate::app::{App, AppState};
use crate::http::error::ApiError;
use crate::http::middleware::RequestDeadline;
use crate::http::records::query_pairs;
use crate::http::records::write::{execute_change, json_body, now, representation_plan, write_preferences};
use crate::store::write::WriteRequest;

/// Updates the rows the filters select, or each row of an array by its key.
pub async fn update(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    update_rows(&state.0, &resource, parameters, headers, body, None, deadline.map(|Extension(deadline)| deadline))
        .await
}

/// Updates the row with this key, or 404.
pub async fn update_one(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut parameters = query_pairs(query.as_deref());
    parameters.push(id_filter(&state.0.schema, &resource, &id)?);
    update_rows(&state.0, &resource, parameters, headers, body, Some(id), deadline.map(|Extension(deadline)| deadline))
        .await
}

async fn update_rows(
    app: &Arc<App>,
    resource: &str,
    parameters: Vec<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: Option<String>,
    deadline: Option<RequestDeadline>,
) -> Result<Response, ApiError> {
    let preferences = write_preferences(&headers)?;
    let body = json_body(&headers, body)?;
    let condition = plan_filter(&app.schema, resource, &parameters, &app.limits())?;
    let request = match &body {
        Value::Array(rows) => {
            if condition.is_some() {
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    "an array body updates rows by their keys; it takes no filters",
                )
                .parameter("body")
                .hint("send one object to update every filtered row, or an array of objects with keys and no filters")
                .into());
            }
            WriteRequest::BulkUpdate(plan_bulk_update(&app.schema, resource, rows, &now())?)
        }
        _ => {
            refuse_unfiltered(app, resource, condition.is_none(), "PATCH")?;
            WriteRequest::Update(plan_update(&app.schema, resource, &body, condition, &now())?)
        }
    };
    let representation = representation_plan(app, resource, &parameters, preferences.returning)?;
    execute_change(app, resource, id, request, &headers, preferences.returning, representation, deadline).await
}

/// 400 for a PATCH or DELETE with no filter, unless the resource allows it.
pub(crate) fn refuse_unfiltered(app: &App, resource: &str, unfiltered: bool, method: &str) -> Result<(), ApiError> {
    let allowed = app.schema.resource(resource).is_some_and(|definition| definition.allow_unfiltered_writes);
    if unfiltered && !allowed {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unfiltered_write",
            format!("{method} without a filter would change every row of '{resource}'"),
        )
        .with_details(json!({ "resource": resource }))
        .with_hint("add a filter such as ?id=eq.42, or set allow_unfiltered_writes = true on the resource"));
    }
    Ok(())
}
