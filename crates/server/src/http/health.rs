//! `/health/live` and `/health/ready`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::http::error::ApiError;

/// The process is up and serving HTTP.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

/// The process can serve requests: the database answers.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.0.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": "ok" }))).into_response(),
        Err(error) => {
            let mut api_error = ApiError::from(error);
            api_error.message = "not ready: the database does not answer".to_owned();
            api_error.details = json!({ "database": "unavailable" });
            api_error.into_response()
        }
    }
}
