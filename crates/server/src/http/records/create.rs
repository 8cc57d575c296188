//! `POST /api/v1/{resource}`: create one row, many rows, or rows with nested children;
//! upsert with `Prefer: resolution=…`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use oxbase_query::error::{QueryError, QueryErrorKind};
use oxbase_query::write::plan_insert;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::RequestDeadline;
use crate::http::records::query_pairs;
use crate::http::records::write::{Return, execute, json_body, location, now, representation_plan, write_preferences};
use crate::store::write::WriteRequest;

/// Inserts the body's rows in one transaction.
pub async fn create(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let app = &state.0;
    let parameters = query_pairs(query.as_deref());
    let mut on_conflict = None;
    for (name, value) in &parameters {
        match name.as_str() {
            "select" => {}
            "on_conflict" => on_conflict = Some(value.as_str()),
            other => {
                return Err(QueryError::new(
                    QueryErrorKind::UnsupportedParameter,
                    format!("'{other}' does not apply to creating rows"),
                )
                .parameter(other)
                .hint("POST takes select (for return=representation) and on_conflict")
                .into());
            }
        }
    }
    let preferences = write_preferences(&headers)?;
    let body = json_body(&headers, body)?;
    let plan = plan_insert(&app.schema, &resource, &body, preferences.conflict, on_conflict, &now())?;
    let single = plan.single_object;
    let representation = representation_plan(app, &resource, &parameters, preferences.returning)?;
    let (outcome, mut response) = execute(
        app,
        WriteRequest::Insert(plan),
        &headers,
        preferences.returning,
        StatusCode::CREATED,
        representation,
        deadline.map(|Extension(deadline)| deadline),
    )
    .await?;
    if single
        && preferences.returning != Return::Minimal
        && let Some(value) = outcome.keys.first().and_then(|key| location(&resource, key))
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
