//! `/admin/*`: operator endpoints, served only when `[server] admin = true` (or `--admin`)
//! until access control protects them.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use oxbase_query::error::{QueryError, QueryErrorKind};
use oxbase_query::plan::{every_row, plan_read};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;

/// `GET /admin/counters`: every counter the server keeps ([`crate::app::App::counters`]).
pub async fn counters(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.0.counters())
}

/// `GET /admin/pool`: connection pool statistics.
pub async fn pool(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.0.counters()["pool"].take())
}

/// `GET /admin/cache`: response cache statistics, the mode (`local`, `notify`, `redis`,
/// `off` without a cache, or `safe` while hits cannot be checked) and the state of the
/// LISTEN connection and Redis.
pub async fn cache(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.0.counters()["cache"].take())
}

/// `GET /admin/explain?resource=…&<the query string of a read>`: the SQL a read runs and
/// the engine's plan for it.
pub async fn explain(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let app = &state.0;
    let mut parameters = query_pairs(query.as_deref());
    let Some(position) = parameters.iter().position(|(name, _)| name == "resource") else {
        return Err(QueryError::new(
            QueryErrorKind::InvalidValue,
            "name the resource to explain: /admin/explain?resource=trackers&…",
        )
        .parameter("resource")
        .into());
    };
    let (_, resource) = parameters.remove(position);
    let mut options = oxbase_query::plan::ReadOptions::default();
    if headers.get("prefer").and_then(|value| value.to_str().ok()).is_some_and(|prefer| prefer.contains("count=")) {
        options.count = oxbase_query::plan::CountMode::Exact;
    }
    let plan = plan_read(&app.schema, &resource, &parameters, options, &app.limits(), &app.cursor_key, &every_row)?;
    Ok(Json(app.store.explain(plan).await?))
}

/// `GET /admin/audit?actor=…&resource=…&record_id=…&since=…&until=…&after=…&limit=…`: the
/// audit trail's batches with their records, oldest first, in keyset pages (`Link` names
/// the next one).
pub async fn audit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let parameters = query_pairs(query.as_deref());
    let filter = crate::service::audit::audit_filter(&parameters)?;
    let (batches, next) = crate::service::audit::batches(&state.0, filter).await?;
    Ok(crate::http::records::history::with_next_link(Json(batches).into_response(), "/admin/audit", &parameters, next))
}
