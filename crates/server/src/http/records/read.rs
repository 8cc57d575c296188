//! What list and single-row reads share: request headers → read options, plan, execute,
//! and the response headers (`Content-Range`, `Link`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use oxbase_query::plan::{CountMode, ReadOptions, plan_read};
use serde_json::json;

use crate::app::App;
use crate::cache::{CacheKey, CachedRead};
use crate::http::encoding::{self, Encoding};
use crate::http::error::ApiError;
use crate::http::media_type::{SINGLE_OBJECT, accepts_single_object};
use crate::http::records::{DatabaseTiming, JSON, OBJECT_JSON, not_found};

/// How the rows are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// An array of rows, paged.
    List,
    /// `/api/v1/{resource}/{id}`: the row with this id, or 404.
    ById(String),
}

/// Reads the rows a request asks for and answers them: from the response cache when it
/// holds an exact entry, else from the database (and then into the cache).
pub async fn serve_read(
    app: &App,
    resource: &str,
    uri: &Uri,
    parameters: &[(String, String)],
    headers: &HeaderMap,
    shape: Shape,
) -> Result<Response, ApiError> {
    let mut options = read_options(headers)?;
    if matches!(shape, Shape::ById(_)) {
        options.single_object = true;
        options.range = None;
    }
    let key = cache_key(uri, headers);
    if let Some(cache) = &app.cache
        && let Some(entry) = cache.lookup(&app.coherence, resource, &key).await
    {
        return Ok(respond(app, headers, &entry, DatabaseTiming::NONE).await);
    }
    let plan = plan_read(&app.schema, resource, parameters, options, &app.limits(), &app.cursor_key)?;
    let resources = read_resources(app, &plan.root);
    let cacheable = app.cache.is_some()
        && resources.iter().all(|name| app.schema.resource(name).is_some_and(|definition| definition.cache_enabled));
    // Identical misses at the same moment read the database once: the others wait here and
    // are answered from the entry the first one stores.
    let fill_guard = match &app.cache {
        Some(cache) if cacheable => {
            let guard = cache.fill_guard(&key).await;
            if let Some(entry) = cache.recheck(&app.coherence, resource, &key).await {
                drop(guard);
                return Ok(respond(app, headers, &entry, DatabaseTiming::NONE).await);
            }
            Some(guard)
        }
        _ => None,
    };
    // Taken before the read, so a write committing meanwhile leaves the entry stale, not wrong.
    let versions = if cacheable { app.coherence.stamp(&resources).await } else { Vec::new() };
    let grouped = plan.root.grouped;
    let limit = plan.root.limit.unwrap_or(0) as usize;
    let offset = plan.root.offset;
    let scope = plan.cursor_scope.clone();
    let output = app.store.read(plan).await?;
    let timing = DatabaseTiming { duration: output.database_time, statements: output.statements };
    let expires = Instant::now() + cache_ttl(app, &resources);
    let entry = if options.single_object {
        if output.rows != 1 {
            if let Shape::ById(id) = &shape {
                return Err(not_found(resource, id));
            }
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_single_object",
                format!(
                    "expected exactly one row for {SINGLE_OBJECT}, found {}",
                    if output.rows > 1 { "more than one".to_owned() } else { "none".to_owned() }
                ),
            )
            .with_details(json!({ "rows": output.rows }))
            .with_hint("filter to one row (e.g. id=eq.42), or ask for application/json"));
        }
        let body = Bytes::copy_from_slice(&output.body[1..output.body.len() - 1]);
        let content_type = if matches!(shape, Shape::ById(_)) { JSON } else { OBJECT_JSON };
        CachedRead {
            etag: etag(&body),
            body,
            content_type,
            content_range: None,
            link: None,
            versions,
            expires,
            variants: Default::default(),
        }
    } else {
        let total = output.total.map_or_else(|| "*".to_owned(), |total| total.to_string());
        let range = if output.rows == 0 {
            format!("*/{total}")
        } else {
            format!("{}-{}/{total}", offset, offset + output.rows as u64 - 1)
        };
        let next = match (&output.last_order_values, grouped) {
            (Some(values), false) if output.rows == limit && limit > 0 => {
                Some(next_link(uri, parameters, &app.cursor_key.encode(&scope, values), limit))
            }
            _ => None,
        };
        let body = Bytes::from(output.body);
        CachedRead {
            etag: etag(&body),
            body,
            content_type: JSON,
            content_range: Some(range),
            link: next,
            versions,
            expires,
            variants: Default::default(),
        }
    };
    let entry = Arc::new(entry);
    let response = respond(app, headers, &entry, timing).await;
    if let Some(cache) = &app.cache
        && cacheable
    {
        cache.insert(&app.coherence, key, entry);
    }
    drop(fill_guard);
    Ok(response)
}

/// The cache key: the path and query as sent, the headers that shape the answer, and the
/// access scope (one public scope until access control arrives).
fn cache_key(uri: &Uri, headers: &HeaderMap) -> CacheKey {
    let mut key = String::with_capacity(256);
    key.push_str(uri.path_and_query().map_or("", |path| path.as_str()));
    for name in [header::ACCEPT.as_str(), "prefer", header::RANGE.as_str()] {
        key.push('\n');
        for value in headers.get_all(name) {
            key.push_str(value.to_str().unwrap_or_default());
            key.push(',');
        }
    }
    CacheKey::new(key, "public")
}

/// Every resource a read touches: the root, embedded resources and junctions.
fn read_resources(app: &App, node: &oxbase_query::plan::Node) -> Vec<String> {
    let mut resources = vec![node.resource.clone()];
    for embed in &node.embeds {
        if let oxbase_query::plan::Join::Through { junction_table, .. } = &embed.join
            && let Some(junction) = app.schema.resources.values().find(|resource| resource.table == *junction_table)
        {
            resources.push(junction.name.clone());
        }
        resources.extend(read_resources(app, &embed.node));
    }
    resources.sort();
    resources.dedup();
    resources
}

/// The shortest entry lifetime of the resources read (per-resource `cache.ttl_seconds`,
/// else `[cache] ttl_seconds`).
fn cache_ttl(app: &App, resources: &[String]) -> Duration {
    resources
        .iter()
        .filter_map(|name| app.schema.resource(name)?.cache_ttl_seconds)
        .map(Duration::from_secs)
        .fold(app.config.cache_ttl, Duration::min)
}

fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body))
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

/// `Link: <path?…&after=cursor>; rel="next"`, keeping every parameter but offset and after.
fn next_link(uri: &Uri, parameters: &[(String, String)], cursor: &str, limit: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        if name != "after" && name != "offset" && name != "limit" {
            query.append_pair(name, value);
        }
    }
    // The page size travels in the link, so a page sized by a Range header keeps its size.
    query.append_pair("limit", &limit.to_string());
    query.append_pair("after", cursor);
    format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish())
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
                            StatusCode::BAD_REQUEST,
                            "invalid_parameter",
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
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("invalid Range header '{text}'"))
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
