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
        .layer(axum::middleware::from_fn(record_request))
}

/// Counts every request and times it, by method, matched route template (`/api/customers/{id}`,
/// never the raw path; `unmatched` for the 404s of unknown paths) and status, into the `metrics`
/// facade: `patron_http_requests_total` and `patron_http_request_duration_seconds`, shown by
/// `serve --metrics-addr` (without it no recorder is installed and this records nothing).
async fn record_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .into_iter()
        .find(|m| *m == request.method().as_str())
        .unwrap_or("other");
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("patron_http_request_duration_seconds", "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("patron_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// Binds `addr`, logs the address, and serves until Ctrl-C (then finishes the requests in
/// flight and closes the store); the task rules run every `rules_every`, the customer values
/// are refreshed daily at `refresh_at` (UTC; never with `RefreshAt(None)`).
pub async fn serve(
    store: Store,
    addr: SocketAddr,
    rules_every: std::time::Duration,
    refresh_at: RefreshAt,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The task rules and the daily refresh run beside the server; the shutdown signal stops
    // them first, so they neither delay the shutdown nor touch the store once it is closing.
    let rules = tokio::spawn(run_rules_periodically(store.clone(), rules_every));
    let daily = refresh_at
        .0
        .map(|at| tokio::spawn(refresh_daily(store.clone(), at)));
    let aborts = [
        Some(rules.abort_handle()),
        daily.as_ref().map(|d| d.abort_handle()),
    ];
    let shutdown = async move {
        shutdown_signal().await;
        aborts.iter().flatten().for_each(|a| a.abort());
    };
    let result = serve_on(listener, store, shutdown).await;
    rules.abort();
    if let Some(d) = daily {
        d.abort();
    }
    result
}

/// When `serve` refreshes the customer values each day (`serve --refresh-at`, server time in
/// UTC), or `off`: the population is refitted as of the new day (between two refreshes each
/// changed customer is recomputed alone, by the last refresh's models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshAt(pub Option<chrono::NaiveTime>);

/// The default of `serve --refresh-at`.
pub const REFRESH_AT: &str = "02:00";

impl std::str::FromStr for RefreshAt {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(RefreshAt(None));
        }
        chrono::NaiveTime::parse_from_str(s, "%H:%M")
            .map(|t| RefreshAt(Some(t)))
            .map_err(|_| format!("{s:?} is not a time of day HH:MM (UTC, e.g. 02:00) or off"))
    }
}

/// How long from `now` until the next `at` (UTC; tomorrow's when today's has passed).
pub fn until_next(
    now: chrono::DateTime<chrono::Utc>,
    at: chrono::NaiveTime,
) -> std::time::Duration {
    let today = now.date_naive().and_time(at).and_utc();
    let next = if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    };
    (next - now).to_std().unwrap_or_default()
}

/// Refreshes the customer values every day at `at` (UTC) for ever, as of that day with the
/// last refresh's settings (`patron_app::value::refresh_like_last_time`). A failed refresh is
/// logged and tried again the next day.
pub async fn refresh_daily(store: Store, at: chrono::NaiveTime) {
    loop {
        tokio::time::sleep(until_next(chrono::Utc::now(), at)).await;
        // Several servers on one database: the first to claim the day refreshes.
        let day = chrono::Utc::now().date_naive().to_string();
        let Some(_turn) = scheduled_turn(&store, "daily_refresh", &day).await else {
            continue;
        };
        match patron_app::value::refresh_like_last_time(&store).await {
            Ok(s) => tracing::info!(snapshot = s.id, "daily value refresh done"),
            Err(e) => tracing::warn!(error = %e, "daily value refresh failed"),
        }
    }
}

/// How often the task rules run while serving (by default: `serve --rules-every`).
pub const RULES_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The first run, this long after the start (the server is up first).
pub const RULES_FIRST_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the task rules (`patron_app::tasks::run_rules`) and the leaving users' hand-overs
/// (`patron_app::exports::run_leaving_handovers`), and the payment reminders
/// (`patron_app::reminders::run_if_enabled`), now and then for ever: the first time
/// shortly after the start, then every `every`. A failed run is logged and retried at
/// the next tick; runs missed while one was slow are skipped, not queued.
pub async fn run_rules_periodically(store: Store, every: std::time::Duration) {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + RULES_FIRST_AFTER, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        // Several servers on one database: one of them runs each period's rules.
        let period = chrono::Utc::now().timestamp() / every.as_secs().max(1) as i64;
        let Some(_turn) = scheduled_turn(&store, "task_rules", &period.to_string()).await else {
            continue;
        };
        match patron_app::tasks::run_rules(&store, chrono::Utc::now()).await {
            Ok(added) => tracing::info!(added, "task rules ran"),
            Err(e) => tracing::warn!(error = %e, "task rules failed"),
        }
        // Payment reminders (setting mail.reminders), each step of an item once.
        match patron_app::reminders::run_if_enabled(&store, chrono::Utc::now().date_naive()).await {
            Ok(Some(r)) => tracing::info!(
                queued = r.queued,
                skipped = r.skipped,
                "payment reminders ran"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "payment reminders failed"),
        }
        // Leaving users whose day has come: their customers go to the named receiver.
        match patron_app::exports::run_leaving_handovers(&store, chrono::Utc::now().date_naive())
            .await
        {
            Ok(done) => {
                for d in done {
                    tracing::info!(from = %d.from, to = %d.to, customers = d.customers, "leaving user handed over");
                }
            }
            Err(e) => tracing::warn!(error = %e, "leaving hand-overs failed"),
        }
    }
}

/// Queues the users' own mail now and then for ever (`patron_app::mail`): the mail of new
/// notifications of users who want them by mail, and each user's daily digest at their hour
/// (once per user and day). A failed run is logged and retried at the next tick.
pub async fn queue_user_mail_periodically(store: Store, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let now = chrono::Utc::now();
        match patron_app::mail::mail_notifications(&store, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "notification mail queued"),
            Err(e) => tracing::warn!(error = %e, "notification mail failed"),
        }
        match patron_app::mail::mail_digests(&store, now, false).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "daily digests queued"),
            Err(e) => tracing::warn!(error = %e, "daily digests failed"),
        }
    }
}

/// This process's turn at period `slot` of scheduled job `job` when several `patron serve` share
/// the database: `None` when another process claimed the period first; otherwise the job's
/// lease, held (after waiting for a run of an earlier period still going) until dropped, so
/// that two runs of the job never overlap.
pub async fn scheduled_turn(
    store: &Store,
    job: &str,
    slot: &str,
) -> Option<patron_app::lease::Lease> {
    match store
        .claim_run(job, slot, patron_store::holder_id(), 30)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job, slot, "another server took this run");
            return None;
        }
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot claim a scheduled run");
            return None;
        }
    }
    match patron_app::lease::Lease::acquire(store, &format!("scheduled:{job}")).await {
        Ok(lease) => Some(lease),
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot take a scheduled job's lease");
            None
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

#[cfg(test)]
mod refresh_at_tests {
    use super::*;

    #[test]
    fn the_daily_refresh_waits_for_the_next_time_of_day() {
        let at = |s: &str| s.parse::<RefreshAt>().unwrap().0.unwrap();
        let now = "2026-12-04T10:00:00Z".parse().unwrap();
        assert_eq!(until_next(now, at("02:00")).as_secs(), 16 * 3600);
        assert_eq!(until_next(now, at("10:30")).as_secs(), 30 * 60);
        assert_eq!(until_next(now, at("10:00")).as_secs(), 24 * 3600);
        assert_eq!("off".parse::<RefreshAt>(), Ok(RefreshAt(None)));
        assert_eq!(
            REFRESH_AT.parse::<RefreshAt>().unwrap().0,
            Some(at("02:00"))
        );
        let e = "25:00".parse::<RefreshAt>().unwrap_err();
        assert!(e.contains("HH:MM"), "{e}");
    }

    /// Several servers on one database: the first to ask runs a period of a scheduled job, the
    /// others skip it (the claim is in the database: a second handle is another server).
    #[tokio::test]
    async fn one_server_takes_each_period_of_a_scheduled_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turns.db");
        let one = Store::connect(path.to_str().unwrap()).await.unwrap();
        let two = Store::connect(path.to_str().unwrap()).await.unwrap();
        let turn = scheduled_turn(&one, "task_rules", "7").await;
        assert!(turn.is_some());
        assert!(scheduled_turn(&two, "task_rules", "7").await.is_none());
        assert!(scheduled_turn(&one, "task_rules", "7").await.is_none());
        drop(turn);
        let next = scheduled_turn(&two, "task_rules", "8").await;
        assert!(next.is_some(), "the next period, once the first run ended");
        assert!(scheduled_turn(&one, "daily_refresh", "2026-12-04")
            .await
            .is_some());
    }
}
