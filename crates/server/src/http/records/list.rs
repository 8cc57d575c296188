//! `GET /api/v1/{resource}`: a page of rows.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use oxbase_query::parse;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::records::{DatabaseTiming, json_response, query_pairs};

/// Serves one page of a resource's rows, with `Content-Range`.
pub async fn list(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let app = &state.0;
    let plan = parse::list(
        &app.schema,
        &resource,
        &query_pairs(query.as_deref()),
        app.page_limits(),
    )?;
    let offset = plan.offset;
    let output = app.store.read(plan).await?;
    let range = if output.rows == 0 {
        "*/*".to_owned()
    } else {
        format!("{}-{}/*", offset, offset + output.rows as u64 - 1)
    };
    let mut response = json_response(
        output.body,
        DatabaseTiming {
            duration: output.database_time,
            statements: output.statements,
        },
    );
    response.headers_mut().insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&range).expect("a range is ASCII"),
    );
    Ok(response)
}
