//! `/metrics` in the Prometheus text format, on its own listener (`serve --metrics-addr`), so
//! that it is bound as the operator chooses (typically loopback or an internal network) and
//! never reachable through the public address.
//!
//! The figures are recorded through the `metrics` facade where they happen: the request
//! middleware of the composed router (`serve.rs`: requests by method, route template and
//! status, latency histogram), the application layer (value refresh duration and customers,
//! import duration and rows); the connection pool's use and the mail outbox are read at each
//! scrape. This module
//! installs the one recorder (`metrics-exporter-prometheus`, without its own HTTP server) and
//! serves its text. Without `--metrics-addr` no recorder is installed and recording is a no-op.

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use patron_store::Store;

/// Request latency buckets, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets for the long jobs (value refresh, imports), in seconds.
const JOB_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// The process's recorder, installed on first use (the `metrics` facade takes one per process).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("patron_http_request_duration_seconds".into()),
                    HTTP_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("_duration_seconds".into()),
                        JOB_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Only fails when another recorder is installed, which nothing else in Patron does.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

/// The HELP lines.
fn describe() {
    describe_counter!(
        "patron_http_requests_total",
        "HTTP requests answered, by method, matched route template and status."
    );
    describe_histogram!(
        "patron_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and matched route template."
    );
    describe_gauge!(
        "patron_db_pool_connections",
        "Database connections of the pool: open, idle, max."
    );
    describe_gauge!(
        "patron_mail_outbox",
        "Messages in the mail outbox, by state: queued, sending, sent, failed."
    );
    describe_histogram!(
        "patron_value_refresh_duration_seconds",
        Unit::Seconds,
        "Time of a customer value refresh (read, analyse, score, store)."
    );
    describe_gauge!(
        "patron_value_refresh_customers",
        "Customers with value figures after the last refresh."
    );
    describe_histogram!(
        "patron_import_duration_seconds",
        Unit::Seconds,
        "Time of a file import, by entity and outcome (ok, failed)."
    );
    describe_counter!(
        "patron_import_rows_total",
        "Rows of imported files, by entity and outcome (stored, already_present, rejected)."
    );
}

/// The router serving `GET /metrics` (and nothing else) from `handle`, reading the pool's use
/// of `store` at each scrape.
pub fn router(handle: PrometheusHandle, store: Store) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((handle, store))
}

async fn scrape(State((handle, store)): State<(PrometheusHandle, Store)>) -> impl IntoResponse {
    let pool = store.pool_status();
    for (state, n) in [("open", pool.open), ("idle", pool.idle), ("max", pool.max)] {
        metrics::gauge!("patron_db_pool_connections", "state" => state).set(f64::from(n));
    }
    match store.outbox_counts(None).await {
        Ok(c) => {
            for (state, n) in [
                ("queued", c.queued),
                ("sending", c.sending),
                ("sent", c.sent),
                ("failed", c.failed),
            ] {
                metrics::gauge!("patron_mail_outbox", "state" => state).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the mail outbox"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// Installs the recorder, binds `addr` and serves `/metrics` there in the background for the
/// rest of the process; answers the bound address.
pub async fn serve_metrics(addr: SocketAddr, store: Store) -> anyhow::Result<SocketAddr> {
    let handle = recorder();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-addr: cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "metrics at http://{local}/metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(handle, store)).await {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use patron_store::testing::fresh_store;
    use patron_store::BackendKind;
    use patron_testkit::prometheus::{find, parse_prometheus};
    use tower::ServiceExt;

    use super::*;

    async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// A request through the served router is counted under its route template and status,
    /// timed in the latency histogram, and `/metrics` parses as Prometheus text with the pool's
    /// use and the value refresh in it.
    async fn metrics_count_requests(kind: BackendKind) {
        let Some(db) = fresh_store(kind).await else {
            return;
        };
        let handle = recorder();
        let app = crate::serve::router(Store::clone(&db));
        let metrics = router(handle, Store::clone(&db));
        // A unique id keeps this test's series apart from the other backend's run.
        let unique = match kind {
            BackendKind::Sqlite => "/api/customers/1001",
            BackendKind::Postgres => "/api/customers/1002",
        };
        let (status, _) = get(&app, unique).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = get(&app, "/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // An import (as the web's upload does it) and a value refresh on its orders.
        let master = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_master.txt");
        let lines: String = std::fs::read_to_string(master)
            .unwrap()
            .lines()
            .take(2000)
            .map(|l| format!("{l}\n"))
            .collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), lines).unwrap();
        let report = patron_app::imports::import_file(
            &db,
            &patron_app::Session::unrestricted("metrics-test"),
            file.path(),
            "cdnow.txt",
            patron_exchange::ImportOptions::new(
                patron_exchange::Entity::Orders,
                patron_exchange::InputFormat::Cdnow,
            ),
            |_| {},
        )
        .await
        .unwrap();
        assert!(report.inserted > 0);
        patron_app::value::refresh(
            &db,
            &Default::default(),
            chrono::NaiveDate::from_ymd_opt(1998, 6, 30).unwrap(),
        )
        .await
        .unwrap();

        let (status, text) = get(&metrics, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        let samples = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let counted = find(
            &samples,
            "patron_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/customers/{id}"),
                ("status", "401"),
            ],
        )
        .unwrap_or_else(|| panic!("the request is not counted:\n{text}"));
        assert!(counted.value >= 1.0, "{text}");
        assert!(
            !text.contains(unique),
            "a raw path became a label value:\n{text}"
        );
        assert!(
            find(
                &samples,
                "patron_http_requests_total",
                &[("route", "unmatched"), ("status", "404")]
            )
            .is_some(),
            "{text}"
        );
        let timed = find(
            &samples,
            "patron_http_request_duration_seconds_bucket",
            &[("route", "/api/customers/{id}"), ("le", "+Inf")],
        )
        .unwrap_or_else(|| panic!("no latency histogram:\n{text}"));
        assert!(timed.value >= 1.0);
        let open = find(&samples, "patron_db_pool_connections", &[("state", "open")])
            .unwrap_or_else(|| panic!("no pool gauge:\n{text}"));
        assert!(open.value >= 1.0, "{text}");
        assert!(find(&samples, "patron_db_pool_connections", &[("state", "idle")]).is_some());
        assert!(find(&samples, "patron_mail_outbox", &[("state", "queued")]).is_some());
        let refreshes = find(&samples, "patron_value_refresh_duration_seconds_count", &[])
            .unwrap_or_else(|| panic!("no refresh histogram:\n{text}"));
        assert!(refreshes.value >= 1.0);
        let stored = find(
            &samples,
            "patron_import_rows_total",
            &[("entity", "orders"), ("outcome", "stored")],
        )
        .unwrap_or_else(|| panic!("no import rows:\n{text}"));
        assert!(stored.value >= report.inserted as f64, "{text}");
        assert!(find(
            &samples,
            "patron_import_duration_seconds_count",
            &[("entity", "orders")]
        )
        .is_some());
        db.discard().await;
    }

    #[tokio::test]
    async fn metrics_count_requests_sqlite() {
        metrics_count_requests(BackendKind::Sqlite).await;
    }

    #[tokio::test]
    async fn metrics_count_requests_postgres() {
        metrics_count_requests(BackendKind::Postgres).await;
    }
}
