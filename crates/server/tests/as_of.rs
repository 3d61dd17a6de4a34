//! The as-of date of a value refresh and the refusal of future orders, on both backends: a
//! refresh analyses the orders up to today (or an explicit `as_of`) and records that day in its
//! snapshot; orders dated after today (plus the domain's tolerance) are refused on the API
//! (plain and credit orders, new and replaced) and by a file import (naming the line).

use axum::http::{Method, StatusCode};
use axum::Router;
use chrono::{Days, NaiveDate};
use patron_domain::order::{latest_order_date, today, FUTURE_ORDER_TOLERANCE_DAYS};
use patron_server::{app, AppState};
use patron_store::{backend_tests, Store};
use patron_testkit::{json_request, send};
use serde_json::{json, Value};

struct Api {
    app: Router,
    token: String,
}

struct Resp {
    status: StatusCode,
    body: Value,
}

impl Api {
    async fn new(store: &Store) -> Api {
        let (_, token) =
            patron_server::auth::user_with_token(store, "as-of-admin", patron_store::Role::Admin)
                .await
                .unwrap();
        Api {
            app: app(AppState::new(store.clone())),
            token,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let answer = send(
            &self.app,
            json_request(method, uri, Some(&self.token), body),
        )
        .await;
        let body = answer
            .try_json()
            .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", answer.body));
        Resp {
            status: answer.status,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None).await
    }

    async fn post(&self, uri: &str, body: Value) -> Resp {
        self.call(Method::POST, uri, Some(body)).await
    }

    async fn customer(&self, name: &str) -> i64 {
        let r = self.post("/api/customers", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// Records an order of one line; answers the response.
    async fn order(&self, customer: i64, day: &str, amount: f64) -> Resp {
        self.post(
            &format!("/api/customers/{customer}/orders"),
            json!({"ordered_on": day, "lines": [{"amount": amount}]}),
        )
        .await
    }

    async fn ordered(&self, customer: i64, day: &str, amount: f64) {
        let r = self.order(customer, day, amount).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    async fn refresh(&self, body: Value) -> Value {
        let r = self.post("/api/value/refresh", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn value(&self, customer: i64) -> Value {
        let r = self.get(&format!("/api/customers/{customer}/value")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A small population with past orders (2024) so that the models have something to fit:
/// answers the customer `a` (three orders, 2024-01-10, 2024-03-10, 2024-06-01: $100, $50, $200).
async fn population(api: &Api) -> i64 {
    let a = api.customer("Alpha").await;
    api.ordered(a, "2024-01-10", 100.0).await;
    api.ordered(a, "2024-03-10", 50.0).await;
    api.ordered(a, "2024-06-01", 200.0).await;
    for k in 0..8 {
        let c = api.customer(&format!("Regular {k}")).await;
        for m in 0..(k % 3 + 1) {
            let day = format!("2024-{:02}-{:02}", 1 + (k + 2 * m) % 6, 1 + k);
            api.ordered(c, &day, 10.0 + k as f64).await;
        }
    }
    a
}

backend_tests!(
    an_order_dated_today_is_in_the_next_refresh,
    future_orders_are_refused_on_the_api,
    future_orders_are_refused_by_an_import_with_their_line,
    an_explicit_as_of_leaves_later_orders_out,
);

async fn an_order_dated_today_is_in_the_next_refresh(store: Store) {
    let api = Api::new(&store).await;
    let a = population(&api).await;
    let before = today();
    // A refresh without options analyses up to today, and says so (the server's date during
    // the call: either side of a midnight).
    let r = api.refresh(json!({})).await;
    let today = if r["as_of"] == today().to_string() {
        today()
    } else {
        before
    };
    assert_eq!(r["as_of"], today.to_string(), "{r}");
    assert_eq!(r["options"]["as_of"], today.to_string());
    assert_eq!(r["calibration_end"], today.to_string());
    let v = api.value(a).await;
    assert_eq!(
        (v["orders"].clone(), v["revenue"].clone()),
        (json!(3), json!(350.0))
    );
    assert_eq!(v["calibration_end"], today.to_string());

    // An order dated today is in the next refresh (and in the customer's stored figures).
    api.ordered(a, &today.to_string(), 90_000.0).await;
    let r = api.refresh(json!({})).await;
    assert_eq!(r["as_of"], today.to_string());
    assert_eq!(r["last_order"], today.to_string());
    let v = api.value(a).await;
    assert_eq!(v["orders"], 4, "{v}");
    assert_eq!(v["revenue"], 90_350.0, "{v}");

    // The stored report reads back with its as-of date.
    let report = api.get("/api/value/report").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["as_of"], today.to_string());

    // The dashboard's and the score editor's recompute (the settings of the last snapshot)
    // analyses up to today too, not up to the last snapshot's stored end.
    let week = api
        .refresh(json!({"unit": "week", "as_of": "2024-06-30"}))
        .await;
    assert_eq!(week["as_of"], "2024-06-30");
    assert_eq!(api.value(a).await["orders"], 3, "as of 2024-06-30");
    let snap = patron_app::value::refresh_like_last_time(&store)
        .await
        .unwrap();
    assert_eq!(snap.options["as_of"], today.to_string());
    assert_eq!(snap.options["unit"], "week", "the other settings are kept");
    assert_eq!(snap.report["calibration_end"], today.to_string());
    assert_eq!(api.value(a).await["orders"], 4);
}

async fn future_orders_are_refused_on_the_api(store: Store) {
    let api = Api::new(&store).await;
    let a = api.customer("Alpha").await;
    let today = today();
    let next_month = (today + Days::new(31)).to_string();
    let tomorrow = (today + Days::new(FUTURE_ORDER_TOLERANCE_DAYS)).to_string();
    let too_late = (latest_order_date(today) + Days::new(1)).to_string();
    // Today and the tolerance for time zones are accepted.
    api.ordered(a, &today.to_string(), 10.0).await;
    api.ordered(a, &tomorrow, 10.0).await;
    // Later dates are refused with a 422 naming the date.
    for day in [&next_month, &too_late] {
        let r = api.order(a, day, 10.0).await;
        if patron_domain::order::today() != today && day == &too_late {
            // Midnight passed: the last refused day became the last accepted one.
            continue;
        }
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["code"], "validation");
        assert_eq!(r.body["field"], "ordered_on", "{}", r.body);
        let text = r.body.to_string();
        assert!(
            text.contains(day.as_str()) && text.contains("future"),
            "{text}"
        );
    }
    // Replacing an order with a future date, and a credit order, are refused alike.
    let o = api
        .post(
            &format!("/api/customers/{a}/orders"),
            json!({"order_ref": "R1", "ordered_on": "2024-05-01", "lines": [{"amount": 5}]}),
        )
        .await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    let r = api
        .call(
            Method::PUT,
            &format!("/api/customers/{a}/orders/R1"),
            Some(json!({"ordered_on": next_month, "lines": [{"amount": 5}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains(&next_month), "{}", r.body);
    let r = api
        .post(
            &format!("/api/customers/{a}/credit-orders"),
            json!({"order": {"ordered_on": next_month, "lines": [{"amount": 5}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains(&next_month), "{}", r.body);
    // Nothing of it was stored: the order R1 keeps its date, and there are three orders.
    let r = api.get(&format!("/api/customers/{a}/orders/R1")).await;
    assert_eq!(r.body["ordered_on"], "2024-05-01");
    let r = api.get(&format!("/api/customers/{a}/orders")).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3, "{}", r.body);
    // A refresh as of a day in the future is refused too.
    let r = api
        .post("/api/value/refresh", json!({"as_of": next_month}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "as_of", "{}", r.body);
}

async fn future_orders_are_refused_by_an_import_with_their_line(store: Store) {
    let next_month = (today() + Days::new(31)).to_string();
    let dir = scratch_dir();
    let path = dir.join("orders.csv");
    std::fs::write(
        &path,
        format!("customer,date,amount\nC1,2024-01-02,5\nC1,2024-02-03,6\nC1,{next_month},7\n"),
    )
    .unwrap();
    let mut opts = patron_exchange::ImportOptions::new(
        patron_exchange::Entity::Orders,
        patron_exchange::InputFormat::Csv,
    );
    opts.create_customers = true;
    match patron_exchange::import_file(&store, &path, &opts, |_| {}).await {
        Err(patron_exchange::ImportError::BadRow(e, _)) => {
            assert_eq!(e.line, 4, "{e}");
            assert_eq!(e.column.as_deref(), Some("date"), "{e}");
            let shown = e.to_string();
            assert!(
                shown.contains(":4: ") && shown.contains(&next_month) && shown.contains("future"),
                "{shown}"
            );
        }
        other => panic!("expected the future order's line to be refused, got {other:?}"),
    }
    // With --skip-bad the good lines are stored and the future one is rejected.
    let mut opts = opts.clone();
    opts.skip_bad = Some(dir.join("rejects.csv"));
    let r = patron_exchange::import_file(&store, &path, &opts, |_| {})
        .await
        .unwrap();
    assert_eq!(r.rejected, 1);
    let rejects = std::fs::read_to_string(dir.join("rejects.csv")).unwrap();
    assert!(
        rejects
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("4,column date:"),
        "{rejects}"
    );
    assert!(store
        .order_facts()
        .await
        .unwrap()
        .iter()
        .all(|f| f.ordered_on <= today()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A new empty directory under the system's temporary directory.
fn scratch_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "patron-as-of-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn an_explicit_as_of_leaves_later_orders_out(store: Store) {
    let api = Api::new(&store).await;
    let a = population(&api).await;
    let r = api.refresh(json!({"as_of": "2024-03-31"})).await;
    assert_eq!(r["as_of"], "2024-03-31");
    assert_eq!(r["options"]["as_of"], "2024-03-31");
    assert_eq!(r["calibration_end"], "2024-03-31");
    assert!(
        date(r["last_order"].as_str().unwrap()) <= date("2024-03-31"),
        "{}",
        r["last_order"]
    );
    let v = api.value(a).await;
    assert_eq!(
        v["orders"], 2,
        "the order of 2024-06-01 is after the as-of date: {v}"
    );
    assert_eq!(v["revenue"], 150.0);
    assert_eq!(v["T"], 81.0, "2024-01-10 to 2024-03-31");
    // The dashboard's figures of the snapshot count the same lines.
    let facts = store.order_facts().await.unwrap();
    let up_to: i64 = facts
        .iter()
        .filter(|f| f.ordered_on <= date("2024-03-31"))
        .map(|f| f.amount_cents)
        .sum();
    assert_eq!(
        (r["totals"]["revenue"].as_f64().unwrap() * 100.0).round() as i64,
        up_to
    );
    // An end after the as-of date is refused, naming the field.
    let r = api
        .post(
            "/api/value/refresh",
            json!({"as_of": "2024-03-31", "calibration_end": "2024-04-30"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "calibration_end", "{}", r.body);
}
