//! `GET /api/v1/{resource}/{id}`: one row as an object (select and embedding apply).

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use oxbase_query::parse::id_filter;

use crate::app::AppState;
use crate::http::access::Access;
use crate::http::error::ApiError;
use crate::http::records::query_pairs;
use crate::http::records::read::serve_read;
use crate::service::read::Shape;

/// Serves the row with this primary key, or 404.
pub async fn get(
    State(state): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Access(scope): Access,
) -> Result<Response, ApiError> {
    let mut parameters = query_pairs(query.as_deref());
    // Typed by the caller's view: a resource it cannot see is unknown, whatever the id.
    parameters.push(id_filter(scope.read_view(), &resource, &id)?);
    serve_read(&state.0, &scope, &resource, &uri, &parameters, &headers, Shape::ById(id)).await
}
