//! The web interface's value pages wired to the server (dashboard from the stored snapshot with
//! the Recompute button, score model editor, import page), on the CDNOW sample (2,357 customers)
//! in a fresh SQLite database.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use patron_domain::{CustomerInput, Money};
use patron_server::{app, AppState};
use patron_store::{testing::fresh_store, BackendKind, ImportCustomer, ImportOrderLine, Store};
use tower::ServiceExt;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_sample.txt");

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Page {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, uri: &str) -> Page {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, uri: &str, form: &[(&str, &str)]) -> Page {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    send(
        app,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// A store with the CDNOW sample's customers and orders (cost = 60% of the amount).
async fn sample_store() -> Store {
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let text = std::fs::read_to_string(SAMPLE).expect("data/CDNOW_sample.txt");
    let mut numbers: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [id, _, date, cds, dollars] = f[..] else {
            continue;
        };
        numbers.push(id.to_string());
        let cents = (dollars.parse::<f64>().unwrap() * 100.0).round() as i64;
        lines.push((
            id.to_string(),
            chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap(),
            cds.parse::<i64>().unwrap(),
            cents,
        ));
    }
    numbers.sort();
    numbers.dedup();
    let customers: Vec<ImportCustomer> = numbers
        .iter()
        .map(|n| ImportCustomer {
            number: n.clone(),
            data: CustomerInput {
                name: format!("CDNOW {n}"),
                ..Default::default()
            },
        })
        .collect();
    store.import_customers(&customers, "test").await.unwrap();
    let ids = store.customer_ids(&numbers).await.unwrap();
    let rows: Vec<ImportOrderLine> = lines
        .iter()
        .enumerate()
        .map(|(k, (n, d, q, cents))| ImportOrderLine {
            customer_id: ids[n],
            order_ref: format!("L{k}"),
            line_no: 1,
            ordered_on: *d,
            category: None,
            quantity: *q,
            amount: Money(*cents),
            cost: Money(cents * 6 / 10),
        })
        .collect();
    store.import_order_lines(&rows).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_snapshot_and_recomputes() {
    let store = sample_store().await;
    let app = app(AppState::new(store.clone()));
    // No snapshot yet: figures computed live from the orders, with the Recompute button.
    let live = get(&app, "/dashboard").await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.body.contains("Computed live") && live.body.contains(r#"id="recompute""#));

    let r = post(&app, "/dashboard/recompute", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location.unwrap();
    assert!(to.starts_with("/dashboard?recomputed="), "{to}");
    assert!(store.latest_snapshot().await.unwrap().is_some());

    let d = get(&app, &to).await;
    assert_eq!(d.status, StatusCode::OK);
    let b = &d.body;
    assert!(b.contains("Customer values recomputed"));
    assert!(!b.contains("Computed live"));
    for id in [
        "clv-plot",
        "funnel-plot",
        "whale-plot",
        "abc-plot",
        "rfm-plot",
        "grades-plot",
    ] {
        assert!(b.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
    assert!(b.contains("Top 20% of customers bring"));
    assert!(b.contains(r#"id="compare-abc""#) && b.contains("This period vs the previous one"));
    assert!(b.contains(r#"id="churn-list""#));
    // The sample ends on 30 Jun 1998: the quarter is April to June against January to March.
    assert!(
        b.contains("1 Apr 1998") && b.contains("31 Mar 1998"),
        "quarter ranges"
    );
    let year = get(&app, "/dashboard?period=year").await;
    assert!(year.body.contains("1 Jul 1997"));
    let zh = send(
        &app,
        Request::get("/dashboard")
            .header(header::COOKIE, "lang=zh")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(zh.body.contains("本期与上期对比") && zh.body.contains("重新计算价值"));
}
