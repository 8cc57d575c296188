//! What every write endpoint shares at the edge: the JSON body, `Prefer`, the write's
//! settings from its headers, `Location`, and the response to a committed write; the write
//! itself is [`crate::service::write`].

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::write::Conflict;
use oxbase_query::write::columns::Missing;
use oxbase_schema::model::Literal;
use serde_json::{Value, json};

use crate::encoding::{JSON, OBJECT_JSON};
use crate::http::auth::ClientAddress;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::http::media_type::{MediaType, accepts_single_object};
use crate::http::middleware::RequestDeadline;
use crate::http::records::json_response;
use crate::http::strict_json::{self, StrictJsonError};
use crate::service::DatabaseTiming;
use crate::service::write::{Return, WriteSettings, Written};

/// The `Prefer` header of a write.
#[derive(Debug, Clone, Copy)]
pub struct WritePreferences {
    pub returning: Return,
    pub conflict: Conflict,
    /// `missing=default|null`: what a key `?columns=` names and an object leaves out becomes.
    pub missing: Missing,
    /// `tx=rollback` (`tx=commit` is the default).
    pub rollback: bool,
    /// `max-affected=N`, enforced with `handling=strict` only (as PostgREST does).
    pub max_affected: Option<usize>,
    /// `count=exact|planned|estimated`: say how many rows were written in
    /// `Content-Range` (a write knows the number exactly, whichever is asked for).
    pub count: bool,
}

/// Parses `Prefer: return=…, resolution=…, missing=…, tx=…, handling=…, max-affected=…`.
pub fn write_preferences(headers: &HeaderMap) -> Result<WritePreferences, ApiError> {
    let mut preferences = WritePreferences {
        returning: Return::Minimal,
        conflict: Conflict::Fail,
        missing: Missing::Null,
        rollback: false,
        max_affected: None,
        count: false,
    };
    // max-affected counts only with handling=strict, wherever in the header that stands.
    let mut strict = false;
    for prefer in headers.get_all("prefer") {
        for token in prefer.to_str().unwrap_or_default().split([',', ';']).map(str::trim) {
            let unknown = |name: &str, value: &str, allowed: &str| {
                ApiError::new(Code::InvalidParameter, format!("unknown {name} preference '{value}'"))
                    .with_details(json!({ "parameter": "Prefer", "token": value }))
                    .with_hint(format!("use {allowed}"))
            };
            if let Some(value) = token.strip_prefix("return=") {
                preferences.returning = match value {
                    "minimal" => Return::Minimal,
                    "headers-only" => Return::HeadersOnly,
                    "representation" => Return::Representation,
                    other => {
                        return Err(unknown(
                            "return",
                            other,
                            "return=minimal, return=headers-only or return=representation",
                        ));
                    }
                };
            } else if let Some(value) = token.strip_prefix("tx=") {
                preferences.rollback = match value {
                    "rollback" => true,
                    "commit" => false,
                    other => return Err(unknown("tx", other, "tx=commit or tx=rollback")),
                };
            } else if let Some(value) = token.strip_prefix("handling=") {
                strict = match value {
                    "strict" => true,
                    "lenient" => false,
                    other => return Err(unknown("handling", other, "handling=strict or handling=lenient")),
                };
            } else if let Some(value) = token.strip_prefix("max-affected=") {
                let max = value
                    .parse::<usize>()
                    .map_err(|_| unknown("max-affected", value, "max-affected=N, a whole number"))?;
                preferences.max_affected = Some(max);
            } else if let Some(value) = token.strip_prefix("count=") {
                preferences.count = match value {
                    "exact" | "planned" | "estimated" => true,
                    other => return Err(unknown("count", other, "count=exact, count=planned or count=estimated")),
                };
            } else if let Some(value) = token.strip_prefix("missing=") {
                preferences.missing = match value {
                    "default" => Missing::Default,
                    "null" => Missing::Null,
                    other => return Err(unknown("missing", other, "missing=default or missing=null")),
                };
            } else if let Some(value) = token.strip_prefix("resolution=") {
                preferences.conflict = match value {
                    "merge-duplicates" => Conflict::Merge,
                    "ignore-duplicates" => Conflict::Ignore,
                    other => {
                        return Err(unknown(
                            "resolution",
                            other,
                            "resolution=merge-duplicates or resolution=ignore-duplicates",
                        ));
                    }
                };
            }
        }
    }
    if !strict {
        preferences.max_affected = None;
    }
    Ok(preferences)
}

/// The request body as JSON, with clear errors for a wrong type, a size over the limit,
/// malformed JSON, or a key named twice in one object.
pub fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    check_json_content_type(headers)?;
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(Code::PayloadTooLarge, "the request body is larger than the server accepts")
                .with_hint("split the rows over several requests, or raise server.max_body_bytes")
        } else {
            ApiError::new(Code::InvalidBody, format!("the request body could not be read: {rejection}"))
        }
    })?;
    strict_json::from_slice(&bytes).map_err(|error| match error {
        StrictJsonError::Syntax(error) => {
            ApiError::new(Code::InvalidJson, format!("the body is not valid JSON: {error}"))
                .with_details(json!({ "line": error.line(), "column": error.column() }))
        }
        StrictJsonError::DuplicateKey { key, path, line, column } => {
            ApiError::new(Code::DuplicateKey, format!("the body names the key '{key}' twice in one object, at {path}"))
                .with_details(json!({ "key": key, "path": path, "line": line, "column": column }))
                .with_hint("send each key once per object; nothing was written")
        }
    })
}

/// Refuses (415) a body whose `Content-Type` is not `application/json` (any case, with
/// parameters) or names a charset other than UTF-8, the only one JSON allows (RFC 8259 §8.1).
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).map(|value| String::from_utf8_lossy(value.as_bytes()));
    let content_type = content_type.as_deref().unwrap_or_default();
    let media_type = MediaType::parse(content_type);
    let refuse = |message: String| {
        ApiError::new(Code::UnsupportedMediaType, message)
            .with_details(json!({ "content_type": content_type }))
            .with_hint("send Content-Type: application/json (optionally with ; charset=utf-8)")
    };
    match media_type {
        Some(media_type) if media_type.essence == "application/json" => match media_type.parameter("charset") {
            Some(charset) if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") => {
                Err(refuse(format!("the body must be UTF-8 JSON, not charset '{charset}'")))
            }
            _ => Ok(()),
        },
        _ => Err(refuse(format!(
            "the body must be JSON, not '{}'",
            if content_type.is_empty() { "unspecified" } else { content_type }
        ))),
    }
}

/// What the layers below the handler learned about a write request: its deadline (set by
/// the timeout middleware) and the client's address (set by the accept loop).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOrigin {
    pub deadline: Option<RequestDeadline>,
    pub client: Option<ClientAddress>,
}

impl<S: Send + Sync> FromRequestParts<S> for WriteOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<WriteOrigin, Self::Rejection> {
        Ok(WriteOrigin {
            deadline: parts.extensions.get::<RequestDeadline>().copied(),
            client: parts.extensions.get::<ClientAddress>().copied(),
        })
    }
}

/// The settings of a write from its headers, its deadline and where it came from.
pub fn write_settings(headers: &HeaderMap, preferences: &WritePreferences, origin: WriteOrigin) -> WriteSettings {
    let WriteOrigin { deadline, client } = origin;
    WriteSettings {
        returning: preferences.returning,
        missing: preferences.missing,
        rollback: preferences.rollback,
        max_affected: preferences.max_affected,
        single_object: accepts_single_object(headers),
        deadline: deadline.map(|deadline| deadline.0),
        request_id: headers.get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned(),
        client_ip: client.map(|ClientAddress(address)| address.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect()),
    }
}

/// The response to a committed write: the written rows for `return=representation` (one
/// object when the single-object type was asked for), else no body; `success` is the
/// status a write with a body answers (201 for a create, 200 otherwise), 204 without one
/// unless it is a create.
///
/// With `count` (`Prefer: count=…`), `Content-Range` says how many rows the write
/// changed: `*/N`, or `0-(N-1)/N` for the rows a representation returns.
pub fn written_response(written: &mut Written, settings: &WriteSettings, count: bool, success: StatusCode) -> Response {
    let rows = written.outcome.keys.len();
    let represented = settings.returning == Return::Representation;
    let mut response = response_body(written, settings, success);
    if count {
        let range = match (represented, rows) {
            (true, rows) if rows > 0 => format!("0-{}/{rows}", rows - 1),
            (_, rows) => format!("*/{rows}"),
        };
        response.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&range).expect("digits"));
    }
    response
}

fn response_body(written: &mut Written, settings: &WriteSettings, success: StatusCode) -> Response {
    let outcome = &mut written.outcome;
    let timing = DatabaseTiming { duration: outcome.database_time, statements: outcome.statements };
    match (settings.returning, outcome.representation.take()) {
        (Return::Representation, Some(output)) => {
            let (body, content_type) =
                if settings.single_object { (output.only_row().to_vec(), OBJECT_JSON) } else { (output.body, JSON) };
            let mut response = json_response(body, content_type, timing);
            *response.status_mut() = success;
            response
        }
        (Return::Representation, None) => {
            let mut response = json_response(b"[]".to_vec(), JSON, timing);
            *response.status_mut() = success;
            response
        }
        _ => {
            let status = if success == StatusCode::CREATED { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
            let mut response = status.into_response();
            response.extensions_mut().insert(timing);
            response
        }
    }
}

/// `Location: /api/v1/{resource}/{id}`.
pub fn location(resource: &str, key: &Literal) -> Option<HeaderValue> {
    let id = match key {
        Literal::Integer(number) => number.to_string(),
        Literal::Text(text) => text.clone(),
        _ => return None,
    };
    HeaderValue::from_str(&format!("/api/v1/{resource}/{id}")).ok()
}
