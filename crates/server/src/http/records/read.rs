//! What list and single-row reads share at the edge: request headers → read options and
//! the request the cache tells apart, the read path ([`service::read`]), and the response
//! (`ETag`, 304, compression, `Content-Range`, `Link`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::plan::{CountMode, ReadOptions};
use serde_json::json;

use crate::app::App;
use crate::cache::CachedRead;
use crate::encoding::Encoding;
use crate::http::encoding;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::http::media_type::accepts_single_object;
use crate::service::read::{ReadRequest, Shape};
use crate::service::{self, DatabaseTiming, Scope};

/// Reads the rows a request asks for ([`service::read::read`]) and answers them.
pub async fn serve_read(
    app: &App,
    scope: &Scope,
    resource: &str,
    uri: &Uri,
    parameters: &[(String, String)],
    headers: &HeaderMap,
    shape: Shape,
) -> Result<Response, ApiError> {
    let request = ReadRequest {
        resource,
        parameters,
        options: read_options(headers)?,
        shape,
        // Only the cache needs it: no copy of the request when there is none.
        cache_request: if app.cache.is_some() { cache_request(uri, headers) } else { String::new() },
        path: uri.path(),
    };
    let answer = service::read::read(app, scope, request).await?;
    Ok(respond(app, headers, &answer.entry, answer.timing).await)
}

/// The request as the cache tells it apart: the path and query as sent, and the headers
/// that shape the answer.
fn cache_request(uri: &Uri, headers: &HeaderMap) -> String {
    let mut key = String::with_capacity(256);
    key.push_str(uri.path_and_query().map_or("", |path| path.as_str()));
    for name in [header::ACCEPT.as_str(), "prefer", header::RANGE.as_str()] {
        key.push('\n');
        for value in headers.get_all(name) {
            key.push_str(value.to_str().unwrap_or_default());
            key.push(',');
        }
    }
    key
}

/// Bodies at least this large are compressed on a blocking thread, so one big response
/// never holds up the requests sharing its runtime worker.
const COMPRESS_ASIDE_BYTES: usize = 128 * 1024;

/// Whether the client already holds this entry (`If-None-Match` names its tag).
fn not_modified(request: &HeaderMap, entry: &CachedRead) -> bool {
    request.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        value.to_str().unwrap_or_default().split(',').map(str::trim).any(|candidate| {
            candidate == "*" || candidate == entry.etag || candidate.strip_prefix("W/") == Some(entry.etag.as_str())
        })
    })
}

/// The body in the coding the client prefers, when it is large enough to be worth it:
/// taken from the entry's variants, so a cached body is compressed once, not per request.
async fn coded_body(app: &App, request: &HeaderMap, entry: &Arc<CachedRead>) -> Option<(Encoding, Bytes)> {
    if (entry.body.len() as u64) < app.config.compression_min_bytes {
        return None;
    }
    let encoding = encoding::negotiate(request)?;
    let level = app.config.compression_level;
    let (body, compressed) = if entry.body.len() >= COMPRESS_ASIDE_BYTES && !entry.has_variant(encoding) {
        let entry = entry.clone();
        tokio::task::spawn_blocking(move || entry.variant(encoding, level)).await.ok()?
    } else {
        entry.variant(encoding, level)
    };
    if let Some(cache) = &app.cache {
        cache.count_variant(compressed);
    }
    Some((encoding, body))
}

/// The response for a read, from the database or the cache: `ETag`, `Cache-Control:
/// private, no-cache` and `Vary: Accept-Encoding` always; `304 Not Modified` without the
/// body when the client already holds it (`If-None-Match`); else the body, compressed as
/// the client prefers ([`coded_body`]) or plain.
async fn respond(app: &App, request: &HeaderMap, entry: &Arc<CachedRead>, timing: DatabaseTiming) -> Response {
    let mut response = if not_modified(request, entry) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = match coded_body(app, request, entry).await {
            Some((encoding, body)) => (body, Some(encoding)),
            None => (entry.body.clone(), None),
        };
        let mut response =
            ([(header::CONTENT_TYPE, HeaderValue::from_static(entry.content_type))], body).into_response();
        if let Some(encoding) = encoding {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
        }
        if let Some(range) = &entry.content_range {
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, HeaderValue::from_str(range).expect("a range is ASCII"));
        }
        response
    };
    response.extensions_mut().insert(timing);
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&entry.etag).expect("a hex tag is ASCII"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(link) = &entry.link
        && let Ok(value) = HeaderValue::from_str(link)
    {
        headers.insert(header::LINK, value);
    }
    response
}

/// `Prefer: count=…`, `Accept` and `Range` as read options.
fn read_options(headers: &HeaderMap) -> Result<ReadOptions, ApiError> {
    let mut options = ReadOptions::default();
    for prefer in headers.get_all("prefer") {
        let text = prefer.to_str().unwrap_or_default();
        for token in text.split([',', ';']).map(str::trim) {
            if let Some(mode) = token.strip_prefix("count=") {
                options.count = match mode {
                    "exact" => CountMode::Exact,
                    "planned" => CountMode::Planned,
                    "estimated" => CountMode::Estimated,
                    other => {
                        return Err(ApiError::new(
                            Code::InvalidParameter,
                            format!("unknown count preference '{other}'"),
                        )
                        .with_details(json!({ "parameter": "Prefer", "token": other }))
                        .with_hint("use count=exact, count=planned or count=estimated"));
                    }
                };
            }
        }
    }
    options.single_object = accepts_single_object(headers);
    if let Some(range) = headers.get(header::RANGE) {
        options.range = Some(parse_range(range.to_str().unwrap_or_default())?);
    }
    Ok(options)
}

/// `first-last`, `first-` (also with an `items=` prefix).
fn parse_range(text: &str) -> Result<(u64, Option<u64>), ApiError> {
    let invalid = || {
        ApiError::new(Code::InvalidParameter, format!("invalid Range header '{text}'"))
            .with_details(json!({ "parameter": "Range", "token": text }))
            .with_hint("write Range: 0-49 (rows 0 to 49) or Range: 50- (from row 50)")
    };
    let body = text.trim().strip_prefix("items=").unwrap_or(text.trim());
    let (first, last) = body.split_once('-').ok_or_else(invalid)?;
    let first = first.trim().parse::<u64>().map_err(|_| invalid())?;
    let last = match last.trim() {
        "" => None,
        last => {
            let last = last.parse::<u64>().map_err(|_| invalid())?;
            if last < first {
                return Err(invalid());
            }
            Some(last)
        }
    };
    Ok((first, last))
}
