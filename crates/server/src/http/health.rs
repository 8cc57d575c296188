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

/// The process can serve requests: the database answers. Redis is reported, not required:
/// without it the instance is correct, only slower (no cache hits).
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.0.store.ping().await {
        Ok(()) => {
            let mut body = json!({ "status": "ready", "database": "ok", "cache": state.0.coherence.mode_name() });
            if let Some(redis) = state.0.coherence.redis() {
                body["redis"] = if redis.healthy() { "ok" } else { "unavailable" }.into();
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(error) => {
            let mut api_error = ApiError::from(error);
            api_error.message = "not ready: the database does not answer".to_owned();
            api_error.details = json!({ "database": "unavailable" });
            api_error.into_response()
        }
    }
}
