//! The read path: a read in an access scope → an encoded answer, from the response cache
//! when it holds an exact entry, else from the database (and then into the cache).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use oxbase_query::plan::{Join, Node, ReadOptions, plan_read};

use oxbase_access::Denied;
use oxbase_schema::model::Action;

use crate::app::App;
use crate::cache::{CacheKey, CachedRead};
use crate::encoding::{JSON, OBJECT_JSON};
use crate::service::{DatabaseTiming, Scope, ServiceError};

/// How the rows are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// An array of rows, paged.
    List,
    /// `/api/v1/{resource}/{id}`: the row with this id, or [`ServiceError::NotFound`].
    ById(String),
}

/// A read, as parsed from a request.
#[derive(Debug, Clone)]
pub struct ReadRequest<'a> {
    /// The resource the read is rooted at.
    pub resource: &'a str,
    /// The query's parameters in request order (an id filter included for
    /// [`Shape::ById`]).
    pub parameters: &'a [(String, String)],
    /// Counts, single object, row range.
    pub options: ReadOptions,
    pub shape: Shape,
    /// The request as the cache tells it apart from others: its path and query as sent
    /// and every header that shapes the answer (the scope is added by the read).
    pub cache_request: String,
    /// The path the next page's `Link` points at.
    pub path: &'a str,
}

/// An encoded answer: the body and everything a response is made of (tag, content type,
/// row range, next page), shared with the cache.
#[derive(Debug, Clone)]
pub struct ReadAnswer {
    pub entry: Arc<CachedRead>,
    pub timing: DatabaseTiming,
}

/// Reads the rows `request` asks for, as `scope` may see them.
#[tracing::instrument(name = "service.read", level = "debug", skip_all, fields(resource = %request.resource))]
pub async fn read(app: &App, scope: &Scope, request: ReadRequest<'_>) -> Result<ReadAnswer, ServiceError> {
    let ReadRequest { resource, parameters, mut options, shape, cache_request, path } = request;
    if matches!(shape, Shape::ById(_)) {
        options.single_object = true;
        options.range = None;
    }
    // Before the cache: a caller who must log in learns nothing, not even from a hit
    // (nor whether the resource exists).
    if let Err(denied @ Denied::Unauthenticated) = scope.permit(resource, Action::Read) {
        return Err(denied.into());
    }
    let key = CacheKey::new(cache_request, scope.cache_name());
    if let Some(cache) = &app.cache
        && let Some(entry) = cache.lookup(&app.coherence, resource, &key).await
    {
        return Ok(ReadAnswer { entry, timing: DatabaseTiming::NONE });
    }
    // Against the caller's view: what it may not see is unknown to the plan, and the rows
    // of every resource read are limited to those its rules reach.
    let rules = |name: &str| scope.rows(name, Action::Read);
    let plan = plan_read(scope.read_view(), resource, parameters, options, &app.limits(), &app.cursor_key, &rules)?;
    // A resource it sees but an API key's limits keep it from.
    scope.permit(resource, Action::Read)?;
    let resources = read_resources(app, &plan.root);
    let cacheable = app.cache.is_some()
        && resources.iter().all(|name| app.schema.resource(name).is_some_and(|definition| definition.cache_enabled));
    // Identical misses at the same moment read the database once: the others wait here and
    // are answered from the entry the first one stores.
    let fill_guard = match &app.cache {
        Some(cache) if cacheable => {
            let guard = cache.fill_guard(&key).await;
            if let Some(entry) = cache.recheck(&app.coherence, resource, &key).await {
                return Ok(ReadAnswer { entry, timing: DatabaseTiming::NONE });
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
    let cursor_scope = plan.cursor_scope.clone();
    let output = app.store.read(plan).await?;
    let timing = DatabaseTiming { duration: output.database_time, statements: output.statements };
    let expires = Instant::now() + cache_ttl(app, &resources);
    let entry = if options.single_object {
        if output.rows != 1 {
            return Err(match shape {
                Shape::ById(id) => ServiceError::NotFound { resource: resource.to_owned(), id },
                Shape::List => ServiceError::NotSingleObject { rows: output.rows },
            });
        }
        let body = Bytes::copy_from_slice(output.only_row());
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
                Some(next_link(path, parameters, &app.cursor_key.encode(&cursor_scope, values), limit))
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
    if let Some(cache) = &app.cache
        && cacheable
    {
        cache.insert(&app.coherence, key, entry.clone());
    }
    drop(fill_guard);
    Ok(ReadAnswer { entry, timing })
}

/// Every resource a read touches: the root, embedded resources and junctions.
fn read_resources(app: &App, node: &Node) -> Vec<String> {
    let mut resources = vec![node.resource.clone()];
    for embed in &node.embeds {
        if let Join::Through { junction_table, .. } = &embed.join
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

/// `Link: <path?…&after=cursor>; rel="next"`, keeping every parameter but offset and after.
fn next_link(path: &str, parameters: &[(String, String)], cursor: &str, limit: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        if name != "after" && name != "offset" && name != "limit" {
            query.append_pair(name, value);
        }
    }
    // The page size travels in the link, so a page sized by a Range header keeps its size.
    query.append_pair("limit", &limit.to_string());
    query.append_pair("after", cursor);
    format!("<{path}?{}>; rel=\"next\"", query.finish())
}
