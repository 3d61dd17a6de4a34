//! A value refresh and archived customers, on both backends: an archived customer's orders are
//! the company's, so the report's totals (customers, revenue, churn warnings and value at risk)
//! are the same whether it is archived or not; but it is no longer listed among the customers
//! at risk (nobody works an archived customer), and comes back there once restored.

use chrono::{Days, NaiveDate};
use patron_app::value::{refresh, today};
use patron_store::{backend_tests, Store};
use patron_value::AnalysisOptions;
use serde_json::{json, Value};

backend_tests!(archived_customers_count_but_are_not_listed);

async fn customer(store: &Store, name: &str) -> i64 {
    let input = serde_json::from_value(json!({ "name": name })).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: f64) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

/// The report's totals and churn figures, and the ids listed at risk.
fn figures(report: &Value) -> (Value, Value, Value, Vec<i64>) {
    let top = report["churn"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_i64().unwrap())
        .collect();
    (
        report["totals"]["customers"].clone(),
        report["totals"]["revenue"].clone(),
        json!([
            report["churn"]["warned_customers"],
            report["churn"]["value_at_risk"]
        ]),
        top,
    )
}

async fn archived_customers_count_but_are_not_listed(store: Store) {
    let as_of = today();
    let ago = |days: u64| as_of.checked_sub_days(Days::new(days)).unwrap();
    // Steady buyers, and buyers who bought often and then stopped long ago (at risk).
    for k in 0..6u64 {
        let c = customer(&store, &format!("Steady {k}")).await;
        for m in 0..6u64 {
            order(&store, c, ago(20 + 30 * m + k), 100.0 + k as f64).await;
        }
    }
    let mut lapsed = Vec::new();
    for k in 0..4u64 {
        let c = customer(&store, &format!("Lapsed {k}")).await;
        for m in 0..5u64 {
            order(&store, c, ago(500 + 20 * m + k), 400.0 + 10.0 * k as f64).await;
        }
        lapsed.push(c);
    }
    let opts = AnalysisOptions::default();
    let before = figures(&refresh(&store, &opts, as_of).await.unwrap().report);
    let at_risk = *before.3.first().expect("someone listed at risk");
    assert!(lapsed.contains(&at_risk), "{before:?}");

    store.archive_customer(at_risk, "ann").await.unwrap();
    let archived = figures(&refresh(&store, &opts, as_of).await.unwrap().report);
    assert_eq!(
        (&archived.0, &archived.1, &archived.2),
        (&before.0, &before.1, &before.2),
        "the totals count the archived customer"
    );
    assert!(!archived.3.contains(&at_risk), "{archived:?}");
    assert_eq!(archived.3.len(), before.3.len() - 1);
    // Its own figures are still computed (a read by id shows them).
    assert!(store.customer_value(at_risk).await.unwrap().is_some());

    store.restore_customer(at_risk, "ann").await.unwrap();
    let restored = figures(&refresh(&store, &opts, as_of).await.unwrap().report);
    assert_eq!(restored, before);
}
