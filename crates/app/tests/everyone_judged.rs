//! Every customer is judged by a value refresh, on both backends: a one-time buyer whose only
//! purchase lies two years before the as-of date carries the "no second purchase" churn reason
//! (BG/NBD would call it alive); a prospect without orders but with attributes (industry,
//! registered capital) gets a score and grade from the attribute part of the score model and
//! enters the follow-up plan; buyers named as referrer are stored as advocates, and the
//! dashboard funnel's advocate count equals the list filter `stage=advocate`.

use chrono::{Days, NaiveDate};
use patron_app::value::{refresh, today};
use patron_store::{backend_tests, CustomerFilter, CustomerSort, PageRequest, Store, Visibility};
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(everyone_is_judged);

async fn customer(store: &Store, body: serde_json::Value) -> i64 {
    let input = serde_json::from_value(body).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: f64) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

async fn advocates_listed(store: &Store) -> Vec<i64> {
    let filter = CustomerFilter {
        loyalty_stage: Some("advocate".into()),
        ..CustomerFilter::default()
    };
    let page = PageRequest {
        limit: Some(500),
        after: None,
    };
    let mut ids: Vec<i64> = store
        .list_customers(&filter, CustomerSort::default(), &page)
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    ids.sort_unstable();
    ids
}

async fn everyone_is_judged(store: Store) {
    let as_of = today();
    let ago = |days: u64| as_of.checked_sub_days(Days::new(days)).unwrap();

    // Three repeat buyers (a second purchase 30 days after the first), the first of them a
    // referrer; a recent one-time buyer who referred someone too; a one-time buyer of two
    // years ago; a prospect with attributes, referred by the first buyer.
    let mut repeat = Vec::new();
    for k in 0..3u64 {
        let c = customer(&store, json!({"name": format!("Repeat {k}")})).await;
        order(&store, c, ago(100 + k), 200.0).await;
        order(&store, c, ago(70 + k), 150.0).await;
        repeat.push(c);
    }
    let recent = customer(&store, json!({"name": "Recent once"})).await;
    order(&store, recent, ago(10), 80.0).await;
    let old = customer(&store, json!({"name": "Two years ago"})).await;
    order(&store, old, ago(730), 120.0).await;
    let prospect = customer(
        &store,
        json!({"name": "Prospect Finance Ltd", "industry": "finance",
               "registered_capital": "50,000,000", "referred_by": repeat[0]}),
    )
    .await;
    // Referred by the recent one-time buyer: a buyer who refers is an advocate.
    customer(
        &store,
        json!({"name": "Brought by a first-time buyer", "referred_by": recent}),
    )
    .await;

    let snapshot = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();

    // The one-time buyer of two years ago: a churn warning with its figures.
    let v = store
        .customer_value(old)
        .await
        .unwrap()
        .expect("a value row");
    let reason = v
        .churn_reasons
        .iter()
        .find(|r| r.kind() == "no_second_purchase")
        .unwrap_or_else(|| panic!("no one-time churn reason: {v:?}"));
    assert!(v.churn_risk);
    assert_eq!(reason.figure("days_since_purchase"), Some(730.0));
    // Too few repeat buyers to measure the typical gap: the default of 365 days, said so.
    assert_eq!(reason.figure("typical_gap_days"), Some(365.0));
    assert!(
        reason.detail().contains("730 days ago"),
        "{}",
        reason.detail()
    );
    // Not judged 100% alive without that reason (BG/NBD takes a one-time buyer to be alive).
    if let Some(p) = v.p_alive {
        assert!(p < 1.0 || !v.churn_reasons.is_empty(), "{v:?}");
    }
    // The recent one-time buyer is not warned for it.
    let v = store
        .customer_value(recent)
        .await
        .unwrap()
        .expect("a value row");
    assert!(
        v.churn_reasons
            .iter()
            .all(|r| r.kind() != "no_second_purchase"),
        "{v:?}"
    );

    // The prospect: a grade from its attributes only, no purchase figures.
    let p = store
        .customer_value(prospect)
        .await
        .unwrap()
        .expect("a value row for a customer without orders");
    assert_eq!(p.orders, 0);
    assert_eq!((p.revenue_cents, p.margin_cents), (0, 0));
    assert_eq!((p.clv, p.p_alive, p.frequency), (None, None, None));
    assert!(p.churn_reasons.is_empty() && !p.churn_risk);
    // Industry 100 points (weight 15), capital 70 (10), employees 0 (10), credit rating 30
    // (10, default), satisfaction 50 (10, default), over the 55 of these weights: 54.5 -> C.
    let score = p.score.expect("a score");
    assert!((score - 3000.0 / 55.0).abs() < 1e-6, "{score}");
    assert_eq!(p.grade.as_deref(), Some("C"));
    // ... and so a place in the follow-up plan.
    let plan = store
        .followup_plan(as_of, None, &Visibility::All)
        .await
        .unwrap();
    assert!(
        plan.iter().any(|c| c.customer_id == prospect),
        "the prospect is not planned: {plan:?}"
    );
    // The report counts it among the graded.
    assert_eq!(
        snapshot.report["grades"]["ungraded"], 0,
        "{}",
        snapshot.report["grades"]
    );

    // Advocates: the buyers named as referrer, the same in the funnel and the list filter.
    let listed = advocates_listed(&store).await;
    let mut expected = vec![repeat[0], recent];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let funnel = snapshot.report["dashboard"]["advocates"]
        .as_u64()
        .expect("the funnel's advocate count");
    assert_eq!(funnel, listed.len() as u64);
    assert_eq!(store.referrer_count().await.unwrap(), listed.len() as i64);
    let v = store.customer_value(repeat[0]).await.unwrap().unwrap();
    assert_eq!(v.loyalty_stage.as_deref(), Some("advocate"));
    let v = store.customer_value(repeat[1]).await.unwrap().unwrap();
    assert_eq!(v.loyalty_stage.as_deref(), Some("repeat_buyer"));
}
