//! The route table: every path oxbase serves, and the file that serves it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::routing::{delete, get, post};
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::http::{admin, auth, health, middleware, records};

/// Builds the router for an app.
pub fn router(state: AppState) -> Router {
    let limits = middleware::RequestLimits {
        max_url_length: state.0.config.max_url_length,
        max_header_bytes: state.0.config.max_header_bytes,
        timeout: state.0.config.request_timeout,
    };
    let max_body_bytes = usize::try_from(state.0.config.max_body_bytes).unwrap_or(usize::MAX);
    let compression_min_bytes = state.0.config.compression_min_bytes;
    // Read responses are compressed by the read handler (cached variants); this level
    // applies to the rest, streamed by the compression layer.
    let compression_level =
        state.0.config.compression_level.map_or(CompressionLevel::Default, |level| {
            CompressionLevel::Precise(i32::try_from(level).unwrap_or(i32::MAX))
        });
    let mut routes = Router::new();
    if state.0.config.admin_enabled {
        let admin_routes = Router::new()
            .route("/admin/counters", get(admin::counters))
            .route("/admin/pool", get(admin::pool))
            .route("/admin/cache", get(admin::cache))
            .route("/admin/explain", get(admin::explain))
            .route("/admin/audit", get(admin::audit))
            .route("/admin/keys", get(auth::keys::list).post(auth::keys::create))
            .route("/admin/keys/{id}", delete(auth::keys::revoke))
            .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_admin));
        routes = routes.merge(admin_routes);
    }
    routes
        .route("/api/v1/auth/login", post(auth::session::login))
        .route("/api/v1/auth/refresh", post(auth::session::refresh))
        .route("/api/v1/auth/logout", post(auth::session::logout))
        .route("/api/v1/auth/password", post(auth::session::change_password))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route(
            "/api/v1/{resource}",
            get(records::list::list)
                .post(records::create::create)
                .patch(records::update::update)
                .delete(records::delete::delete),
        )
        .route(
            "/api/v1/{resource}/{id}",
            get(records::get::get).patch(records::update::update_one).delete(records::delete::delete_one),
        )
        .route("/api/v1/{resource}/{id}/history", get(records::history::history))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        // Every request carries its caller; a bad credential is a 401 before any handler.
        .layer(axum::middleware::from_fn_with_state(state, auth::identify))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // br, zstd or gzip by Accept-Encoding (quality values honoured), above a size. The
        // compressor leaves alone any response with a Content-Range (it assumes byte
        // ranges); ours counts rows, so it steps aside around the compressor.
        .layer(axum::middleware::from_fn(middleware::hide_content_range))
        .layer(
            CompressionLayer::new()
                .br(true)
                .zstd(true)
                .gzip(true)
                .quality(compression_level)
                .compress_when(SizeAbove::new(compression_min_bytes)),
        )
        .layer(axum::middleware::from_fn(move |request, next| middleware::guard_request(limits, request, next)))
        .layer(axum::middleware::from_fn(middleware::log_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn route_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::route_not_found(uri.path())
}

async fn method_not_allowed(request: axum::extract::Request) -> ApiError {
    ApiError::new(Code::MethodNotAllowed, format!("{} is not allowed on '{}'", request.method(), request.uri().path()))
        .with_hint("resources take GET, POST, PATCH and DELETE; single rows GET, PATCH and DELETE")
}
