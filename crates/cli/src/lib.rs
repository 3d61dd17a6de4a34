//! What the `patron` binary composes: the JSON API (`patron-server`) and the web pages
//! (`patron-web`), two thin adapters over the application layer that know nothing of each
//! other, served together on one address.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use patron_store::Store;

/// The whole HTTP surface: the API's routes (with its JSON 404 for unknown paths) and the web
/// pages with their sign-in.
pub fn router(store: Store) -> Router {
    patron_server::app(patron_server::AppState::new(store.clone()))
        .merge(patron_web::app(store))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The pages' Content-Security-Policy: scripts and styles from this site only (the pages have
/// no inline script; inline `style` attributes draw the bars), no framing, forms post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Security headers on every answer, HTML and JSON alike; HSTS when the request came over
/// https (a reverse proxy's `X-Forwarded-Proto: https`) or `PATRON_SECURE_COOKIES=1`.
async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let https = std::env::var("PATRON_SECURE_COOKIES").is_ok_and(|v| v == "1")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// Binds `addr`, logs the address, and serves until Ctrl-C (then finishes the requests in
/// flight and closes the store).
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, store, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes (for callers that bind
/// port 0 or print the address themselves).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "Patron listening on http://{local} (OpenAPI at http://{local}/openapi.json)");
    let service = router(store.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("Patron stopped");
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
