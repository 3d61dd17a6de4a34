//! Patron's JSON HTTP API (axum 0.8): customers, contacts, orders and interactions, with
//! filters, sorting and keyset pagination, an OpenAPI 3.1 document at `/openapi.json`, and
//! JSON errors `{code, message, field?}` for every failure.
//!
//! - [`app`] builds the router for an [`AppState`] (for tests and embedding);
//! - [`serve`] binds an address and serves until Ctrl-C.
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
pub mod value;
pub mod web_auth;
pub mod web_hooks;

use std::future::Future;
use std::net::SocketAddr;

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
    // HTML pages: /, /customers, /dashboard, /score-model, /import
    let web_auth = web_auth::WebAuth {
        store: state.store.clone(),
        limiter: std::sync::Arc::new(web_auth::RateLimiter::default()),
    };
    // HTML pages behind sign-in, CSRF tokens and role gates (see `web_auth`).
    let web = patron_web::router_with(state.store.clone(), web_hooks::hooks())
        .merge(web_auth::routes(web_auth.clone()))
        .layer(axum::middleware::from_fn_with_state(
            web_auth,
            web_auth::session_layer,
        ));
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
        .merge(web)
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

/// Binds `addr`, logs the address, and serves the API until Ctrl-C (then finishes the
/// requests in flight and closes the store).
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, store, shutdown_signal()).await
}

/// Serves the API on an already bound listener until `shutdown` completes (for callers that
/// bind port 0 or print the address themselves).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "Patron API listening on http://{local} (OpenAPI at http://{local}/openapi.json)");
    let service =
        app(AppState::new(store.clone())).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("Patron API stopped");
    store.close().await;
    result
}

/// Completes on Ctrl-C (and SIGTERM on Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
