//! `GET /api/v1/{resource}/{id}/history`: the audit records of one row, for callers who
//! may read that row; `after` and `limit` page through them.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::error::{QueryError, QueryErrorKind};

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::service::audit::{self, audit_filter};

/// Serves the row's history, oldest first, or 404 when the caller cannot read the row.
pub async fn history(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Access(scope): Access,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    if let Some((name, _)) = parameters.iter().find(|(name, _)| name != "after" && name != "limit") {
        return Err(QueryError::new(
            QueryErrorKind::UnsupportedParameter,
            format!("'{name}' does not apply to a history"),
        )
        .parameter(name.as_str())
        .hint("a history takes after (a batch id) and limit")
        .into());
    }
    let filter = audit_filter(&parameters)?;
    let (entries, next) = audit::history(&state.0, &scope, &resource, &id, filter.after, filter.limit).await?;
    let path = format!("/api/v1/{resource}/{id}/history");
    Ok(with_next_link(Json(entries).into_response(), &path, &parameters, next))
}

/// Adds `Link: <path?…&after=next>; rel="next"` when there is a next page.
pub(crate) fn with_next_link(
    mut response: Response,
    path: &str,
    parameters: &[(String, String)],
    next: Option<i64>,
) -> Response {
    if let Some(next) = next {
        let mut query: Vec<String> = parameters
            .iter()
            .filter(|(name, _)| name != "after")
            .map(|(name, value)| format!("{}={}", urlencoding(name), urlencoding(value)))
            .collect();
        query.push(format!("after={next}"));
        if let Ok(value) = HeaderValue::from_str(&format!("<{path}?{}>; rel=\"next\"", query.join("&"))) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Percent-encodes what a query value may not hold as is.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
