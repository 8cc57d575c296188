//! `/health/live` and `/health/ready`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;

/// The process is up and serving HTTP.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

/// The process can serve requests: the database answers, and in redis mode Redis can be
/// used. An instance that cannot use Redis answers 503 (with the cause): it serves no cache
/// hits, its events reach no other instance, and its writes are answered with errors
/// (`change_not_propagated`), so a load balancer does better to send traffic elsewhere.
/// The PostgreSQL LISTEN connection is not required: without it reads are only slower.
pub async fn ready(State(state): State<AppState>) -> Response {
    let coherence = &state.0.coherence;
    match state.0.store.ping().await {
        Ok(()) => {
            let mut body = json!({ "status": "ready", "database": "ok", "cache": coherence.mode_name() });
            if !coherence.uses_redis() {
                return (StatusCode::OK, Json(body)).into_response();
            }
            match coherence.redis_failure() {
                None => {
                    body["redis"] = "ok".into();
                    (StatusCode::OK, Json(body)).into_response()
                }
                Some(reason) => ApiError {
                    retry_after: Some(1),
                    details: json!({
                        "database": "ok",
                        "cache": coherence.mode_name(),
                        "redis": "unavailable",
                        "redis_reason": reason,
                    }),
                    hint: Some("check the redis url, its password and that redis answers; see /admin/cache".to_owned()),
                    ..ApiError::new(
                        Code::RedisUnavailable,
                        "not ready: redis cannot be used (no cache hits; writes are refused)",
                    )
                }
                .into_response(),
            }
        }
        Err(error) => {
            let mut api_error = ApiError::from(error);
            api_error.message = "not ready: the database does not answer".to_owned();
            api_error.details = json!({ "database": "unavailable" });
            api_error.into_response()
        }
    }
}
