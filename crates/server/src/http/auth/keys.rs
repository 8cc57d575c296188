//! `/admin/keys`: API keys for services, created (the key shown once), listed, revoked.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxbase_store::auth::ApiKeyRecord;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::auth::json_body;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::service::identity::{self, KeyRequest};

/// A key as listed: times as Unix seconds, never the key or its digest.
pub fn key_json(key: &ApiKeyRecord) -> Value {
    serde_json::to_value(key).unwrap_or_default()
}

/// `POST /admin/keys` `{role, name?, resources?, actions?, expires?}`: 201 with the key,
/// which is not shown again.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let request: KeyRequest = serde_json::from_value(body).map_err(|error| {
        let message = format!("the body is not a key request: {error}");
        ApiError::new(Code::ValidationFailed, message.clone())
            .with_details(json!({ "problems": [{ "path": "", "message": message }] }))
            .with_hint(
                "send {\"role\": \"…\", \"name\": \"…\", \"resources\": […], \"actions\": […], \"expires\": \"30d\"}",
            )
    })?;
    let (record, key) = identity::create_key(&state.0, request).await?;
    let mut answer = key_json(&record);
    answer["key"] = key.expose().into();
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /admin/keys`: every key.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = identity::list_keys(&state.0).await?;
    Ok(Json(Value::Array(keys.iter().map(key_json).collect())))
}

/// `DELETE /admin/keys/{id}`: revokes the key; 204.
pub async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    identity::revoke_key(&state.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
