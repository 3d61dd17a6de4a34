//! Patron's JSON HTTP API (axum 0.8): customers, contacts, orders and interactions, with
//! filters, sorting and keyset pagination, an OpenAPI 3.1 document at `/openapi.json`, and
//! JSON errors `{code, message, field?}` for every failure.
//!
//! - [`app`] builds the router for an [`AppState`]; the binary merges it with the web pages'
//!   router (this crate knows nothing of the web pages) and serves both.
//!
//! The use cases, scope checks, role gates and audit are the application layer's
//! (`patron-app`); the handlers translate requests and answers.
//!
//! The route table ([`routes::ROUTES`]) is the single list of routes: the router and the
//! OpenAPI document are both built from it.

// The OpenAPI document is built from large `json!` literals.
#![recursion_limit = "256"]

pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;

/// The value refresh and reports live in the application layer.
pub use patron_app::value;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::Router;
use patron_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ErrorBody};
pub use extract::{ApiJson, ApiPath, ApiQuery};

/// Largest accepted request body (1 MiB); larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Who the store records as the author of changes made through the API (until users exist).
pub const BY: &str = "api";

/// What every handler gets: the store (a cheap-to-clone pool handle).
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        AppState { store }
    }
}

/// The API's router: every route of [`routes::ROUTES`], a JSON 404 for anything else, the body
/// size limit, JSON error bodies for errors produced by layers (405, 413), panics caught as
/// JSON 500, and request tracing.
pub fn app(state: AppState) -> Router {
    routes::router()
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::map_response(error::ensure_json_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route for {}; see /openapi.json for the API",
        uri.path()
    ))
}

fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}
