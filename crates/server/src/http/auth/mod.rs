//! Identity at the HTTP edge: the middleware that turns a request's bearer credential into
//! a [`Caller`] extension (every request gets one; [`Caller::anonymous`] without
//! credentials), the `/admin/*` guard, and the `/api/v1/auth/*` and `/admin/keys`
//! endpoints ([`session`], [`keys`]).
//!
//! A credential is never echoed: not in an error body, not in a log line (the request log
//! records the method, path and status only).

pub mod keys;
pub mod session;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxbase_access::Caller;
use oxbase_access::identity::{InvalidToken, TokenError};
use oxbase_schema::model::ADMIN_ROLE;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::http::media_type::MediaType;
use crate::http::strict_json;
use crate::service::identity::{self, IdentityError};

/// The address of the client a request came from (the TCP peer; no proxy header is
/// trusted), set by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub SocketAddr);

/// Routes that authenticate by their bodies: a stale `Authorization` header a client still
/// sends there must not stop it from refreshing or logging in again.
const BODY_AUTHENTICATED: &[&str] = &["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"];

/// The credential of `Authorization: Bearer …`, if the request has one.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, IdentityError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || IdentityError::Token(TokenError::Invalid(InvalidToken::Malformed));
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(IdentityError::Token(TokenError::Invalid(InvalidToken::Scheme)));
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(malformed());
    }
    Ok(Some(credential))
}

/// Puts the request's [`Caller`] in its extensions, or answers 401 for a credential that
/// does not check out (expired, badly signed, revoked…).
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = match bearer(request.headers()) {
        _ if BODY_AUTHENTICATED.contains(&request.uri().path()) => Caller::anonymous(),
        Ok(None) => Caller::anonymous(),
        Ok(Some(credential)) => match identity::authenticate(&state.0, credential).await {
            Ok(caller) => caller,
            Err(error) => return ApiError::from(error).into_response(),
        },
        Err(error) => return ApiError::from(error).into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// `/admin/*` is for the `admin` role when the schema declares roles (an API key of that
/// role only when it has no resource or action limits); a schema without roles leaves it
/// as `[server] admin` says.
pub async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.0.schema.roles.is_empty() {
        return next.run(request).await;
    }
    let anonymous = Caller::anonymous();
    let caller = request.extensions().get::<Caller>().unwrap_or(&anonymous);
    let unlimited_key = caller.key.as_ref().is_none_or(|key| key.resources.is_none() && key.actions.is_none());
    match caller.role.as_deref() {
        Some(ADMIN_ROLE) if unlimited_key => next.run(request).await,
        None => ApiError::new(Code::AuthenticationRequired, "the admin endpoints need the admin role's credentials")
            .with_hint("send Authorization: Bearer with an admin's access token or an admin API key")
            .into_response(),
        Some(_) => ApiError::new(Code::Forbidden, "the admin endpoints are for the admin role only").into_response(),
    }
}

/// A JSON body of these endpoints: `Content-Type: application/json`, valid JSON, no key
/// named twice. (The records' writes read theirs with more to say about rows.)
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Value, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if MediaType::parse(content_type).is_none_or(|media_type| media_type.essence != "application/json") {
        return Err(ApiError::new(Code::UnsupportedMediaType, "the body must be JSON")
            .with_details(serde_json::json!({ "content_type": content_type }))
            .with_hint("send Content-Type: application/json"));
    }
    let bytes = body.map_err(|rejection| match rejection.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(Code::PayloadTooLarge, "the request body is larger than the server accepts")
        }
        _ => ApiError::new(Code::InvalidBody, format!("the request body could not be read: {rejection}")),
    })?;
    strict_json::from_slice(&bytes).map_err(|error| match error {
        strict_json::StrictJsonError::Syntax(error) => {
            ApiError::new(Code::InvalidJson, format!("the body is not valid JSON: {error}"))
        }
        strict_json::StrictJsonError::DuplicateKey { key, path, .. } => {
            ApiError::new(Code::DuplicateKey, format!("the body names the key '{key}' twice in one object, at {path}"))
        }
    })
}
