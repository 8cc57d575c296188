//! `POST /api/v1/auth/{login,refresh,logout,password}`: sessions of the schema's accounts.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use oxbase_access::Caller;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::auth::{ClientAddress, json_body};
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::service::identity::{self, SessionTokens};

/// A string field of a JSON object body, else a 422 naming it.
fn string_field<'a>(body: &'a Value, field: &'static str) -> Result<&'a str, ApiError> {
    let problem = |message: String| {
        ApiError::new(Code::ValidationFailed, message.clone())
            .with_details(json!({ "problems": [{ "path": field, "message": message }] }))
    };
    if !body.is_object() {
        return Err(problem(format!("the body must be a JSON object with '{field}'")));
    }
    match body.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::String(_)) => Err(problem(format!("'{field}' is empty"))),
        Some(_) => Err(problem(format!("'{field}' must be a string"))),
        None => Err(problem(format!("'{field}' is required"))),
    }
}

/// Tokens are never cached on the way (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn tokens_response(tokens: SessionTokens) -> Response {
    no_store(
        Json(json!({
            "access_token": tokens.access_token.expose(),
            "token_type": "bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token.expose(),
        }))
        .into_response(),
    )
}

/// `POST /api/v1/auth/login` `{username, password}`: an access token and a refresh token.
pub async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let (username, password) = (string_field(&body, "username")?, string_field(&body, "password")?);
    let client = client.map(|Extension(ClientAddress(address))| address.ip());
    let tokens = identity::login(&state.0, username, password, client).await?;
    Ok(tokens_response(tokens))
}

/// `POST /api/v1/auth/refresh` `{refresh_token}`: a new access token and the next refresh
/// token; the one sent is used up.
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let tokens = identity::refresh(&state.0, string_field(&body, "refresh_token")?).await?;
    Ok(tokens_response(tokens))
}

/// `POST /api/v1/auth/logout` `{refresh_token}`: revokes the token's family; 204.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    identity::logout(&state.0, string_field(&body, "refresh_token")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/auth/password` `{current_password, new_password}` with the account's
/// access token: sets a new password and revokes the account's refresh tokens; 204.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if caller.role.is_none() && caller.user_id.is_none() && caller.key.is_none() {
        return Err(ApiError::new(
            Code::AuthenticationRequired,
            "changing a password needs the account's access token",
        )
        .with_hint("send Authorization: Bearer <access_token from /api/v1/auth/login>"));
    }
    let body = json_body(&headers, body)?;
    let (current, new) = (string_field(&body, "current_password")?, string_field(&body, "new_password")?);
    let client = client.map(|Extension(ClientAddress(address))| address.ip());
    identity::change_password(&state.0, &caller, current, new, client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
