//! What the `patron` binary composes: the JSON API (`patron-server`) and the web pages
//! (`patron-web`), two thin adapters over the application layer that know nothing of each
//! other, served together on one address. Only the binary composes them; the integration tests
//! include this same file (`tests/common`).

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use patron_store::Store;

/// The whole HTTP surface: the API's routes (with its JSON 404 for unknown paths) and the web
/// pages with their sign-in.
pub fn router(store: Store) -> Router {
    patron_server::app(patron_server::AppState::new(store.clone()))
        .merge(patron_web::app(store))
        .layer(axum::middleware::from_fn(patron_web::security_headers))
}

/// Binds `addr`, logs the address, and serves until Ctrl-C (then finishes the requests in
/// flight and closes the store).
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The task rules run beside the server; the shutdown signal stops them first, so they
    // neither delay the shutdown nor touch the store once it is being closed.
    let rules = tokio::spawn(run_rules_periodically(store.clone()));
    let abort = rules.abort_handle();
    let shutdown = async move {
        shutdown_signal().await;
        abort.abort();
    };
    let result = serve_on(listener, store, shutdown).await;
    rules.abort();
    result
}

/// How often the task rules run while serving.
pub const RULES_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The first run, this long after the start (the server is up first).
pub const RULES_FIRST_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the task rules (`patron_app::tasks::run_rules`) now and then for ever: the first time
/// shortly after the start, then every [`RULES_EVERY`]. A failed run is logged and retried at
/// the next tick; runs missed while one was slow are skipped, not queued.
pub async fn run_rules_periodically(store: Store) {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + RULES_FIRST_AFTER, RULES_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        match patron_app::tasks::run_rules(&store, chrono::Utc::now()).await {
            Ok(added) => tracing::info!(added, "task rules ran"),
            Err(e) => tracing::warn!(error = %e, "task rules failed"),
        }
    }
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
