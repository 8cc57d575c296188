//! `GET /api/v1/{resource}`: rows by the PostgREST grammar.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::http::records::read::serve_read;
use crate::service::read::Shape;

/// Serves the rows a query selects, with `Content-Range` (and `Link` for the next page).
pub async fn list(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Access(scope): Access,
) -> Result<Response, ApiError> {
    let parameters = query_pairs(query.as_deref());
    serve_read(&state.0, &scope, &resource, &uri, &parameters, &headers, Shape::List).await
}
