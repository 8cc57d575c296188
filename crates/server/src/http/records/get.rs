//! `GET /api/v1/{resource}/{id}`: one row as an object.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use oxbase_query::parse;
use serde_json::json;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::records::{DatabaseTiming, json_response};

/// Serves the row with this primary key, or 404.
pub async fn get(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let app = &state.0;
    let plan = parse::by_id(&app.schema, &resource, &id)?;
    let output = app.store.read(plan).await?;
    if output.rows == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {resource} with id {id}"),
        )
        .with_details(json!({ "resource": resource, "id": id })));
    }
    // The store encodes an array; exactly one row is its only element.
    let body = output.body[1..output.body.len() - 1].to_vec();
    Ok(json_response(
        body,
        DatabaseTiming {
            duration: output.database_time,
            statements: output.statements,
        },
    ))
}
